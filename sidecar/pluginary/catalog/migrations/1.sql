-- Catalogue version 1 -> 2: the ready-to-insert facts (issue 8) and the query structures.
-- Plugins probed before keep their rows; their bundles are marked unchecked, so the next scan
-- probes them again to learn the new facts, and until then they read with those facts null.

ALTER TABLE bundles ADD COLUMN checked INTEGER NOT NULL DEFAULT 0;

ALTER TABLE plugins ADD COLUMN channel_mask INTEGER;
ALTER TABLE plugins ADD COLUMN latency_samples INTEGER;
ALTER TABLE plugins ADD COLUMN audio_ok INTEGER;
ALTER TABLE plugins ADD COLUMN audio_check TEXT;
ALTER TABLE plugins ADD COLUMN state TEXT;
ALTER TABLE plugins ADD COLUMN probe_ms TEXT;
DROP INDEX plugins_name;
CREATE INDEX plugins_name ON plugins (name COLLATE NOCASE, id, vendor);
CREATE INDEX plugins_vendor ON plugins (vendor);

CREATE TABLE vendors (vendor TEXT PRIMARY KEY, plugins INTEGER NOT NULL) WITHOUT ROWID;
INSERT INTO vendors SELECT vendor, count(*) FROM plugins WHERE vendor IS NOT NULL GROUP BY vendor;

ALTER TABLE parameters ADD COLUMN range_problem TEXT
    CHECK (range_problem IN ('degenerate', 'unbounded', 'suspectSteps'));
ALTER TABLE parameters ADD COLUMN samples TEXT;
DROP INDEX parameters_key;
DROP INDEX parameters_name;

CREATE TABLE parameter_terms (
    term TEXT NOT NULL COLLATE NOCASE,  -- NOCASE: as case-blind as the v1 lookups were
    plugin_rowid INTEGER NOT NULL REFERENCES plugins (rowid) ON DELETE CASCADE,
    PRIMARY KEY (term, plugin_rowid)
) WITHOUT ROWID;
CREATE INDEX parameter_terms_plugin ON parameter_terms (plugin_rowid);
INSERT OR IGNORE INTO parameter_terms SELECT name, plugin_rowid FROM parameters;
INSERT OR IGNORE INTO parameter_terms SELECT key, plugin_rowid FROM parameters;

DROP TABLE plugins_fts;
CREATE VIRTUAL TABLE plugins_fts USING fts5 (
    name, vendor, category, parameters, tokenize = 'unicode61 remove_diacritics 2',
    prefix = '2 3'
);
INSERT INTO plugins_fts (rowid, name, vendor, category, parameters)
    SELECT p.rowid, p.name, coalesce(p.vendor, ''), replace(coalesce(p.category, ''), '|', ' '),
        coalesce((SELECT group_concat(name, ' ') FROM
            (SELECT name FROM parameters WHERE plugin_rowid = p.rowid ORDER BY idx)), '')
    FROM plugins p;

ANALYZE;

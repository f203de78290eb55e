-- The Pluginary catalogue, schema version 4 (migrations/ brings older catalogues here).
-- Written only by a scan's commit, in one transaction; read by any number of readers at once
-- (WAL mode).

-- What was found on disk, and its fingerprint when last probed: the planner's memory. A bundle
-- whose probe failed keeps its outcome here, so it is not loaded again until it changes.
CREATE TABLE bundles (
    real_path TEXT PRIMARY KEY,
    path TEXT NOT NULL,                 -- as discovered (may go through a symlink)
    format TEXT NOT NULL,
    fingerprint TEXT NOT NULL,
    outcome TEXT NOT NULL,              -- 'ok' when every plugin in it loaded, else the worst status
    scan_id TEXT NOT NULL,
    scanned_at REAL NOT NULL,
    checked INTEGER NOT NULL DEFAULT 0, -- 1 when its loaded plugins went through the audio checks
    retried INTEGER NOT NULL DEFAULT 0  -- 1 when its last probe was the retry of a timeout
);

-- One row per plugin class, including the ones that failed (status says how).
CREATE TABLE plugins (
    rowid INTEGER PRIMARY KEY,          -- internal; also the full-text index's rowid
    id TEXT NOT NULL UNIQUE,            -- the public id (see ids.py)
    bundle TEXT NOT NULL REFERENCES bundles (real_path) ON DELETE CASCADE,
    path TEXT NOT NULL,
    class_name TEXT,                    -- NULL when the bundle failed before naming its classes
    format TEXT NOT NULL,
    name TEXT NOT NULL,
    vendor TEXT,
    version TEXT,
    category TEXT,                      -- pedalboard's "Fx|Reverb|Stereo"
    kind TEXT CHECK (kind IN ('effect', 'instrument')),
    identifier TEXT,                    -- pedalboard's identifier
    status TEXT NOT NULL CHECK (status IN ('ok', 'failed', 'timeout', 'crashed')),
    error TEXT,
    diagnosis TEXT,                     -- why the binary would not load, from the dynamic linker
    signal TEXT,
    exit_code INTEGER,
    output_tail TEXT NOT NULL DEFAULT '',
    duration_ms REAL,
    parameter_count INTEGER NOT NULL DEFAULT 0,
    extra TEXT NOT NULL DEFAULT '{}',   -- JSON: further probe facts
    scan_id TEXT NOT NULL,
    scanned_at REAL NOT NULL,
    -- Ready to insert: what the audio checks found (all NULL when they did not run).
    channel_mask INTEGER,               -- bit i set: process() accepts CHANNEL_COUNTS[i] channels
    latency_samples INTEGER,
    audio_ok INTEGER,
    audio_check TEXT,                   -- JSON: {ok, peak, non_finite, silent, error}
    state TEXT,                         -- JSON: {readable, writable, size, error}
    probe_ms TEXT                       -- JSON: {load, parameters, audio}
);
-- Pages come in name order; the vendor rides along so a vendor filter never reads a row.
CREATE INDEX plugins_name ON plugins (name COLLATE NOCASE, id, vendor);
CREATE INDEX plugins_vendor ON plugins (vendor);
CREATE INDEX plugins_bundle ON plugins (bundle);

-- The distinct vendors and how many plugins each has: a vendor substring is matched against a
-- few hundred names, not every plugin.
CREATE TABLE vendors (vendor TEXT PRIMARY KEY, plugins INTEGER NOT NULL) WITHOUT ROWID;

CREATE TABLE parameters (
    plugin_rowid INTEGER NOT NULL REFERENCES plugins (rowid) ON DELETE CASCADE,
    idx INTEGER NOT NULL,
    name TEXT NOT NULL,
    key TEXT NOT NULL,                  -- pedalboard's Python attribute name
    units TEXT,
    type TEXT NOT NULL CHECK (type IN ('float', 'bool', 'str')),
    min REAL,
    max REAL,
    step REAL,
    approximate_step REAL,
    default_raw REAL,                   -- normalised 0..1 value at load
    default_text TEXT,
    plugin_default_raw REAL,            -- the default the plugin declares
    boolean INTEGER NOT NULL,
    discrete INTEGER NOT NULL,
    num_steps INTEGER NOT NULL,
    automatable INTEGER NOT NULL,
    enum_values TEXT,                   -- JSON list, for enumerated (str/bool) parameters
    enum_truncated INTEGER NOT NULL DEFAULT 0,
    range_problem TEXT CHECK (range_problem IN ('degenerate', 'unbounded', 'suspectSteps')),
    samples TEXT,                       -- JSON: [{raw, value, text}] at raw 0, .25, .5, .75, 1
    PRIMARY KEY (plugin_rowid, idx)
) WITHOUT ROWID;

-- Each plugin's parameter names and keys, distinct regardless of case: "has parameter X" is one
-- index lookup.
CREATE TABLE parameter_terms (
    term TEXT NOT NULL COLLATE NOCASE,  -- NOCASE: as case-blind as the v1 lookups were
    plugin_rowid INTEGER NOT NULL REFERENCES plugins (rowid) ON DELETE CASCADE,
    PRIMARY KEY (term, plugin_rowid)
) WITHOUT ROWID;
CREATE INDEX parameter_terms_plugin ON parameter_terms (plugin_rowid);

-- Free text over name, vendor, category and parameter names; rowid = plugins.rowid. Its words
-- are their runs of letters and digits, in lower case, Latin letters without accents. A searched
-- word of one or two characters must begin one of them: the prefix indexes find it ("eq" finds
-- EQ and Equalizer, not FreqShift). A longer one must appear inside one: words_trigram finds
-- the words holding it ("comp": zamcomp, multicompressor), then this index their plugins.
CREATE VIRTUAL TABLE plugins_fts USING fts5 (
    name, vendor, category, parameters, tokenize = 'unicode61 remove_diacritics 2',
    prefix = '1 2'                      -- the one- and two-character starts come from an index
);
-- The words of plugins_fts, read off its index (nothing is stored here).
CREATE VIRTUAL TABLE plugins_fts_vocab USING fts5vocab (plugins_fts, 'row');
-- Each of them once, rebuilt by every commit that changes plugins, and a trigram index of them.
-- On the bench's 20,000 plugins: 20,000 words, a 0.2 MB index, 35 ms to rebuild; a trigram
-- index of the texts themselves took 15 MB and a millisecond to match a common word.
CREATE TABLE words (id INTEGER PRIMARY KEY, word TEXT NOT NULL);
CREATE VIRTUAL TABLE words_trigram USING fts5 (
    word, content = 'words', content_rowid = 'id', tokenize = 'trigram'
);

CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);

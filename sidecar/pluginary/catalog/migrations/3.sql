-- Catalogue version 3 -> 4: free text matches inside words (issue 13). A word of three or more
-- letters and digits is looked up as a substring in a trigram index, so "comp" finds ZamComp;
-- a shorter one, which a trigram cannot hold, as the start of a word in the word index, whose
-- prefix indexes now serve exactly those one- and two-character starts. Both are built from
-- the rows already here: an existing catalogue keeps answering without a rescan.

DROP TABLE plugins_fts;
CREATE VIRTUAL TABLE plugins_fts USING fts5 (
    name, vendor, category, parameters, tokenize = 'unicode61 remove_diacritics 2',
    prefix = '1 2'
);
INSERT INTO plugins_fts (rowid, name, vendor, category, parameters)
    SELECT p.rowid, p.name, coalesce(p.vendor, ''), replace(coalesce(p.category, ''), '|', ' '),
        coalesce((SELECT group_concat(name, ' ') FROM
            (SELECT name FROM parameters WHERE plugin_rowid = p.rowid ORDER BY idx)), '')
    FROM plugins p;

CREATE VIRTUAL TABLE plugins_trigram USING fts5 (
    name, vendor, category, parameters, tokenize = 'trigram'
);
INSERT INTO plugins_trigram (rowid, name, vendor, category, parameters)
    SELECT rowid, name, vendor, category, parameters FROM plugins_fts;

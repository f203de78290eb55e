-- Catalogue version 3 -> 4: free text matches inside words (issue 13). A searched word of three
-- or more letters and digits is looked up inside the word index's words, through a trigram
-- index of them (words, words_trigram), so "comp" finds ZamComp; a shorter one, which a trigram
-- cannot hold, as the start of a word, from prefix indexes of one and two characters (the word
-- index is rebuilt for them). Built from the rows already here: an existing catalogue keeps
-- answering without a rescan.

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

CREATE VIRTUAL TABLE plugins_fts_vocab USING fts5vocab (plugins_fts, 'row');
CREATE TABLE words (id INTEGER PRIMARY KEY, word TEXT NOT NULL);
CREATE VIRTUAL TABLE words_trigram USING fts5 (
    word, content = 'words', content_rowid = 'id', tokenize = 'trigram'
);
INSERT INTO words (word) SELECT term FROM plugins_fts_vocab;
INSERT INTO words_trigram (words_trigram) VALUES ('rebuild');

-- Catalogue version 2 -> 3: a timed-out bundle is retried once, with a longer limit (issue 13).
-- Bundles probed before have not been retried: a timed-out one is retried at the next scan.

ALTER TABLE bundles ADD COLUMN retried INTEGER NOT NULL DEFAULT 0;

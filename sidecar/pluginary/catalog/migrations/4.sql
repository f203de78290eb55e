-- Catalogue version 4 -> 5: probes learn more (issues 15 and 16), so every record is stale once.
-- A probe now offers process() every channel count up to 8 and the full-sphere Ambisonics
-- counts 9 to 64, not just 1, 2, 4, 6 and 8; a parameter's `discrete` comes from its native step
-- count (pedalboard's answer was true for every parameter); a record says which describer
-- described it. The channel mask's bits become places in models.CHANNEL_COUNTS (bit n for n
-- channels would not hold 64), the counts already known moved to theirs; and every bundle is
-- marked unchecked, so that the next scan with the audio checks probes each one again.

UPDATE plugins SET channel_mask =
    ((channel_mask >> 1) & 1)
    | (((channel_mask >> 2) & 1) << 1)
    | (((channel_mask >> 4) & 1) << 3)
    | (((channel_mask >> 6) & 1) << 5)
    | (((channel_mask >> 8) & 1) << 7)
    WHERE channel_mask IS NOT NULL;
UPDATE bundles SET checked = 0;

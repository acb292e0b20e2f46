-- Version 10 sorts after 2 numerically (not as text); semicolons; "quotes"; a backslash \ and @at@.
ALTER TABLE widgets ADD COLUMN color text NOT NULL DEFAULT 'grey';
COMMENT ON COLUMN widgets.color IS 'a ; separated "comment" \ with @at@ and ${dollar}';

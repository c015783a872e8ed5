-- The children list counts the children of one institution from `child_scope` (migration 27)
-- on every view: the rows of the institution whose `until` is open or not yet past. With
-- `until` in an index beside the institution, that count is an index-only scan instead of a
-- visit to every row of the institution in the table.
CREATE INDEX child_scope_until ON child_scope (municipality_id, institution_id, until);

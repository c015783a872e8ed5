-- The children list's audit entries stored the name a user searched for (`details.q`), which can
-- be a child's name, and the audit log outlives the child's anonymisation. From now on they
-- store only that a name was searched (`details.name_search`), as the audit page's own entries
-- do; the entries written before are rewritten the same way. (The app may not change the audit
-- log; the migration runs as its owner, in the platform scope, since the log forces row-level
-- security also on an owner that is not a superuser.)
SELECT set_config('app.platform', 'on', true);
UPDATE audit_log
   SET details = (details - 'q') || jsonb_build_object('name_search', details->>'q' IS NOT NULL)
 WHERE action = 'list' AND entity_type = 'child' AND details ? 'q';
SELECT set_config('app.platform', '', true);

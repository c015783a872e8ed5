-- The audit entries of page views, written in groups by the app's audit writer
-- (src/audit/reads.rs): one call per municipality, in its own (implicit) transaction, so a group
-- costs one round trip. SECURITY INVOKER: it runs as the app role and the row-level security
-- policy of audit_log checks every row against the scope it sets, exactly as `db::begin` would
-- set it. Like a page view's own transaction, its commit does not wait for the disk.
CREATE FUNCTION audit_reads(p_municipality uuid, p_user uuid[], p_role text[], p_action text[],
                            p_type text[], p_entity uuid[], p_child uuid[], p_addr inet[],
                            p_details jsonb[])
    RETURNS void LANGUAGE plpgsql VOLATILE SET search_path = public, pg_temp
    AS $$
BEGIN
    PERFORM set_config('app.municipality_id', coalesce(p_municipality::text, ''), true),
            set_config('app.platform', CASE WHEN p_municipality IS NULL THEN 'on' ELSE '' END, true),
            set_config('synchronous_commit', 'off', true);
    INSERT INTO audit_log (municipality_id, user_id, role, action, entity_type, entity_id, child_id,
                           client_addr, details)
    SELECT p_municipality, u, r, a, t, e, c, ip, d
    FROM unnest(p_user, p_role, p_action, p_type, p_entity, p_child, p_addr, p_details)
         AS x(u, r, a, t, e, c, ip, d);
    PERFORM set_config('app.municipality_id', '', true), set_config('app.platform', '', true);
END
$$;
REVOKE EXECUTE ON FUNCTION audit_reads(uuid, uuid[], text[], text[], text[], uuid[], uuid[], inet[], jsonb[]) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION audit_reads(uuid, uuid[], text[], text[], text[], uuid[], uuid[], inet[], jsonb[]) TO overgang_app;

-- session_load also returns today's date (`current_date`, the same date the scope checks of the
-- page's queries use), so a page need not ask for it in a round trip of its own. The app's
-- connections run with TimeZone Europe/Copenhagen, so this is the Danish date.
DROP FUNCTION session_load(bytea, float8);
CREATE FUNCTION session_load(p_id bytea, p_idle_secs float8)
    RETURNS TABLE (user_id uuid, session_municipality_id uuid, csrf_token text, name text,
                   email text, municipality_id uuid, municipality_name text,
                   is_platform_operator boolean, is_active boolean, roles json, today date)
    LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = public, pg_temp
    AS $$
DECLARE
    s sessions%ROWTYPE;
BEGIN
    SELECT * INTO s FROM sessions
    WHERE id = p_id AND expires_at > now()
      AND last_seen_at > now() - make_interval(secs => p_idle_secs);
    IF NOT FOUND THEN
        RETURN;
    END IF;
    IF s.last_seen_at < now() - interval '60 seconds' THEN
        -- idle expiry needs last_seen_at, but a write on every page view is not worth it
        UPDATE sessions SET last_seen_at = now() WHERE id = p_id;
    END IF;
    PERFORM set_config('app.municipality_id', coalesce(s.municipality_id::text, ''), true),
            set_config('app.platform', CASE WHEN s.municipality_id IS NULL THEN 'on' ELSE '' END, true);
    RETURN QUERY
    SELECT s.user_id, s.municipality_id, s.csrf_token, u.name, u.email, u.municipality_id, m.name,
           u.is_platform_operator, u.is_active,
           coalesce(json_agg(json_build_object('role', r.role, 'institution_id', r.institution_id,
                                               'institution_name', i.name)
                             ORDER BY r.role, i.name) FILTER (WHERE r.id IS NOT NULL), '[]'),
           current_date
    FROM users u
    LEFT JOIN municipalities m ON m.id = u.municipality_id
    LEFT JOIN role_assignments r ON r.municipality_id = u.municipality_id AND r.user_id = u.id
    LEFT JOIN institutions i ON i.municipality_id = r.municipality_id AND i.id = r.institution_id
    WHERE u.id = s.user_id
    GROUP BY u.id, m.name;
    -- a session whose user is not visible in its own scope (moved, deleted) returns no row
    PERFORM set_config('app.municipality_id', '', true), set_config('app.platform', '', true);
END
$$;
REVOKE EXECUTE ON FUNCTION session_load(bytea, float8) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION session_load(bytea, float8) TO overgang_app;

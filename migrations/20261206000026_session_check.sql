-- The app keeps each session's user (name, roles, municipality …) in memory between requests
-- (src/auth/session.rs, `SessionCache`) and, instead of loading it again, sends one check with
-- the request's BEGIN: `session_check` raises unless the session is still valid (not logged out,
-- not expired, not idle too long), nothing the cached user is made of has changed since it was
-- loaded, and it is still the same day. Then the app loads the session again as before.
--
-- "Nothing has changed" is one counter, `auth_epoch`, bumped in the same transaction as every
-- change to what `session_load` returns: users (name, e-mail, municipality, operator flag,
-- active), role assignments, and the names of institutions and municipalities. So a revoked
-- role or a deactivated user takes effect on the very next request, on every app instance.

CREATE TABLE auth_epoch (
    only_row boolean PRIMARY KEY DEFAULT true CHECK (only_row),
    epoch bigint NOT NULL
);
INSERT INTO auth_epoch (only_row, epoch) VALUES (true, 1);
REVOKE ALL ON auth_epoch FROM PUBLIC;

CREATE FUNCTION auth_epoch_bump() RETURNS trigger
    LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp
    AS $$
BEGIN
    UPDATE auth_epoch SET epoch = epoch + 1;
    RETURN NULL;
END
$$;
REVOKE EXECUTE ON FUNCTION auth_epoch_bump() FROM PUBLIC;

-- Statement-level: a bulk change bumps once. The columns a login or a password change writes
-- (last_login_at, password_hash) are not part of the cached user and bump nothing.
CREATE TRIGGER users_auth_epoch
    AFTER INSERT OR DELETE OR TRUNCATE
          OR UPDATE OF name, email, municipality_id, is_platform_operator, is_active
    ON users FOR EACH STATEMENT EXECUTE FUNCTION auth_epoch_bump();
CREATE TRIGGER role_assignments_auth_epoch
    AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE
    ON role_assignments FOR EACH STATEMENT EXECUTE FUNCTION auth_epoch_bump();
CREATE TRIGGER institutions_auth_epoch
    AFTER DELETE OR TRUNCATE OR UPDATE OF name
    ON institutions FOR EACH STATEMENT EXECUTE FUNCTION auth_epoch_bump();
CREATE TRIGGER municipalities_auth_epoch
    AFTER DELETE OR TRUNCATE OR UPDATE OF name
    ON municipalities FOR EACH STATEMENT EXECUTE FUNCTION auth_epoch_bump();

-- As before (migration 24), plus the epoch read in the same statement as the user, so the
-- cached copy is never newer than the epoch it is filed under.
DROP FUNCTION session_load(bytea, float8);
CREATE FUNCTION session_load(p_id bytea, p_idle_secs float8)
    RETURNS TABLE (user_id uuid, session_municipality_id uuid, csrf_token text, name text,
                   email text, municipality_id uuid, municipality_name text,
                   is_platform_operator boolean, is_active boolean, roles json, today date,
                   auth_epoch bigint)
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
           current_date, (SELECT e.epoch FROM auth_epoch e)
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

-- The check sent with a request's BEGIN for a cached session. SQLSTATE OV401 tells the app to
-- load the session again (and to log the user out if it is gone). Like session_load it keeps
-- last_seen_at within a minute, for the idle expiry.
CREATE FUNCTION session_check(p_id bytea, p_idle_secs float8, p_epoch bigint, p_today date)
    RETURNS void
    LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = public, pg_temp
    AS $$
DECLARE
    seen timestamptz;
BEGIN
    SELECT last_seen_at INTO seen FROM sessions
    WHERE id = p_id AND expires_at > now()
      AND last_seen_at > now() - make_interval(secs => p_idle_secs);
    IF NOT FOUND OR p_epoch <> (SELECT e.epoch FROM auth_epoch e) OR p_today <> current_date THEN
        RAISE EXCEPTION 'the session must be loaded again' USING ERRCODE = 'OV401';
    END IF;
    IF seen < now() - interval '60 seconds' THEN
        UPDATE sessions SET last_seen_at = now() WHERE id = p_id;
    END IF;
END
$$;
REVOKE EXECUTE ON FUNCTION session_check(bytea, float8, bigint, date) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION session_check(bytea, float8, bigint, date) TO overgang_app;

-- Schema v1: tenants, institutions, users, roles, sessions, audit log.
--
-- Tenant isolation: every tenant table carries municipality_id, foreign keys include it, and
-- row-level security (forced, so even the owner is subject to it) keys on the transaction-local
-- setting app.municipality_id. The application runs as overgang_app, which owns nothing and
-- cannot bypass RLS.

DO $$
BEGIN
    CREATE ROLE overgang_app NOLOGIN NOSUPERUSER NOBYPASSRLS NOCREATEDB NOCREATEROLE;
EXCEPTION WHEN duplicate_object OR unique_violation THEN
    NULL; -- roles are cluster-wide: another database of this cluster created it already
END
$$;

DO $$
BEGIN
    EXECUTE format('GRANT overgang_app TO %I', current_user);
EXCEPTION WHEN OTHERS THEN
    -- a superuser may SET ROLE without membership; concurrent grants in sibling databases race
    NULL;
END
$$;

CREATE FUNCTION app_municipality() RETURNS uuid
    LANGUAGE sql STABLE PARALLEL SAFE
    AS $$ SELECT NULLIF(current_setting('app.municipality_id', true), '')::uuid $$;

CREATE FUNCTION app_is_platform() RETURNS boolean
    LANGUAGE sql STABLE PARALLEL SAFE
    AS $$ SELECT coalesce(current_setting('app.platform', true), '') = 'on' $$;

CREATE TABLE municipalities (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    code text NOT NULL UNIQUE CHECK (code ~ '^[0-9]{4}$'),
    name text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    feedback_delay_days integer NOT NULL DEFAULT 90 CHECK (feedback_delay_days BETWEEN 1 AND 730),
    retention_days integer NOT NULL DEFAULT 1825 CHECK (retention_days BETWEEN 30 AND 7300),
    small_number_threshold integer NOT NULL DEFAULT 5 CHECK (small_number_threshold BETWEEN 1 AND 100),
    enabled_transition_kinds text[] NOT NULL DEFAULT ARRAY[
        'home_daycare', 'nursery_kindergarten', 'kindergarten_school', 'kindergarten_sfo',
        'school_club', 'school_youth'],
    created_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE clusters (
    municipality_id uuid NOT NULL REFERENCES municipalities (id),
    id uuid NOT NULL DEFAULT gen_random_uuid(),
    name text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    school_id uuid,
    created_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (municipality_id, id)
);

CREATE TABLE institutions (
    municipality_id uuid NOT NULL REFERENCES municipalities (id),
    id uuid NOT NULL DEFAULT gen_random_uuid(),
    name text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    kind text NOT NULL CHECK (kind IN ('dagpleje', 'vuggestue', 'boernehave', 'integreret', 'skole',
                                       'sfo', 'klub', 'specialtilbud', 'ungdomsuddannelse')),
    institution_number text CHECK (institution_number ~ '^[0-9A-Za-z-]{1,20}$'),
    cluster_id uuid,
    is_pilot boolean NOT NULL DEFAULT false,
    is_active boolean NOT NULL DEFAULT true,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (municipality_id, id),
    FOREIGN KEY (municipality_id, cluster_id) REFERENCES clusters (municipality_id, id)
);
CREATE INDEX institutions_cluster ON institutions (municipality_id, cluster_id);
CREATE UNIQUE INDEX institutions_number ON institutions (municipality_id, institution_number)
    WHERE institution_number IS NOT NULL;

ALTER TABLE clusters ADD FOREIGN KEY (municipality_id, school_id)
    REFERENCES institutions (municipality_id, id);

-- Users belong to one municipality; platform operators belong to none.
CREATE TABLE users (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    municipality_id uuid REFERENCES municipalities (id),
    email text NOT NULL CHECK (email = lower(email) AND length(email) BETWEEN 3 AND 254),
    name text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    password_hash text,
    is_platform_operator boolean NOT NULL DEFAULT false,
    is_active boolean NOT NULL DEFAULT true,
    created_at timestamptz NOT NULL DEFAULT now(),
    last_login_at timestamptz,
    UNIQUE (municipality_id, id),
    UNIQUE (email),
    CHECK (is_platform_operator OR municipality_id IS NOT NULL)
);

CREATE TABLE role_assignments (
    municipality_id uuid NOT NULL REFERENCES municipalities (id),
    id uuid NOT NULL DEFAULT gen_random_uuid(),
    user_id uuid NOT NULL,
    role text NOT NULL CHECK (role IN ('municipal_admin', 'institution_leader', 'staff', 'specialist', 'analyst')),
    institution_id uuid,
    created_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (municipality_id, id),
    FOREIGN KEY (municipality_id, user_id) REFERENCES users (municipality_id, id) ON DELETE CASCADE,
    FOREIGN KEY (municipality_id, institution_id) REFERENCES institutions (municipality_id, id),
    -- leaders and staff work at an institution; administrators and analysts work municipality-wide
    CHECK (CASE role
        WHEN 'institution_leader' THEN institution_id IS NOT NULL
        WHEN 'staff' THEN institution_id IS NOT NULL
        WHEN 'municipal_admin' THEN institution_id IS NULL
        WHEN 'analyst' THEN institution_id IS NULL
        ELSE true END),
    UNIQUE NULLS NOT DISTINCT (municipality_id, user_id, role, institution_id)
);
CREATE INDEX role_assignments_user ON role_assignments (user_id);
CREATE INDEX role_assignments_institution ON role_assignments (municipality_id, institution_id);

-- Server-side sessions. Only the SHA-256 of the cookie token is stored, so a database dump
-- cannot be replayed as cookies. Not tenant data: looked up before the tenant is known.
CREATE TABLE sessions (
    id bytea PRIMARY KEY,
    user_id uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    municipality_id uuid REFERENCES municipalities (id),
    csrf_token text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    last_seen_at timestamptz NOT NULL DEFAULT now(),
    expires_at timestamptz NOT NULL,
    client_addr inet
);
CREATE INDEX sessions_user ON sessions (user_id);
CREATE INDEX sessions_expires ON sessions (expires_at);

-- Failed-login counters keyed by e-mail and by client address (also for unknown e-mails, so a
-- lockout says nothing about whether an account exists).
CREATE TABLE login_throttle (
    key text PRIMARY KEY,
    failures integer NOT NULL,
    window_start timestamptz NOT NULL,
    locked_until timestamptz
);

CREATE TABLE audit_log (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    municipality_id uuid REFERENCES municipalities (id),
    at timestamptz NOT NULL DEFAULT now(),
    user_id uuid,
    role text,
    action text NOT NULL,
    entity_type text NOT NULL,
    entity_id uuid,
    child_id uuid,
    client_addr inet,
    details jsonb NOT NULL DEFAULT '{}'
);
CREATE INDEX audit_log_time ON audit_log (municipality_id, at DESC);
CREATE INDEX audit_log_child ON audit_log (municipality_id, child_id, at DESC) WHERE child_id IS NOT NULL;
CREATE INDEX audit_log_user ON audit_log (municipality_id, user_id, at DESC);

-- Row-level security -------------------------------------------------------------------------
ALTER TABLE municipalities ENABLE ROW LEVEL SECURITY;
ALTER TABLE municipalities FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant ON municipalities
    USING (id = app_municipality() OR app_is_platform())
    WITH CHECK (id = app_municipality() OR app_is_platform());

ALTER TABLE users ENABLE ROW LEVEL SECURITY;
ALTER TABLE users FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant ON users
    USING (municipality_id = app_municipality() OR app_is_platform())
    WITH CHECK (municipality_id = app_municipality() OR app_is_platform());

ALTER TABLE audit_log ENABLE ROW LEVEL SECURITY;
ALTER TABLE audit_log FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant ON audit_log
    USING (municipality_id = app_municipality() OR app_is_platform())
    WITH CHECK (municipality_id IS NOT DISTINCT FROM app_municipality() OR app_is_platform());

DO $$
DECLARE t text;
BEGIN
    FOREACH t IN ARRAY ARRAY['clusters', 'institutions', 'role_assignments'] LOOP
        EXECUTE format('ALTER TABLE %I ENABLE ROW LEVEL SECURITY', t);
        EXECUTE format('ALTER TABLE %I FORCE ROW LEVEL SECURITY', t);
        EXECUTE format('CREATE POLICY tenant ON %I USING (municipality_id = app_municipality())
                        WITH CHECK (municipality_id = app_municipality())', t);
    END LOOP;
END
$$;

-- Login needs to find a user before the tenant is known. This narrow definer function is the
-- only way around RLS, and it returns just what the password check needs. (FORCE RLS binds a
-- non-superuser owner too, hence the platform setting for the duration of the call.)
CREATE FUNCTION auth_find_user(p_email text)
    RETURNS TABLE (id uuid, municipality_id uuid, password_hash text, is_active boolean)
    LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp SET app.platform = 'on'
    AS $$ SELECT u.id, u.municipality_id, u.password_hash, u.is_active FROM users u WHERE u.email = lower(p_email) $$;

-- Privileges ----------------------------------------------------------------------------------
REVOKE ALL ON ALL TABLES IN SCHEMA public FROM PUBLIC;
GRANT USAGE ON SCHEMA public TO overgang_app;
GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO overgang_app;
GRANT USAGE ON ALL SEQUENCES IN SCHEMA public TO overgang_app;
-- The audit log is append-only for the application.
REVOKE UPDATE, DELETE, TRUNCATE ON audit_log FROM overgang_app;
REVOKE INSERT, UPDATE, DELETE, TRUNCATE ON municipalities FROM overgang_app;
GRANT INSERT, UPDATE ON municipalities TO overgang_app;
REVOKE EXECUTE ON FUNCTION auth_find_user(text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION auth_find_user(text) TO overgang_app;

-- Children, their guardians and enrolments.
--
-- The CPR number is optional and sensitive: it is never selected by list queries, never put in
-- a URL or a log line; the application shows it masked. A unique index finds duplicates.

CREATE EXTENSION IF NOT EXISTS pg_trgm;

CREATE TABLE children (
    municipality_id uuid NOT NULL REFERENCES municipalities (id),
    id uuid NOT NULL DEFAULT gen_random_uuid(),
    first_name text NOT NULL CHECK (length(first_name) BETWEEN 1 AND 100),
    last_name text NOT NULL CHECK (length(last_name) BETWEEN 1 AND 100),
    birth_date date NOT NULL CHECK (birth_date > DATE '1990-01-01'),
    cpr text CHECK (cpr ~ '^[0-9]{6}-[0-9]{4}$'),
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (municipality_id, id)
);
CREATE UNIQUE INDEX children_cpr ON children (municipality_id, cpr) WHERE cpr IS NOT NULL;
CREATE INDEX children_name_trgm ON children
    USING gin ((lower(first_name || ' ' || last_name)) gin_trgm_ops);
CREATE INDEX children_birth ON children (municipality_id, birth_date);

CREATE TABLE guardians (
    municipality_id uuid NOT NULL,
    id uuid NOT NULL DEFAULT gen_random_uuid(),
    child_id uuid NOT NULL,
    name text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    relation text NOT NULL DEFAULT 'forælder' CHECK (length(relation) BETWEEN 1 AND 50),
    email text CHECK (email = lower(email) AND length(email) BETWEEN 3 AND 254),
    phone text CHECK (phone ~ '^\+?[0-9 ]{8,20}$'),
    has_custody boolean NOT NULL DEFAULT true,
    created_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (municipality_id, id),
    FOREIGN KEY (municipality_id, child_id) REFERENCES children (municipality_id, id) ON DELETE CASCADE
);
CREATE INDEX guardians_child ON guardians (municipality_id, child_id);

CREATE TABLE enrolments (
    municipality_id uuid NOT NULL,
    id uuid NOT NULL DEFAULT gen_random_uuid(),
    child_id uuid NOT NULL,
    institution_id uuid NOT NULL,
    group_name text CHECK (length(group_name) BETWEEN 1 AND 100),
    starts_on date NOT NULL,
    ends_on date,
    created_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (municipality_id, id),
    FOREIGN KEY (municipality_id, child_id) REFERENCES children (municipality_id, id) ON DELETE CASCADE,
    FOREIGN KEY (municipality_id, institution_id) REFERENCES institutions (municipality_id, id),
    CHECK (ends_on IS NULL OR ends_on >= starts_on)
);
CREATE INDEX enrolments_child ON enrolments (municipality_id, child_id);
CREATE INDEX enrolments_institution ON enrolments (municipality_id, institution_id, ends_on);

DO $$
DECLARE t text;
BEGIN
    FOREACH t IN ARRAY ARRAY['children', 'guardians', 'enrolments'] LOOP
        EXECUTE format('ALTER TABLE %I ENABLE ROW LEVEL SECURITY', t);
        EXECUTE format('ALTER TABLE %I FORCE ROW LEVEL SECURITY', t);
        EXECUTE format('CREATE POLICY tenant ON %I USING (municipality_id = app_municipality())
                        WITH CHECK (municipality_id = app_municipality())', t);
        EXECUTE format('GRANT SELECT, INSERT, UPDATE, DELETE ON %I TO overgang_app', t);
    END LOOP;
END
$$;

-- The receiving teacher's class overview: classes (a name such as "0.A" per receiving
-- institution and school year), their teachers, the incoming children (transitions) placed in
-- them, and the staff a leader has delegated the placing to. Plus the sender's wish for a
-- handover meeting or an oral handover, which nothing recorded before.
--
-- None of these tables holds free text about a child (a class name is not about a child), so
-- retention needs no new lines: placements and wishes of a deleted transition go with it
-- (ON DELETE CASCADE), and a purged transition's child is anonymised by retention_purge.

CREATE TABLE school_classes (
    municipality_id uuid NOT NULL,
    id uuid NOT NULL DEFAULT gen_random_uuid(),
    institution_id uuid NOT NULL,
    -- the calendar year the class starts (2027 = school year 2027/28), i.e. the cohort
    school_year integer NOT NULL CHECK (school_year BETWEEN 2000 AND 2100),
    name text NOT NULL CHECK (length(name) BETWEEN 1 AND 40 AND name = btrim(name)),
    created_by uuid,
    created_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (municipality_id, id),
    -- lets placements and teachers name the class together with its institution
    UNIQUE (municipality_id, id, institution_id),
    FOREIGN KEY (municipality_id, institution_id) REFERENCES institutions (municipality_id, id),
    FOREIGN KEY (municipality_id, created_by) REFERENCES users (municipality_id, id)
        ON DELETE SET NULL (created_by)
);
CREATE UNIQUE INDEX school_classes_name
    ON school_classes (municipality_id, institution_id, school_year, lower(name));

CREATE TABLE class_teachers (
    municipality_id uuid NOT NULL,
    class_id uuid NOT NULL,
    user_id uuid NOT NULL,
    added_by uuid,
    added_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (municipality_id, class_id, user_id),
    FOREIGN KEY (municipality_id, class_id) REFERENCES school_classes (municipality_id, id)
        ON DELETE CASCADE,
    FOREIGN KEY (municipality_id, user_id) REFERENCES users (municipality_id, id) ON DELETE CASCADE,
    FOREIGN KEY (municipality_id, added_by) REFERENCES users (municipality_id, id)
        ON DELETE SET NULL (added_by)
);
-- "my classes"
CREATE INDEX class_teachers_user ON class_teachers (municipality_id, user_id);

-- A transition (one incoming child) is in at most one class.
CREATE TABLE class_children (
    municipality_id uuid NOT NULL,
    transition_id uuid NOT NULL,
    class_id uuid NOT NULL,
    assigned_by uuid,
    assigned_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (municipality_id, transition_id),
    FOREIGN KEY (municipality_id, class_id) REFERENCES school_classes (municipality_id, id)
        ON DELETE CASCADE,
    FOREIGN KEY (municipality_id, transition_id) REFERENCES transitions (municipality_id, id)
        ON DELETE CASCADE,
    FOREIGN KEY (municipality_id, assigned_by) REFERENCES users (municipality_id, id)
        ON DELETE SET NULL (assigned_by)
);
CREATE INDEX class_children_class ON class_children (municipality_id, class_id);

-- Staff a leader lets place children in classes and assign teachers at their institution.
CREATE TABLE class_delegates (
    municipality_id uuid NOT NULL,
    institution_id uuid NOT NULL,
    user_id uuid NOT NULL,
    granted_by uuid,
    granted_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (municipality_id, institution_id, user_id),
    FOREIGN KEY (municipality_id, institution_id) REFERENCES institutions (municipality_id, id),
    FOREIGN KEY (municipality_id, user_id) REFERENCES users (municipality_id, id) ON DELETE CASCADE,
    FOREIGN KEY (municipality_id, granted_by) REFERENCES users (municipality_id, id)
        ON DELETE SET NULL (granted_by)
);
CREATE INDEX class_delegates_user ON class_delegates (municipality_id, user_id);

-- What the sending side wants besides the written handover.
CREATE TABLE handover_wishes (
    municipality_id uuid NOT NULL,
    transition_id uuid NOT NULL,
    wish text NOT NULL CHECK (wish IN ('meeting', 'oral', 'none')),
    updated_by uuid,
    updated_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (municipality_id, transition_id),
    FOREIGN KEY (municipality_id, transition_id) REFERENCES transitions (municipality_id, id)
        ON DELETE CASCADE,
    FOREIGN KEY (municipality_id, updated_by) REFERENCES users (municipality_id, id)
        ON DELETE SET NULL (updated_by)
);

DO $$
DECLARE t text;
BEGIN
    FOREACH t IN ARRAY ARRAY['school_classes', 'class_teachers', 'class_children', 'class_delegates',
                             'handover_wishes'] LOOP
        EXECUTE format('ALTER TABLE %I ENABLE ROW LEVEL SECURITY', t);
        EXECUTE format('ALTER TABLE %I FORCE ROW LEVEL SECURITY', t);
        EXECUTE format('CREATE POLICY tenant ON %I USING (municipality_id = app_municipality())
                        WITH CHECK (municipality_id = app_municipality())', t);
        EXECUTE format('GRANT SELECT, INSERT, UPDATE, DELETE ON %I TO overgang_app', t);
    END LOOP;
END
$$;

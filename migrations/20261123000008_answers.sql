-- Answers of a handover form: one row per (transition, question). The answer points at the
-- question through the transition's own template version, so an answer can never belong to a
-- question of another version (or another municipality) than the handover was written on.

-- lets answers reference (transition, template) together
ALTER TABLE transitions ADD CONSTRAINT transitions_template UNIQUE (municipality_id, id, template_id);

CREATE TABLE answers (
    municipality_id uuid NOT NULL,
    transition_id uuid NOT NULL,
    question_id uuid NOT NULL,
    template_id uuid NOT NULL,
    -- free text, ISO date, scale value or the chosen option
    value text CHECK (length(value) <= 10000),
    -- the chosen options of a multi choice question
    "values" text[] NOT NULL DEFAULT '{}',
    updated_at timestamptz NOT NULL DEFAULT now(),
    updated_by uuid,
    PRIMARY KEY (municipality_id, transition_id, question_id),
    FOREIGN KEY (municipality_id, transition_id) REFERENCES transitions (municipality_id, id) ON DELETE CASCADE,
    FOREIGN KEY (municipality_id, transition_id, template_id)
        REFERENCES transitions (municipality_id, id, template_id) ON DELETE CASCADE,
    FOREIGN KEY (municipality_id, template_id, question_id)
        REFERENCES template_questions (municipality_id, template_id, id),
    FOREIGN KEY (municipality_id, updated_by) REFERENCES users (municipality_id, id)
);

DO $$
DECLARE t text;
BEGIN
    FOREACH t IN ARRAY ARRAY['answers'] LOOP
        EXECUTE format('ALTER TABLE %I ENABLE ROW LEVEL SECURITY', t);
        EXECUTE format('ALTER TABLE %I FORCE ROW LEVEL SECURITY', t);
        EXECUTE format('CREATE POLICY tenant ON %I USING (municipality_id = app_municipality())
                        WITH CHECK (municipality_id = app_municipality())', t);
        EXECUTE format('GRANT SELECT, INSERT, UPDATE, DELETE ON %I TO overgang_app', t);
    END LOOP;
END
$$;

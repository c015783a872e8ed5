-- Transitions (one child's move from a sending to a receiving institution) and their status
-- history. The history is append-only for the app role: it is the record of who moved a
-- handover when, so it may be read and added to, never rewritten.

CREATE TABLE transitions (
    municipality_id uuid NOT NULL REFERENCES municipalities (id),
    id uuid NOT NULL DEFAULT gen_random_uuid(),
    child_id uuid NOT NULL,
    sending_institution_id uuid NOT NULL,
    receiving_institution_id uuid NOT NULL,
    kind text NOT NULL CHECK (kind IN ('home_daycare', 'nursery_kindergarten',
        'kindergarten_school', 'kindergarten_sfo', 'school_club', 'school_youth')),
    planned_date date NOT NULL,
    -- the published version at creation: a handover keeps the version it was written on
    template_id uuid NOT NULL,
    -- the relay holder; NULL while a cohort's transitions wait for the leader to assign them
    responsible_user_id uuid,
    status text NOT NULL DEFAULT 'draft' CHECK (status IN ('draft', 'with_parents', 'ready', 'sent',
        'received', 'feedback_requested', 'feedback_given', 'closed', 'cancelled')),
    version integer NOT NULL DEFAULT 1 CHECK (version >= 1),
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (municipality_id, id),
    FOREIGN KEY (municipality_id, child_id) REFERENCES children (municipality_id, id) ON DELETE CASCADE,
    FOREIGN KEY (municipality_id, sending_institution_id) REFERENCES institutions (municipality_id, id),
    FOREIGN KEY (municipality_id, receiving_institution_id) REFERENCES institutions (municipality_id, id),
    FOREIGN KEY (municipality_id, template_id) REFERENCES form_templates (municipality_id, id),
    FOREIGN KEY (municipality_id, responsible_user_id) REFERENCES users (municipality_id, id),
    CHECK (sending_institution_id <> receiving_institution_id)
);
-- the worklist: my open transitions by date
CREATE INDEX transitions_responsible ON transitions (municipality_id, responsible_user_id, status, planned_date);
-- the sender's and the receiver's lists
CREATE INDEX transitions_sending ON transitions (municipality_id, sending_institution_id, status, planned_date);
CREATE INDEX transitions_receiving ON transitions (municipality_id, receiving_institution_id, status, planned_date);
-- the child's page and the "already has an open transition of this kind" check of a cohort
CREATE INDEX transitions_child ON transitions (municipality_id, child_id, kind);

CREATE TABLE transition_events (
    municipality_id uuid NOT NULL,
    id uuid NOT NULL DEFAULT gen_random_uuid(),
    transition_id uuid NOT NULL,
    at timestamptz NOT NULL DEFAULT now(),
    user_id uuid,
    -- NULL for the creation event
    from_status text,
    to_status text NOT NULL,
    note text CHECK (length(note) <= 2000),
    PRIMARY KEY (municipality_id, id),
    FOREIGN KEY (municipality_id, transition_id) REFERENCES transitions (municipality_id, id) ON DELETE CASCADE,
    FOREIGN KEY (municipality_id, user_id) REFERENCES users (municipality_id, id)
);
CREATE INDEX transition_events_transition ON transition_events (municipality_id, transition_id, at);

DO $$
DECLARE t text;
BEGIN
    FOREACH t IN ARRAY ARRAY['transitions', 'transition_events'] LOOP
        EXECUTE format('ALTER TABLE %I ENABLE ROW LEVEL SECURITY', t);
        EXECUTE format('ALTER TABLE %I FORCE ROW LEVEL SECURITY', t);
        EXECUTE format('CREATE POLICY tenant ON %I USING (municipality_id = app_municipality())
                        WITH CHECK (municipality_id = app_municipality())', t);
        EXECUTE format('GRANT SELECT, INSERT, UPDATE, DELETE ON %I TO overgang_app', t);
    END LOOP;
END
$$;
REVOKE UPDATE, DELETE, TRUNCATE ON transition_events FROM overgang_app;

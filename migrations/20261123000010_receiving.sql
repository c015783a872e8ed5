-- The receiving end of a handover: read receipts (who at the receiving institution opened it,
-- first and last time) and the handover meeting with its agreements and follow-up dates.
-- Acknowledgement is the status move sent → received, recorded as a transition event.

CREATE TABLE transition_reads (
    municipality_id uuid NOT NULL,
    transition_id uuid NOT NULL,
    user_id uuid NOT NULL,
    first_read_at timestamptz NOT NULL DEFAULT now(),
    last_read_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (municipality_id, transition_id, user_id),
    FOREIGN KEY (municipality_id, transition_id) REFERENCES transitions (municipality_id, id) ON DELETE CASCADE,
    FOREIGN KEY (municipality_id, user_id) REFERENCES users (municipality_id, id) ON DELETE CASCADE
);

-- One meeting record per handover (the form prepares the meeting; it does not replace it).
CREATE TABLE handover_meetings (
    municipality_id uuid NOT NULL,
    transition_id uuid NOT NULL,
    -- the local date and time of day the meeting is (or was) held
    held_on date NOT NULL,
    held_time time,
    place text NOT NULL DEFAULT '' CHECK (length(place) <= 200),
    participants text NOT NULL CHECK (length(participants) BETWEEN 1 AND 2000),
    notes text NOT NULL DEFAULT '' CHECK (length(notes) <= 10000),
    version integer NOT NULL DEFAULT 1 CHECK (version >= 1),
    updated_by uuid,
    updated_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (municipality_id, transition_id),
    FOREIGN KEY (municipality_id, transition_id) REFERENCES transitions (municipality_id, id) ON DELETE CASCADE,
    FOREIGN KEY (municipality_id, updated_by) REFERENCES users (municipality_id, id) ON DELETE SET NULL (updated_by)
);

CREATE TABLE meeting_agreements (
    municipality_id uuid NOT NULL,
    id uuid NOT NULL DEFAULT gen_random_uuid(),
    transition_id uuid NOT NULL,
    description text NOT NULL CHECK (length(description) BETWEEN 1 AND 2000),
    -- who follows up (a name or a role, as agreed at the meeting)
    responsible text NOT NULL DEFAULT '' CHECK (length(responsible) <= 200),
    follow_up_on date,
    done_at timestamptz,
    created_by uuid,
    created_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (municipality_id, id),
    FOREIGN KEY (municipality_id, transition_id)
        REFERENCES handover_meetings (municipality_id, transition_id) ON DELETE CASCADE,
    FOREIGN KEY (municipality_id, created_by) REFERENCES users (municipality_id, id) ON DELETE SET NULL (created_by)
);
CREATE INDEX meeting_agreements_transition ON meeting_agreements (municipality_id, transition_id, follow_up_on);
-- the inbox's "follow-ups due" list
CREATE INDEX meeting_agreements_open ON meeting_agreements (municipality_id, follow_up_on) WHERE done_at IS NULL;

DO $$
DECLARE t text;
BEGIN
    FOREACH t IN ARRAY ARRAY['transition_reads', 'handover_meetings', 'meeting_agreements'] LOOP
        EXECUTE format('ALTER TABLE %I ENABLE ROW LEVEL SECURITY', t);
        EXECUTE format('ALTER TABLE %I FORCE ROW LEVEL SECURITY', t);
        EXECUTE format('CREATE POLICY tenant ON %I USING (municipality_id = app_municipality())
                        WITH CHECK (municipality_id = app_municipality())', t);
        EXECUTE format('GRANT SELECT, INSERT, UPDATE, DELETE ON %I TO overgang_app', t);
    END LOOP;
END
$$;

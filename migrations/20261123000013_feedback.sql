-- Feedback from the receiver back to the sender: a request per transition and round (the first a
-- configurable delay after the transition date, an optional second at 12 months), answered once
-- by the receiving institution. Ratings use the sender's own themed scale questions and the same
-- value encoding as `answers.value` ('1'–'4' or 'green'/'yellow'/'red'), so sender and receiver
-- are compared per theme on the same scale.

ALTER TABLE municipalities
    ADD COLUMN feedback_second_round boolean NOT NULL DEFAULT false,
    ADD COLUMN feedback_reminder_days integer NOT NULL DEFAULT 14
        CHECK (feedback_reminder_days BETWEEN 1 AND 365);

CREATE TABLE feedback_requests (
    municipality_id uuid NOT NULL,
    id uuid NOT NULL DEFAULT gen_random_uuid(),
    transition_id uuid NOT NULL,
    round smallint NOT NULL CHECK (round IN (1, 2)),
    due_on date NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    reminded_at timestamptz,
    answered_at timestamptz,
    answered_by uuid,
    -- how useful and how complete the handover was, 1–5
    usefulness smallint CHECK (usefulness BETWEEN 1 AND 5),
    completeness smallint CHECK (completeness BETWEEN 1 AND 5),
    missing text CHECK (length(missing) <= 4000),
    -- outcome facts
    special_support boolean,
    deferred_start boolean,
    ppr_referral boolean,
    PRIMARY KEY (municipality_id, id),
    UNIQUE (municipality_id, transition_id, round),
    FOREIGN KEY (municipality_id, transition_id) REFERENCES transitions (municipality_id, id) ON DELETE CASCADE,
    FOREIGN KEY (municipality_id, answered_by) REFERENCES users (municipality_id, id)
        ON DELETE SET NULL (answered_by),
    CHECK ((answered_at IS NULL) = (usefulness IS NULL))
);
-- the receiver's worklist (open requests by due date) and the reminder sweep
CREATE INDEX feedback_requests_open ON feedback_requests (municipality_id, due_on) WHERE answered_at IS NULL;
CREATE INDEX feedback_requests_transition ON feedback_requests (municipality_id, transition_id);

CREATE TABLE feedback_ratings (
    municipality_id uuid NOT NULL,
    request_id uuid NOT NULL,
    -- the sender's themed scale question this rating answers
    question_id uuid NOT NULL,
    value text NOT NULL CHECK (value IN ('1', '2', '3', '4', 'green', 'yellow', 'red')),
    PRIMARY KEY (municipality_id, request_id, question_id),
    FOREIGN KEY (municipality_id, request_id) REFERENCES feedback_requests (municipality_id, id) ON DELETE CASCADE,
    FOREIGN KEY (municipality_id, question_id) REFERENCES template_questions (municipality_id, id)
);

DO $$
DECLARE t text;
BEGIN
    FOREACH t IN ARRAY ARRAY['feedback_requests', 'feedback_ratings'] LOOP
        EXECUTE format('ALTER TABLE %I ENABLE ROW LEVEL SECURITY', t);
        EXECUTE format('ALTER TABLE %I FORCE ROW LEVEL SECURITY', t);
        EXECUTE format('CREATE POLICY tenant ON %I USING (municipality_id = app_municipality())
                        WITH CHECK (municipality_id = app_municipality())', t);
        EXECUTE format('GRANT SELECT, INSERT, UPDATE, DELETE ON %I TO overgang_app', t);
    END LOOP;
END
$$;

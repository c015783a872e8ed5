-- The consent ledger: the guardians' decisions about the sensitive sections of a handover, and the
-- one rule that decides whether the receiver may see a sensitive answer. The ledger is append-only
-- for the app role (a decision is changed by recording a new one), so it is also the history of
-- who decided what, when and how.

CREATE TABLE consent_records (
    municipality_id uuid NOT NULL,
    id uuid NOT NULL DEFAULT gen_random_uuid(),
    transition_id uuid NOT NULL,
    -- NULL once retention has removed the guardian; the decision itself stays for the aggregates
    guardian_id uuid,
    -- the sensitive section of the transition's template version the decision is about
    section_id uuid NOT NULL,
    decision text NOT NULL CHECK (decision IN ('given', 'refused', 'withdrawn')),
    -- through the guardian's own link, or recorded by staff after a conversation (with a note)
    method text NOT NULL CHECK (method IN ('link', 'staff')),
    note text CHECK (length(note) <= 2000),
    recorded_by uuid,
    recorded_at timestamptz NOT NULL DEFAULT clock_timestamp(),
    PRIMARY KEY (municipality_id, id),
    FOREIGN KEY (municipality_id, transition_id) REFERENCES transitions (municipality_id, id) ON DELETE CASCADE,
    FOREIGN KEY (municipality_id, guardian_id) REFERENCES guardians (municipality_id, id)
        ON DELETE SET NULL (guardian_id),
    FOREIGN KEY (municipality_id, section_id) REFERENCES template_sections (municipality_id, id),
    FOREIGN KEY (municipality_id, recorded_by) REFERENCES users (municipality_id, id)
        ON DELETE SET NULL (recorded_by),
    CHECK (method = 'link' OR recorded_by IS NOT NULL OR guardian_id IS NULL)
);
CREATE INDEX consent_records_current
    ON consent_records (municipality_id, transition_id, section_id, guardian_id, recorded_at DESC);

ALTER TABLE consent_records ENABLE ROW LEVEL SECURITY;
ALTER TABLE consent_records FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant ON consent_records USING (municipality_id = app_municipality())
    WITH CHECK (municipality_id = app_municipality());
GRANT SELECT, INSERT ON consent_records TO overgang_app;

-- Whether a sensitive section of a transition may be released to the receiver: every guardian
-- with custody of the child has, as their latest decision, given consent. No custody guardian on
-- record, or any refusal or withdrawal, means no. Runs with the caller's rights, so RLS applies.
CREATE FUNCTION consent_released(p_municipality uuid, p_transition uuid, p_section uuid)
RETURNS boolean LANGUAGE sql STABLE AS $$
    SELECT EXISTS (
               SELECT 1 FROM transitions t
               JOIN guardians g ON g.municipality_id = t.municipality_id AND g.child_id = t.child_id
               WHERE t.municipality_id = p_municipality AND t.id = p_transition AND g.has_custody)
       AND NOT EXISTS (
               SELECT 1 FROM transitions t
               JOIN guardians g ON g.municipality_id = t.municipality_id AND g.child_id = t.child_id
               WHERE t.municipality_id = p_municipality AND t.id = p_transition AND g.has_custody
                 AND coalesce((SELECT c.decision FROM consent_records c
                               WHERE c.municipality_id = p_municipality
                                 AND c.transition_id = p_transition
                                 AND c.section_id = p_section
                                 AND c.guardian_id = g.id
                               ORDER BY c.recorded_at DESC, c.id DESC LIMIT 1), 'none') <> 'given')
$$;

-- The answers a receiver may read: visible to the receiver, and either not sensitive or in a
-- section released by consent. Every receiver-facing read goes through this view, so the rule
-- holds in the query, not only in a template. security_invoker keeps RLS in force.
CREATE VIEW receiver_answers WITH (security_invoker = true) AS
SELECT a.*, q.section_id
FROM answers a
JOIN template_questions q
  ON q.municipality_id = a.municipality_id AND q.template_id = a.template_id AND q.id = a.question_id
WHERE q.visible_to_receiver
  AND (NOT q.sensitive OR consent_released(a.municipality_id, a.transition_id, q.section_id));
GRANT SELECT ON receiver_answers TO overgang_app;

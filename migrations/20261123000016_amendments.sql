-- Amendments to a sent handover: dated additions by the sender, never a silent rewrite of what
-- was sent. Append-only for the app role: an amendment is corrected by another amendment.

CREATE TABLE transition_amendments (
    municipality_id uuid NOT NULL,
    id uuid NOT NULL DEFAULT gen_random_uuid(),
    transition_id uuid NOT NULL,
    body text NOT NULL CHECK (length(body) BETWEEN 1 AND 10000),
    created_by uuid,
    created_at timestamptz NOT NULL DEFAULT clock_timestamp(),
    PRIMARY KEY (municipality_id, id),
    FOREIGN KEY (municipality_id, transition_id) REFERENCES transitions (municipality_id, id) ON DELETE CASCADE,
    FOREIGN KEY (municipality_id, created_by) REFERENCES users (municipality_id, id) ON DELETE SET NULL (created_by)
);
CREATE INDEX transition_amendments_transition ON transition_amendments (municipality_id, transition_id, created_at);

ALTER TABLE transition_amendments ENABLE ROW LEVEL SECURITY;
ALTER TABLE transition_amendments FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant ON transition_amendments USING (municipality_id = app_municipality())
    WITH CHECK (municipality_id = app_municipality());
GRANT SELECT, INSERT ON transition_amendments TO overgang_app;

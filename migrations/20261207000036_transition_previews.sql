-- The class overview shows the receiving school the key points of each delivered handover
-- (strengths, support, agreements) without opening it, so it records no read receipt: the
-- teacher's "read" column stays about the handover itself. But the sender may recall a sent
-- handover to rewrite it only while nobody at the receiver has seen its content, and key
-- points are content. So the overview notes here, once per handover, that its key points were
-- shown, and a recall is refused once a handover has a read or a preview. No user and no
-- personal data: the transition and the moment. It goes with the transition.
CREATE TABLE transition_previews (
    municipality_id uuid NOT NULL,
    transition_id uuid NOT NULL,
    first_shown_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (municipality_id, transition_id),
    FOREIGN KEY (municipality_id, transition_id) REFERENCES transitions (municipality_id, id) ON DELETE CASCADE
);
ALTER TABLE transition_previews ENABLE ROW LEVEL SECURITY;
ALTER TABLE transition_previews FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant ON transition_previews USING (municipality_id = app_municipality())
    WITH CHECK (municipality_id = app_municipality());
GRANT SELECT, INSERT ON transition_previews TO overgang_app;

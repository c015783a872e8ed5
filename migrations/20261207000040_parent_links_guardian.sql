-- A guardian's live links, found by guardian when the guardian's address or custody changes
-- (parents::revoke_guardian_links); the other index leads with the transition.
CREATE INDEX parent_links_guardian ON parent_links (municipality_id, guardian_id)
    WHERE revoked_at IS NULL;

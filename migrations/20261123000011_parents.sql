-- The parents' side of a handover: single-purpose links for the guardians, their own perspective
-- on their child, and the municipality's reminder setting.

-- After this many days without an answer, a guardian with a live link gets one reminder.
ALTER TABLE municipalities ADD COLUMN parent_reminder_days integer NOT NULL DEFAULT 7
    CHECK (parent_reminder_days BETWEEN 1 AND 60);

-- A guardian's link to one transition. Only the SHA-256 of the random token is stored (like
-- sessions and user_tokens); the plain link exists only in the outbox until the mail is sent, or
-- on the one staff page that created it. Never deleted by the app: the rows are the record of
-- what was sent to whom and when, and revoking is a mark, not a delete.
CREATE TABLE parent_links (
    municipality_id uuid NOT NULL REFERENCES municipalities (id),
    id uuid NOT NULL DEFAULT gen_random_uuid(),
    transition_id uuid NOT NULL,
    guardian_id uuid NOT NULL,
    token_hash bytea NOT NULL UNIQUE CHECK (length(token_hash) = 32),
    -- 'email': mailed through the outbox; 'shown': shown once to staff (for an Aula message);
    -- 'reminder': the one reminder mail
    delivery text NOT NULL CHECK (delivery IN ('email', 'shown', 'reminder')),
    sent_to text CHECK (length(sent_to) <= 254),
    created_by uuid,
    created_at timestamptz NOT NULL DEFAULT now(),
    expires_at timestamptz NOT NULL,
    first_opened_at timestamptz,
    last_opened_at timestamptz,
    responded_at timestamptz,
    revoked_at timestamptz,
    revoked_by uuid,
    PRIMARY KEY (municipality_id, id),
    FOREIGN KEY (municipality_id, transition_id) REFERENCES transitions (municipality_id, id) ON DELETE CASCADE,
    FOREIGN KEY (municipality_id, guardian_id) REFERENCES guardians (municipality_id, id) ON DELETE CASCADE,
    FOREIGN KEY (municipality_id, created_by) REFERENCES users (municipality_id, id)
        ON DELETE SET NULL (created_by),
    FOREIGN KEY (municipality_id, revoked_by) REFERENCES users (municipality_id, id)
        ON DELETE SET NULL (revoked_by),
    CHECK (expires_at > created_at)
);
CREATE INDEX parent_links_transition ON parent_links (municipality_id, transition_id, guardian_id, created_at);
-- the reminder task's scan
CREATE INDEX parent_links_open ON parent_links (municipality_id, created_at)
    WHERE revoked_at IS NULL AND responded_at IS NULL;

-- A guardian's own perspective on their child, per transition; editable until the handover is
-- sent (the handlers decide that by the transition's status).
CREATE TABLE parent_perspectives (
    municipality_id uuid NOT NULL,
    transition_id uuid NOT NULL,
    guardian_id uuid NOT NULL,
    body text NOT NULL CHECK (length(body) <= 10000),
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (municipality_id, transition_id, guardian_id),
    FOREIGN KEY (municipality_id, transition_id) REFERENCES transitions (municipality_id, id) ON DELETE CASCADE,
    FOREIGN KEY (municipality_id, guardian_id) REFERENCES guardians (municipality_id, id) ON DELETE CASCADE
);

DO $$
DECLARE t text;
BEGIN
    FOREACH t IN ARRAY ARRAY['parent_links', 'parent_perspectives'] LOOP
        EXECUTE format('ALTER TABLE %I ENABLE ROW LEVEL SECURITY', t);
        EXECUTE format('ALTER TABLE %I FORCE ROW LEVEL SECURITY', t);
        EXECUTE format('CREATE POLICY tenant ON %I USING (municipality_id = app_municipality())
                        WITH CHECK (municipality_id = app_municipality())', t);
    END LOOP;
END
$$;
GRANT SELECT, INSERT, UPDATE ON parent_links TO overgang_app;
REVOKE DELETE, TRUNCATE ON parent_links FROM overgang_app;
GRANT SELECT, INSERT, UPDATE, DELETE ON parent_perspectives TO overgang_app;

-- The token lookup happens before the tenant is known. Like auth_find_user, this narrow definer
-- function is the only way past RLS, and returns just what the handler needs to open the right
-- tenant scope. The read-only policy below admits it through a setting that only exists for the
-- duration of the call (FORCE RLS binds a non-superuser owner too).
CREATE POLICY link_lookup ON parent_links FOR SELECT
    USING (coalesce(current_setting('app.parent_link_lookup', true), '') = 'on');

CREATE FUNCTION parent_link_find(p_token_hash bytea)
    RETURNS TABLE (municipality_id uuid, link_id uuid, transition_id uuid, guardian_id uuid,
                   expires_at timestamptz, revoked boolean)
    LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp
    SET app.parent_link_lookup = 'on'
    AS $$ SELECT l.municipality_id, l.id, l.transition_id, l.guardian_id, l.expires_at,
                 l.revoked_at IS NOT NULL
          FROM parent_links l WHERE l.token_hash = p_token_hash $$;
REVOKE EXECUTE ON FUNCTION parent_link_find(bytea) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION parent_link_find(bytea) TO overgang_app;

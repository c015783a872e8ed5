-- User administration: the mail outbox, and one-time tokens for invitations and password resets.

-- Mail is written here in the same transaction as the change that causes it, so a message exists
-- exactly when the change committed; a background task delivers it (src/mail/). Platform-operator
-- mail has no municipality. The body is emptied once the message is sent or given up, because it
-- may hold a live one-time link.
CREATE TABLE outbox (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    municipality_id uuid REFERENCES municipalities (id),
    to_address text NOT NULL CHECK (length(to_address) BETWEEN 3 AND 254),
    subject text NOT NULL CHECK (length(subject) BETWEEN 1 AND 200),
    body text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    sent_at timestamptz,
    attempts integer NOT NULL DEFAULT 0,
    -- NULL once there is nothing more to do: sent, or given up after too many attempts.
    next_attempt_at timestamptz DEFAULT now(),
    last_error text,
    CHECK (sent_at IS NULL OR next_attempt_at IS NULL)
);
CREATE INDEX outbox_due ON outbox (next_attempt_at) WHERE next_attempt_at IS NOT NULL;
CREATE INDEX outbox_municipality ON outbox (municipality_id, created_at DESC);

-- Like audit_log: a tenant sees its own mail; the platform scope sees every row. The delivery task
-- relies on that (it runs with Scope::Platform); no page reads this table, and the operator's
-- pages do not either. The bodies hold live one-time links, so nothing else should.
ALTER TABLE outbox ENABLE ROW LEVEL SECURITY;
ALTER TABLE outbox FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant ON outbox
    USING (municipality_id = app_municipality() OR app_is_platform())
    WITH CHECK (municipality_id IS NOT DISTINCT FROM app_municipality() OR app_is_platform());
GRANT SELECT, INSERT, UPDATE ON outbox TO overgang_app;
GRANT USAGE ON SEQUENCE outbox_id_seq TO overgang_app;

-- Invitation and password-reset links. Only the SHA-256 of the random token is stored (like
-- sessions); the plain link exists only in the outbox until the mail is sent. Each token is used
-- at most once.
--
-- No row-level security: a token is looked up by an anonymous visitor before the tenant is known
-- (that is what the token is for), exactly like sessions. The 256-bit random token is the
-- capability; municipality_id tells the handler which tenant scope to open for the user's row.
CREATE TABLE user_tokens (
    id bytea PRIMARY KEY,
    user_id uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    municipality_id uuid REFERENCES municipalities (id),
    purpose text NOT NULL CHECK (purpose IN ('invite', 'reset')),
    created_at timestamptz NOT NULL DEFAULT now(),
    expires_at timestamptz NOT NULL,
    used_at timestamptz,
    CHECK (expires_at > created_at)
);
CREATE INDEX user_tokens_user ON user_tokens (user_id, purpose);
CREATE INDEX user_tokens_expires ON user_tokens (expires_at);
GRANT SELECT, INSERT, UPDATE, DELETE ON user_tokens TO overgang_app;

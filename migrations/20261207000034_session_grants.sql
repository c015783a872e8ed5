-- The app's role reads and changes sessions only through `session_check` (a definer function).
-- Itself it creates a session at login, deletes one at logout and deletes a user's sessions when
-- the password or the account changes; for those deletes it needs to name a session's id and
-- user, nothing else. So it may no longer read a session's CSRF token, client address or times,
-- nor change a session (its expiry or its user) behind the check's back.
REVOKE SELECT, UPDATE ON sessions FROM overgang_app;
GRANT SELECT (id, user_id) ON sessions TO overgang_app;

-- Who may undo a deactivation: a leader may deactivate and reactivate the staff of their own
-- institutions, but an account an administrator deactivated (a suspension, a leaver the
-- municipality has offboarded) stays so until an administrator reactivates it. The flag is set
-- with the deactivation and cleared with the reactivation (src/users/admin.rs).
ALTER TABLE users ADD COLUMN deactivated_by_admin boolean NOT NULL DEFAULT false;
-- Who deactivated the accounts that are inactive now is not recorded in a form to trust, so
-- they are taken as an administrator's: an administrator can reactivate them, a leader asks one.
SELECT set_config('app.platform', 'on', true);
UPDATE users SET deactivated_by_admin = true WHERE NOT is_active;
SELECT set_config('app.platform', '', true);

-- Who may undo a deactivation: a leader may deactivate and reactivate the staff of their own
-- institutions, but an account an administrator deactivated (a suspension, a leaver the
-- municipality has offboarded) stays so until an administrator reactivates it. The flag is set
-- with the deactivation and cleared with the reactivation (src/users/admin.rs).
ALTER TABLE users ADD COLUMN deactivated_by_admin boolean NOT NULL DEFAULT false;

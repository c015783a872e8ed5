-- A municipality changes its own settings through the app, never its name or code: other
-- municipalities see those in transfers between them (`transfer_municipalities`,
-- `transfer_incoming`) and in the handovers they receive, so a tenant that could rename itself
-- could pass for another. The app updates only the settings columns (src/settings); the platform
-- operator creates municipalities (INSERT stays).
REVOKE UPDATE ON municipalities FROM overgang_app;
GRANT UPDATE (feedback_delay_days, feedback_second_round, feedback_reminder_days,
              parent_reminder_days, retention_days, small_number_threshold,
              enabled_transition_kinds)
    ON municipalities TO overgang_app;

-- A transfer carries a copy of the handover as it was when the transfer started. When the
-- handover is taken back to be corrected (a recall, or back to draft) or cancelled, that copy is
-- no longer what the sender stands by, so a transfer still waiting for its destination or for
-- the other municipality's decision is closed with it, in the same transaction: the other
-- municipality can no longer accept it (transfer_decide takes only pending ones), the copy is
-- dropped, and the sender's page says why. Once the handover is sent again, a new transfer may
-- start.
CREATE FUNCTION transfers_follow_withdrawal() RETURNS trigger
    LANGUAGE plpgsql SET search_path = public, pg_temp
AS $$
BEGIN
    UPDATE transfers
       SET status = 'closed', package = NULL, decided_at = now(),
           decision_note = CASE NEW.status
               WHEN 'cancelled' THEN 'Lukket, fordi overleveringen blev annulleret.'
               ELSE 'Lukket, fordi overleveringen blev taget tilbage for at blive rettet.' END
     WHERE municipality_id = NEW.municipality_id AND transition_id = NEW.id
       AND status IN ('destination_unknown', 'pending');
    RETURN NULL;
END
$$;

CREATE TRIGGER transitions_follow_withdrawal
    AFTER UPDATE OF status ON transitions
    FOR EACH ROW
    WHEN (NEW.status IN ('draft', 'with_parents', 'cancelled') AND OLD.status IS DISTINCT FROM NEW.status)
    EXECUTE FUNCTION transfers_follow_withdrawal();

-- Transfers already waiting on a handover that was recalled or cancelled before this migration
-- close the same way, one municipality at a time in its own scope (the tables force row-level
-- security, also on an owner that is not a superuser).
DO $$
DECLARE m uuid;
BEGIN
    PERFORM set_config('app.platform', 'on', true);
    FOR m IN SELECT id FROM municipalities LOOP
        PERFORM set_config('app.municipality_id', m::text, true);
        UPDATE transfers x
           SET status = 'closed', package = NULL, decided_at = now(),
               decision_note = CASE t.status
                   WHEN 'cancelled' THEN 'Lukket, fordi overleveringen blev annulleret.'
                   ELSE 'Lukket, fordi overleveringen blev taget tilbage for at blive rettet.' END
          FROM transitions t
         WHERE x.municipality_id = m AND t.municipality_id = m AND t.id = x.transition_id
           AND x.status IN ('destination_unknown', 'pending')
           AND t.status IN ('draft', 'with_parents', 'cancelled');
    END LOOP;
    PERFORM set_config('app.municipality_id', '', true), set_config('app.platform', '', true);
END
$$;

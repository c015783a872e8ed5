-- Changes to one transition committed at the same moment (two consent decisions, say) each
-- refreshed its insight facts from a snapshot that could not see the other's: the second
-- refresh deleted nothing, inserted the transition's facts a second time and failed on the key
-- (a 500), and without the key it would have counted the transition twice in the totals.
--
-- The refresh now first locks the transition's row, as `child_scope_refresh` locks the child's
-- (migration 27): concurrent refreshes of one transition run one after the other, and each of
-- the statements after the lock sees what the one before committed (a function that is not
-- read-only takes a new snapshot for every statement). A change of the transition row itself
-- holds that lock already. The body is otherwise migration 15's.
CREATE OR REPLACE FUNCTION insight_refresh(p_municipality uuid, p_transition uuid)
RETURNS void LANGUAGE plpgsql AS $$
DECLARE
    previous text := current_setting('app.municipality_id', true);
BEGIN
    IF p_municipality IS NULL OR p_transition IS NULL THEN
        RETURN;
    END IF;
    PERFORM set_config('app.municipality_id', p_municipality::text, true);
    -- one refresh of a transition at a time, each from what the one before committed
    PERFORM 1 FROM transitions WHERE municipality_id = p_municipality AND id = p_transition
        FOR NO KEY UPDATE;
    -- out with the old contribution, in with the new one (sign -1, then +1)
    WITH old AS (
        DELETE FROM insight_facts WHERE municipality_id = p_municipality AND transition_id = p_transition
        RETURNING *
    ), new AS (
        INSERT INTO insight_facts SELECT * FROM insight_compute_facts(p_municipality, p_transition)
        RETURNING *
    ), delta AS (
        SELECT -1 AS sign, * FROM old UNION ALL SELECT 1, * FROM new
    )
    INSERT INTO insight_totals AS g
    SELECT municipality_id, sending_institution_id, receiving_institution_id, kind, year,
           sum(sign), sum(sign * sent::int), sum(sign * on_time::int),
           sum(sign * (sent AND sensitive)::int), sum(sign * (sent AND sensitive AND released)::int),
           sum(sign * requests), sum(sign * answered), sum(sign * usefulness_sum),
           sum(sign * support_known), sum(sign * support_yes)
    FROM delta
    GROUP BY municipality_id, sending_institution_id, receiving_institution_id, kind, year
    ON CONFLICT (municipality_id, sending_institution_id, receiving_institution_id, kind, year)
    DO UPDATE SET transitions = g.transitions + EXCLUDED.transitions,
                  sent = g.sent + EXCLUDED.sent,
                  on_time = g.on_time + EXCLUDED.on_time,
                  consent_whole = g.consent_whole + EXCLUDED.consent_whole,
                  consent_part = g.consent_part + EXCLUDED.consent_part,
                  requests = g.requests + EXCLUDED.requests,
                  answered = g.answered + EXCLUDED.answered,
                  usefulness_sum = g.usefulness_sum + EXCLUDED.usefulness_sum,
                  support_known = g.support_known + EXCLUDED.support_known,
                  support_yes = g.support_yes + EXCLUDED.support_yes;
    WITH old AS (
        DELETE FROM insight_theme_facts
        WHERE municipality_id = p_municipality AND transition_id = p_transition
        RETURNING *
    ), new AS (
        INSERT INTO insight_theme_facts
        SELECT * FROM insight_compute_theme_facts(p_municipality, p_transition)
        RETURNING *
    ), delta AS (
        SELECT -1 AS sign, * FROM old UNION ALL SELECT 1, * FROM new
    )
    INSERT INTO insight_theme_totals AS g
    SELECT municipality_id, sending_institution_id, receiving_institution_id, kind, year, theme,
           sum(sign * pairs), sum(sign * sender_halves), sum(sign * receiver_halves)
    FROM delta
    GROUP BY municipality_id, sending_institution_id, receiving_institution_id, kind, year, theme
    ON CONFLICT (municipality_id, sending_institution_id, receiving_institution_id, kind, year, theme)
    DO UPDATE SET pairs = g.pairs + EXCLUDED.pairs,
                  sender_halves = g.sender_halves + EXCLUDED.sender_halves,
                  receiver_halves = g.receiver_halves + EXCLUDED.receiver_halves;
    PERFORM set_config('app.municipality_id', coalesce(previous, ''), true);
END
$$;


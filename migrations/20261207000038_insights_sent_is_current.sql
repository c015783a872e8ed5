-- "Sent" and "sent on time" in the insights read a transition as sent when it had ever had a
-- `sent` event, and timed it by the first one. A handover recalled to be corrected (sent → draft,
-- before anybody at the receiver opened it) then counted as sent, also while it lay as a draft,
-- and a corrected one sent again after the planned date counted as on time. Now a transition is
-- sent while its status is sent or later, and on time when its latest send (the version the
-- receiver has) falls on or before the planned date. The body is otherwise migration 15's; the
-- totals are rebuilt from it once.
CREATE OR REPLACE FUNCTION insight_compute_facts(p_municipality uuid, p_transition uuid)
RETURNS SETOF insight_facts LANGUAGE sql STABLE AS $$
    SELECT t.municipality_id, t.id, t.sending_institution_id, t.receiving_institution_id, t.kind,
           extract(year FROM t.planned_date)::int,
           t.status IN ('sent', 'received', 'feedback_requested', 'feedback_given', 'closed')
               AND sent.last_at IS NOT NULL,
           t.status IN ('sent', 'received', 'feedback_requested', 'feedback_given', 'closed')
               AND coalesce((sent.last_at AT TIME ZONE 'Europe/Copenhagen')::date <= t.planned_date, false),
           sens.sections > 0,
           sens.sections > 0 AND released.sections = sens.sections,
           fb.requests, fb.answered, fb.usefulness_sum,
           CASE WHEN t.kind = 'kindergarten_school' THEN fb.support_known ELSE 0 END,
           CASE WHEN t.kind = 'kindergarten_school' THEN fb.support_yes ELSE 0 END
    FROM transitions t
    CROSS JOIN LATERAL (
        SELECT count(DISTINCT q.section_id)::int AS sections FROM template_questions q
        WHERE q.municipality_id = t.municipality_id AND q.template_id = t.template_id AND q.sensitive) sens
    CROSS JOIN LATERAL (
        SELECT max(e.at) AS last_at FROM transition_events e
        WHERE e.municipality_id = t.municipality_id AND e.transition_id = t.id AND e.to_status = 'sent') sent
    CROSS JOIN LATERAL (
        SELECT count(*)::int AS sections FROM (
            SELECT DISTINCT ON (c.section_id) c.section_id, c.decision
            FROM consent_records c
            WHERE c.municipality_id = t.municipality_id AND c.transition_id = t.id
            ORDER BY c.section_id, c.recorded_at DESC, c.id DESC) latest
        WHERE latest.decision = 'given'
          AND latest.section_id IN (SELECT q.section_id FROM template_questions q
                                    WHERE q.municipality_id = t.municipality_id
                                      AND q.template_id = t.template_id AND q.sensitive)) released
    CROSS JOIN LATERAL (
        SELECT count(*)::int AS requests, count(f.answered_at)::int AS answered,
               coalesce(sum(f.usefulness), 0)::int AS usefulness_sum,
               count(*) FILTER (WHERE f.round = 1 AND f.answered_at IS NOT NULL
                                  AND f.special_support IS NOT NULL)::int AS support_known,
               count(*) FILTER (WHERE f.round = 1 AND f.answered_at IS NOT NULL
                                  AND f.special_support)::int AS support_yes
        FROM feedback_requests f
        WHERE f.municipality_id = t.municipality_id AND f.transition_id = t.id) fb
    WHERE t.municipality_id = p_municipality
      AND (p_transition IS NULL OR t.id = p_transition)
      AND t.status <> 'cancelled'
$$;

-- The totals again from the new facts, one municipality at a time in its own scope (the tables
-- force row-level security, also on an owner that is not a superuser).
DO $$
DECLARE m uuid;
BEGIN
    PERFORM set_config('app.platform', 'on', true);
    FOR m IN SELECT id FROM municipalities LOOP
        PERFORM set_config('app.municipality_id', m::text, true);
        PERFORM insight_rebuild(m);
    END LOOP;
    PERFORM set_config('app.municipality_id', '', true), set_config('app.platform', '', true);
END
$$;

-- The handover meeting of a transition as its pages show it, in one place for the two
-- statements that read it (src/transitions/meeting.rs for the meeting page and the print, and
-- src/transitions/queries.rs for the transition's page, which reads it with the rest of the page
-- in one statement): the meeting (NULL columns while none is recorded), the sending side's wish,
-- and the agreements in the order the pages list them, with the dates as the pages print them
-- and whether each is overdue (not done and due before `p_today`).
--
-- A plain SQL table function (not SECURITY DEFINER, no SET), so the planner inlines it into the
-- statement that joins it laterally and row-level security applies as to any query.
CREATE FUNCTION meeting_summary(p_municipality uuid, p_transition uuid, p_today date)
    RETURNS TABLE (held_on date, held_time time, place text, participants text, notes text,
                   version integer, wish text, agreements json)
    LANGUAGE sql STABLE
    AS $$
    SELECT h.held_on, h.held_time, h.place, h.participants, h.notes, h.version,
           (SELECT w.wish FROM public.handover_wishes w
            WHERE w.municipality_id = p_municipality AND w.transition_id = p_transition),
           (SELECT coalesce(json_agg(json_build_object(
                       'id', a.id, 'description', a.description, 'responsible', a.responsible,
                       'follow_up_on', to_char(a.follow_up_on, 'DD-MM-YYYY'),
                       'overdue', a.done_at IS NULL AND a.follow_up_on < p_today,
                       'done', a.done_at IS NOT NULL)
                     ORDER BY a.follow_up_on NULLS LAST, a.created_at, a.id), '[]')
            FROM public.meeting_agreements a
            WHERE h.transition_id IS NOT NULL
              AND a.municipality_id = p_municipality AND a.transition_id = p_transition)
    FROM (SELECT) AS one
    LEFT JOIN public.handover_meetings h
           ON h.municipality_id = p_municipality AND h.transition_id = p_transition
$$;

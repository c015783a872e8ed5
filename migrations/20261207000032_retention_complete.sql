-- Retention, completed (review of 7 Dec 2026):
-- * an uploaded file never confirmed (`imports.content`: children's names and CPR numbers) was
--   deleted only when somebody in the municipality uploaded again; the daily purge now deletes
--   it a day after upload, as docs/privacy.md says;
-- * a purged transition's class placement (who placed the child in which class) and handover
--   wish (who wished for a meeting) stayed beside the anonymised child; they go with the rest;
-- * a child who never had a transition (registered by hand, imported, received from another
--   municipality) was never anonymised; once every enrolment ended before the cutoff, it is;
-- * sessions, login counters and used or expired account tokens (client addresses, typed
--   e-mail addresses) were kept until the user logged out or signed in again; `housekeeping`
--   deletes them once nothing can use them any more.
--
-- retention_purge gains a column (deleted_uploads), so it is dropped and created again: the
-- body of migration 21 with the additions marked "(migration 32)".

DROP FUNCTION retention_purge(uuid, timestamptz, boolean);

CREATE FUNCTION retention_purge(p_municipality uuid, p_cutoff timestamptz, p_dry_run boolean)
RETURNS TABLE (
    purged_transitions bigint,
    deleted_answers bigint,
    erased_notes bigint,
    erased_feedback_texts bigint,
    deleted_guardians bigint,
    deleted_enrolments bigint,
    anonymised_children bigint,
    deleted_mails bigint,
    deleted_uploads bigint
)
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = public, pg_temp
AS $$
DECLARE
    v_due uuid[];
    v_children uuid[];
BEGIN
    IF p_municipality IS NULL OR p_municipality IS DISTINCT FROM app_municipality() THEN
        RAISE EXCEPTION 'retention_purge: municipality must be the transaction''s own tenant';
    END IF;

    -- finished transitions whose last status change is older than the cutoff
    SELECT coalesce(array_agg(t.id), '{}') INTO v_due
    FROM transitions t
    WHERE t.municipality_id = p_municipality
      AND t.purged_at IS NULL
      AND t.status IN ('closed', 'cancelled')
      AND coalesce((SELECT max(e.at) FROM transition_events e
                    WHERE e.municipality_id = t.municipality_id AND e.transition_id = t.id),
                   t.updated_at) < p_cutoff;

    -- children with no transition left unpurged (counting this run's) and no current or future
    -- enrolment, not anonymised yet
    SELECT coalesce(array_agg(c.id), '{}') INTO v_children
    FROM children c
    WHERE c.municipality_id = p_municipality
      AND ((c.id IN (SELECT t.child_id FROM transitions t
                     WHERE t.municipality_id = p_municipality
                       AND (t.purged_at IS NOT NULL OR t.id = ANY (v_due)))
            AND NOT EXISTS (SELECT 1 FROM transitions t
                            WHERE t.municipality_id = p_municipality AND t.child_id = c.id
                              AND t.purged_at IS NULL AND NOT (t.id = ANY (v_due))))
           -- (migration 32) a child who never had a transition (registered by hand, imported,
           -- or received from another municipality): registered before the cutoff, every
           -- enrolment ended before it, and no handover received since
           OR (NOT EXISTS (SELECT 1 FROM transitions t
                           WHERE t.municipality_id = p_municipality AND t.child_id = c.id)
               AND c.created_at < p_cutoff
               AND NOT EXISTS (SELECT 1 FROM enrolments e
                               WHERE e.municipality_id = p_municipality AND e.child_id = c.id
                                 AND (e.ends_on IS NULL OR e.ends_on >= p_cutoff::date))
               AND NOT EXISTS (SELECT 1 FROM incoming_handovers h
                               WHERE h.municipality_id = p_municipality AND h.child_id = c.id
                                 AND h.received_at >= p_cutoff)))
      AND NOT EXISTS (SELECT 1 FROM enrolments e
                      WHERE e.municipality_id = p_municipality AND e.child_id = c.id
                        AND (e.ends_on IS NULL OR e.ends_on >= current_date))
      AND (c.cpr IS NOT NULL OR c.first_name <> 'Anonymiseret' OR c.last_name <> 'barn'
           OR c.birth_date <> greatest(make_date(extract(year FROM c.birth_date)::int, 1, 1), DATE '1990-01-02')
           OR EXISTS (SELECT 1 FROM guardians g WHERE g.municipality_id = p_municipality AND g.child_id = c.id)
           OR EXISTS (SELECT 1 FROM enrolments e WHERE e.municipality_id = p_municipality AND e.child_id = c.id));

    purged_transitions := cardinality(v_due);
    -- free text and dates go; scale, traffic-light and choice answers stay for the aggregates
    SELECT count(*) INTO deleted_answers FROM answers a
    JOIN template_questions q
      ON q.municipality_id = a.municipality_id AND q.template_id = a.template_id AND q.id = a.question_id
    WHERE a.municipality_id = p_municipality AND a.transition_id = ANY (v_due)
      AND q.kind IN ('free_text', 'date');
    SELECT (SELECT count(*) FROM transition_events e
            WHERE e.municipality_id = p_municipality AND e.transition_id = ANY (v_due) AND e.note IS NOT NULL)
         + (SELECT count(*) FROM consent_records r
            WHERE r.municipality_id = p_municipality AND r.transition_id = ANY (v_due) AND r.note IS NOT NULL)
         + (SELECT count(*) FROM handover_meetings h
            WHERE h.municipality_id = p_municipality AND h.transition_id = ANY (v_due))
         + (SELECT count(*) FROM meeting_agreements a
            WHERE a.municipality_id = p_municipality AND a.transition_id = ANY (v_due))
         + (SELECT count(*) FROM transition_amendments m
            WHERE m.municipality_id = p_municipality AND m.transition_id = ANY (v_due))
         + (SELECT count(*) FROM parent_perspectives p
            WHERE p.municipality_id = p_municipality AND p.transition_id = ANY (v_due))
         + (SELECT count(*) FROM correction_requests c
            WHERE c.municipality_id = p_municipality AND c.transition_id = ANY (v_due))
         -- transfers (migration 20): those of a purged transition, and decided ones past the cutoff
         + (SELECT count(*) FROM transfers x
            WHERE x.municipality_id = p_municipality
              AND (x.transition_id = ANY (v_due)
                   OR (x.status IN ('accepted', 'rejected', 'closed')
                       AND coalesce(x.decided_at, x.started_at) < p_cutoff)))
         -- incoming handovers (migration 20) received before the cutoff
         + (SELECT count(*) FROM incoming_handovers h
            WHERE h.municipality_id = p_municipality AND h.received_at < p_cutoff)
         -- (migration 32) the class placement and the handover wish: who placed the child in
         -- which class, who wished for a meeting
         + (SELECT count(*) FROM class_children x
            WHERE x.municipality_id = p_municipality AND x.transition_id = ANY (v_due))
         + (SELECT count(*) FROM handover_wishes w
            WHERE w.municipality_id = p_municipality AND w.transition_id = ANY (v_due))
      INTO erased_notes;
    SELECT count(*) INTO erased_feedback_texts FROM feedback_requests f
    WHERE f.municipality_id = p_municipality AND f.transition_id = ANY (v_due) AND f.missing IS NOT NULL;
    SELECT count(*) INTO deleted_guardians FROM guardians g
    WHERE g.municipality_id = p_municipality AND g.child_id = ANY (v_children);
    SELECT count(*) INTO deleted_enrolments FROM enrolments e
    WHERE e.municipality_id = p_municipality AND e.child_id = ANY (v_children);
    anonymised_children := cardinality(v_children);
    -- sent (or given-up) mail older than the cutoff: addresses and subjects may name people
    SELECT count(*) INTO deleted_mails FROM outbox o
    WHERE o.municipality_id = p_municipality AND o.next_attempt_at IS NULL AND o.created_at < p_cutoff;
    -- (migration 32) uploaded files (names, CPR numbers) never confirmed, a day after upload,
    -- whether or not anybody uploads again
    SELECT count(*) INTO deleted_uploads FROM imports i
    WHERE i.municipality_id = p_municipality AND i.imported_at IS NULL
      AND i.created_at < now() - interval '1 day';

    IF p_dry_run THEN
        RETURN NEXT;
        RETURN;
    END IF;

    DELETE FROM answers a
    USING template_questions q
    WHERE a.municipality_id = p_municipality AND a.transition_id = ANY (v_due)
      AND q.municipality_id = a.municipality_id AND q.template_id = a.template_id AND q.id = a.question_id
      AND q.kind IN ('free_text', 'date');
    UPDATE transition_events SET note = NULL
    WHERE municipality_id = p_municipality AND transition_id = ANY (v_due) AND note IS NOT NULL;
    UPDATE consent_records SET note = NULL
    WHERE municipality_id = p_municipality AND transition_id = ANY (v_due) AND note IS NOT NULL;
    -- the meeting (its agreements go with it), amendments, the parents' own words, their links
    -- and who read the handover: personal, and none of it is counted by the aggregates
    DELETE FROM handover_meetings
    WHERE municipality_id = p_municipality AND transition_id = ANY (v_due);
    DELETE FROM transition_amendments
    WHERE municipality_id = p_municipality AND transition_id = ANY (v_due);
    DELETE FROM parent_perspectives
    WHERE municipality_id = p_municipality AND transition_id = ANY (v_due);
    DELETE FROM correction_requests
    WHERE municipality_id = p_municipality AND transition_id = ANY (v_due);
    -- transfers to other municipalities and handovers received from them (migration 20)
    DELETE FROM transfers
    WHERE municipality_id = p_municipality
      AND (transition_id = ANY (v_due)
           OR (status IN ('accepted', 'rejected', 'closed')
               AND coalesce(decided_at, started_at) < p_cutoff));
    DELETE FROM incoming_handovers
    WHERE municipality_id = p_municipality AND received_at < p_cutoff;
    DELETE FROM parent_links
    WHERE municipality_id = p_municipality AND transition_id = ANY (v_due);
    DELETE FROM transition_reads
    WHERE municipality_id = p_municipality AND transition_id = ANY (v_due);
    -- (migration 32)
    DELETE FROM class_children
    WHERE municipality_id = p_municipality AND transition_id = ANY (v_due);
    DELETE FROM handover_wishes
    WHERE municipality_id = p_municipality AND transition_id = ANY (v_due);
    UPDATE feedback_requests SET missing = NULL
    WHERE municipality_id = p_municipality AND transition_id = ANY (v_due) AND missing IS NOT NULL;
    -- updated_at stays: it is part of what the aggregates read
    UPDATE transitions SET purged_at = now()
    WHERE municipality_id = p_municipality AND id = ANY (v_due);

    -- consent decisions keep their row; their guardian link becomes NULL through the FK
    DELETE FROM guardians WHERE municipality_id = p_municipality AND child_id = ANY (v_children);
    DELETE FROM enrolments WHERE municipality_id = p_municipality AND child_id = ANY (v_children);
    UPDATE children
       SET first_name = 'Anonymiseret', last_name = 'barn', cpr = NULL,
           birth_date = greatest(make_date(extract(year FROM birth_date)::int, 1, 1), DATE '1990-01-02'),
           updated_at = now()
     WHERE municipality_id = p_municipality AND id = ANY (v_children);

    DELETE FROM outbox
    WHERE municipality_id = p_municipality AND next_attempt_at IS NULL AND created_at < p_cutoff;
    -- (migration 32)
    DELETE FROM imports
    WHERE municipality_id = p_municipality AND imported_at IS NULL
      AND created_at < now() - interval '1 day';

    RETURN NEXT;
END
$$;

REVOKE EXECUTE ON FUNCTION retention_purge(uuid, timestamptz, boolean) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION retention_purge(uuid, timestamptz, boolean) TO overgang_app;

-- Rows of no tenant that nothing can use any more: a session past its end or idle for longer
-- than any session may be (4 hours; a day here), a login counter whose window (15 minutes) and
-- lock have passed a day ago, an account token a day past its expiry (used or not); deleted,
-- for every municipality at once, and counted. A dry run rolls the transaction back.
CREATE FUNCTION housekeeping()
RETURNS TABLE (deleted_sessions bigint, deleted_login_counters bigint, deleted_tokens bigint)
LANGUAGE sql VOLATILE SECURITY DEFINER SET search_path = public, pg_temp
AS $$
    WITH s AS (DELETE FROM sessions
               WHERE expires_at < now() OR last_seen_at < now() - interval '1 day' RETURNING 1),
         l AS (DELETE FROM login_throttle
               WHERE window_start < now() - interval '1 day'
                 AND (locked_until IS NULL OR locked_until < now() - interval '1 day') RETURNING 1),
         t AS (DELETE FROM user_tokens WHERE expires_at < now() - interval '1 day' RETURNING 1)
    SELECT (SELECT count(*) FROM s), (SELECT count(*) FROM l), (SELECT count(*) FROM t)
$$;
REVOKE EXECUTE ON FUNCTION housekeeping() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION housekeeping() TO overgang_app;

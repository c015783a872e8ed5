-- Insights: per-transition facts, kept up to date by triggers, so the insights pages add up a
-- few narrow rows per transition instead of joining events, consent, feedback and answers for a
-- whole municipality on every request (src/insights/figures.rs has the definitions).
--
-- The facts are computed by two SQL functions from the rows that retention keeps (transitions,
-- status events, scale answers, consent decisions without the guardians, feedback numbers and
-- ratings), so they are the same before and after a purge. `insight_refresh` recomputes one
-- transition; the triggers below call it whenever one of those rows changes, and
-- `insight_compute_*(m, NULL)` recomputes a whole municipality (migration backfill, bulk loads).

CREATE TABLE insight_facts (
    municipality_id uuid NOT NULL,
    transition_id uuid NOT NULL,
    sending_institution_id uuid NOT NULL,
    receiving_institution_id uuid NOT NULL,
    kind text NOT NULL,
    -- the cohort year: the year of the planned date
    year integer NOT NULL,
    sent boolean NOT NULL,
    -- first 'sent' event on or before the planned date (Danish local date)
    on_time boolean NOT NULL,
    -- the template version has a sensitive section
    sensitive boolean NOT NULL,
    -- every sensitive section's latest consent decision is 'given'
    released boolean NOT NULL,
    requests integer NOT NULL,
    answered integer NOT NULL,
    usefulness_sum integer NOT NULL,
    -- answered first-round requests of kindergarten → school saying whether / that the child
    -- started with special support
    support_known integer NOT NULL,
    support_yes integer NOT NULL,
    PRIMARY KEY (municipality_id, transition_id),
    FOREIGN KEY (municipality_id, transition_id) REFERENCES transitions (municipality_id, id) ON DELETE CASCADE
);
CREATE INDEX insight_facts_sending ON insight_facts (municipality_id, sending_institution_id);
CREATE INDEX insight_facts_receiving ON insight_facts (municipality_id, receiving_institution_id);

-- Receiver ratings paired with the sender's answer to the same themed scale question, per
-- transition and theme, in half points (1–4 → 2, 4, 6, 8; red 2, yellow 5, green 8).
CREATE TABLE insight_theme_facts (
    municipality_id uuid NOT NULL,
    transition_id uuid NOT NULL,
    theme text NOT NULL,
    sending_institution_id uuid NOT NULL,
    receiving_institution_id uuid NOT NULL,
    kind text NOT NULL,
    year integer NOT NULL,
    pairs integer NOT NULL,
    sender_halves integer NOT NULL,
    receiver_halves integer NOT NULL,
    PRIMARY KEY (municipality_id, transition_id, theme),
    FOREIGN KEY (municipality_id, transition_id) REFERENCES transitions (municipality_id, id) ON DELETE CASCADE
);
CREATE INDEX insight_theme_facts_year ON insight_theme_facts (municipality_id, year);

-- The facts added up per (sender, receiver, kind, cohort year) and per theme: what the pages
-- read, a few thousand rows for the largest municipality instead of one row per transition.
-- `insight_refresh` moves a transition's contribution out of and into these sums.
CREATE TABLE insight_totals (
    municipality_id uuid NOT NULL,
    sending_institution_id uuid NOT NULL,
    receiving_institution_id uuid NOT NULL,
    kind text NOT NULL,
    year integer NOT NULL,
    transitions integer NOT NULL,
    sent integer NOT NULL,
    on_time integer NOT NULL,
    consent_whole integer NOT NULL,
    consent_part integer NOT NULL,
    requests integer NOT NULL,
    answered integer NOT NULL,
    usefulness_sum integer NOT NULL,
    support_known integer NOT NULL,
    support_yes integer NOT NULL,
    PRIMARY KEY (municipality_id, sending_institution_id, receiving_institution_id, kind, year)
);
CREATE INDEX insight_totals_receiving ON insight_totals (municipality_id, receiving_institution_id);

CREATE TABLE insight_theme_totals (
    municipality_id uuid NOT NULL,
    sending_institution_id uuid NOT NULL,
    receiving_institution_id uuid NOT NULL,
    kind text NOT NULL,
    year integer NOT NULL,
    theme text NOT NULL,
    pairs integer NOT NULL,
    sender_halves integer NOT NULL,
    receiver_halves integer NOT NULL,
    PRIMARY KEY (municipality_id, sending_institution_id, receiving_institution_id, kind, year, theme)
);
CREATE INDEX insight_theme_totals_receiving ON insight_theme_totals (municipality_id, receiving_institution_id);

DO $$
DECLARE t text;
BEGIN
    FOREACH t IN ARRAY ARRAY['insight_facts', 'insight_theme_facts', 'insight_totals',
                              'insight_theme_totals'] LOOP
        EXECUTE format('ALTER TABLE %I ENABLE ROW LEVEL SECURITY', t);
        EXECUTE format('ALTER TABLE %I FORCE ROW LEVEL SECURITY', t);
        EXECUTE format('CREATE POLICY tenant ON %I USING (municipality_id = app_municipality())
                        WITH CHECK (municipality_id = app_municipality())', t);
        EXECUTE format('GRANT SELECT, INSERT, UPDATE, DELETE ON %I TO overgang_app', t);
    END LOOP;
END
$$;

-- the first 'sent' event of a transition
CREATE INDEX transition_events_sent ON transition_events (municipality_id, transition_id, at)
    WHERE to_status = 'sent';
-- the latest consent decision per (transition, section), whoever made it
CREATE INDEX consent_records_latest
    ON consent_records (municipality_id, transition_id, section_id, recorded_at DESC, id DESC)
    INCLUDE (decision);

-- The facts of one transition (p_transition) or of every transition of the municipality (NULL).
-- Cancelled transitions have none.
CREATE FUNCTION insight_compute_facts(p_municipality uuid, p_transition uuid)
RETURNS SETOF insight_facts LANGUAGE sql STABLE AS $$
    SELECT t.municipality_id, t.id, t.sending_institution_id, t.receiving_institution_id, t.kind,
           extract(year FROM t.planned_date)::int,
           sent.first_at IS NOT NULL,
           coalesce((sent.first_at AT TIME ZONE 'Europe/Copenhagen')::date <= t.planned_date, false),
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
        SELECT min(e.at) AS first_at FROM transition_events e
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

CREATE FUNCTION insight_compute_theme_facts(p_municipality uuid, p_transition uuid)
RETURNS SETOF insight_theme_facts LANGUAGE sql STABLE AS $$
    SELECT t.municipality_id, t.id, q.theme, t.sending_institution_id, t.receiving_institution_id,
           t.kind, extract(year FROM t.planned_date)::int,
           count(*)::int,
           sum(CASE a.value WHEN '1' THEN 2 WHEN '2' THEN 4 WHEN '3' THEN 6 WHEN '4' THEN 8
                            WHEN 'red' THEN 2 WHEN 'yellow' THEN 5 WHEN 'green' THEN 8 END)::int,
           sum(CASE r.value WHEN '1' THEN 2 WHEN '2' THEN 4 WHEN '3' THEN 6 WHEN '4' THEN 8
                            WHEN 'red' THEN 2 WHEN 'yellow' THEN 5 WHEN 'green' THEN 8 END)::int
    FROM transitions t
    JOIN feedback_requests f ON f.municipality_id = t.municipality_id AND f.transition_id = t.id
                            AND f.answered_at IS NOT NULL
    JOIN feedback_ratings r ON r.municipality_id = f.municipality_id AND r.request_id = f.id
    JOIN template_questions q ON q.municipality_id = r.municipality_id AND q.id = r.question_id
    JOIN answers a ON a.municipality_id = t.municipality_id AND a.transition_id = t.id
                  AND a.question_id = r.question_id
    WHERE t.municipality_id = p_municipality
      AND (p_transition IS NULL OR t.id = p_transition)
      AND t.status <> 'cancelled'
      AND q.theme IS NOT NULL AND q.kind IN ('scale_1_4', 'traffic_light')
      AND a.value IN ('1', '2', '3', '4', 'red', 'yellow', 'green')
    GROUP BY t.municipality_id, t.id, q.theme, t.sending_institution_id, t.receiving_institution_id,
             t.kind, t.planned_date
$$;

-- Recomputes one transition's facts. The change that fires it may run in a transaction without
-- a tenant setting (a definer function, a maintenance job): the facts of the changed row's own
-- municipality are then written with the setting pointed at that municipality for the duration
-- of this call only, and restored after. Nothing is returned to the caller.
CREATE FUNCTION insight_refresh(p_municipality uuid, p_transition uuid)
RETURNS void LANGUAGE plpgsql AS $$
DECLARE
    previous text := current_setting('app.municipality_id', true);
BEGIN
    IF p_municipality IS NULL OR p_transition IS NULL THEN
        RETURN;
    END IF;
    PERFORM set_config('app.municipality_id', p_municipality::text, true);
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

CREATE FUNCTION insight_touch() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    r record;
    t uuid;
BEGIN
    IF TG_OP = 'DELETE' THEN r := OLD; ELSE r := NEW; END IF;
    IF TG_TABLE_NAME = 'transitions' THEN
        t := r.id;
    ELSIF TG_TABLE_NAME = 'feedback_ratings' THEN
        SELECT f.transition_id INTO t FROM feedback_requests f
        WHERE f.municipality_id = r.municipality_id AND f.id = r.request_id;
    ELSIF TG_TABLE_NAME = 'answers' THEN
        -- sender answers count only once the receiver has rated: skip the drafting autosaves
        IF NOT EXISTS (SELECT 1 FROM feedback_requests f
                       WHERE f.municipality_id = r.municipality_id AND f.transition_id = r.transition_id
                         AND f.answered_at IS NOT NULL) THEN
            RETURN NULL;
        END IF;
        t := r.transition_id;
    ELSE
        t := r.transition_id;
    END IF;
    PERFORM insight_refresh(r.municipality_id, t);
    -- a transition moved to another id is not a thing; a changed municipality never happens
    RETURN NULL;
END
$$;

CREATE TRIGGER insight_facts AFTER INSERT OR DELETE
    OR UPDATE OF status, kind, planned_date, sending_institution_id, receiving_institution_id, template_id
    ON transitions FOR EACH ROW EXECUTE FUNCTION insight_touch();
CREATE TRIGGER insight_facts AFTER INSERT ON transition_events
    FOR EACH ROW WHEN (NEW.to_status = 'sent') EXECUTE FUNCTION insight_touch();
CREATE TRIGGER insight_facts AFTER INSERT OR DELETE OR UPDATE OF decision, section_id, recorded_at
    ON consent_records FOR EACH ROW EXECUTE FUNCTION insight_touch();
CREATE TRIGGER insight_facts AFTER INSERT OR DELETE
    OR UPDATE OF answered_at, usefulness, special_support, round, transition_id
    ON feedback_requests FOR EACH ROW EXECUTE FUNCTION insight_touch();
CREATE TRIGGER insight_facts AFTER INSERT OR DELETE OR UPDATE OF value, question_id, request_id
    ON feedback_ratings FOR EACH ROW EXECUTE FUNCTION insight_touch();
CREATE TRIGGER insight_facts AFTER INSERT OR DELETE OR UPDATE OF value
    ON answers FOR EACH ROW EXECUTE FUNCTION insight_touch();

-- Adds up a municipality's facts into the totals from scratch (migration backfill, bulk loads).
CREATE FUNCTION insight_rebuild(p_municipality uuid) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    DELETE FROM insight_facts WHERE municipality_id = p_municipality;
    DELETE FROM insight_theme_facts WHERE municipality_id = p_municipality;
    DELETE FROM insight_totals WHERE municipality_id = p_municipality;
    DELETE FROM insight_theme_totals WHERE municipality_id = p_municipality;
    INSERT INTO insight_facts SELECT * FROM insight_compute_facts(p_municipality, NULL);
    INSERT INTO insight_theme_facts SELECT * FROM insight_compute_theme_facts(p_municipality, NULL);
    INSERT INTO insight_totals
    SELECT municipality_id, sending_institution_id, receiving_institution_id, kind, year,
           count(*), count(*) FILTER (WHERE sent), count(*) FILTER (WHERE sent AND on_time),
           count(*) FILTER (WHERE sent AND sensitive),
           count(*) FILTER (WHERE sent AND sensitive AND released),
           sum(requests), sum(answered), sum(usefulness_sum), sum(support_known), sum(support_yes)
    FROM insight_facts WHERE municipality_id = p_municipality
    GROUP BY municipality_id, sending_institution_id, receiving_institution_id, kind, year;
    INSERT INTO insight_theme_totals
    SELECT municipality_id, sending_institution_id, receiving_institution_id, kind, year, theme,
           sum(pairs), sum(sender_halves), sum(receiver_halves)
    FROM insight_theme_facts WHERE municipality_id = p_municipality
    GROUP BY municipality_id, sending_institution_id, receiving_institution_id, kind, year, theme;
END
$$;

-- Backfill what exists (run as the owner at migration time).
SELECT insight_rebuild(id) FROM municipalities;

-- Two things for the sending side:
--
-- 1. `handover_states`: the one definition of the states the sender's status page counts and
--    its drill-down lists (so a count and the list behind its link can never disagree).
-- 2. Strengths-based wording: per municipality, phrases that describe a child by deficits
--    ("kan ikke", "doven", ...) with a suggestion of what to write instead. Pedagogues see the
--    hints while writing a handover; they never block saving. The table holds no personal
--    data (so neither retention nor the data-subject export concern it).

-- The states of a handover as the sender's status page counts it. Cancelled transitions are in
-- no state. A transition can be in several ('all', 'sent', 'read', 'acknowledged' overlap):
--   all           every transition that is not cancelled
--   draft, with_parents, ready   the status itself (not yet sent)
--   sent          sent to the receiver: status sent or any later status of the flow
--   read          sent, and opened by somebody at the receiver (a read receipt exists)
--   acknowledged  the receiver acknowledged receipt (a status event to 'received' exists; a
--                 handover moved on to feedback without an acknowledgement is not counted)
--   overdue       not sent (draft, with parents or ready) and the planned date of the
--                 transition has passed (the municipality has no separate sending deadline)
CREATE FUNCTION handover_states(p_status text, p_planned date, p_today date, p_read boolean,
                                p_acknowledged boolean)
    RETURNS text[] LANGUAGE sql IMMUTABLE PARALLEL SAFE
    AS $$
    SELECT CASE WHEN p_status = 'cancelled' THEN '{}'::text[] ELSE array_remove(ARRAY[
        'all',
        CASE WHEN p_status IN ('draft', 'with_parents', 'ready') THEN p_status END,
        CASE WHEN p_status IN ('sent', 'received', 'feedback_requested', 'feedback_given', 'closed')
             THEN 'sent' END,
        CASE WHEN p_status IN ('sent', 'received', 'feedback_requested', 'feedback_given', 'closed')
                  AND p_read THEN 'read' END,
        CASE WHEN p_acknowledged THEN 'acknowledged' END,
        CASE WHEN p_status IN ('draft', 'with_parents', 'ready') AND p_planned < p_today
             THEN 'overdue' END
    ], NULL) END
    $$;
GRANT EXECUTE ON FUNCTION handover_states(text, date, date, boolean, boolean) TO overgang_app;

-- The acknowledged check looks for the 'received' event of a transition.
CREATE INDEX transition_events_received ON transition_events (municipality_id, transition_id)
    WHERE to_status = 'received';

CREATE TABLE wording_phrases (
    municipality_id uuid NOT NULL REFERENCES municipalities (id),
    id uuid NOT NULL DEFAULT gen_random_uuid(),
    -- as the administrator wrote it
    phrase text NOT NULL CHECK (length(phrase) BETWEEN 1 AND 100),
    -- lower case, single spaces (`wording::matcher::normalize`): one entry per phrase
    phrase_key text NOT NULL CHECK (length(phrase_key) BETWEEN 1 AND 200),
    suggestion text NOT NULL CHECK (length(suggestion) BETWEEN 1 AND 500),
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (municipality_id, id),
    UNIQUE (municipality_id, phrase_key)
);

-- The default list every municipality starts with (new ones get it from
-- `wording::install`, which reads this function, so the list lives in one place).
CREATE FUNCTION wording_defaults() RETURNS TABLE (phrase text, suggestion text)
    LANGUAGE sql IMMUTABLE
    AS $$ VALUES
    ('kan ikke', 'Beskriv, hvad barnet kan, og hvad der hjælper det videre, fx «kan med støtte fra en voksen …» eller «er på vej til at …».'),
    ('kan slet ikke', 'Beskriv, hvad barnet allerede mestrer, og hvad næste skridt er.'),
    ('kan aldrig', 'Beskriv de situationer, hvor det lykkes for barnet, og hvad der er anderledes dér.'),
    ('dårlig til', 'Beskriv, hvad barnet øver sig på, og hvad der støtter det, fx «øver sig i … og lykkes bedst, når …».'),
    ('ikke god til', 'Beskriv, hvad barnet øver sig på, og hvad der støtter det, fx «øver sig i … og lykkes bedst, når …».'),
    ('vil ikke', 'Beskriv, hvornår barnet har lyst og deltager, og hvad der motiverer det.'),
    ('gider ikke', 'Beskriv, hvornår barnet har lyst og deltager, og hvad der motiverer det.'),
    ('doven', 'Undgå etiketter. Beskriv, hvad der motiverer barnet, og hvornår det deltager aktivt.'),
    ('dovent', 'Undgå etiketter. Beskriv, hvad der motiverer barnet, og hvornår det deltager aktivt.'),
    ('dovne', 'Undgå etiketter. Beskriv, hvad der motiverer barnet, og hvornår det deltager aktivt.'),
    ('umulig', 'Undgå etiketter. Beskriv konkrete situationer, og hvad der hjælper barnet i dem.'),
    ('umuligt', 'Undgå etiketter. Beskriv konkrete situationer, og hvad der hjælper barnet i dem.'),
    ('problembarn', 'Undgå etiketter. Beskriv barnets styrker og de konkrete situationer, hvor barnet har brug for støtte.'),
    ('problembarnet', 'Undgå etiketter. Beskriv barnets styrker og de konkrete situationer, hvor barnet har brug for støtte.'),
    ('forstyrrende', 'Beskriv, hvad barnet har brug for for at kunne deltage, fx korte beskeder, en fast plads eller pauser.'),
    ('forstyrrer', 'Beskriv, hvad barnet har brug for for at kunne deltage, fx korte beskeder, en fast plads eller pauser.'),
    ('besværlig', 'Undgå etiketter. Beskriv den konkrete situation, og hvad der hjælper barnet i den.'),
    ('besværligt', 'Undgå etiketter. Beskriv den konkrete situation, og hvad der hjælper barnet i den.'),
    ('uopdragen', 'Beskriv den konkrete adfærd, og hvad der hjælper barnet med at følge fællesskabets rammer.'),
    ('ballademager', 'Undgå etiketter. Beskriv situationerne, hvad der går forud, og hvad der hjælper barnet.'),
    ('dum', 'Undgå etiketter. Beskriv, hvad barnet forstår og kan, og hvordan det lærer bedst.'),
    ('svag', 'Beskriv, hvad barnet allerede mestrer, og hvad næste skridt er.'),
    ('urolig', 'Beskriv, hvornår barnet finder ro, og hvad der hjælper det.'),
    ('ukoncentreret', 'Beskriv, hvornår barnet er fordybet, og hvad der hjælper det med at holde fokus.'),
    ('aggressiv', 'Beskriv den konkrete situation, hvad der går forud, og hvad der hjælper barnet med at falde til ro.'),
    ('voldelig', 'Beskriv den konkrete situation, hvad der går forud, og hvad der hjælper barnet med at falde til ro.'),
    ('opmærksomhedskrævende', 'Beskriv, hvilken kontakt barnet søger, og hvordan de voksne bedst giver den.')
    $$;
GRANT EXECUTE ON FUNCTION wording_defaults() TO overgang_app;

-- Every municipality there is now starts with the default list (before RLS is switched on,
-- so this works whoever runs the migration).
INSERT INTO wording_phrases (municipality_id, phrase, phrase_key, suggestion)
SELECT m.id, d.phrase, d.phrase, d.suggestion FROM municipalities m CROSS JOIN wording_defaults() d;

DO $$
DECLARE t text;
BEGIN
    FOREACH t IN ARRAY ARRAY['wording_phrases'] LOOP
        EXECUTE format('ALTER TABLE %I ENABLE ROW LEVEL SECURITY', t);
        EXECUTE format('ALTER TABLE %I FORCE ROW LEVEL SECURITY', t);
        EXECUTE format('CREATE POLICY tenant ON %I USING (municipality_id = app_municipality())
                        WITH CHECK (municipality_id = app_municipality())', t);
        EXECUTE format('GRANT SELECT, INSERT, UPDATE, DELETE ON %I TO overgang_app', t);
    END LOOP;
END
$$;

-- Which institutions may list which children, kept up to date by triggers, so the children
-- list of a pedagogue need not gather, deduplicate, join and sort every child of the
-- institution on each view (src/children/queries.rs, `list`).
--
-- The rule is the one the list's general query applies (and still applies for searches,
-- filters and administrators): a child is listed for an institution while it has an enrolment
-- there that has not ended, or an open transition (not cancelled or closed) from or to it.
-- One row per child and institution; `until` is the last day of the latest enrolment there, or
-- NULL when it is open-ended or an open transition keeps the child in view. The list compares
-- `until` with today's date when it reads, so an enrolment that ends needs no write.
--
-- The sort names (lower case, as the list orders) are copied from the child and kept in step
-- with it. Nothing here is new personal data: it is derived from children, enrolments and
-- transitions, and goes with the child (ON DELETE CASCADE).
CREATE TABLE child_scope (
    municipality_id uuid NOT NULL,
    institution_id uuid NOT NULL,
    child_id uuid NOT NULL,
    until date,
    last_lower text NOT NULL,
    first_lower text NOT NULL,
    PRIMARY KEY (municipality_id, institution_id, child_id),
    FOREIGN KEY (municipality_id, child_id) REFERENCES children (municipality_id, id) ON DELETE CASCADE,
    FOREIGN KEY (municipality_id, institution_id) REFERENCES institutions (municipality_id, id)
);
CREATE INDEX child_scope_sorted ON child_scope
    (municipality_id, institution_id, last_lower, first_lower, child_id);
CREATE INDEX child_scope_child ON child_scope (municipality_id, child_id);

ALTER TABLE child_scope ENABLE ROW LEVEL SECURITY;
ALTER TABLE child_scope FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant ON child_scope USING (municipality_id = (SELECT app_municipality()))
    WITH CHECK (municipality_id = (SELECT app_municipality()));
GRANT SELECT, INSERT, UPDATE, DELETE ON child_scope TO overgang_app;

-- Recomputes the rows of one child from its enrolments and open transitions. Runs as the
-- caller, under the caller's row-level security scope, like the change that triggered it.
-- The lock on the child's row makes concurrent changes to one child refresh one after the
-- other, each from what the other committed (each statement of a function that is not
-- read-only sees what was committed before it started).
CREATE FUNCTION child_scope_refresh(p_municipality uuid, p_child uuid) RETURNS void
    LANGUAGE plpgsql VOLATILE SET search_path = public, pg_temp
    AS $$
BEGIN
    PERFORM 1 FROM children WHERE municipality_id = p_municipality AND id = p_child
        FOR NO KEY UPDATE;
    DELETE FROM child_scope WHERE municipality_id = p_municipality AND child_id = p_child;
    INSERT INTO child_scope (municipality_id, institution_id, child_id, until, last_lower, first_lower)
    SELECT p_municipality, r.institution_id, p_child,
           CASE WHEN bool_or(r.until IS NULL) THEN NULL ELSE max(r.until) END,
           lower(c.last_name), lower(c.first_name)
    FROM (SELECT e.institution_id, e.ends_on AS until FROM enrolments e
          WHERE e.municipality_id = p_municipality AND e.child_id = p_child
          UNION ALL
          SELECT x.institution_id, NULL::date
          FROM transitions t
          CROSS JOIN LATERAL (VALUES (t.sending_institution_id), (t.receiving_institution_id))
               AS x(institution_id)
          WHERE t.municipality_id = p_municipality AND t.child_id = p_child
            AND t.status NOT IN ('cancelled', 'closed') AND x.institution_id IS NOT NULL) r
    -- a child being deleted has no row left to copy its names from, and gets no rows
    JOIN children c ON c.municipality_id = p_municipality AND c.id = p_child
    GROUP BY r.institution_id, c.last_name, c.first_name;
END
$$;

CREATE FUNCTION child_scope_changed() RETURNS trigger
    LANGUAGE plpgsql SET search_path = public, pg_temp
    AS $$
BEGIN
    IF TG_OP IN ('UPDATE', 'DELETE') THEN
        PERFORM child_scope_refresh(OLD.municipality_id, OLD.child_id);
    END IF;
    IF TG_OP IN ('INSERT', 'UPDATE') AND (TG_OP = 'INSERT' OR NEW.child_id <> OLD.child_id
                                          OR NEW.municipality_id <> OLD.municipality_id) THEN
        PERFORM child_scope_refresh(NEW.municipality_id, NEW.child_id);
    END IF;
    RETURN NULL;
END
$$;

CREATE TRIGGER enrolments_child_scope
    AFTER INSERT OR DELETE OR UPDATE OF child_id, institution_id, ends_on, municipality_id
    ON enrolments FOR EACH ROW EXECUTE FUNCTION child_scope_changed();
CREATE TRIGGER transitions_child_scope
    AFTER INSERT OR DELETE
          OR UPDATE OF child_id, status, sending_institution_id, receiving_institution_id, municipality_id
    ON transitions FOR EACH ROW EXECUTE FUNCTION child_scope_changed();

CREATE FUNCTION child_scope_renamed() RETURNS trigger
    LANGUAGE plpgsql SET search_path = public, pg_temp
    AS $$
BEGIN
    UPDATE child_scope SET last_lower = lower(NEW.last_name), first_lower = lower(NEW.first_name)
    WHERE municipality_id = NEW.municipality_id AND child_id = NEW.id;
    RETURN NULL;
END
$$;
CREATE TRIGGER children_child_scope
    AFTER UPDATE OF first_name, last_name ON children
    FOR EACH ROW EXECUTE FUNCTION child_scope_renamed();

-- Every child as it stands.
INSERT INTO child_scope (municipality_id, institution_id, child_id, until, last_lower, first_lower)
SELECT r.municipality_id, r.institution_id, r.child_id,
       CASE WHEN bool_or(r.until IS NULL) THEN NULL ELSE max(r.until) END,
       lower(c.last_name), lower(c.first_name)
FROM (SELECT e.municipality_id, e.child_id, e.institution_id, e.ends_on AS until FROM enrolments e
      UNION ALL
      SELECT t.municipality_id, t.child_id, x.institution_id, NULL::date
      FROM transitions t
      CROSS JOIN LATERAL (VALUES (t.sending_institution_id), (t.receiving_institution_id))
           AS x(institution_id)
      WHERE t.status NOT IN ('cancelled', 'closed') AND x.institution_id IS NOT NULL) r
JOIN children c ON c.municipality_id = r.municipality_id AND c.id = r.child_id
GROUP BY r.municipality_id, r.institution_id, r.child_id, c.last_name, c.first_name;

-- A child's current and coming placements as the children list shows them (institution,
-- group, and the start date when it lies ahead), earliest first, as one JSON array. A table
-- function in plain SQL without settings, so that the planner inlines it where it is joined
-- (`LEFT JOIN LATERAL child_placements(..) ON true`) instead of calling it per row.
CREATE FUNCTION child_placements(p_municipality uuid, p_child uuid)
    RETURNS TABLE (placements json)
    LANGUAGE sql STABLE
    AS $$
    SELECT coalesce(json_agg(json_build_object(
                        'institution', i.name, 'group_name', e.group_name,
                        'from', CASE WHEN e.starts_on > current_date
                                     THEN to_char(e.starts_on, 'DD-MM-YYYY') END)
                      ORDER BY e.starts_on, i.name), '[]')
    FROM public.enrolments e
    JOIN public.institutions i ON i.municipality_id = e.municipality_id AND i.id = e.institution_id
    WHERE e.municipality_id = p_municipality AND e.child_id = p_child
      AND (e.ends_on IS NULL OR e.ends_on >= current_date)
$$;

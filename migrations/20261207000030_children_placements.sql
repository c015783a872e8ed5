-- Each child's placements as the children list shows them, kept on the child by triggers, so
-- the list need not join every listed child's enrolments and institutions on each view (it was
-- about half of the list's database time: docs/performance.md, 7 Dec 2026).
--
-- The array holds every enrolment of the child, ended ones too, earliest first: whether one has
-- ended, or lies ahead, depends on the day it is read, so the list decides that when it reads
-- (src/children/queries.rs, `Placement`) and a day passing needs no write. Nothing here
-- is new personal data: it is derived from enrolments and institution names, and goes with the
-- child.
ALTER TABLE children ADD COLUMN placements jsonb NOT NULL DEFAULT '[]';

-- The placements of one child from its enrolments. Runs as the caller, under the caller's
-- row-level security scope, like the change that triggered it. As in child_scope_refresh, the
-- child's row is locked first, so concurrent changes to one child refresh one after the other,
-- each from what the other committed.
CREATE FUNCTION child_placements_refresh(p_municipality uuid, p_child uuid) RETURNS void
    LANGUAGE plpgsql VOLATILE SET search_path = public, pg_temp
    AS $$
BEGIN
    PERFORM 1 FROM children WHERE municipality_id = p_municipality AND id = p_child
        FOR NO KEY UPDATE;
    -- a child being deleted has no row left to update
    UPDATE children c
    SET placements = (
        SELECT coalesce(jsonb_agg(jsonb_build_object(
                            'institution', i.name, 'group_name', e.group_name,
                            'starts_on', e.starts_on, 'ends_on', e.ends_on)
                        ORDER BY e.starts_on, i.name), '[]')
        FROM enrolments e
        JOIN institutions i ON i.municipality_id = e.municipality_id AND i.id = e.institution_id
        WHERE e.municipality_id = p_municipality AND e.child_id = p_child)
    WHERE c.municipality_id = p_municipality AND c.id = p_child;
END
$$;

-- One trigger function for both copies kept per child: `child_scope` (migration 27) and the
-- placements. The trigger's argument names the copy; the enrolments feed both.
CREATE FUNCTION child_copy_refresh(p_copy text, p_municipality uuid, p_child uuid) RETURNS void
    LANGUAGE plpgsql SET search_path = public, pg_temp
    AS $$
BEGIN
    CASE p_copy
        WHEN 'scope' THEN PERFORM child_scope_refresh(p_municipality, p_child);
        WHEN 'placements' THEN PERFORM child_placements_refresh(p_municipality, p_child);
    END CASE;
END
$$;

CREATE FUNCTION child_copy_changed() RETURNS trigger
    LANGUAGE plpgsql SET search_path = public, pg_temp
    AS $$
BEGIN
    IF TG_OP IN ('UPDATE', 'DELETE') THEN
        PERFORM child_copy_refresh(TG_ARGV[0], OLD.municipality_id, OLD.child_id);
    END IF;
    IF TG_OP = 'INSERT' OR (TG_OP = 'UPDATE' AND (NEW.child_id <> OLD.child_id
                                                  OR NEW.municipality_id <> OLD.municipality_id)) THEN
        PERFORM child_copy_refresh(TG_ARGV[0], NEW.municipality_id, NEW.child_id);
    END IF;
    RETURN NULL;
END
$$;

-- The scope's triggers as in migration 27, on the shared function.
DROP TRIGGER enrolments_child_scope ON enrolments;
DROP TRIGGER transitions_child_scope ON transitions;
DROP FUNCTION child_scope_changed();
CREATE TRIGGER enrolments_child_scope
    AFTER INSERT OR DELETE OR UPDATE OF child_id, institution_id, ends_on, municipality_id
    ON enrolments FOR EACH ROW EXECUTE FUNCTION child_copy_changed('scope');
CREATE TRIGGER transitions_child_scope
    AFTER INSERT OR DELETE
          OR UPDATE OF child_id, status, sending_institution_id, receiving_institution_id, municipality_id
    ON transitions FOR EACH ROW EXECUTE FUNCTION child_copy_changed('scope');

-- Every column of an enrolment but its creation time shows in the list.
CREATE TRIGGER enrolments_child_placements
    AFTER INSERT OR DELETE
          OR UPDATE OF municipality_id, child_id, institution_id, group_name, starts_on, ends_on
    ON enrolments FOR EACH ROW EXECUTE FUNCTION child_copy_changed('placements');

-- A renamed institution: the children enrolled there, ended enrolments too.
CREATE FUNCTION child_placements_renamed() RETURNS trigger
    LANGUAGE plpgsql SET search_path = public, pg_temp
    AS $$
BEGIN
    PERFORM child_placements_refresh(NEW.municipality_id, e.child_id)
    FROM (SELECT DISTINCT child_id FROM enrolments
          WHERE municipality_id = NEW.municipality_id AND institution_id = NEW.id) e;
    RETURN NULL;
END
$$;
CREATE TRIGGER institutions_child_placements
    AFTER UPDATE OF name ON institutions
    FOR EACH ROW WHEN (OLD.name IS DISTINCT FROM NEW.name)
    EXECUTE FUNCTION child_placements_renamed();

-- Every child as it stands.
UPDATE children c
SET placements = p.placements
FROM (SELECT e.municipality_id, e.child_id,
             jsonb_agg(jsonb_build_object(
                           'institution', i.name, 'group_name', e.group_name,
                           'starts_on', e.starts_on, 'ends_on', e.ends_on)
                       ORDER BY e.starts_on, i.name) AS placements
      FROM enrolments e
      JOIN institutions i ON i.municipality_id = e.municipality_id AND i.id = e.institution_id
      GROUP BY e.municipality_id, e.child_id) p
WHERE c.municipality_id = p.municipality_id AND c.id = p.child_id;

-- The list no longer builds them per row (migration 27).
DROP FUNCTION child_placements(uuid, uuid);

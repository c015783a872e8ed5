-- Form templates: per municipality and transition kind, versioned.
--
-- A handover stores the template version it was written on and its answers per question id, so a
-- version that has left the draft state must never change again: the triggers below refuse it
-- even if the application forgets to. A new version is a copy with new ids; the `theme` key is
-- what stays comparable across versions (sender vs. receiver ratings per theme).

CREATE TABLE form_templates (
    municipality_id uuid NOT NULL REFERENCES municipalities (id),
    id uuid NOT NULL DEFAULT gen_random_uuid(),
    transition_kind text NOT NULL CHECK (transition_kind IN ('home_daycare', 'nursery_kindergarten',
        'kindergarten_school', 'kindergarten_sfo', 'school_club', 'school_youth')),
    version integer NOT NULL CHECK (version BETWEEN 1 AND 100000),
    title text NOT NULL CHECK (length(title) BETWEEN 1 AND 200),
    intro text NOT NULL DEFAULT '' CHECK (length(intro) <= 4000),
    status text NOT NULL DEFAULT 'draft' CHECK (status IN ('draft', 'published', 'archived')),
    created_at timestamptz NOT NULL DEFAULT now(),
    created_by uuid,
    published_at timestamptz,
    PRIMARY KEY (municipality_id, id),
    UNIQUE (municipality_id, transition_kind, version),
    -- a user may be erased; the templates they wrote stay
    FOREIGN KEY (municipality_id, created_by) REFERENCES users (municipality_id, id)
        ON DELETE SET NULL (created_by),
    CHECK ((status = 'draft') = (published_at IS NULL))
);
-- The version new handovers of a kind are written on.
CREATE UNIQUE INDEX form_templates_one_published ON form_templates (municipality_id, transition_kind)
    WHERE status = 'published';

CREATE TABLE template_sections (
    municipality_id uuid NOT NULL,
    id uuid NOT NULL DEFAULT gen_random_uuid(),
    template_id uuid NOT NULL,
    position integer NOT NULL CHECK (position >= 1),
    title text NOT NULL CHECK (length(title) BETWEEN 1 AND 200),
    description text NOT NULL DEFAULT '' CHECK (length(description) <= 2000),
    PRIMARY KEY (municipality_id, id),
    UNIQUE (municipality_id, template_id, id),
    FOREIGN KEY (municipality_id, template_id) REFERENCES form_templates (municipality_id, id)
        ON DELETE CASCADE,
    -- deferred, so reordering can renumber in one statement
    CONSTRAINT template_sections_position UNIQUE (municipality_id, template_id, position)
        DEFERRABLE INITIALLY DEFERRED
);

CREATE TABLE template_questions (
    municipality_id uuid NOT NULL,
    id uuid NOT NULL DEFAULT gen_random_uuid(),
    section_id uuid NOT NULL,
    template_id uuid NOT NULL,
    position integer NOT NULL CHECK (position >= 1),
    kind text NOT NULL CHECK (kind IN ('free_text', 'scale_1_4', 'traffic_light', 'single_choice',
                                       'multi_choice', 'date')),
    label text NOT NULL CHECK (length(label) BETWEEN 1 AND 500),
    help_text text NOT NULL DEFAULT '' CHECK (length(help_text) <= 2000),
    options text[] NOT NULL DEFAULT '{}',
    required boolean NOT NULL DEFAULT false,
    visible_to_receiver boolean NOT NULL DEFAULT true,
    visible_to_parents boolean NOT NULL DEFAULT true,
    -- needs the parents' consent before the receiver may see the answer
    sensitive boolean NOT NULL DEFAULT false,
    -- stable key ('language', 'social', …) for comparing sender and receiver on the same theme
    theme text CHECK (theme ~ '^[a-z][a-z0-9_]{0,39}$'),
    PRIMARY KEY (municipality_id, id),
    -- lets answers point at (template, question) so an answer can't cross versions
    UNIQUE (municipality_id, template_id, id),
    FOREIGN KEY (municipality_id, template_id, section_id)
        REFERENCES template_sections (municipality_id, template_id, id) ON DELETE CASCADE,
    CONSTRAINT template_questions_position UNIQUE (municipality_id, section_id, position)
        DEFERRABLE INITIALLY DEFERRED,
    CONSTRAINT template_questions_options CHECK (
        CASE WHEN kind IN ('single_choice', 'multi_choice')
             THEN cardinality(options) BETWEEN 2 AND 30
             ELSE cardinality(options) = 0 END
        AND array_position(options, NULL) IS NULL
        AND NOT ('' = ANY (options)))
);
CREATE INDEX template_questions_template ON template_questions (municipality_id, template_id);

-- Immutability -------------------------------------------------------------------------------

CREATE FUNCTION form_templates_guard() RETURNS trigger
    LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE' THEN
        IF OLD.status <> 'draft' THEN
            RAISE EXCEPTION 'form template % is %, only drafts can be deleted', OLD.id, OLD.status
                USING ERRCODE = 'OV001';
        END IF;
        RETURN OLD;
    END IF;
    IF OLD.status <> 'draft' THEN
        -- created_by may become NULL when a user is erased; nothing else but archiving
        IF (NEW.id, NEW.municipality_id, NEW.transition_kind, NEW.version, NEW.title, NEW.intro,
            NEW.created_at, NEW.published_at)
           IS DISTINCT FROM
           (OLD.id, OLD.municipality_id, OLD.transition_kind, OLD.version, OLD.title, OLD.intro,
            OLD.created_at, OLD.published_at)
           OR (NEW.created_by IS DISTINCT FROM OLD.created_by AND NEW.created_by IS NOT NULL)
           OR (NEW.status <> OLD.status AND NOT (OLD.status = 'published' AND NEW.status = 'archived'))
        THEN
            RAISE EXCEPTION 'form template % is %, it cannot be changed', OLD.id, OLD.status
                USING ERRCODE = 'OV001';
        END IF;
    END IF;
    RETURN NEW;
END
$$;

CREATE TRIGGER form_templates_guard BEFORE UPDATE OR DELETE ON form_templates
    FOR EACH ROW EXECUTE FUNCTION form_templates_guard();

-- Sections and questions change only while their template is a draft. The template row is
-- share-locked, so a concurrent publish waits for (or is seen by) the change.
CREATE FUNCTION template_content_guard() RETURNS trigger
    LANGUAGE plpgsql AS $$
DECLARE
    mid uuid;
    ids uuid[];
    t uuid;
    s text;
BEGIN
    IF TG_OP = 'INSERT' THEN
        mid := NEW.municipality_id;
        ids := ARRAY[NEW.template_id];
    ELSIF TG_OP = 'UPDATE' THEN
        mid := OLD.municipality_id;
        ids := ARRAY[OLD.template_id, NEW.template_id];
    ELSE
        mid := OLD.municipality_id;
        ids := ARRAY[OLD.template_id];
    END IF;
    FOREACH t IN ARRAY ids LOOP
        SELECT status INTO s FROM form_templates WHERE municipality_id = mid AND id = t FOR SHARE;
        -- not found: the template itself is being deleted (a draft, see above)
        IF FOUND AND s <> 'draft' THEN
            RAISE EXCEPTION 'form template % is %, its content cannot be changed', t, s
                USING ERRCODE = 'OV001';
        END IF;
    END LOOP;
    IF TG_OP = 'DELETE' THEN
        RETURN OLD;
    END IF;
    RETURN NEW;
END
$$;

CREATE TRIGGER template_sections_guard BEFORE INSERT OR UPDATE OR DELETE ON template_sections
    FOR EACH ROW EXECUTE FUNCTION template_content_guard();
CREATE TRIGGER template_questions_guard BEFORE INSERT OR UPDATE OR DELETE ON template_questions
    FOR EACH ROW EXECUTE FUNCTION template_content_guard();

-- Row-level security -------------------------------------------------------------------------

DO $$
DECLARE t text;
BEGIN
    FOREACH t IN ARRAY ARRAY['form_templates', 'template_sections', 'template_questions'] LOOP
        EXECUTE format('ALTER TABLE %I ENABLE ROW LEVEL SECURITY', t);
        EXECUTE format('ALTER TABLE %I FORCE ROW LEVEL SECURITY', t);
        EXECUTE format('CREATE POLICY tenant ON %I USING (municipality_id = app_municipality())
                        WITH CHECK (municipality_id = app_municipality())', t);
        EXECUTE format('GRANT SELECT, INSERT, UPDATE, DELETE ON %I TO overgang_app', t);
    END LOOP;
END
$$;

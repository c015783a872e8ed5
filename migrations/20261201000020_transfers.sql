-- Transfers between municipalities: a child who moves to another municipality takes the
-- consented part of its handover along (a "package", see docs/handover-package.md), and
-- handovers received from another municipality (by transfer or by an imported package file).
--
-- The transfer row belongs to the SENDING municipality (tenant-owned, ordinary RLS). The
-- receiving municipality never reads it directly: it sees its pending list and decides only
-- through the narrow definer functions below, which check that app_municipality() is the named
-- receiver and return the minimum needed (the package itself only on acceptance).

CREATE TABLE transfers (
    municipality_id uuid NOT NULL REFERENCES municipalities (id),
    id uuid NOT NULL DEFAULT gen_random_uuid(),
    transition_id uuid NOT NULL,
    child_id uuid NOT NULL,
    -- NULL while the destination is unknown (or when such a transfer was closed)
    receiving_municipality_id uuid REFERENCES municipalities (id),
    status text NOT NULL CHECK (status IN ('destination_unknown', 'pending', 'accepted', 'rejected', 'closed')),
    -- the package as built when the transfer started (and rebuilt when a destination is set);
    -- filtered again by the current consent on acceptance; NULL once decided (data minimisation)
    package jsonb,
    -- what the receiver sees before deciding (see docs/handover-package.md)
    child_first_name text NOT NULL CHECK (length(child_first_name) BETWEEN 1 AND 100),
    child_birth_date date NOT NULL,
    started_by uuid,
    started_at timestamptz NOT NULL DEFAULT now(),
    decided_at timestamptz,
    -- the receiver's reason for a rejection, or the sender's for closing an unknown destination
    decision_note text CHECK (length(decision_note) <= 2000),
    PRIMARY KEY (municipality_id, id),
    FOREIGN KEY (municipality_id, transition_id) REFERENCES transitions (municipality_id, id) ON DELETE CASCADE,
    FOREIGN KEY (municipality_id, child_id) REFERENCES children (municipality_id, id) ON DELETE CASCADE,
    FOREIGN KEY (municipality_id, started_by) REFERENCES users (municipality_id, id)
        ON DELETE SET NULL (started_by),
    CHECK (receiving_municipality_id IS DISTINCT FROM municipality_id),
    CHECK (CASE status
        WHEN 'destination_unknown' THEN receiving_municipality_id IS NULL
        WHEN 'closed' THEN true
        ELSE receiving_municipality_id IS NOT NULL END),
    CHECK ((status IN ('destination_unknown', 'pending')) = (package IS NOT NULL))
);
-- one open transfer per transition
CREATE UNIQUE INDEX transfers_open ON transfers (municipality_id, transition_id)
    WHERE status IN ('destination_unknown', 'pending');
CREATE INDEX transfers_child ON transfers (municipality_id, child_id);
-- the receiver's pending list (through transfer_incoming())
CREATE INDEX transfers_receiver ON transfers (receiving_municipality_id, started_at)
    WHERE status = 'pending';

-- A handover from another municipality, as a copy of its package, readable by the receiving
-- institution chosen by the administrator who accepted or imported it.
CREATE TABLE incoming_handovers (
    municipality_id uuid NOT NULL REFERENCES municipalities (id),
    id uuid NOT NULL DEFAULT gen_random_uuid(),
    child_id uuid NOT NULL,
    receiving_institution_id uuid NOT NULL,
    source text NOT NULL CHECK (source IN ('transfer', 'import')),
    -- the sender's transfer (another tenant's row: no foreign key)
    transfer_id uuid,
    sending_municipality_code text NOT NULL CHECK (sending_municipality_code ~ '^[0-9]{4}$'),
    sending_municipality_name text NOT NULL CHECK (length(sending_municipality_name) BETWEEN 1 AND 200),
    -- whether the child was matched to an existing child (else created for this handover)
    matched_existing boolean NOT NULL,
    package jsonb NOT NULL,
    received_by uuid,
    received_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (municipality_id, id),
    FOREIGN KEY (municipality_id, child_id) REFERENCES children (municipality_id, id) ON DELETE CASCADE,
    FOREIGN KEY (municipality_id, receiving_institution_id) REFERENCES institutions (municipality_id, id),
    FOREIGN KEY (municipality_id, received_by) REFERENCES users (municipality_id, id)
        ON DELETE SET NULL (received_by)
);
CREATE INDEX incoming_handovers_institution
    ON incoming_handovers (municipality_id, receiving_institution_id, received_at DESC);
CREATE INDEX incoming_handovers_child ON incoming_handovers (municipality_id, child_id);

DO $$
DECLARE t text;
BEGIN
    FOREACH t IN ARRAY ARRAY['transfers', 'incoming_handovers'] LOOP
        EXECUTE format('ALTER TABLE %I ENABLE ROW LEVEL SECURITY', t);
        EXECUTE format('ALTER TABLE %I FORCE ROW LEVEL SECURITY', t);
        EXECUTE format('CREATE POLICY tenant ON %I USING (municipality_id = app_municipality())
                        WITH CHECK (municipality_id = app_municipality())', t);
        EXECUTE format('GRANT SELECT, INSERT, UPDATE ON %I TO overgang_app', t);
    END LOOP;
END
$$;
REVOKE DELETE, TRUNCATE ON transfers, incoming_handovers FROM overgang_app;

-- The definer functions run as the migrating role. FORCE RLS binds a non-superuser owner too, so
-- the owner (and only the owner: the app role is not a member of it) gets one read-only policy:
-- pending transfers addressed to the transaction's own municipality. This is how
-- transfer_incoming() lists them across senders; the app role itself never matches it.
DO $$
BEGIN
    EXECUTE format('CREATE POLICY receiver_definer ON transfers FOR SELECT TO %I
                    USING (receiving_municipality_id = app_municipality() AND status = ''pending'')',
                   current_user);
END
$$;

-- The other municipalities a transfer can go to (names and codes are public).
CREATE FUNCTION transfer_municipalities()
    RETURNS TABLE (id uuid, code text, name text)
    LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp SET app.platform = 'on'
    AS $$ SELECT m.id, m.code, m.name FROM municipalities m
          WHERE current_setting('app.municipality_id', true) <> ''
            AND m.id <> current_setting('app.municipality_id', true)::uuid
          ORDER BY m.name, m.code $$;

-- The receiver's list of pending transfers: the sender, when, and what it takes to decide (the
-- child's first name and birth date). Never the package.
CREATE FUNCTION transfer_incoming()
    RETURNS TABLE (id uuid, sending_code text, sending_name text, started_at timestamptz,
                   child_first_name text, child_birth_date date)
    LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = public, pg_temp
AS $$
#variable_conflict use_column
DECLARE
    v_receiver uuid := app_municipality();
BEGIN
    IF v_receiver IS NULL THEN
        RETURN;
    END IF;
    RETURN QUERY
        SELECT x.id, m.code, m.name, x.started_at, x.child_first_name, x.child_birth_date
        FROM transfers x
        JOIN LATERAL (SELECT * FROM transfer_sender_name(x.municipality_id)) m ON true
        WHERE x.receiving_municipality_id = v_receiver AND x.status = 'pending'
        ORDER BY x.started_at, x.id
        LIMIT 500;
END
$$;

-- A municipality's code and name regardless of the caller's tenant (helper of the functions
-- here; not granted to the app).
CREATE FUNCTION transfer_sender_name(p_municipality uuid)
    RETURNS TABLE (code text, name text)
    LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp SET app.platform = 'on'
    AS $$ SELECT code, name FROM municipalities WHERE id = p_municipality $$;

-- Decides a pending transfer addressed to the caller's municipality. On acceptance returns the
-- package with the sections (and their consent entries) that the CURRENT consent still
-- releases: consent withdrawn after the transfer started removes the section here. On
-- rejection returns no package. Marks the transfer decided (the package is dropped from the
-- sender's row) and writes the sender's audit entry. No row: no such pending transfer for the
-- caller (the app answers 404).
--
-- The sender's rows are read and changed in the sender's RLS scope, switched to for the
-- duration of this call only and switched back before returning (transaction-local).
CREATE FUNCTION transfer_decide(p_transfer uuid, p_accept boolean, p_note text)
    RETURNS TABLE (package jsonb, sending_code text, sending_name text, withheld_sections integer)
    LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = public, pg_temp
AS $$
#variable_conflict use_column
DECLARE
    v_receiver uuid := app_municipality();
    v_sender uuid;
    v_row transfers%ROWTYPE;
    v_sections jsonb;
    v_keep jsonb;
    v_kept_ids text[];
    v_package jsonb;
    v_code text;
    v_name text;
    v_rcode text;
    v_rname text;
    v_withheld integer := 0;
BEGIN
    IF v_receiver IS NULL THEN
        RETURN;
    END IF;
    SELECT x.municipality_id INTO v_sender FROM transfers x
    WHERE x.id = p_transfer AND x.receiving_municipality_id = v_receiver AND x.status = 'pending';
    IF v_sender IS NULL THEN
        RETURN;
    END IF;
    SELECT s.code, s.name INTO v_rcode, v_rname FROM transfer_sender_name(v_receiver) s;

    PERFORM set_config('app.municipality_id', v_sender::text, true);
    SELECT * INTO v_row FROM transfers x
    WHERE x.municipality_id = v_sender AND x.id = p_transfer FOR UPDATE;
    -- decided concurrently, or redirected in between
    IF v_row.status IS DISTINCT FROM 'pending' OR v_row.receiving_municipality_id IS DISTINCT FROM v_receiver THEN
        PERFORM set_config('app.municipality_id', v_receiver::text, true);
        RETURN;
    END IF;
    SELECT m.code, m.name INTO v_code, v_name FROM municipalities m WHERE m.id = v_sender;

    IF p_accept THEN
        v_sections := coalesce(v_row.package -> 'sections', '[]'::jsonb);
        SELECT coalesce(jsonb_agg(s.value ORDER BY s.ord), '[]'::jsonb),
               coalesce(array_agg(s.value ->> 'id'), '{}')
          INTO v_keep, v_kept_ids
        FROM jsonb_array_elements(v_sections) WITH ORDINALITY AS s(value, ord)
        WHERE NOT coalesce((s.value ->> 'needs_consent')::boolean, true)
           OR consent_released(v_sender, v_row.transition_id, (s.value ->> 'id')::uuid);
        v_package := jsonb_set(v_row.package, '{sections}', v_keep);
        v_package := jsonb_set(v_package, '{consent}',
            coalesce((SELECT jsonb_agg(c.value ORDER BY c.ord)
                      FROM jsonb_array_elements(coalesce(v_row.package -> 'consent', '[]'::jsonb))
                           WITH ORDINALITY AS c(value, ord)
                      WHERE c.value ->> 'section_id' = ANY (v_kept_ids)), '[]'::jsonb));
        v_withheld := jsonb_array_length(v_sections) - jsonb_array_length(v_keep);
    ELSE
        v_package := NULL;
    END IF;

    UPDATE transfers x
       SET status = CASE WHEN p_accept THEN 'accepted' ELSE 'rejected' END,
           decided_at = now(), package = NULL,
           decision_note = CASE WHEN p_accept THEN NULL ELSE nullif(left(p_note, 2000), '') END
     WHERE x.municipality_id = v_sender AND x.id = p_transfer;
    INSERT INTO audit_log (municipality_id, user_id, role, action, entity_type, entity_id, child_id, details)
    VALUES (v_sender, NULL, 'Modtagende kommune',
            CASE WHEN p_accept THEN 'transfer_accepted' ELSE 'transfer_rejected' END,
            'transfer', p_transfer, v_row.child_id,
            jsonb_build_object('receiving_municipality', v_rcode || ' ' || v_rname,
                               'withheld_sections', v_withheld));
    PERFORM set_config('app.municipality_id', v_receiver::text, true);

    package := v_package;
    sending_code := v_code;
    sending_name := v_name;
    withheld_sections := v_withheld;
    RETURN NEXT;
END
$$;

REVOKE EXECUTE ON FUNCTION transfer_municipalities() FROM PUBLIC;
REVOKE EXECUTE ON FUNCTION transfer_incoming() FROM PUBLIC;
REVOKE EXECUTE ON FUNCTION transfer_sender_name(uuid) FROM PUBLIC;
REVOKE EXECUTE ON FUNCTION transfer_decide(uuid, boolean, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION transfer_municipalities() TO overgang_app;
GRANT EXECUTE ON FUNCTION transfer_incoming() TO overgang_app;
GRANT EXECUTE ON FUNCTION transfer_decide(uuid, boolean, text) TO overgang_app;

-- Retention: transfers of a purged transition and decided ones past the cutoff go (their
-- package is personal text); handovers received from elsewhere go a retention period after
-- they were received. retention_purge covers both from migration 21 on, which extends the
-- function once for this migration's tables and its own.

-- Uploaded CSV files waiting for confirmation. The content holds personal data (names, CPR
-- numbers), so it is cleared on import and unconfirmed uploads are deleted after a day.
CREATE TABLE imports (
    municipality_id uuid NOT NULL REFERENCES municipalities (id),
    id uuid NOT NULL DEFAULT gen_random_uuid(),
    kind text NOT NULL CHECK (kind IN ('institutions', 'children')),
    filename text NOT NULL CHECK (length(filename) <= 255),
    content text,
    row_count integer NOT NULL,
    created_by uuid NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    imported_at timestamptz,
    PRIMARY KEY (municipality_id, id),
    FOREIGN KEY (municipality_id, created_by) REFERENCES users (municipality_id, id) ON DELETE CASCADE
);

ALTER TABLE imports ENABLE ROW LEVEL SECURITY;
ALTER TABLE imports FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant ON imports USING (municipality_id = app_municipality())
    WITH CHECK (municipality_id = app_municipality());
GRANT SELECT, INSERT, UPDATE, DELETE ON imports TO overgang_app;

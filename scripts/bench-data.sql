-- Load-test data for scripts/bench.sh, run as the owner after the demo seed:
-- :children children spread over Vejle's three kindergartens, each enrolled and with a
-- kindergarten → school transition to Bakkeskolen whose free-text and date questions are
-- answered, and :staff pedagogues at Børnehaven Solsikken (bench-000@vejle.overgang.test …)
-- with the demo password (the hash is copied from the demo pedagogue).
\set ON_ERROR_STOP 1
BEGIN;
CREATE TEMP TABLE ctx AS
SELECT m.id AS m,
       (SELECT id FROM institutions WHERE municipality_id = m.id AND name = 'Bakkeskolen') AS school,
       ARRAY(SELECT id FROM institutions WHERE municipality_id = m.id AND kind = 'boernehave'
             ORDER BY name <> 'Børnehaven Solsikken', name) AS kindergartens,
       (SELECT id FROM form_templates WHERE municipality_id = m.id
          AND transition_kind = 'kindergarten_school' AND status = 'published') AS template,
       (SELECT password_hash FROM users WHERE email = 'paedagog@vejle.overgang.test') AS hash
FROM municipalities m WHERE m.code = '0630';

INSERT INTO users (municipality_id, email, name, password_hash)
SELECT c.m, format('bench-%s@vejle.overgang.test', lpad(i::text, 3, '0')), 'Bench Pædagog ' || i, c.hash
FROM ctx c, generate_series(0, :staff - 1) i;
INSERT INTO role_assignments (municipality_id, user_id, role, institution_id)
SELECT c.m, u.id, 'staff', c.kindergartens[1]
FROM ctx c JOIN users u ON u.municipality_id = c.m AND u.email LIKE 'bench-%';

CREATE TEMP TABLE kids AS
SELECT gen_random_uuid() AS id, i, c.kindergartens[1 + i % 3] AS institution
FROM ctx c, generate_series(1, :children) i;
INSERT INTO children (municipality_id, id, first_name, last_name, birth_date)
SELECT c.m, k.id, (ARRAY['Alma','Noah','Ida','Oscar','Freja','Carl','Ella','William'])[1 + k.i % 8],
       'Benchsen ' || k.i, DATE '2020-01-01' + (k.i % 365)
FROM ctx c, kids k;
INSERT INTO enrolments (municipality_id, child_id, institution_id, group_name, starts_on)
SELECT c.m, k.id, k.institution, 'Gruppe ' || (k.i % 4 + 1), DATE '2023-08-01' FROM ctx c, kids k;
INSERT INTO transitions (municipality_id, child_id, sending_institution_id, receiving_institution_id,
                         kind, planned_date, template_id, responsible_user_id)
SELECT c.m, k.id, k.institution, c.school, 'kindergarten_school', DATE '2027-08-01', c.template,
       CASE WHEN k.institution = c.kindergartens[1] THEN (SELECT id FROM users WHERE email = 'paedagog@vejle.overgang.test') END
FROM ctx c, kids k;
INSERT INTO answers (municipality_id, transition_id, question_id, template_id, value)
SELECT c.m, t.id, q.id, c.template,
       CASE q.kind WHEN 'date' THEN '2026-05-01'
            ELSE repeat('Barnet trives i fællesskabet og bruger sproget nysgerrigt. ', 6) END
FROM ctx c
JOIN transitions t ON t.municipality_id = c.m AND t.template_id = c.template
JOIN template_questions q ON q.municipality_id = c.m AND q.template_id = c.template
WHERE q.kind IN ('free_text', 'date');
COMMIT;
-- As autovacuum leaves a table in use: vacuumed (so index-only scans apply) and analysed.
-- Autovacuum would not do it here itself for children, enrolments and transitions: their 900
-- new rows stay under its insert threshold (1,000 rows).
VACUUM ANALYZE;

//! Transfers between municipalities and the handover package: a child of Vejle moves to Stevns.
//! Nothing of Vejle's is readable in Stevns before acceptance (pages, and a plain query as the
//! Stevns tenant); after it Stevns reads the consented handover and both audit logs have the
//! decision; a third municipality sees nothing and cannot accept; withdrawn consent removes the
//! section; rejection; the unknown-destination queue; the package file's export (validated
//! against the JSON Schema), import and round trip, and the import's refusals.

use reqwest::StatusCode;
use serde_json::Value;
use uuid::Uuid;

use crate::common::{csrf_from, location, spawn_app, Client, TestApp};

const LEDER: &str = "leder@vejle.overgang.test";
const VEJLE_ADMIN: &str = "admin@vejle.overgang.test";
const STEVNS_ADMIN: &str = "admin@stevns.overgang.test";
const STEVNS_TEACHER: &str = "laerer@stevns.overgang.test";
const STEVNS_STAFF: &str = "paedagog@stevns.overgang.test";

const VISIBLE: &str = "SYNLIG-leger-godt-med-andre";
const SECRET: &str = "FORTROLIG-stoette-fra-ppr";
const PERSPECTIVE: &str = "FORAELDRE-hun-elsker-at-tegne";

async fn one<T>(app: &TestApp, sql: &str) -> T
where
    T: for<'r> sqlx::Decode<'r, sqlx::Postgres> + sqlx::Type<sqlx::Postgres> + Send + Unpin,
{
    let mut conn = app.owner_conn().await;
    sqlx::query_scalar(sql).fetch_one(&mut conn).await.unwrap()
}

/// A question of the form: id, template, kind, options, sensitive, section, visible to the
/// receiver.
type QuestionRow = (Uuid, Uuid, String, Vec<String>, bool, Uuid, bool);

struct Handover {
    transition: Uuid,
    child: Uuid,
    guardians: Vec<Uuid>,
    secret_section: Uuid,
}

/// A Vejle child at Solsikken with two custody guardians, a handover to Bakkeskolen filled in
/// (free texts `VISIBLE`, the first sensitive one `SECRET`), consent given by both guardians for
/// the sensitive section, a parents' perspective, and the status `ready`.
async fn ready_handover(app: &TestApp, first: &str) -> Handover {
    let (m, inst, child) = app
        .enrolled_child(
            "Børnehaven Solsikken",
            (first, "Flytter"),
            "2020-03-03",
            100,
        )
        .await;
    let mut conn = app.owner_conn().await;
    let mut guardians = Vec::new();
    for name in ["Mor Flytter", "Far Flytter"] {
        guardians.push(
            sqlx::query_scalar::<_, Uuid>(
                "INSERT INTO guardians (municipality_id, child_id, name, has_custody)
                 VALUES ($1, $2, $3, true) RETURNING id",
            )
            .bind(m)
            .bind(child)
            .bind(name)
            .fetch_one(&mut conn)
            .await
            .unwrap(),
        );
    }
    let transition: Uuid = sqlx::query_scalar(
        "INSERT INTO transitions (municipality_id, child_id, sending_institution_id, receiving_institution_id,
                                  kind, planned_date, template_id)
         SELECT $1, $2, $3, r.id, 'kindergarten_school', DATE '2027-08-01', t.id
         FROM institutions r, form_templates t
         WHERE r.municipality_id = $1 AND r.name = 'Bakkeskolen'
           AND t.municipality_id = $1 AND t.transition_kind = 'kindergarten_school' AND t.status = 'published'
         RETURNING id",
    )
    .bind(m)
    .bind(child)
    .bind(inst)
    .fetch_one(&mut conn)
    .await
    .unwrap();
    // Every question answered, straight into the answers table.
    let rows: Vec<QuestionRow> = sqlx::query_as(
        "SELECT q.id, q.template_id, q.kind, q.options, q.sensitive, q.section_id, q.visible_to_receiver
         FROM transitions t JOIN template_questions q
           ON q.municipality_id = t.municipality_id AND q.template_id = t.template_id
         WHERE t.id = $1 ORDER BY q.section_id, q.position",
    )
    .bind(transition)
    .fetch_all(&mut conn)
    .await
    .unwrap();
    let secret = rows
        .iter()
        .find(|r| r.2 == "free_text" && r.4 && r.6)
        .expect("a sensitive free-text question the receiver may see")
        .clone();
    for (q, template, kind, options, _, _, _) in &rows {
        let (value, values): (Option<String>, Vec<String>) = match kind.as_str() {
            "free_text" if *q == secret.0 => (Some(SECRET.into()), vec![]),
            "free_text" => (Some(VISIBLE.into()), vec![]),
            "scale_1_4" => (Some("3".into()), vec![]),
            "traffic_light" => (Some("green".into()), vec![]),
            "single_choice" => (Some(options[0].clone()), vec![]),
            "multi_choice" => (None, vec![options[0].clone()]),
            "date" => (Some("2027-06-01".into()), vec![]),
            other => panic!("unknown kind {other}"),
        };
        sqlx::query(
            "INSERT INTO answers (municipality_id, transition_id, template_id, question_id, value, \"values\")
             VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(m)
        .bind(transition)
        .bind(template)
        .bind(q)
        .bind(value)
        .bind(values)
        .execute(&mut conn)
        .await
        .unwrap();
    }
    sqlx::query(
        "INSERT INTO parent_perspectives (municipality_id, transition_id, guardian_id, body)
         VALUES ($1, $2, $3, $4)",
    )
    .bind(m)
    .bind(transition)
    .bind(guardians[0])
    .bind(PERSPECTIVE)
    .execute(&mut conn)
    .await
    .unwrap();
    sqlx::query("UPDATE transitions SET status = 'ready' WHERE id = $1")
        .bind(transition)
        .execute(&mut conn)
        .await
        .unwrap();
    let h = Handover {
        transition,
        child,
        guardians,
        secret_section: secret.5,
    };
    for g in h.guardians.clone() {
        consent(app, &h, g, "given").await;
    }
    h
}

async fn consent(app: &TestApp, h: &Handover, guardian: Uuid, decision: &str) {
    let mut conn = app.owner_conn().await;
    sqlx::query(
        "INSERT INTO consent_records (municipality_id, transition_id, guardian_id, section_id, decision, method)
         SELECT municipality_id, id, $2, $3, $4, 'link' FROM transitions WHERE id = $1",
    )
    .bind(h.transition)
    .bind(guardian)
    .bind(h.secret_section)
    .bind(decision)
    .execute(&mut conn)
    .await
    .unwrap();
}

/// Starts a transfer of `h` as `c` to `destination` (a municipality id or "unknown"); returns
/// the transfer's id.
async fn start(app: &TestApp, c: &Client, h: &Handover, destination: &str) -> Uuid {
    let page = format!("/transitions/{}/transfer", h.transition);
    let r = c
        .post_with_token(&page, &page, &[("destination", destination)])
        .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER, "transfer started");
    assert_eq!(location(&r), format!("/transitions/{}", h.transition));
    one(
        app,
        &format!(
            "SELECT id FROM transfers WHERE transition_id = '{}' ORDER BY started_at DESC LIMIT 1",
            h.transition
        ),
    )
    .await
}

async fn institution(app: &TestApp, name: &str) -> Uuid {
    one(
        app,
        &format!("SELECT id FROM institutions WHERE name = '{name}'"),
    )
    .await
}

async fn accept(c: &Client, transfer: Uuid, institution: Uuid) -> reqwest::Response {
    c.post_with_token(
        "/transfers",
        &format!("/transfers/{transfer}/accept"),
        &[("receiving_institution_id", &institution.to_string())],
    )
    .await
}

/// What the tenant `m` sees of a table with a plain query (no WHERE) as the app role.
async fn rls_count(app: &TestApp, m: Uuid, table: &str) -> i64 {
    let mut tx = app.db.begin().await.unwrap();
    sqlx::query("SELECT set_config('app.municipality_id', $1, true)")
        .bind(m.to_string())
        .execute(&mut *tx)
        .await
        .unwrap();
    sqlx::query_scalar(&format!("SELECT count(*) FROM {table}"))
        .fetch_one(&mut *tx)
        .await
        .unwrap()
}

async fn audit_count(app: &TestApp, m: Uuid, action: &str) -> i64 {
    app.count(&format!(
        "SELECT count(*) FROM audit_log WHERE municipality_id = '{m}' AND action = '{action}'"
    ))
    .await
}

/// A transfer's status and its package as text (none once the transfer is decided).
async fn status_and_package(app: &TestApp, transfer: Uuid) -> (String, Option<String>) {
    let mut conn = app.owner_conn().await;
    sqlx::query_as("SELECT status, package::text FROM transfers WHERE id = $1")
        .bind(transfer)
        .fetch_one(&mut conn)
        .await
        .unwrap()
}

/// A third municipality with an administrator and a school, created as the operator would.
async fn third_municipality(app: &TestApp) -> (Uuid, Client, Uuid) {
    let mut conn = app.owner_conn().await;
    let hash: String = sqlx::query_scalar("SELECT password_hash FROM users WHERE email = $1")
        .bind(STEVNS_ADMIN)
        .fetch_one(&mut conn)
        .await
        .unwrap();
    let m: Uuid = sqlx::query_scalar(
        "INSERT INTO municipalities (code, name) VALUES ('0101', 'Testby') RETURNING id",
    )
    .fetch_one(&mut conn)
    .await
    .unwrap();
    let school: Uuid = sqlx::query_scalar(
        "INSERT INTO institutions (municipality_id, name, kind) VALUES ($1, 'Testskolen', 'skole') RETURNING id",
    )
    .bind(m)
    .fetch_one(&mut conn)
    .await
    .unwrap();
    sqlx::query(
        "WITH u AS (INSERT INTO users (municipality_id, email, name, password_hash)
                    VALUES ($1, 'admin@testby.overgang.test', 'Tredje Admin', $2) RETURNING id)
         INSERT INTO role_assignments (municipality_id, user_id, role) SELECT $1, id, 'municipal_admin' FROM u",
    )
    .bind(m)
    .bind(hash)
    .execute(&mut conn)
    .await
    .unwrap();
    (m, app.login("admin@testby.overgang.test").await, school)
}

#[tokio::test]
async fn a_transfer_reveals_nothing_until_accepted_and_both_sides_audit_it() {
    let app = spawn_app().await;
    let vejle = app.municipality_id("0630").await;
    let stevns = app.municipality_id("0336").await;
    let h = ready_handover(&app, "Alma").await;
    let leder = app.login(LEDER).await;
    let stevns_admin = app.login(STEVNS_ADMIN).await;
    let stevns_teacher = app.login(STEVNS_TEACHER).await;
    let (third, third_admin, third_school) = third_municipality(&app).await;

    // The leader sees the municipalities and what goes along, then starts the transfer.
    let (code, page) = leder
        .get_text(&format!("/transitions/{}/transfer", h.transition))
        .await;
    assert_eq!(code, StatusCode::OK);
    assert!(page.contains("Stevns (0336)") && page.contains("Testby (0101)"));
    assert!(!page.contains("Vejle (0630)"), "not to itself");
    let transfer = start(&app, &leder, &h, &stevns.to_string()).await;
    assert_eq!(audit_count(&app, vejle, "start_transfer").await, 1);
    // A second transfer of the same transition waits for this one.
    let again = format!("/transitions/{}/transfer", h.transition);
    assert_eq!(leder.get(&again).await.status(), StatusCode::CONFLICT);

    // Pending: Stevns's administrator sees the minimum, nothing of the handover.
    let (code, list) = stevns_admin.get_text("/transfers").await;
    assert_eq!(code, StatusCode::OK);
    assert!(list.contains("Alma") && list.contains("03-03-2020") && list.contains("Vejle (0630)"));
    assert!(
        !list.contains("Flytter"),
        "no family name before acceptance"
    );
    assert!(!list.contains(VISIBLE) && !list.contains(SECRET) && !list.contains(PERSPECTIVE));
    for path in ["/inbox", "/children", "/transitions"] {
        let (_, html) = stevns_teacher.get_text(path).await;
        assert!(!html.contains("Alma") && !html.contains(VISIBLE), "{path}");
        let (_, html) = stevns_admin.get_text(path).await;
        assert!(
            !html.contains("Flytter") && !html.contains(VISIBLE),
            "{path}"
        );
    }
    // A plain query as the Stevns tenant sees no transfer row, no package, nothing received.
    assert_eq!(rls_count(&app, stevns, "transfers").await, 0);
    assert_eq!(rls_count(&app, stevns, "incoming_handovers").await, 0);
    assert_eq!(rls_count(&app, vejle, "transfers").await, 1);
    let package: String = one(
        &app,
        &format!("SELECT package::text FROM transfers WHERE id = '{transfer}'"),
    )
    .await;
    assert!(
        package.contains(SECRET),
        "consented: the section goes along"
    );

    // A third municipality sees nothing and cannot accept (or reject) it.
    let (_, list) = third_admin.get_text("/transfers").await;
    assert!(!list.contains("Alma"));
    assert_eq!(rls_count(&app, third, "transfers").await, 0);
    assert_eq!(
        accept(&third_admin, transfer, third_school).await.status(),
        StatusCode::NOT_FOUND
    );
    let r = third_admin
        .post_with_token("/transfers", &format!("/transfers/{transfer}/reject"), &[])
        .await;
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    // Neither can Vejle accept its own transfer.
    let vejle_admin = app.login(VEJLE_ADMIN).await;
    let bakkeskolen = institution(&app, "Bakkeskolen").await;
    assert_eq!(
        accept(&vejle_admin, transfer, bakkeskolen).await.status(),
        StatusCode::NOT_FOUND
    );
    // Stevns cannot pick an institution of another municipality.
    assert_eq!(
        accept(&stevns_admin, transfer, bakkeskolen).await.status(),
        StatusCode::BAD_REQUEST
    );
    let status: String = one(
        &app,
        &format!("SELECT status FROM transfers WHERE id = '{transfer}'"),
    )
    .await;
    assert_eq!(status, "pending");

    // Stevns accepts for Strandskolen.
    let school = institution(&app, "Strandskolen").await;
    let r = accept(&stevns_admin, transfer, school).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let incoming = location(&r);
    assert!(incoming.starts_with("/transfers/received/"), "{incoming}");
    let (code, page) = stevns_admin.get_text(&incoming).await;
    assert_eq!(code, StatusCode::OK);
    assert!(page.contains("Alma Flytter") && page.contains(VISIBLE) && page.contains(SECRET));
    assert!(
        page.contains(PERSPECTIVE),
        "the parents' perspective goes along"
    );
    assert!(
        page.contains("Mor Flytter"),
        "the consent record goes along"
    );
    // The school's teacher reads it from the inbox; a kindergarten's pedagogue may not.
    let (_, inbox) = stevns_teacher.get_text("/inbox").await;
    assert!(
        inbox.contains("Alma Flytter") && inbox.contains(&incoming),
        "{inbox}"
    );
    let (code, page) = stevns_teacher.get_text(&incoming).await;
    assert_eq!(code, StatusCode::OK);
    assert!(page.contains(VISIBLE));
    let stevns_staff = app.login(STEVNS_STAFF).await;
    assert_eq!(
        stevns_staff.get(&incoming).await.status(),
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        vejle_admin.get(&incoming).await.status(),
        StatusCode::NOT_FOUND
    );
    // The child is new in Stevns, enrolled at the school from the planned date.
    assert_eq!(
        app.count(&format!(
            "SELECT count(*) FROM children c JOIN enrolments e ON e.child_id = c.id
             WHERE c.municipality_id = '{stevns}' AND c.first_name = 'Alma' AND c.last_name = 'Flytter'
               AND c.cpr IS NULL AND e.institution_id = '{school}' AND e.starts_on = DATE '2027-08-01'"
        ))
        .await,
        1
    );

    // Both sides audited; the sender sees it was accepted; the sender's copy is gone.
    assert_eq!(audit_count(&app, vejle, "transfer_accepted").await, 1);
    assert_eq!(audit_count(&app, stevns, "accept_transfer").await, 1);
    assert_eq!(audit_count(&app, stevns, "receive_handover").await, 1);
    assert!(audit_count(&app, stevns, "read_incoming_handover").await >= 2);
    let (_, page) = leder
        .get_text(&format!("/transitions/{}", h.transition))
        .await;
    assert!(page.contains("Modtaget af modtagerkommunen"), "{page}");
    assert!(page.contains(": til Stevns. <strong>"), "{page}");
    assert_eq!(
        status_and_package(&app, transfer).await,
        ("accepted".into(), None)
    );
    // Accepting twice finds nothing.
    assert_eq!(
        accept(&stevns_admin, transfer, school).await.status(),
        StatusCode::NOT_FOUND
    );
    assert_eq!(rls_count(&app, stevns, "transfers").await, 0);
    assert_eq!(rls_count(&app, stevns, "incoming_handovers").await, 1);
    assert_eq!(rls_count(&app, third, "incoming_handovers").await, 0);
    let _ = h.child;
}

#[tokio::test]
async fn consent_withdrawn_before_acceptance_removes_the_section() {
    let app = spawn_app().await;
    let vejle = app.municipality_id("0630").await;
    let stevns = app.municipality_id("0336").await;
    let h = ready_handover(&app, "Bodil").await;
    let leder = app.login(LEDER).await;
    let transfer = start(&app, &leder, &h, &stevns.to_string()).await;
    let package: String = one(
        &app,
        &format!("SELECT package::text FROM transfers WHERE id = '{transfer}'"),
    )
    .await;
    assert!(package.contains(SECRET));
    // One guardian withdraws after the transfer started.
    consent(&app, &h, h.guardians[1], "withdrawn").await;
    let stevns_admin = app.login(STEVNS_ADMIN).await;
    let r = accept(
        &stevns_admin,
        transfer,
        institution(&app, "Strandskolen").await,
    )
    .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let (_, page) = stevns_admin.get_text(&location(&r)).await;
    assert!(page.contains(VISIBLE), "the rest goes along");
    assert!(!page.contains(SECRET), "the withdrawn section does not");
    let stored: String = one(
        &app,
        &format!("SELECT package::text FROM incoming_handovers WHERE municipality_id = '{stevns}'"),
    )
    .await;
    assert!(!stored.contains(SECRET));
    assert!(
        !stored.contains(&h.secret_section.to_string()),
        "nor its consent entries"
    );
    let withheld: i64 = one(
        &app,
        &format!(
            "SELECT (details->>'withheld_sections')::bigint FROM audit_log
             WHERE municipality_id = '{vejle}' AND action = 'transfer_accepted'"
        ),
    )
    .await;
    assert_eq!(withheld, 1);
}

#[tokio::test]
async fn a_rejected_transfer_copies_nothing_and_the_sender_sees_why() {
    let app = spawn_app().await;
    let vejle = app.municipality_id("0630").await;
    let stevns = app.municipality_id("0336").await;
    let h = ready_handover(&app, "Carla").await;
    let leder = app.login(LEDER).await;
    let transfer = start(&app, &leder, &h, &stevns.to_string()).await;
    let children_before = rls_count(&app, stevns, "children").await;
    let stevns_admin = app.login(STEVNS_ADMIN).await;
    let r = stevns_admin
        .post_with_token(
            "/transfers",
            &format!("/transfers/{transfer}/reject"),
            &[("reason", "Barnet bor ikke i kommunen")],
        )
        .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert_eq!(rls_count(&app, stevns, "children").await, children_before);
    assert_eq!(rls_count(&app, stevns, "incoming_handovers").await, 0);
    assert_eq!(audit_count(&app, vejle, "transfer_rejected").await, 1);
    assert_eq!(audit_count(&app, stevns, "reject_transfer").await, 1);
    let (_, page) = leder
        .get_text(&format!("/transitions/{}", h.transition))
        .await;
    assert!(
        page.contains("Afvist af modtagerkommunen") && page.contains("Barnet bor ikke i kommunen")
    );
    // It is gone from Stevns's list; a new transfer may start.
    let (_, list) = stevns_admin.get_text("/transfers").await;
    assert!(!list.contains("Carla"));
    assert_eq!(
        leder
            .get(&format!("/transitions/{}/transfer", h.transition))
            .await
            .status(),
        StatusCode::OK
    );
}

/// A handover cancelled while its transfer waits: the transfer closes with it, the copy is
/// dropped, the other municipality can no longer accept it, and the sender's page says why.
/// Before, Stevns could accept the cancelled handover as it was when the transfer started.
#[tokio::test]
async fn a_cancelled_handover_closes_its_waiting_transfer() {
    let app = spawn_app().await;
    let stevns = app.municipality_id("0336").await;
    let h = ready_handover(&app, "Dagny").await;
    let leder = app.login(LEDER).await;
    let transfer = start(&app, &leder, &h, &stevns.to_string()).await;
    let unknown = ready_handover(&app, "Edith").await;
    let waiting = start(&app, &leder, &unknown, "unknown").await;
    // cancelled from ready; sent, then recalled (back to a draft) before anybody opened it
    for (t, path) in [
        (&h, "status?to=cancelled"),
        (&unknown, "status?to=sent"),
        (&unknown, "recall?"),
    ] {
        let version: i32 = one(
            &app,
            &format!(
                "SELECT version FROM transitions WHERE id = '{}'",
                t.transition
            ),
        )
        .await;
        let (action, to) = path.split_once('?').unwrap();
        let to = to.trim_start_matches("to=");
        let token = leder.csrf("/transitions").await;
        let r = leder
            .post_form(
                &format!("/transitions/{}/{action}", t.transition),
                &[
                    ("_csrf", &token),
                    ("to", to),
                    ("version", &version.to_string()),
                ],
            )
            .await;
        assert_eq!(r.status(), StatusCode::SEE_OTHER, "{path}");
    }
    assert_eq!(
        status_and_package(&app, transfer).await,
        ("closed".into(), None)
    );
    assert_eq!(
        status_and_package(&app, waiting).await,
        ("closed".into(), None)
    );
    let stevns_admin = app.login(STEVNS_ADMIN).await;
    let (_, list) = stevns_admin.get_text("/transfers").await;
    assert!(!list.contains("Dagny"), "{list}");
    let school = institution(&app, "Strandskolen").await;
    assert_eq!(
        accept(&stevns_admin, transfer, school).await.status(),
        StatusCode::NOT_FOUND
    );
    assert_eq!(rls_count(&app, stevns, "incoming_handovers").await, 0);
    let (_, page) = leder
        .get_text(&format!("/transitions/{}", h.transition))
        .await;
    assert!(
        page.contains("Lukket") && page.contains("fordi overleveringen blev annulleret"),
        "{page}"
    );
    let (_, page) = leder
        .get_text(&format!("/transitions/{}", unknown.transition))
        .await;
    assert!(page.contains("taget tilbage for at blive rettet"), "{page}");
}

/// A transfer started while the handover is being cancelled (the cancel holds the transition,
/// the start waits for it) sees the cancelled status and starts nothing. Before, it checked the
/// status read before the wait and left a pending transfer of a cancelled handover, which the
/// cancel's trigger had come too early to close.
#[tokio::test]
async fn a_transfer_started_as_the_handover_is_cancelled_starts_nothing() {
    let app = spawn_app().await;
    let stevns = app.municipality_id("0336").await;
    let h = ready_handover(&app, "Frode").await;
    let leder = app.login(LEDER).await;
    let page = format!("/transitions/{}/transfer", h.transition);
    let token = leder.csrf(&page).await;
    let destination = stevns.to_string();
    let t = h.transition;
    let status = app
        .during(
            &format!("SELECT 1 FROM transitions WHERE id = '{t}' FOR UPDATE"),
            &format!(
                "UPDATE transitions SET status = 'cancelled', version = version + 1 WHERE id = '{t}'"
            ),
            async {
                leder
                    .post_form(&page, &[("_csrf", token.as_str()), ("destination", destination.as_str())])
                    .await
                    .status()
            },
        )
        .await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert_eq!(
        app.count(&format!(
            "SELECT count(*) FROM transfers WHERE transition_id = '{t}'"
        ))
        .await,
        0
    );
}

#[tokio::test]
async fn an_unknown_destination_waits_in_the_senders_queue_until_resolved() {
    let app = spawn_app().await;
    let stevns = app.municipality_id("0336").await;
    let leder = app.login(LEDER).await;
    let vejle_admin = app.login(VEJLE_ADMIN).await;
    let stevns_admin = app.login(STEVNS_ADMIN).await;
    let a = ready_handover(&app, "Dagny").await;
    let b = ready_handover(&app, "Ebbe").await;
    // A destination that is not a municipality of the platform is refused with the form again.
    let page = format!("/transitions/{}/transfer", a.transition);
    let r = leder
        .post_with_token(
            &page,
            &page,
            &[("destination", &Uuid::new_v4().to_string())],
        )
        .await;
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(app.count("SELECT count(*) FROM transfers").await, 0);
    let ta = start(&app, &leder, &a, "unknown").await;
    let tb = start(&app, &leder, &b, "unknown").await;

    let (_, queue) = vejle_admin.get_text("/transfers").await;
    assert!(queue.contains("Dagny Flytter") && queue.contains("Ebbe Flytter"));
    assert!(queue.contains(&format!("/transfers/{ta}/destination")));
    let (_, list) = stevns_admin.get_text("/transfers").await;
    assert!(!list.contains("Dagny") && !list.contains("Ebbe"));
    // The leader is not the one to resolve it.
    let r = leder
        .post_with_token(
            "/",
            &format!("/transfers/{ta}/destination"),
            &[("municipality_id", &stevns.to_string())],
        )
        .await;
    assert_eq!(r.status(), StatusCode::FORBIDDEN);

    // Resolved: a normal pending transfer Stevns sees.
    let r = vejle_admin
        .post_with_token(
            "/transfers",
            &format!("/transfers/{ta}/destination"),
            &[("municipality_id", &stevns.to_string())],
        )
        .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let (_, list) = stevns_admin.get_text("/transfers").await;
    assert!(list.contains("Dagny") && list.contains(&format!("/transfers/{ta}/accept")));

    // Closing needs a reason; then it is closed and its package gone.
    let close = format!("/transfers/{tb}/close");
    let r = vejle_admin
        .post_with_token("/transfers", &close, &[("reason", "  ")])
        .await;
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    let r = vejle_admin
        .post_with_token(
            "/transfers",
            &close,
            &[("reason", "Familien er rejst til udlandet")],
        )
        .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert_eq!(status_and_package(&app, tb).await, ("closed".into(), None));
    let (_, queue) = vejle_admin.get_text("/transfers").await;
    assert!(!queue.contains(&format!("/transfers/{tb}/close")));
    assert!(queue.contains("Familien er rejst til udlandet"));
    // Stevns cannot resolve or close Vejle's queue.
    let r = stevns_admin
        .post_with_token("/transfers", &close, &[("reason", "x")])
        .await;
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
}

fn schema() -> Value {
    let path =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/handover-package.schema.json");
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

async fn export(c: &Client, h: &Handover) -> (StatusCode, String) {
    c.get_text(&format!("/transitions/{}/package.json", h.transition))
        .await
}

/// Posts `content` to the import as `c`, for the institution `institution`.
async fn import(c: &Client, content: Vec<u8>, institution: Uuid) -> reqwest::Response {
    let (_, html) = c.get_text("/transfers/import").await;
    let token = csrf_from(&html);
    let form = reqwest::multipart::Form::new()
        .text("_csrf", token)
        .part(
            "file",
            reqwest::multipart::Part::bytes(content).file_name("pakke.json"),
        )
        .text("receiving_institution_id", institution.to_string());
    c.http
        .post(c.url("/transfers/import"))
        .header(reqwest::header::ORIGIN, &c.base)
        .multipart(form)
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn the_exported_package_validates_against_the_schema_and_round_trips_through_import() {
    let app = spawn_app().await;
    let vejle = app.municipality_id("0630").await;
    let stevns = app.municipality_id("0336").await;
    let h = ready_handover(&app, "Frida").await;
    let leder = app.login(LEDER).await;
    let (code, body) = export(&leder, &h).await;
    assert_eq!(code, StatusCode::OK);
    let exported: Value = serde_json::from_str(&body).unwrap();
    let validator = jsonschema::draft202012::new(&schema()).expect("the schema is valid");
    let errors: Vec<String> = validator
        .iter_errors(&exported)
        .map(|e| format!("{} at {}", e, e.instance_path))
        .collect();
    assert!(errors.is_empty(), "{errors:?}");
    assert!(body.contains(SECRET) && body.contains(PERSPECTIVE));
    assert!(exported.get("child").unwrap().get("cpr").is_none());
    assert_eq!(audit_count(&app, vejle, "export_package").await, 1);
    // The schema is not a rubber stamp.
    let mut broken = exported.clone();
    broken["child"]["cpr"] = "010101-1234".into();
    assert!(!validator.is_valid(&broken));
    let mut broken = exported.clone();
    broken["version"] = 2.into();
    assert!(!validator.is_valid(&broken));
    // Without consent the sensitive section is not in the export.
    consent(&app, &h, h.guardians[0], "withdrawn").await;
    let (_, without) = export(&leder, &h).await;
    assert!(!without.contains(SECRET) && without.contains(VISIBLE));
    assert!(validator.is_valid(&serde_json::from_str::<Value>(&without).unwrap()));
    // The receiving school and other municipalities may not export it; nor a draft.
    let teacher = app.login("laerer@vejle.overgang.test").await;
    assert_eq!(export(&teacher, &h).await.0, StatusCode::FORBIDDEN);
    let stevns_admin = app.login(STEVNS_ADMIN).await;
    assert_eq!(export(&stevns_admin, &h).await.0, StatusCode::NOT_FOUND);

    // Imported by Stevns, it is stored exactly as exported and shown to the school.
    let school = institution(&app, "Strandskolen").await;
    let r = import(&stevns_admin, body.clone().into_bytes(), school).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let (code, page) = stevns_admin.get_text(&location(&r)).await;
    assert_eq!(code, StatusCode::OK);
    assert!(
        page.contains("Frida Flytter") && page.contains(SECRET) && page.contains("Importeret fil")
    );
    let stored: Value = one(
        &app,
        &format!("SELECT package FROM incoming_handovers WHERE municipality_id = '{stevns}'"),
    )
    .await;
    assert_eq!(stored, exported, "round trip");
    assert_eq!(audit_count(&app, stevns, "receive_handover").await, 1);
    // The same child again is matched, not created twice.
    let r = import(&stevns_admin, body.into_bytes(), school).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert_eq!(
        app.count(&format!(
            "SELECT count(*) FROM children WHERE municipality_id = '{stevns}' AND first_name = 'Frida'"
        ))
        .await,
        1
    );
    // Vejle cannot import its own package.
    let vejle_admin = app.login(VEJLE_ADMIN).await;
    let (_, body) = export(&leder, &h).await;
    let r = import(
        &vejle_admin,
        body.into_bytes(),
        institution(&app, "Bakkeskolen").await,
    )
    .await;
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
}

/// An import case that is refused as unprocessable: its name, the package as JSON, the status.
fn unprocessable<'a>(case: &'a str, package: &Value) -> (&'a str, Vec<u8>, StatusCode) {
    (
        case,
        serde_json::to_vec(package).unwrap(),
        StatusCode::UNPROCESSABLE_ENTITY,
    )
}

#[tokio::test]
async fn an_import_of_a_malformed_oversized_or_wrong_version_package_changes_nothing() {
    let app = spawn_app().await;
    let stevns = app.municipality_id("0336").await;
    let h = ready_handover(&app, "Gorm").await;
    let leder = app.login(LEDER).await;
    let (_, body) = export(&leder, &h).await;
    let good: Value = serde_json::from_str(&body).unwrap();
    let stevns_admin = app.login(STEVNS_ADMIN).await;
    let school = institution(&app, "Strandskolen").await;
    let counts = || async {
        (
            rls_count(&app, stevns, "children").await,
            rls_count(&app, stevns, "enrolments").await,
            rls_count(&app, stevns, "incoming_handovers").await,
        )
    };
    let before = counts().await;

    let mut wrong_version = good.clone();
    wrong_version["version"] = 2.into();
    let mut unknown_field = good.clone();
    unknown_field["child"]["cpr"] = "010101-1234".into();
    let mut missing = good.clone();
    missing.as_object_mut().unwrap().remove("sections");
    let mut bad_date = good.clone();
    bad_date["child"]["birth_date"] = "3. marts".into();
    let mut nul = good.clone();
    nul["child"]["first_name"] = "a\u{0}b".into();
    let mut other_format = good.clone();
    other_format["format"] = "something-else".into();
    let cases: Vec<(&str, Vec<u8>, StatusCode)> = vec![
        (
            "malformed",
            b"{\"format\": \"overgang.handover-package\", ".to_vec(),
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        (
            "not json",
            b"navn;type\n".to_vec(),
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        unprocessable("wrong version", &wrong_version),
        unprocessable("other format", &other_format),
        unprocessable("unknown field", &unknown_field),
        unprocessable("missing field", &missing),
        unprocessable("bad date", &bad_date),
        unprocessable("NUL", &nul),
        ("empty", Vec::new(), StatusCode::BAD_REQUEST),
        (
            "oversized",
            {
                let mut big = good.clone();
                big["amendments"] = serde_json::json!([{ "at": "2026-12-01T10:00:00Z", "by": null, "text": "x".repeat(600 * 1024) }]);
                serde_json::to_vec(&big).unwrap()
            },
            StatusCode::PAYLOAD_TOO_LARGE,
        ),
    ];
    for (case, content, expected) in cases {
        let r = import(&stevns_admin, content, school).await;
        assert_eq!(r.status(), expected, "{case}");
        assert_eq!(counts().await, before, "{case} changed data");
    }
    let wrong: Value =
        serde_json::from_slice(&serde_json::to_vec(&wrong_version).unwrap()).unwrap();
    let r = import(&stevns_admin, serde_json::to_vec(&wrong).unwrap(), school).await;
    let html = r.text().await.unwrap();
    assert!(html.contains("version 2"), "a clear message: {html}");
    // at the top of the page too, leading to the file field
    assert!(
        html.contains("Der er problemer") && html.contains("href=\"#file\""),
        "{html}"
    );
    // A good package for an institution of another municipality is refused too.
    let r = import(
        &stevns_admin,
        body.clone().into_bytes(),
        institution(&app, "Bakkeskolen").await,
    )
    .await;
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(counts().await, before);
    // Only administrators import.
    let teacher = app.login(STEVNS_TEACHER).await;
    let r = teacher
        .http
        .post(teacher.url("/transfers/import"))
        .header(reqwest::header::ORIGIN, &teacher.base)
        .multipart(
            reqwest::multipart::Form::new()
                .text("_csrf", teacher.csrf("/").await)
                .part(
                    "file",
                    reqwest::multipart::Part::bytes(body.into_bytes()).file_name("p.json"),
                )
                .text("receiving_institution_id", school.to_string()),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    assert_eq!(counts().await, before);
}

/// Runs the retention purge of municipality `m` as the app would, with a cutoff of tomorrow
/// (so everything decided or received today is due).
async fn purge(app: &TestApp, m: Uuid) {
    let mut tx = app.db.begin().await.unwrap();
    sqlx::query("SELECT set_config('app.municipality_id', $1, true)")
        .bind(m.to_string())
        .execute(&mut *tx)
        .await
        .unwrap();
    sqlx::query("SELECT * FROM retention_purge($1, now() + interval '1 day', false)")
        .bind(m)
        .execute(&mut *tx)
        .await
        .unwrap();
    tx.commit().await.unwrap();
}

#[tokio::test]
async fn subject_access_and_retention_cover_transfers_and_received_handovers() {
    let app = spawn_app().await;
    let vejle = app.municipality_id("0630").await;
    let stevns = app.municipality_id("0336").await;
    let h = ready_handover(&app, "Hanna").await;
    let leder = app.login(LEDER).await;
    let transfer = start(&app, &leder, &h, &stevns.to_string()).await;
    let stevns_admin = app.login(STEVNS_ADMIN).await;
    let r = accept(
        &stevns_admin,
        transfer,
        institution(&app, "Strandskolen").await,
    )
    .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let received: Uuid = one(
        &app,
        &format!(
            "SELECT id FROM children WHERE municipality_id = '{stevns}' AND first_name = 'Hanna'"
        ),
    )
    .await;
    let (code, json) = stevns_admin
        .get_text(&format!("/children/{received}/export.json"))
        .await;
    assert_eq!(code, StatusCode::OK);
    assert!(
        json.contains("incoming_handovers") && json.contains(VISIBLE),
        "{json}"
    );
    let vejle_admin = app.login(VEJLE_ADMIN).await;
    let (_, json) = vejle_admin
        .get_text(&format!("/children/{}/export.json", h.child))
        .await;
    assert!(
        json.contains("\"transfer\"") && json.contains("Stevns (0336)"),
        "{json}"
    );

    // Decided and received today: due with a cutoff of tomorrow, on either side.
    purge(&app, stevns).await;
    assert_eq!(rls_count(&app, stevns, "incoming_handovers").await, 0);
    assert_eq!(
        rls_count(&app, vejle, "transfers").await,
        1,
        "not Stevns's to purge"
    );
    purge(&app, vejle).await;
    assert_eq!(rls_count(&app, vejle, "transfers").await, 0);
}

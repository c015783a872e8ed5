//! Transitions through the real server: creation and its refusals, the worklist per role,
//! the relay holder, the status machine with its history and optimistic version check.

use reqwest::StatusCode;
use uuid::Uuid;

use crate::common::{location, spawn_app, Client, TestApp};

const PAEDAGOG: &str = "paedagog@vejle.overgang.test";
const LEDER: &str = "leder@vejle.overgang.test";
const LAERER: &str = "laerer@vejle.overgang.test";
const ADMIN: &str = "admin@vejle.overgang.test";
const STEVNS_ADMIN: &str = "admin@stevns.overgang.test";

async fn id_of(app: &TestApp, sql: &str, bind: &str) -> Uuid {
    let mut conn = app.owner_conn().await;
    sqlx::query_scalar(sql)
        .bind(bind)
        .fetch_one(&mut conn)
        .await
        .unwrap()
}

async fn institution(app: &TestApp, name: &str) -> Uuid {
    id_of(app, "SELECT id FROM institutions WHERE name = $1", name).await
}

async fn user(app: &TestApp, email: &str) -> Uuid {
    id_of(app, "SELECT id FROM users WHERE email = $1", email).await
}

/// A child enrolled today at `institution_name`, born on `birth`.
async fn seed_child(app: &TestApp, institution_name: &str, first: &str, birth: &str) -> Uuid {
    let (_, _, id) = app
        .enrolled_child(institution_name, (first, "Overgang"), birth, 30)
        .await;
    id
}

async fn create(
    c: &Client,
    child: Uuid,
    receiving: Uuid,
    kind: &str,
    responsible: &str,
) -> reqwest::Response {
    let token = c.csrf(&format!("/transitions/new?child={child}")).await;
    c.post_form(
        "/transitions",
        &[
            ("_csrf", &token),
            ("child_id", &child.to_string()),
            ("receiving_institution_id", &receiving.to_string()),
            ("kind", kind),
            ("planned_date", "2027-08-01"),
            ("responsible_user_id", responsible),
        ],
    )
    .await
}

/// Of the answers to one request sent several times at once, the one that created (303);
/// every other must be `others`.
fn one_created(answers: &[reqwest::Response], others: StatusCode) -> &reqwest::Response {
    let statuses: Vec<_> = answers.iter().map(|r| r.status()).collect();
    let mut created = answers
        .iter()
        .filter(|r| r.status() == StatusCode::SEE_OTHER);
    let one = created
        .next()
        .unwrap_or_else(|| panic!("none created: {statuses:?}"));
    assert!(
        created.next().is_none(),
        "more than one created: {statuses:?}"
    );
    assert!(
        statuses
            .iter()
            .all(|s| *s == StatusCode::SEE_OTHER || *s == others),
        "{statuses:?}"
    );
    one
}

fn transition_id(r: &reqwest::Response) -> Uuid {
    location(r)
        .strip_prefix("/transitions/")
        .expect("redirect to the transition")
        .parse()
        .unwrap()
}

async fn row(app: &TestApp, id: Uuid) -> (String, i32, Option<Uuid>) {
    let mut conn = app.owner_conn().await;
    sqlx::query_as("SELECT status, version, responsible_user_id FROM transitions WHERE id = $1")
        .bind(id)
        .fetch_one(&mut conn)
        .await
        .unwrap()
}

async fn events(app: &TestApp, id: Uuid) -> Vec<(Option<String>, String)> {
    let mut conn = app.owner_conn().await;
    sqlx::query_as(
        "SELECT from_status, to_status FROM transition_events WHERE transition_id = $1 ORDER BY at, id",
    )
    .bind(id)
    .fetch_all(&mut conn)
    .await
    .unwrap()
}

async fn move_to(c: &Client, id: Uuid, to: &str, version: i32) -> reqwest::Response {
    let token = c.csrf("/transitions").await;
    c.post_form(
        &format!("/transitions/{id}/status"),
        &[
            ("_csrf", &token),
            ("to", to),
            ("version", &version.to_string()),
        ],
    )
    .await
}

#[tokio::test]
async fn create_one_transition_and_its_refusals() {
    let app = spawn_app().await;
    let child = seed_child(&app, "Børnehaven Solsikken", "Ida", "2021-03-03").await;
    let school = institution(&app, "Bakkeskolen").await;
    let pedagogue = user(&app, PAEDAGOG).await;
    let c = app.login(PAEDAGOG).await;

    // The form offers the child, defaults the relay to the creator.
    let (status, html) = c.get_text(&format!("/transitions/new?child={child}")).await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        html.contains("Børnehaven Solsikken"),
        "sending institution shown"
    );
    assert!(html.contains(&format!("value=\"{pedagogue}\" selected")));

    let r = create(
        &c,
        child,
        school,
        "kindergarten_school",
        &pedagogue.to_string(),
    )
    .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let id = transition_id(&r);
    let (status, version, responsible) = row(&app, id).await;
    assert_eq!(
        (status.as_str(), version, responsible),
        ("draft", 1, Some(pedagogue))
    );
    assert_eq!(events(&app, id).await, vec![(None, "draft".to_string())]);
    let (status, html) = c.get_text(&format!("/transitions/{id}")).await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains("Bakkeskolen") && html.contains("Kladde"));
    assert!(html.contains("Send til forældrene") && html.contains("Annullér overleveringen"));

    // A child outside the pedagogue's institutions: 404, on the form and on the post.
    let other = seed_child(&app, "Bakkeskolen", "Bo", "2016-03-03").await;
    assert_eq!(
        c.get(&format!("/transitions/new?child={other}"))
            .await
            .status(),
        StatusCode::NOT_FOUND
    );
    let token = c.csrf("/transitions/new").await;
    let r = c
        .post_form(
            "/transitions",
            &[("_csrf", &token), ("child_id", &other.to_string())],
        )
        .await;
    assert_eq!(r.status(), StatusCode::NOT_FOUND);

    // A receiving institution of another municipality is a field error, not a foreign key.
    let stevns_inst = id_of(
        &app,
        "SELECT i.id FROM institutions i JOIN municipalities m ON m.id = i.municipality_id
         WHERE m.code = $1 LIMIT 1",
        "0336",
    )
    .await;
    let r = create(&c, child, stevns_inst, "kindergarten_school", "").await;
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(r
        .text()
        .await
        .unwrap()
        .contains("Vælg en aktiv institution i kommunen"));

    // A planned date in a year no filter or package takes (year 0 would be stored as 1 BC).
    for planned in ["0000-08-01", "1989-08-01", "2201-01-01"] {
        let token = c.csrf(&format!("/transitions/new?child={child}")).await;
        let r = c
            .post_form(
                "/transitions",
                &[
                    ("_csrf", &token),
                    ("child_id", &child.to_string()),
                    ("receiving_institution_id", &school.to_string()),
                    ("kind", "kindergarten_sfo"),
                    ("planned_date", planned),
                ],
            )
            .await;
        assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY, "{planned}");
        assert!(r.text().await.unwrap().contains("mellem år 1990 og 2200"));
    }

    // No published template of the kind: refused with a clear message.
    let mut conn = app.owner_conn().await;
    sqlx::query(
        "UPDATE form_templates t SET status = 'archived' FROM municipalities m
         WHERE m.id = t.municipality_id AND m.code = '0630' AND t.transition_kind = 'kindergarten_sfo'",
    )
    .execute(&mut conn)
    .await
    .unwrap();
    let r = create(&c, child, school, "kindergarten_sfo", "").await;
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(r
        .text()
        .await
        .unwrap()
        .contains("Der er ingen offentliggjort skabelon for «Børnehave → SFO»"));

    // Bad input is a field error, never a 500.
    let r = create(&c, child, school, "bogus", "not-a-uuid").await;
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);

    // Without the CSRF token nothing happens.
    let r = c
        .post_form(
            "/transitions",
            &[
                ("child_id", &child.to_string()),
                ("receiving_institution_id", &school.to_string()),
                ("kind", "kindergarten_school"),
                ("planned_date", "2027-08-01"),
            ],
        )
        .await;
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    let r = c
        .post_form(
            &format!("/transitions/{id}/status"),
            &[("to", "cancelled"), ("version", "1")],
        )
        .await;
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    let count: i64 = sqlx::query_scalar("SELECT count(*) FROM transitions WHERE child_id = $1")
        .bind(child)
        .fetch_one(&mut conn)
        .await
        .unwrap();
    assert_eq!(count, 1);

    // The other municipality sees nothing: 404 for the page and the actions.
    let s = app.login(STEVNS_ADMIN).await;
    assert_eq!(
        s.get(&format!("/transitions/{id}")).await.status(),
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        move_to(&s, id, "cancelled", 1).await.status(),
        StatusCode::NOT_FOUND
    );
    let (_, html) = s.get_text("/transitions").await;
    assert!(!html.contains("Ida Overgang"));
    assert_eq!(row(&app, id).await.0, "draft");
}

#[tokio::test]
async fn worklist_per_role_and_reassigning_the_relay() {
    let app = spawn_app().await;
    let child = seed_child(&app, "Børnehaven Solsikken", "Karla", "2021-03-03").await;
    let school = institution(&app, "Bakkeskolen").await;
    let pedagogue = user(&app, PAEDAGOG).await;
    let leader = app.login(LEDER).await;
    // The leader leaves it unassigned.
    let r = create(&leader, child, school, "kindergarten_school", "").await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let id = transition_id(&r);

    let staff = app.login(PAEDAGOG).await;
    let (_, html) = staff.get_text("/transitions").await;
    assert!(!html.contains("Karla Overgang"), "not the pedagogue's yet");
    let (_, html) = leader.get_text("/transitions").await;
    assert!(html.contains("Åbne overgange fra din institution"));
    assert!(
        html.contains("Karla Overgang"),
        "the leader sees the outgoing list"
    );
    let (_, html) = app.login(ADMIN).await.get_text("/transitions").await;
    assert!(
        html.contains("Karla Overgang"),
        "the administrator sees the municipality's"
    );

    // Staff may not reassign; the leader may.
    let token = staff.csrf("/transitions").await;
    let r = staff
        .post_form(
            &format!("/transitions/{id}/responsible"),
            &[
                ("_csrf", &token),
                ("responsible_user_id", &pedagogue.to_string()),
            ],
        )
        .await;
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    let token = leader.csrf("/transitions").await;
    let r = leader
        .post_form(
            &format!("/transitions/{id}/responsible"),
            &[
                ("_csrf", &token),
                ("responsible_user_id", &pedagogue.to_string()),
            ],
        )
        .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert_eq!(row(&app, id).await.2, Some(pedagogue));
    // Somebody from another institution cannot hold the relay.
    let teacher = user(&app, LAERER).await;
    let r = leader
        .post_form(
            &format!("/transitions/{id}/responsible"),
            &[
                ("_csrf", &token),
                ("responsible_user_id", &teacher.to_string()),
            ],
        )
        .await;
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);

    let (_, html) = staff.get_text("/transitions").await;
    assert!(
        html.contains("Karla Overgang"),
        "now in the pedagogue's own list"
    );
    assert!(html.contains("Kladde"));

    // The receiving school's teacher sees it but may not act on it.
    let t = app.login(LAERER).await;
    assert_eq!(
        t.get(&format!("/transitions/{id}")).await.status(),
        StatusCode::OK
    );
    let (_, version, _) = row(&app, id).await;
    assert_eq!(
        move_to(&t, id, "cancelled", version).await.status(),
        StatusCode::FORBIDDEN
    );
}

#[tokio::test]
async fn status_moves_are_checked_versioned_and_recorded() {
    let app = spawn_app().await;
    let child = seed_child(&app, "Børnehaven Solsikken", "Lone", "2021-03-03").await;
    let school = institution(&app, "Bakkeskolen").await;
    let c = app.login(PAEDAGOG).await;
    let id = transition_id(&create(&c, child, school, "kindergarten_school", "").await);
    // this test is about the status machine; required questions are tested in answers.rs
    crate::answers::answer_required(&app, id).await;

    let r = move_to(&c, id, "with_parents", 1).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert_eq!(row(&app, id).await.0, "with_parents");
    assert_eq!(row(&app, id).await.1, 2);

    // Illegal: back to draft.
    let r = move_to(&c, id, "draft", 2).await;
    assert_eq!(r.status(), StatusCode::CONFLICT);
    assert!(r
        .text()
        .await
        .unwrap()
        .contains("En overlevering med status «Hos forældrene» kan ikke flyttes til «Kladde»"));

    // A stale version: somebody else moved it since the page was opened.
    let r = move_to(&c, id, "ready", 1).await;
    assert_eq!(r.status(), StatusCode::CONFLICT);
    assert!(r.text().await.unwrap().contains("ændret af en anden"));
    assert_eq!(row(&app, id).await.0, "with_parents");

    let told = format!(
        "SELECT count(*) FROM outbox WHERE to_address = '{LAERER}' AND subject = '{}'
           AND body NOT LIKE '%Lone%'",
        overgang::transitions::receiving::CANCELLED_SUBJECT
    );
    for (to, version) in [("ready", 2), ("sent", 3), ("cancelled", 4)] {
        assert_eq!(
            move_to(&c, id, to, version).await.status(),
            StatusCode::SEE_OTHER,
            "{to}"
        );
        // the receiver is told of a cancellation once it had the handover, without the child
        assert_eq!(app.count(&told).await, i64::from(to == "cancelled"), "{to}");
    }
    // Cancelled is final.
    let r = move_to(&c, id, "draft", 5).await;
    assert_eq!(r.status(), StatusCode::CONFLICT);
    assert!(r
        .text()
        .await
        .unwrap()
        .contains("«Annulleret» kan ikke ændres"));
    // Garbage is a 400, not a 500.
    assert_eq!(
        move_to(&c, id, "nonsense", 5).await.status(),
        StatusCode::BAD_REQUEST
    );

    let history: Vec<(Option<String>, String)> = events(&app, id).await;
    let expected: Vec<(Option<String>, String)> = [
        (None, "draft"),
        (Some("draft"), "with_parents"),
        (Some("with_parents"), "ready"),
        (Some("ready"), "sent"),
        (Some("sent"), "cancelled"),
    ]
    .into_iter()
    .map(|(f, t)| (f.map(str::to_string), t.to_string()))
    .collect();
    assert_eq!(history, expected);
    let (_, html) = c.get_text(&format!("/transitions/{id}")).await;
    assert!(html.contains("Historik") && html.contains("Annulleret"));
    // The history on the page: oldest first, in Danish time (winter +1, summer +2), with who.
    let mut conn = app.owner_conn().await;
    sqlx::query(
        "UPDATE transition_events
         SET at = CASE to_status WHEN 'draft' THEN timestamptz '2026-01-15 09:05:59+00'
                                 ELSE timestamptz '2027-07-01 10:15:30.5+00' END
         WHERE transition_id = $1 AND to_status IN ('draft', 'cancelled')",
    )
    .bind(id)
    .execute(&mut conn)
    .await
    .unwrap();
    let (_, html) = c.get_text(&format!("/transitions/{id}")).await;
    let first = html
        .find("<tr><td>15-01-2026 10:05</td><td>Sofie Jensen</td><td>–</td><td>Kladde</td>")
        .expect("the first event");
    let last = html
        .find("<tr><td>01-07-2027 12:15</td><td>Sofie Jensen</td><td>Sendt</td><td>Annulleret</td>")
        .expect("the last event");
    assert!(first < last, "{html}");
    assert!(
        !html.contains("/status\""),
        "no actions on a cancelled transition"
    );

    // Every move is audited; the history cannot be rewritten by the app role.
    let mut conn = app.owner_conn().await;
    let audited: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM audit_log WHERE entity_type = 'transition' AND entity_id = $1 AND action = 'status'",
    )
    .bind(id)
    .fetch_one(&mut conn)
    .await
    .unwrap();
    assert_eq!(audited, 4);
    let denied = sqlx::query("DELETE FROM transition_events")
        .execute(&app.db)
        .await;
    assert!(denied.is_err(), "the app role may not delete events");
}

#[tokio::test]
async fn a_cohort_is_previewed_then_created_skipping_open_ones() {
    let app = spawn_app().await;
    let school = institution(&app, "Bakkeskolen").await;
    let solsikken = institution(&app, "Børnehaven Solsikken").await;
    let pedagogue = user(&app, PAEDAGOG).await;
    let a = seed_child(&app, "Børnehaven Solsikken", "Asta", "2019-02-02").await;
    seed_child(&app, "Børnehaven Solsikken", "Bent", "2019-11-30").await;
    seed_child(&app, "Børnehaven Solsikken", "Carl", "2018-12-31").await;
    let expected: i64 = {
        let mut conn = app.owner_conn().await;
        sqlx::query_scalar(
            "SELECT count(DISTINCT c.id) FROM children c JOIN enrolments e ON e.child_id = c.id
             WHERE e.institution_id = $1 AND extract(year FROM c.birth_date) = 2019
               AND e.starts_on <= current_date AND (e.ends_on IS NULL OR e.ends_on >= current_date)",
        )
        .bind(solsikken)
        .fetch_one(&mut conn)
        .await
        .unwrap()
    };
    // Asta already has an open transition of the kind.
    let leader = app.login(LEDER).await;
    let first = transition_id(&create(&leader, a, school, "kindergarten_school", "").await);

    // Staff may not create cohorts.
    let staff = app.login(PAEDAGOG).await;
    assert_eq!(
        staff.get("/transitions/cohort").await.status(),
        StatusCode::FORBIDDEN
    );

    let token = leader.csrf("/transitions/cohort").await;
    let solsikken = solsikken.to_string();
    let school = school.to_string();
    let pedagogue = pedagogue.to_string();
    let mut fields = vec![
        ("_csrf", token.as_str()),
        ("birth_year", "2019"),
        ("institutions", solsikken.as_str()),
        ("receiving_institution_id", school.as_str()),
        ("kind", "kindergarten_school"),
        ("planned_date", "2026-08-01"),
        ("responsible_user_id", pedagogue.as_str()),
    ];
    let r = leader.post_form("/transitions/cohort", &fields).await;
    assert_eq!(r.status(), StatusCode::OK);
    let html = r.text().await.unwrap();
    assert!(
        html.contains(&format!("{} børn får en overgang", expected - 1))
            || html.contains("1 barn får en overgang"),
        "{html}"
    );
    assert!(html.contains("1 springes over"));
    let mut conn = app.owner_conn().await;
    assert_eq!(count(&mut conn).await, 1, "a preview creates nothing");

    // Confirmed by a double click, eight times at once: the cohort is created once, and the
    // later ones find nothing left to create.
    fields.push(("confirm", "ja"));
    let confirms = (0..8).map(|_| leader.post_form("/transitions/cohort", &fields));
    let answers = futures_util::future::join_all(confirms).await;
    assert_eq!(
        location(one_created(&answers, StatusCode::OK)),
        "/transitions"
    );
    assert_eq!(count(&mut conn).await, expected);
    let (_, html) = leader.get_text("/transitions").await;
    assert!(html.contains("1 barn blev sprunget over"), "{html}");
    let events: i64 = sqlx::query_scalar("SELECT count(*) FROM transition_events")
        .fetch_one(&mut conn)
        .await
        .unwrap();
    assert_eq!(events, expected);
    assert_eq!(row(&app, first).await.1, 1, "the existing one is untouched");
    // The pedagogue holds the relay for the new ones.
    let (_, html) = staff.get_text("/transitions").await;
    assert!(html.contains("Bent Overgang") && !html.contains("Carl Overgang"));

    // Bad input: field errors.
    let r = leader
        .post_form(
            "/transitions/cohort",
            &[
                ("_csrf", token.as_str()),
                ("birth_year", "abc"),
                ("institutions", "x"),
            ],
        )
        .await;
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
}

async fn count(conn: &mut sqlx::PgConnection) -> i64 {
    sqlx::query_scalar("SELECT count(*) FROM transitions")
        .fetch_one(conn)
        .await
        .unwrap()
}

#[tokio::test]
async fn the_receiving_school_sees_the_child_while_the_transition_is_open_but_cannot_change_it() {
    let app = spawn_app().await;
    let child = seed_child(&app, "Børnehaven Solsikken", "Modtaget", "2020-03-03").await;
    let school = institution(&app, "Bakkeskolen").await;
    let teacher = app.login("laerer@vejle.overgang.test").await;
    assert_eq!(
        teacher.get(&format!("/children/{child}")).await.status(),
        StatusCode::NOT_FOUND
    );

    let staff = app.login("paedagog@vejle.overgang.test").await;
    let r = create(&staff, child, school, "kindergarten_school", "").await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let transition = transition_id(&r);

    let (status, html) = teacher.get_text(&format!("/children/{child}")).await;
    assert_eq!(
        status,
        StatusCode::OK,
        "the receiver may read about the child"
    );
    assert!(html.contains("Modtaget Overgang"));
    assert!(
        !html.contains(&format!("/children/{child}/edit")),
        "but gets no edit controls"
    );
    let (_, list) = teacher.get_text("/children").await;
    assert!(list.contains("Modtaget"), "and finds the child in the list");
    for path in ["edit", "guardians/new", "enrolments/new"] {
        assert_eq!(
            teacher
                .get(&format!("/children/{child}/{path}"))
                .await
                .status(),
            StatusCode::NOT_FOUND,
            "{path}"
        );
    }
    let r = teacher
        .post_with_token(
            "/",
            &format!("/children/{child}/edit"),
            &[("first_name", "Ændret"), ("last_name", "X")],
        )
        .await;
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    let r = teacher
        .post_with_token("/", &format!("/children/{child}/delete"), &[])
        .await;
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    assert_eq!(
        app.count(&format!(
            "SELECT count(*) FROM children WHERE id = '{child}' AND first_name = 'Modtaget'"
        ))
        .await,
        1
    );

    // A cancelled transition no longer opens the door.
    let (_, version, _) = row(&app, transition).await;
    assert_eq!(
        move_to(&staff, transition, "cancelled", version)
            .await
            .status(),
        StatusCode::SEE_OTHER
    );
    assert_eq!(
        teacher.get(&format!("/children/{child}")).await.status(),
        StatusCode::NOT_FOUND
    );
}

#[tokio::test]
async fn a_child_has_one_open_transition_of_a_kind_at_a_time() {
    let app = spawn_app().await;
    let child = seed_child(&app, "Børnehaven Solsikken", "Enkelt", "2020-03-03").await;
    let school = institution(&app, "Bakkeskolen").await;
    let staff = app.login("paedagog@vejle.overgang.test").await;
    let open = || async {
        app.count(&format!(
            "SELECT count(*) FROM transitions WHERE child_id = '{child}' AND status NOT IN ('closed', 'cancelled')"
        ))
        .await
    };
    // Eight at once (a double click, or two pedagogues): one is created.
    let tries = (0..8).map(|_| create(&staff, child, school, "kindergarten_school", ""));
    let answers = futures_util::future::join_all(tries).await;
    let first = transition_id(one_created(&answers, StatusCode::UNPROCESSABLE_ENTITY));
    assert_eq!(open().await, 1);
    // Later, the same: the form says why.
    let r = create(&staff, child, school, "kindergarten_school", "").await;
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let html = r.text().await.unwrap();
    assert!(
        html.contains("Enkelt Overgang har allerede en åben overgang af typen"),
        "{html}"
    );
    // Once it is cancelled, a new one may be made.
    assert_eq!(
        move_to(&staff, first, "cancelled", 1).await.status(),
        StatusCode::SEE_OTHER
    );
    let r = create(&staff, child, school, "kindergarten_school", "").await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert_eq!(open().await, 1);
}

/// A new responsible or a meeting wish sent while the transition is being cancelled (the cancel
/// holds its row, the change waits for it) is refused once it sees the cancel, and changes
/// nothing on a transition that is no longer open.
#[tokio::test]
async fn changes_waiting_for_a_cancel_see_it_cancelled() {
    let app = spawn_app().await;
    let child = seed_child(&app, "Børnehaven Solsikken", "Karla", "2021-03-03").await;
    let school = institution(&app, "Bakkeskolen").await;
    let pedagogue = user(&app, PAEDAGOG).await;
    let leader = app.login(LEDER).await;
    let id = transition_id(&create(&leader, child, school, "kindergarten_school", "").await);
    let lock = format!("SELECT 1 FROM transitions WHERE id = '{id}' FOR UPDATE");
    let cancel = format!(
        "UPDATE transitions SET status = 'cancelled', version = version + 1 WHERE id = '{id}'"
    );
    let token = leader.csrf("/transitions").await;
    let status = app
        .during(&lock, &cancel, async {
            leader
                .post_form(
                    &format!("/transitions/{id}/responsible"),
                    &[
                        ("_csrf", &token),
                        ("responsible_user_id", &pedagogue.to_string()),
                    ],
                )
                .await
                .status()
        })
        .await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert_eq!(row(&app, id).await, ("cancelled".into(), 2, None));

    app.count(&format!(
        "WITH x AS (UPDATE transitions SET status = 'draft' WHERE id = '{id}' RETURNING 1)
         SELECT count(*) FROM x"
    ))
    .await;
    let staff = app.login(PAEDAGOG).await;
    let token = staff.csrf("/transitions").await;
    let status = app
        .during(&lock, &cancel, async {
            staff
                .post_form(
                    &format!("/transitions/{id}/handover-wish"),
                    &[("_csrf", token.as_str()), ("wish", "meeting")],
                )
                .await
                .status()
        })
        .await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert_eq!(app.count("SELECT count(*) FROM handover_wishes").await, 0);
}

/// The relay holder's own list shows only what is sent from where they still work: one who has
/// moved to another institution no longer sees the children they held the relay for (their
/// pages answer 404 already).
#[tokio::test]
async fn the_own_worklist_follows_where_the_relay_holder_works() {
    let app = spawn_app().await;
    let child = seed_child(&app, "Børnehaven Solsikken", "Karla", "2021-03-03").await;
    let school = institution(&app, "Bakkeskolen").await;
    let pedagogue = user(&app, PAEDAGOG).await;
    let leader = app.login(LEDER).await;
    let r = create(
        &leader,
        child,
        school,
        "kindergarten_school",
        &pedagogue.to_string(),
    )
    .await;
    let id = transition_id(&r);
    let staff = app.login(PAEDAGOG).await;
    let (_, html) = staff.get_text("/transitions").await;
    assert!(html.contains("Karla Overgang"));
    // Moved from Solsikken to Mariehønen.
    app.count(&format!(
        "WITH gone AS (DELETE FROM role_assignments r USING institutions i
                       WHERE r.user_id = '{pedagogue}' AND i.id = r.institution_id
                         AND i.name = 'Børnehaven Solsikken' RETURNING r.municipality_id),
              added AS (INSERT INTO role_assignments (municipality_id, user_id, role, institution_id)
                        SELECT i.municipality_id, '{pedagogue}', 'staff', i.id FROM institutions i
                        WHERE i.name = 'Børnehaven Mariehønen' RETURNING 1)
         SELECT count(*) FROM gone, added"
    ))
    .await;
    let staff = app.login(PAEDAGOG).await;
    let (status, html) = staff.get_text("/transitions").await;
    assert_eq!(status, StatusCode::OK);
    assert!(!html.contains("Karla Overgang"), "{html}");
    assert_eq!(
        staff.get(&format!("/transitions/{id}")).await.status(),
        StatusCode::NOT_FOUND
    );
}

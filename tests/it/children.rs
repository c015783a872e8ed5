//! Children, guardians and enrolments through the real server: scope, CPR handling,
//! validation, CSRF and audit.

use reqwest::StatusCode;
use uuid::Uuid;

use crate::common::{location, spawn_app, Client, TestApp};

const PAEDAGOG: &str = "paedagog@vejle.overgang.test";
const LEDER: &str = "leder@vejle.overgang.test";
const LAERER: &str = "laerer@vejle.overgang.test";
const ADMIN: &str = "admin@vejle.overgang.test";
const STEVNS_ADMIN: &str = "admin@stevns.overgang.test";

async fn institution(app: &TestApp, name: &str) -> Uuid {
    let mut conn = app.owner_conn().await;
    sqlx::query_scalar("SELECT id FROM institutions WHERE name = $1")
        .bind(name)
        .fetch_one(&mut conn)
        .await
        .unwrap()
}

/// The database's date `days` from today, as `YYYY-MM-DD`.
async fn day(app: &TestApp, days: i32) -> String {
    let mut conn = app.owner_conn().await;
    sqlx::query_scalar("SELECT (current_date + $1)::text")
        .bind(days)
        .fetch_one(&mut conn)
        .await
        .unwrap()
}

/// A child put straight into the database (as the owner), enrolled at `institution_name`.
async fn seed_child(
    app: &TestApp,
    institution_name: &str,
    first: &str,
    last: &str,
    ends_on: Option<&str>,
) -> Uuid {
    let mut conn = app.owner_conn().await;
    let (municipality_id, institution_id): (Uuid, Uuid) =
        sqlx::query_as("SELECT municipality_id, id FROM institutions WHERE name = $1")
            .bind(institution_name)
            .fetch_one(&mut conn)
            .await
            .unwrap();
    let id: Uuid = sqlx::query_scalar(
        "INSERT INTO children (municipality_id, first_name, last_name, birth_date)
         VALUES ($1, $2, $3, DATE '2021-05-01') RETURNING id",
    )
    .bind(municipality_id)
    .bind(first)
    .bind(last)
    .fetch_one(&mut conn)
    .await
    .unwrap();
    sqlx::query(
        "INSERT INTO enrolments (municipality_id, child_id, institution_id, group_name, starts_on, ends_on)
         VALUES ($1, $2, $3, 'Stue B', DATE '2024-08-01', $4::date)",
    )
    .bind(municipality_id)
    .bind(id)
    .bind(institution_id)
    .bind(ends_on)
    .execute(&mut conn)
    .await
    .unwrap();
    id
}

async fn seed_guardian(app: &TestApp, child: Uuid, name: &str) -> Uuid {
    let mut conn = app.owner_conn().await;
    sqlx::query_scalar(
        "INSERT INTO guardians (municipality_id, child_id, name, email)
         SELECT municipality_id, id, $2, 'mor@example.dk' FROM children WHERE id = $1 RETURNING id",
    )
    .bind(child)
    .bind(name)
    .fetch_one(&mut conn)
    .await
    .unwrap()
}

async fn enrolment_of(app: &TestApp, child: Uuid) -> Uuid {
    let mut conn = app.owner_conn().await;
    sqlx::query_scalar("SELECT id FROM enrolments WHERE child_id = $1 ORDER BY created_at LIMIT 1")
        .bind(child)
        .fetch_one(&mut conn)
        .await
        .unwrap()
}

/// Posts the "Opret barn" form with `fields` on top of valid defaults.
async fn create_child(
    c: &Client,
    institution_id: Uuid,
    fields: &[(&str, &str)],
) -> reqwest::Response {
    let token = c.csrf("/children/new").await;
    let inst = institution_id.to_string();
    let mut form: Vec<(&str, &str)> = vec![
        ("_csrf", &token),
        ("first_name", "Alma"),
        ("last_name", "Jørgensen"),
        ("birth_date", ""),
        ("cpr", ""),
        ("institution_id", &inst),
        ("group_name", "Stue A"),
        ("starts_on", "2024-08-01"),
    ];
    for (k, v) in fields {
        match form.iter_mut().find(|(name, _)| name == k) {
            Some(slot) => slot.1 = v,
            None => form.push((k, v)),
        }
    }
    c.post_form("/children", &form).await
}

fn child_id_from(location: &str) -> Uuid {
    location
        .strip_prefix("/children/")
        .and_then(|s| Uuid::parse_str(s).ok())
        .unwrap_or_else(|| panic!("not a child page: {location}"))
}

#[tokio::test]
async fn a_pedagogue_creates_a_child_with_cpr_and_finds_it_by_name() {
    let app = spawn_app().await;
    let solsikken = institution(&app, "Børnehaven Solsikken").await;
    let c = app.login(PAEDAGOG).await;

    let (status, form) = c.get_text("/children/new").await;
    assert_eq!(status, StatusCode::OK);
    assert!(form.contains("Børnehaven Solsikken"));
    assert!(
        !form.contains("Børnehaven Mariehønen"),
        "staff enrol only at their own institution"
    );

    let r = create_child(
        &c,
        solsikken,
        &[("cpr", "150321-4321"), ("birth_date", "2021-03-15")],
    )
    .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let to = location(&r);
    assert!(!to.contains("150321") && !to.contains("4321"), "{to}");
    let id = child_id_from(&to);

    let (status, page) = c.get_text(&to).await;
    assert_eq!(status, StatusCode::OK);
    assert!(page.contains("Barnet er oprettet."));
    assert!(page.contains("Alma Jørgensen"));
    assert!(
        page.contains("150321-xxxx"),
        "the child's page shows it masked"
    );
    assert!(!page.contains("150321-4321") && !page.contains("1503214321"));
    assert!(page.contains("Stue A") && page.contains("15-03-2021"));

    for q in ["alma", "JØRG", "ma jø", "Alma Jørgensen"] {
        let (status, list) = c.get_text(&format!("/children?q={q}")).await;
        assert_eq!(status, StatusCode::OK);
        assert!(list.contains("Alma Jørgensen"), "search {q:?}");
        assert!(
            !list.contains("150321"),
            "no CPR, not even masked, in lists"
        );
        assert!(list.contains("Børnehaven Solsikken, Stue A"));
    }
    for q in ["%25", "_", "Alma%25", "Bent"] {
        let (_, list) = c.get_text(&format!("/children?q={q}")).await;
        assert!(!list.contains("Alma Jørgensen"), "search {q:?}");
        assert!(list.contains("Ingen børn matcher søgningen."));
    }
    // The search form posts, and only a name makes it into the address bar.
    let token = c.csrf("/children").await;
    let r = c
        .post_form(
            "/children/search",
            &[("_csrf", &token), ("q", " Alma  "), ("institution", "")],
        )
        .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&r), "/children?q=Alma");
    let r = c
        .post_form(
            "/children/search",
            &[("_csrf", &token), ("q", "150321-4321")],
        )
        .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&r), "/children");
    let (_, list) = c.get_text("/children").await;
    assert!(list.contains("kan der ikke søges på CPR-nummer"));
    assert!(!list.contains("150321-4321"));
    // A search for a CPR number typed straight into the address is refused and not echoed.
    let (status, list) = c.get_text("/children?q=150321-4321").await;
    assert_eq!(status, StatusCode::OK);
    assert!(list.contains("kan der ikke søges på CPR-nummer"));
    assert!(!list.contains("150321-4321") && !list.contains("Alma Jørgensen"));

    // The edit form never sends the number back.
    let (_, edit) = c.get_text(&format!("/children/{id}/edit")).await;
    assert!(edit.contains("Udfyld kun for at ændre"));
    assert!(!edit.contains("4321") && !edit.contains("150321"));

    let mut conn = app.owner_conn().await;
    let (stored, birth): (String, String) =
        sqlx::query_as("SELECT cpr, birth_date::text FROM children WHERE id = $1")
            .bind(id)
            .fetch_one(&mut conn)
            .await
            .unwrap();
    assert_eq!(
        (stored.as_str(), birth.as_str()),
        ("150321-4321", "2021-03-15")
    );
    let actions: Vec<String> = sqlx::query_scalar(
        "SELECT action || ':' || entity_type FROM audit_log WHERE child_id = $1 ORDER BY id",
    )
    .bind(id)
    .fetch_all(&mut conn)
    .await
    .unwrap();
    for expected in [
        "create:child",
        "cpr_set:child",
        "create:enrolment",
        "read:child",
    ] {
        assert!(
            actions.iter().any(|a| a == expected),
            "{expected} in {actions:?}"
        );
    }
    let leaks = app.count("SELECT count(*) FROM audit_log WHERE details::text LIKE '%150321%' OR details::text LIKE '%4321\"%'",
    )
    .await;
    assert_eq!(leaks, 0, "the audit log never holds the number");
    let searches = app
        .count("SELECT count(*) FROM audit_log WHERE action = 'list' AND details->>'name_search' = 'true'")
        .await;
    assert_eq!(
        searches, 8,
        "the eight name searches above are audited, the CPR one is not"
    );
    let names = app
        .count("SELECT count(*) FROM audit_log WHERE details::text ILIKE '%alma%'")
        .await;
    assert_eq!(
        names, 0,
        "that a name was searched, not the name: the log outlives it"
    );
}

#[tokio::test]
async fn a_cpr_without_dash_is_accepted_and_fills_in_the_birth_date() {
    let app = spawn_app().await;
    let solsikken = institution(&app, "Børnehaven Solsikken").await;
    let c = app.login(LEDER).await;
    let r = create_child(&c, solsikken, &[("cpr", "1302991234"), ("starts_on", "")]).await;
    assert_eq!(
        r.status(),
        StatusCode::UNPROCESSABLE_ENTITY,
        "start date missing"
    );
    let html = r.text().await.unwrap();
    assert!(html.contains("Udfyld startdato."));
    assert!(!html.contains("1302991234"), "the CPR is not sent back");
    assert!(html.contains("skrives igen"));
    assert!(html.contains("value=\"Alma\""), "other input is kept");

    let r = create_child(&c, solsikken, &[("cpr", "1302991234")]).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let id = child_id_from(&location(&r));
    let mut conn = app.owner_conn().await;
    let (cpr, birth): (String, String) =
        sqlx::query_as("SELECT cpr, birth_date::text FROM children WHERE id = $1")
            .bind(id)
            .fetch_one(&mut conn)
            .await
            .unwrap();
    assert_eq!(cpr, "130299-1234", "normalised to the dashed form");
    assert_eq!(birth, "1999-02-13");
}

#[tokio::test]
async fn invalid_children_are_field_errors_and_nothing_is_saved() {
    let app = spawn_app().await;
    let solsikken = institution(&app, "Børnehaven Solsikken").await;
    let mariehoenen = institution(&app, "Børnehaven Mariehønen").await;
    let c = app.login(PAEDAGOG).await;
    let before = app.count("SELECT count(*) FROM children").await;

    let long = "x".repeat(1000);
    let cases: Vec<(Vec<(&str, &str)>, &str)> = vec![
        (vec![("cpr", "310299-1234")], "gyldig fødselsdato"),
        (vec![("cpr", "31029-1234")], "10 cifre"),
        (
            vec![("cpr", "150321-4321"), ("birth_date", "2021-03-16")],
            "passer ikke med fødselsdatoen 16-03-2021",
        ),
        (vec![("birth_date", "")], "Udfyld fødselsdato."),
        (vec![("birth_date", "2021-02-30")], "gyldig dato"),
        (vec![("birth_date", "99999-01-01")], "gyldig dato"),
        (vec![("birth_date", "1985-01-01")], "efter 1. januar 1990"),
        (
            vec![("birth_date", "2021-01-01"), ("first_name", long.as_str())],
            "Fornavn må højst være 100 tegn.",
        ),
        (
            vec![("birth_date", "2021-01-01"), ("last_name", " ")],
            "Udfyld efternavn.",
        ),
        (
            vec![("birth_date", "2021-01-01"), ("starts_on", "2020-01-01")],
            "før barnets fødselsdato",
        ),
        (
            vec![("birth_date", "2021-01-01"), ("institution_id", "")],
            "Vælg en institution.",
        ),
    ];
    for (fields, message) in cases {
        let r = create_child(&c, solsikken, &fields).await;
        assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY, "{fields:?}");
        let html = r.text().await.unwrap();
        assert!(html.contains(message), "{message} for {fields:?}");
        assert!(html.contains("Der er problemer"), "error summary");
    }
    // An institution the pedagogue does not work at is refused like a missing one.
    let other = mariehoenen.to_string();
    let r = create_child(
        &c,
        solsikken,
        &[("birth_date", "2021-01-01"), ("institution_id", &other)],
    )
    .await;
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);

    // A megabyte is stopped before it reaches the handler.
    let huge = "x".repeat(1 << 20);
    let r = create_child(&c, solsikken, &[("first_name", &huge)]).await;
    assert_eq!(r.status(), StatusCode::PAYLOAD_TOO_LARGE);

    assert_eq!(app.count("SELECT count(*) FROM children").await, before);

    // Duplicate CPR: a field error, and the second child is not half-saved.
    let r = create_child(&c, solsikken, &[("cpr", "150321-4321")]).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let r = create_child(
        &c,
        solsikken,
        &[("cpr", "1503214321"), ("first_name", "Bodil")],
    )
    .await;
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let html = r.text().await.unwrap();
    assert!(html.contains("Der er allerede registreret et barn med dette CPR-nummer."));
    assert!(html.contains("value=\"Bodil\""));
    assert_eq!(app.count("SELECT count(*) FROM children").await, before + 1);
    assert_eq!(
        app.count("SELECT count(*) FROM enrolments e JOIN children c ON c.id = e.child_id WHERE c.first_name = 'Bodil'").await,
        0
    );
}

#[tokio::test]
async fn staff_see_only_children_of_their_institution() {
    let app = spawn_app().await;
    let elsewhere = seed_child(&app, "Børnehaven Mariehønen", "Mira", "Marie", None).await;
    let ours = seed_child(&app, "Børnehaven Solsikken", "Sol", "Sikke", None).await;
    let guardian = seed_guardian(&app, elsewhere, "Mor Marie").await;
    let enrolment = enrolment_of(&app, elsewhere).await;

    for email in [PAEDAGOG, LEDER] {
        let c = app.login(email).await;
        for path in [
            format!("/children/{elsewhere}"),
            format!("/children/{elsewhere}/edit"),
            format!("/children/{elsewhere}/guardians/new"),
            format!("/children/{elsewhere}/guardians/{guardian}/edit"),
            format!("/children/{elsewhere}/enrolments/new"),
            format!("/children/{elsewhere}/enrolments/{enrolment}/end"),
            // A guardian of another child under a child in scope is not found either.
            format!("/children/{ours}/guardians/{guardian}/edit"),
            format!("/children/{ours}/enrolments/{enrolment}/end"),
        ] {
            assert_eq!(
                c.get(&path).await.status(),
                StatusCode::NOT_FOUND,
                "{email} {path}"
            );
        }
        let (status, list) = c.get_text("/children").await;
        assert_eq!(status, StatusCode::OK);
        assert!(list.contains("Sol Sikke"), "{email}");
        assert!(!list.contains("Mira Marie"), "{email}");
        assert_eq!(
            c.get(&format!("/children/{ours}")).await.status(),
            StatusCode::OK
        );
    }

    let admin = app.login(ADMIN).await;
    let (status, page) = admin.get_text(&format!("/children/{elsewhere}")).await;
    assert_eq!(status, StatusCode::OK);
    assert!(page.contains("Mira Marie") && page.contains("Mor Marie"));
    let (_, list) = admin.get_text("/children").await;
    assert!(list.contains("Mira Marie") && list.contains("Sol Sikke"));
    // The admin can filter by institution.
    let mariehoenen = institution(&app, "Børnehaven Mariehønen").await;
    let (_, list) = admin
        .get_text(&format!("/children?institution={mariehoenen}"))
        .await;
    assert!(list.contains("Mira Marie") && !list.contains("Sol Sikke"));

    let teacher = app.login(LAERER).await;
    assert_eq!(
        teacher.get(&format!("/children/{ours}")).await.status(),
        StatusCode::NOT_FOUND
    );
    let (status, list) = teacher.get_text("/children").await;
    assert_eq!(status, StatusCode::OK);
    assert!(!list.contains("Sol Sikke") && !list.contains("Mira Marie"));
}

#[tokio::test]
async fn an_enrolment_that_ended_yesterday_drops_the_child_out_of_scope() {
    let app = spawn_app().await;
    let yesterday = day(&app, -1).await;
    let today = day(&app, 0).await;
    let ended = seed_child(
        &app,
        "Børnehaven Solsikken",
        "Ebbe",
        "Endt",
        Some(&yesterday),
    )
    .await;
    let last_day = seed_child(&app, "Børnehaven Solsikken", "Tove", "Idag", Some(&today)).await;
    let future = seed_child(&app, "Børnehaven Solsikken", "Frede", "Snart", None).await;
    {
        let mut conn = app.owner_conn().await;
        sqlx::query("UPDATE enrolments SET starts_on = current_date + 30 WHERE child_id = $1")
            .bind(future)
            .execute(&mut conn)
            .await
            .unwrap();
    }
    let c = app.login(PAEDAGOG).await;
    assert_eq!(
        c.get(&format!("/children/{ended}")).await.status(),
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        c.get(&format!("/children/{last_day}")).await.status(),
        StatusCode::OK
    );
    assert_eq!(
        c.get(&format!("/children/{future}")).await.status(),
        StatusCode::OK
    );
    let (_, list) = c.get_text("/children").await;
    assert!(!list.contains("Ebbe Endt"));
    assert!(list.contains("Tove Idag"));
    assert!(list.contains("(fra "), "a future start is marked");

    // Ending an enrolment through the page: the child leaves the pedagogue's scope.
    let child = seed_child(&app, "Børnehaven Solsikken", "Ida", "Ud", None).await;
    let enrolment = enrolment_of(&app, child).await;
    let end_path = format!("/children/{child}/enrolments/{enrolment}/end");
    let token = c.csrf(&end_path).await;
    let r = c
        .post_form(&end_path, &[("_csrf", &token), ("ends_on", "2024-07-01")])
        .await;
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(r.text().await.unwrap().contains("før startdatoen"));
    let r = c
        .post_form(&end_path, &[("_csrf", &token), ("ends_on", &yesterday)])
        .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&r), "/children");
    let (_, list) = c.get_text("/children").await;
    assert!(list.contains("ikke længere indskrevet"));
    assert_eq!(
        c.get(&format!("/children/{child}")).await.status(),
        StatusCode::NOT_FOUND
    );
    let admin = app.login(ADMIN).await;
    let (status, page) = admin.get_text(&format!("/children/{child}")).await;
    assert_eq!(status, StatusCode::OK);
    assert!(page.contains("Afsluttet"));
    assert_eq!(
        app.count(&format!("SELECT count(*) FROM audit_log WHERE action = 'update' AND entity_type = 'enrolment' AND entity_id = '{enrolment}'")).await,
        1
    );
}

#[tokio::test]
async fn leaders_and_staff_enrol_only_at_their_own_institutions() {
    let app = spawn_app().await;
    let mariehoenen = institution(&app, "Børnehaven Mariehønen").await;
    let solsikken = institution(&app, "Børnehaven Solsikken").await;
    let child = seed_child(&app, "Børnehaven Solsikken", "Karl", "Skifter", None).await;
    {
        let mut conn = app.owner_conn().await;
        sqlx::query(
            "INSERT INTO enrolments (municipality_id, child_id, institution_id, starts_on)
             SELECT municipality_id, id, $2, DATE '2025-01-01' FROM children WHERE id = $1",
        )
        .bind(child)
        .bind(mariehoenen)
        .execute(&mut conn)
        .await
        .unwrap();
    }
    let foreign_enrolment: Uuid = {
        let mut conn = app.owner_conn().await;
        sqlx::query_scalar("SELECT id FROM enrolments WHERE child_id = $1 AND institution_id = $2")
            .bind(child)
            .bind(mariehoenen)
            .fetch_one(&mut conn)
            .await
            .unwrap()
    };
    let c = app.login(LEDER).await;
    let (status, page) = c.get_text(&format!("/children/{child}")).await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        page.contains("Børnehaven Mariehønen"),
        "the child's other enrolment is shown"
    );

    let path = format!("/children/{child}/enrolments");
    let token = c.csrf(&format!("{path}/new")).await;
    let r = c
        .post_form(
            &path,
            &[
                ("_csrf", &token),
                ("institution_id", &mariehoenen.to_string()),
                ("starts_on", "2025-02-01"),
            ],
        )
        .await;
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(r.text().await.unwrap().contains("Vælg en institution."));

    // Another institution's enrolment may not be ended or removed by the leader.
    let end = format!("/children/{child}/enrolments/{foreign_enrolment}/end");
    assert_eq!(c.get(&end).await.status(), StatusCode::FORBIDDEN);
    let r = c
        .post_form(
            &format!("/children/{child}/enrolments/{foreign_enrolment}/delete"),
            &[("_csrf", &token)],
        )
        .await;
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    // Nor the child deleted, since Mariehønen's record would go with it.
    let r = c
        .post_form(&format!("/children/{child}/delete"), &[("_csrf", &token)])
        .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert_eq!(
        app.count(&format!(
            "SELECT count(*) FROM children WHERE id = '{child}'"
        ))
        .await,
        1
    );

    // At their own institution they may.
    let r = c
        .post_form(
            &path,
            &[
                ("_csrf", &token),
                ("institution_id", &solsikken.to_string()),
                ("group_name", "Stue C"),
                ("starts_on", "2025-02-01"),
                ("ends_on", ""),
            ],
        )
        .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&r), format!("/children/{child}"));

    // The administrator may anywhere.
    let admin = app.login(ADMIN).await;
    let token = admin.csrf(&format!("{path}/new")).await;
    let r = admin
        .post_form(
            &path,
            &[
                ("_csrf", &token),
                ("institution_id", &mariehoenen.to_string()),
                ("starts_on", "2025-03-01"),
                ("ends_on", "2025-02-01"),
            ],
        )
        .await;
    assert_eq!(
        r.status(),
        StatusCode::UNPROCESSABLE_ENTITY,
        "end before start"
    );
    let r = admin
        .post_form(
            &format!("/children/{child}/enrolments/{foreign_enrolment}/delete"),
            &[("_csrf", &token)],
        )
        .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let r = admin
        .post_form(&format!("/children/{child}/delete"), &[("_csrf", &token)])
        .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&r), "/children");
    assert_eq!(
        app.count(&format!(
            "SELECT count(*) FROM children WHERE id = '{child}'"
        ))
        .await,
        0
    );
    assert_eq!(
        app.count(&format!("SELECT count(*) FROM audit_log WHERE action = 'delete' AND entity_type = 'child' AND child_id = '{child}'")).await,
        1
    );
}

#[tokio::test]
async fn analysts_specialists_and_the_operator_see_no_child() {
    let app = spawn_app().await;
    let child = seed_child(&app, "Børnehaven Solsikken", "Ane", "Skjult", None).await;
    for email in [
        "analytiker@vejle.overgang.test",
        "specialist@vejle.overgang.test",
        "operator@overgang.test",
    ] {
        let c = app.login(email).await;
        for path in [
            "/children".to_string(),
            "/children/new".to_string(),
            format!("/children/{child}"),
            format!("/children/{child}/edit"),
        ] {
            let (status, html) = c.get_text(&path).await;
            assert_eq!(status, StatusCode::FORBIDDEN, "{email} {path}");
            assert!(!html.contains("Ane Skjult"));
        }
        let token = c.csrf("/").await;
        let r = c
            .post_form(&format!("/children/{child}/delete"), &[("_csrf", &token)])
            .await;
        assert_eq!(r.status(), StatusCode::FORBIDDEN, "{email}");
        let r = c
            .post_form("/children/search", &[("_csrf", &token), ("q", "Ane")])
            .await;
        assert_eq!(r.status(), StatusCode::FORBIDDEN, "{email}");
        let (_, home) = c.get_text("/").await;
        assert!(
            !home.contains("href=\"/children\""),
            "no Børn menu item for {email}"
        );
    }
    assert_eq!(
        app.count(&format!(
            "SELECT count(*) FROM children WHERE id = '{child}'"
        ))
        .await,
        1
    );
}

#[tokio::test]
async fn another_municipality_gets_404_everywhere() {
    let app = spawn_app().await;
    let child = seed_child(&app, "Børnehaven Solsikken", "Vera", "Vejle", None).await;
    let guardian = seed_guardian(&app, child, "Far Vejle").await;
    let enrolment = enrolment_of(&app, child).await;
    let c = app.login(STEVNS_ADMIN).await;
    for path in [
        format!("/children/{child}"),
        format!("/children/{child}/edit"),
        format!("/children/{child}/guardians/new"),
        format!("/children/{child}/guardians/{guardian}/edit"),
        format!("/children/{child}/enrolments/new"),
        format!("/children/{child}/enrolments/{enrolment}/end"),
        "/children/not-a-uuid".to_string(),
        format!("/children/{child}/guardians/nope/edit"),
    ] {
        assert_eq!(c.get(&path).await.status(), StatusCode::NOT_FOUND, "{path}");
    }
    let token = c.csrf("/children").await;
    for path in [
        format!("/children/{child}/edit"),
        format!("/children/{child}/delete"),
        format!("/children/{child}/guardians"),
        format!("/children/{child}/guardians/{guardian}/edit"),
        format!("/children/{child}/guardians/{guardian}/delete"),
        format!("/children/{child}/enrolments"),
        format!("/children/{child}/enrolments/{enrolment}/end"),
        format!("/children/{child}/enrolments/{enrolment}/delete"),
    ] {
        let r = c
            .post_form(
                &path,
                &[
                    ("_csrf", &token),
                    ("first_name", "X"),
                    ("last_name", "Y"),
                    ("birth_date", "2021-01-01"),
                    ("name", "Z"),
                    ("relation", "mor"),
                    ("ends_on", "2025-01-01"),
                ],
            )
            .await;
        assert_eq!(r.status(), StatusCode::NOT_FOUND, "POST {path}");
    }
    let (_, list) = c.get_text("/children").await;
    assert!(!list.contains("Vera Vejle"));
    assert_eq!(
        app.count(&format!(
            "SELECT count(*) FROM guardians WHERE id = '{guardian}' AND name = 'Far Vejle'"
        ))
        .await,
        1
    );
    assert_eq!(
        app.count(&format!(
            "SELECT count(*) FROM enrolments WHERE id = '{enrolment}' AND ends_on IS NULL"
        ))
        .await,
        1
    );
    assert_eq!(
        app.count(&format!(
            "SELECT count(*) FROM children WHERE id = '{child}' AND first_name = 'Vera'"
        ))
        .await,
        1
    );
}

#[tokio::test]
async fn guardians_are_added_edited_and_removed() {
    let app = spawn_app().await;
    let child = seed_child(&app, "Børnehaven Solsikken", "Gerda", "Guld", None).await;
    let c = app.login(PAEDAGOG).await;
    let base = format!("/children/{child}");
    let token = c.csrf(&format!("{base}/guardians/new")).await;

    let r = c
        .post_form(
            &format!("{base}/guardians"),
            &[
                ("_csrf", &token),
                ("name", "Mette Guld"),
                ("relation", "Mor"),
                ("email", "nope"),
                ("phone", "12"),
                ("has_custody", "ja"),
            ],
        )
        .await;
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let html = r.text().await.unwrap();
    assert!(html.contains("gyldig e-mailadresse") && html.contains("8 til 20 cifre"));
    assert!(html.contains("value=\"Mette Guld\""));

    let r = c
        .post_form(
            &format!("{base}/guardians"),
            &[
                ("_csrf", &token),
                ("name", "Mette Guld"),
                ("relation", "Mor"),
                ("email", "Mette@Example.dk"),
                ("phone", "+45 12 34 56 78"),
                ("has_custody", "ja"),
            ],
        )
        .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&r), base);
    let (_, page) = c.get_text(&base).await;
    assert!(page.contains("Mette Guld") && page.contains("mette@example.dk"));
    assert!(page.contains("+4512345678"));

    let mut conn = app.owner_conn().await;
    let gid: Uuid = sqlx::query_scalar("SELECT id FROM guardians WHERE child_id = $1")
        .bind(child)
        .fetch_one(&mut conn)
        .await
        .unwrap();
    let edit = format!("{base}/guardians/{gid}/edit");
    let (status, form) = c.get_text(&edit).await;
    assert_eq!(status, StatusCode::OK);
    assert!(form.contains("value=\"Mette Guld\"") && form.contains("checked"));
    let r = c
        .post_form(
            &edit,
            &[
                ("_csrf", &token),
                ("name", "Mette Sølv"),
                ("relation", "Mor"),
                ("email", ""),
                ("phone", "12345678"),
            ],
        )
        .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let (custody, email, name): (bool, Option<String>, String) =
        sqlx::query_as("SELECT has_custody, email, name FROM guardians WHERE id = $1")
            .bind(gid)
            .fetch_one(&mut conn)
            .await
            .unwrap();
    assert_eq!((custody, email, name.as_str()), (false, None, "Mette Sølv"));

    let r = c
        .post_form(
            &format!("{base}/guardians/{gid}/delete"),
            &[("_csrf", &token)],
        )
        .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let (_, page) = c.get_text(&base).await;
    assert!(page.contains("Forælderen er fjernet.") && !page.contains("Mette Sølv"));
    let audited: Vec<String> = sqlx::query_scalar(
        "SELECT action FROM audit_log WHERE entity_type = 'guardian' AND child_id = $1 ORDER BY id",
    )
    .bind(child)
    .fetch_all(&mut conn)
    .await
    .unwrap();
    assert_eq!(audited, ["create", "read", "update", "delete"]);
}

#[tokio::test]
async fn without_the_csrf_token_nothing_changes() {
    let app = spawn_app().await;
    let solsikken = institution(&app, "Børnehaven Solsikken").await;
    let child = seed_child(&app, "Børnehaven Solsikken", "Carl", "Sikker", None).await;
    let guardian = seed_guardian(&app, child, "Far Sikker").await;
    let c = app.login(PAEDAGOG).await;
    let inst = solsikken.to_string();
    let r = c
        .post_form(
            "/children",
            &[
                ("first_name", "Uden"),
                ("last_name", "Token"),
                ("birth_date", "2021-01-01"),
                ("institution_id", &inst),
                ("starts_on", "2024-08-01"),
            ],
        )
        .await;
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    let r = c
        .post_form(
            &format!("/children/{child}/guardians/{guardian}/delete"),
            &[("_csrf", "forkert")],
        )
        .await;
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    let r = c.post_form(&format!("/children/{child}/delete"), &[]).await;
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    assert_eq!(
        app.count("SELECT count(*) FROM children WHERE first_name = 'Uden'")
            .await,
        0
    );
    assert_eq!(
        app.count(&format!(
            "SELECT count(*) FROM guardians WHERE id = '{guardian}'"
        ))
        .await,
        1
    );
    assert_eq!(
        app.count(&format!(
            "SELECT count(*) FROM children WHERE id = '{child}'"
        ))
        .await,
        1
    );
}

#[tokio::test]
async fn script_in_names_is_rendered_inert() {
    let app = spawn_app().await;
    let solsikken = institution(&app, "Børnehaven Solsikken").await;
    let c = app.login(PAEDAGOG).await;
    let evil = "<script>alert(1)</script>";
    let r = create_child(
        &c,
        solsikken,
        &[
            ("first_name", evil),
            ("birth_date", "2021-01-01"),
            ("group_name", "<b>x</b>"),
        ],
    )
    .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let page_path = location(&r);
    let (_, list) = c.get_text("/children?q=script").await;
    let (_, page) = c.get_text(&page_path).await;
    for html in [list, page] {
        assert!(!html.contains(evil) && !html.contains("<b>x</b>"));
        assert!(
            html.contains("&lt;script&gt;alert(1)") || html.contains("&#60;script&#62;alert(1)")
        );
    }
}

#[tokio::test]
async fn the_cpr_is_changed_and_removed_on_edit() {
    let app = spawn_app().await;
    let solsikken = institution(&app, "Børnehaven Solsikken").await;
    let c = app.login(PAEDAGOG).await;
    let r = create_child(&c, solsikken, &[("cpr", "150321-4321")]).await;
    let id = child_id_from(&location(&r));
    let edit = format!("/children/{id}/edit");
    let token = c.csrf(&edit).await;
    let post = |fields: Vec<(&'static str, &'static str)>| {
        let mut form = vec![
            ("_csrf", token.as_str()),
            ("first_name", "Alma"),
            ("last_name", "Jørgensen"),
            ("birth_date", "2021-03-15"),
        ];
        for (k, v) in fields {
            match form.iter_mut().find(|(name, _)| *name == k) {
                Some(slot) => slot.1 = v,
                None => form.push((k, v)),
            }
        }
        let c = &c;
        let edit = edit.clone();
        async move { c.post_form(&edit, &form).await }
    };

    // Leaving the field empty keeps the number; nothing changed, nothing audited.
    let r = post(vec![("cpr", "")]).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    // A birth date that disagrees with the stored number is refused.
    let r = post(vec![("birth_date", "2021-03-16")]).await;
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(r
        .text()
        .await
        .unwrap()
        .contains("registrerede CPR-nummer (150321-xxxx)"));
    // Both a new number and "remove" is a contradiction.
    let r = post(vec![("cpr", "150321-4999"), ("remove_cpr", "ja")]).await;
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);

    let r = post(vec![("cpr", "150321-4999")]).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let (_, page) = c.get_text(&format!("/children/{id}")).await;
    assert!(page.contains("150321-xxxx") && !page.contains("4999"));

    let r = post(vec![("remove_cpr", "ja"), ("first_name", "Alma Marie")]).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let (_, page) = c.get_text(&format!("/children/{id}")).await;
    assert!(page.contains("Ikke registreret") && page.contains("Alma Marie"));

    let mut conn = app.owner_conn().await;
    let cpr: Option<String> = sqlx::query_scalar("SELECT cpr FROM children WHERE id = $1")
        .bind(id)
        .fetch_one(&mut conn)
        .await
        .unwrap();
    assert_eq!(cpr, None);
    let actions: Vec<String> = sqlx::query_scalar(
        "SELECT action FROM audit_log WHERE child_id = $1 AND action LIKE 'cpr_%' ORDER BY id",
    )
    .bind(id)
    .fetch_all(&mut conn)
    .await
    .unwrap();
    assert_eq!(actions, ["cpr_set", "cpr_changed", "cpr_removed"]);
    let update: serde_json::Value = sqlx::query_scalar(
        "SELECT details FROM audit_log WHERE child_id = $1 AND action = 'update' AND entity_type = 'child'",
    )
    .bind(id)
    .fetch_one(&mut conn)
    .await
    .unwrap();
    assert_eq!(update, serde_json::json!({"fields": ["first_name"]}));
    assert_eq!(
        app.count("SELECT count(*) FROM audit_log WHERE details::text ~ '150321|4999|4321'")
            .await,
        0
    );
}

#[tokio::test]
async fn the_list_is_paginated() {
    let app = spawn_app().await;
    let mut conn = app.owner_conn().await;
    sqlx::query(
        "WITH i AS (SELECT municipality_id, id FROM institutions WHERE name = 'Børnehaven Solsikken'),
              c AS (INSERT INTO children (municipality_id, first_name, last_name, birth_date)
                    SELECT i.municipality_id, 'Barn', 'Nummer ' || lpad(n::text, 3, '0'), DATE '2021-01-01'
                    FROM i, generate_series(1, 120) n RETURNING municipality_id, id)
         INSERT INTO enrolments (municipality_id, child_id, institution_id, starts_on)
         SELECT c.municipality_id, c.id, i.id, DATE '2024-08-01' FROM c, i",
    )
    .execute(&mut conn)
    .await
    .unwrap();
    let c = app.login(PAEDAGOG).await;
    let (_, first) = c.get_text("/children").await;
    assert!(first.contains("Viser 1–50 af 120 børn."));
    assert!(first.contains("Nummer 001") && first.contains("Nummer 050"));
    assert!(!first.contains("Nummer 051"));
    assert!(first.contains("href=\"/children?page=2\""));
    assert!(first.contains("href=\"/children?page=3\""));
    let (_, third) = c.get_text("/children?page=3").await;
    assert!(third.contains("Viser 101–120 af 120 børn."));
    assert!(third.contains("Nummer 120") && !third.contains("Nummer 100"));
    let (_, searched) = c.get_text("/children?q=nummer+0&page=2").await;
    assert!(
        searched.contains("Viser 51–99 af 99 børn."),
        "search results are paginated too"
    );
    assert!(searched.contains("href=\"/children?q=nummer%200\""));
    for odd in [
        "/children?page=0",
        "/children?page=abc",
        "/children?page=99999999999999",
    ] {
        let (status, _) = c.get_text(odd).await;
        assert_eq!(status, StatusCode::OK, "{odd}");
    }
    let (status, beyond) = c.get_text("/children?page=9").await;
    assert_eq!(status, StatusCode::OK);
    assert!(beyond.contains("Der er ingen børn på denne side."));
}

#[tokio::test]
async fn reading_a_child_is_audited() {
    let app = spawn_app().await;
    let child = seed_child(&app, "Børnehaven Solsikken", "Rita", "Læst", None).await;
    let c = app.login(LEDER).await;
    assert_eq!(
        c.get(&format!("/children/{child}")).await.status(),
        StatusCode::OK
    );
    assert_eq!(
        c.get(&format!("/children/{child}/edit")).await.status(),
        StatusCode::OK
    );
    let mut conn = app.owner_conn().await;
    let rows: Vec<(String, String, Option<String>)> = sqlx::query_as(
        "SELECT a.action, u.email, a.role FROM audit_log a JOIN users u ON u.id = a.user_id
         WHERE a.child_id = $1 ORDER BY a.id",
    )
    .bind(child)
    .fetch_all(&mut conn)
    .await
    .unwrap();
    assert_eq!(rows.len(), 2);
    for (action, email, role) in rows {
        assert_eq!(action, "read");
        assert_eq!(email, LEDER);
        assert_eq!(role.as_deref(), Some("Leder"));
    }
}

/// One institution's children list reads `child_scope` (migration 27), kept by triggers on
/// enrolments, transitions and children. After every kind of change the table must hold what a
/// recomputation from scratch gives, and the list must show the same children, totals and
/// order as the general statement (used for a scope of two institutions).
#[tokio::test]
async fn the_maintained_child_scope_follows_every_change() {
    use overgang::{
        auth::ChildScope,
        children::queries::{list, ListFilter},
        db::{self, Scope},
    };

    let app = spawn_app().await;
    let mut conn = app.owner_conn().await;
    let m = app.municipality_id("0630").await;
    let solsikken = institution(&app, "Børnehaven Solsikken").await;
    let bakkeskolen = institution(&app, "Bakkeskolen").await;
    // an institution with no children: with it the scope has two institutions, and the list
    // takes the general statement
    let skovtrolden = institution(&app, "Børnehaven Skovtrolden").await;

    let mut kids = Vec::new();
    for (i, name) in ["Åse", "aage", "Bo", "Carl", "Dina", "Eva", "Finn"]
        .iter()
        .enumerate()
    {
        let (_, _, child) = app
            .enrolled_child(
                "Børnehaven Solsikken",
                (name, "Holm"),
                "2021-03-01",
                30 + i as i32,
            )
            .await;
        kids.push(child);
    }
    let template: Uuid = sqlx::query_scalar(
        "SELECT id FROM form_templates WHERE municipality_id = $1 AND status = 'published'
         AND transition_kind = 'kindergarten_school' LIMIT 1",
    )
    .bind(m)
    .fetch_one(&mut conn)
    .await
    .unwrap();
    let transition = |child: Uuid, from: Uuid, to: Uuid, status: &str| {
        format!(
            "INSERT INTO transitions (municipality_id, child_id, sending_institution_id,
               receiving_institution_id, kind, planned_date, template_id, status)
             VALUES ('{m}', '{child}', '{from}', '{to}', 'kindergarten_school',
                     current_date + 200, '{template}', '{status}')"
        )
    };
    let changes = [
        // ended yesterday, ends tomorrow, starts later
        format!(
            "UPDATE enrolments SET ends_on = current_date - 1 WHERE child_id = '{}'",
            kids[0]
        ),
        format!(
            "UPDATE enrolments SET ends_on = current_date + 1 WHERE child_id = '{}'",
            kids[1]
        ),
        format!(
            "UPDATE enrolments SET starts_on = current_date + 10 WHERE child_id = '{}'",
            kids[2]
        ),
        // an open transition keeps the ended child in view at both ends; cancelled and closed
        // ones do not
        transition(kids[0], solsikken, bakkeskolen, "draft"),
        transition(kids[3], solsikken, bakkeskolen, "cancelled"),
        transition(kids[4], bakkeskolen, solsikken, "sent"),
        format!(
            "UPDATE transitions SET status = 'closed' WHERE child_id = '{}'",
            kids[4]
        ),
        // moved to another institution, renamed, removed
        format!(
            "UPDATE enrolments SET institution_id = '{bakkeskolen}' WHERE child_id = '{}'",
            kids[5]
        ),
        format!(
            "UPDATE children SET last_name = 'Abel' WHERE id = '{}'",
            kids[6]
        ),
        format!("DELETE FROM enrolments WHERE child_id = '{}'", kids[3]),
        format!("DELETE FROM children WHERE id = '{}'", kids[1]),
    ];
    for (step, change) in changes.into_iter().enumerate() {
        sqlx::query(&change).execute(&mut conn).await.unwrap();
        let (kept, fresh): (Vec<String>, Vec<String>) = sqlx::query_as(
            "SELECT
               (SELECT coalesce(array_agg(s ORDER BY s), '{}') FROM (
                  SELECT concat_ws(' ', institution_id, child_id, until, last_lower, first_lower) s
                  FROM child_scope) x),
               (SELECT coalesce(array_agg(s ORDER BY s), '{}') FROM (
                  SELECT concat_ws(' ', r.institution_id, r.child_id,
                                   CASE WHEN bool_or(r.until IS NULL) THEN NULL ELSE max(r.until) END,
                                   lower(c.last_name), lower(c.first_name)) s
                  FROM (SELECT e.municipality_id, e.child_id, e.institution_id, e.ends_on AS until
                        FROM enrolments e
                        UNION ALL
                        SELECT t.municipality_id, t.child_id, x.institution_id, NULL
                        FROM transitions t
                        CROSS JOIN LATERAL (VALUES (t.sending_institution_id),
                                                   (t.receiving_institution_id)) x(institution_id)
                        WHERE t.status NOT IN ('cancelled', 'closed')) r
                  JOIN children c ON c.municipality_id = r.municipality_id AND c.id = r.child_id
                  GROUP BY r.institution_id, r.child_id, c.last_name, c.first_name) y)",
        )
        .fetch_one(&mut conn)
        .await
        .unwrap();
        assert_eq!(kept, fresh, "after change {step}");

        for institution in [solsikken, bakkeskolen] {
            let mut tx = db::begin(&app.db, Scope::Municipality(m)).await.unwrap();
            for page in [1, 2] {
                let filter = ListFilter {
                    pattern: None,
                    institution: None,
                    page,
                };
                let names = |(rows, total): (Vec<overgang::children::queries::ListRow>, i64)| {
                    let shown: Vec<String> = rows
                        .into_iter()
                        .map(|r| {
                            format!(
                                "{} {} {:?}",
                                r.first_name,
                                r.last_name,
                                r.placements.0.len()
                            )
                        })
                        .collect();
                    (shown, total)
                };
                let one = ChildScope::Institutions(vec![institution]);
                let two = ChildScope::Institutions(vec![institution, skovtrolden]);
                let fast = names(list(&mut tx, m, &one, &filter).await.unwrap());
                let general = names(list(&mut tx, m, &two, &filter).await.unwrap());
                assert_eq!(fast, general, "after change {step}, page {page}");
                // the institution filter of an administrator takes the same path
                let filtered = ListFilter {
                    institution: Some(institution),
                    ..filter
                };
                let admin = names(
                    list(&mut tx, m, &ChildScope::Municipality, &filtered)
                        .await
                        .unwrap(),
                );
                assert_eq!(admin, general, "after change {step}, page {page}, filtered");
            }
        }
    }
    // What the pedagogue at Solsikken sees in the end: the ended child through its open
    // transition, the child starting later, the child whose transition here closed (still
    // enrolled), sorted by name; not the moved, unenrolled or deleted ones.
    let (_, html) = app.login(PAEDAGOG).await.get_text("/children").await;
    let at = |n: &str| html.find(n).unwrap_or_else(|| panic!("{n} is listed"));
    assert!(at("Finn Abel") < at("Bo Holm") && at("Finn Abel") < at("Dina Holm"));
    assert!(at("Finn Abel") < at("Åse Holm"));
    for gone in ["aage Holm", "Carl Holm", "Eva Holm"] {
        assert!(!html.contains(gone), "{gone} is not listed");
    }
}

/// The children list shows each child's placements from the copy kept on the child
/// (`children.placements`, migration 30) by triggers on enrolments and institutions. Every kind
/// of change, made as the app makes it (its role, under row-level security), must leave each
/// child's copy as a recomputation from scratch gives it, and the list must show what the
/// enrolments say today: ended ones gone, coming ones with their start date.
#[tokio::test]
async fn the_placements_kept_on_the_child_follow_every_change() {
    use overgang::db::{self, Scope};

    let app = spawn_app().await;
    let mut conn = app.owner_conn().await;
    let m = app.municipality_id("0630").await;
    let bakkeskolen = institution(&app, "Bakkeskolen").await;
    let mut kids = Vec::new();
    for name in ["Ida", "Jens", "Karla", "Lauge"] {
        let (_, _, child) = app
            .enrolled_child("Børnehaven Solsikken", (name, "Krog"), "2021-05-01", 40)
            .await;
        kids.push(child);
    }
    let changes = [
        // a coming school place with a class, and a group at the kindergarten
        format!(
            "INSERT INTO enrolments (municipality_id, child_id, institution_id, group_name, starts_on)
             VALUES ('{m}', '{}', '{bakkeskolen}', '0.A', current_date + 30)",
            kids[0]
        ),
        format!(
            "UPDATE enrolments SET group_name = 'Rød stue' WHERE child_id = '{}'
             AND institution_id <> '{bakkeskolen}'",
            kids[0]
        ),
        // ended yesterday, ends today, starts later
        format!(
            "UPDATE enrolments SET ends_on = current_date - 1 WHERE child_id = '{}'",
            kids[1]
        ),
        format!(
            "UPDATE enrolments SET ends_on = current_date WHERE child_id = '{}'",
            kids[2]
        ),
        format!(
            "UPDATE enrolments SET starts_on = current_date + 3 WHERE child_id = '{}'",
            kids[3]
        ),
        // renamed institution, an enrolment moved to another child, removed, a child deleted
        "UPDATE institutions SET name = 'Skolen på Bakken' WHERE name = 'Bakkeskolen'".into(),
        format!(
            "UPDATE enrolments SET child_id = '{}' WHERE child_id = '{}'
             AND institution_id = '{bakkeskolen}'",
            kids[2], kids[0]
        ),
        format!("DELETE FROM enrolments WHERE child_id = '{}'", kids[0]),
        format!("DELETE FROM children WHERE id = '{}'", kids[1]),
    ];
    for (step, change) in changes.iter().enumerate() {
        let mut tx = db::begin(&app.db, Scope::Municipality(m)).await.unwrap();
        sqlx::query(change).execute(&mut *tx).await.unwrap();
        tx.commit().await.unwrap();
        let (kept, fresh): (Vec<String>, Vec<String>) = sqlx::query_as(
            "SELECT
               (SELECT array_agg(c.id || ' ' || c.placements ORDER BY c.id) FROM children c),
               (SELECT array_agg(c.id || ' ' || coalesce(p.placements, '[]') ORDER BY c.id)
                FROM children c
                LEFT JOIN LATERAL (
                    SELECT jsonb_agg(jsonb_build_object(
                               'institution', i.name, 'group_name', e.group_name,
                               'starts_on', e.starts_on, 'ends_on', e.ends_on)
                           ORDER BY e.starts_on, i.name) AS placements
                    FROM enrolments e
                    JOIN institutions i ON i.municipality_id = e.municipality_id
                                       AND i.id = e.institution_id
                    WHERE e.municipality_id = c.municipality_id AND e.child_id = c.id) p ON true)",
        )
        .fetch_one(&mut conn)
        .await
        .unwrap();
        assert_eq!(kept, fresh, "after change {step}: {change}");
    }

    // Karla's last day at the kindergarten is today, and she has Ida's school place; Lauge
    // starts in three days; Ida has no enrolment left; Jens is deleted.
    let (in_3_days, in_30_days) = (day(&app, 3).await, day(&app, 30).await);
    let dmy = |iso: &str| format!("{}-{}-{}", &iso[8..10], &iso[5..7], &iso[0..4]);
    let (_, html) = app.login(ADMIN).await.get_text("/children?q=Krog").await;
    let row = |name: &str| {
        let at = html
            .find(name)
            .unwrap_or_else(|| panic!("{name} is listed"));
        html[at..].split("</tr>").next().unwrap().to_string()
    };
    assert!(
        row("Karla Krog").contains(&format!("Skolen på Bakken, 0.A (fra {})", dmy(&in_30_days)))
    );
    assert!(row("Karla Krog").contains("Børnehaven Solsikken<br>"));
    assert!(row("Lauge Krog").contains(&format!("Børnehaven Solsikken (fra {})", dmy(&in_3_days))));
    assert!(row("Ida Krog").contains("Ingen aktuel indskrivning"));
    assert!(!html.contains("Jens Krog"));
}

/// A child with a handover to another institution: the sending side may not delete the child
/// (the receiver's handover, feedback and class placement would go with it), and the receiving
/// side may not take custody away from a guardian (custody decides whose consent a sensitive
/// section needs: removing the guardian who refused would show it to the receiver). The
/// sending side may change custody; an administrator may do both.
#[tokio::test]
async fn records_of_the_other_end_of_a_handover_are_not_removed_from_one_end() {
    let app = spawn_app().await;
    let (m, solsikken, child) = app
        .enrolled_child(
            "Børnehaven Solsikken",
            ("Oskar", "Overgang"),
            "2021-04-04",
            300,
        )
        .await;
    let mut conn = app.owner_conn().await;
    sqlx::raw_sql(&format!(
        "INSERT INTO enrolments (municipality_id, child_id, institution_id, starts_on)
         SELECT '{m}', '{child}', id, DATE '2027-08-01' FROM institutions WHERE name = 'Bakkeskolen';
         INSERT INTO transitions (municipality_id, child_id, sending_institution_id,
                                  receiving_institution_id, kind, planned_date, template_id, status)
         SELECT '{m}', '{child}', '{solsikken}', r.id, 'kindergarten_school', DATE '2027-08-01', t.id, 'sent'
         FROM institutions r, form_templates t
         WHERE r.name = 'Bakkeskolen' AND t.municipality_id = '{m}'
           AND t.transition_kind = 'kindergarten_school' AND t.status = 'published';"
    ))
    .execute(&mut conn)
    .await
    .unwrap();
    let guardian: Uuid = sqlx::query_scalar(
        "INSERT INTO guardians (municipality_id, child_id, name, has_custody)
         VALUES ($1, $2, 'Bo Far', true) RETURNING id",
    )
    .bind(m)
    .bind(child)
    .fetch_one(&mut conn)
    .await
    .unwrap();
    let base = format!("/children/{child}");
    let edit = format!("{base}/guardians/{guardian}/edit");
    let without_custody = |token: &str| {
        [
            ("_csrf", token.to_string()),
            ("name", "Bo Far".to_string()),
            ("relation", "Far".to_string()),
        ]
    };
    let custody = format!("SELECT count(*) FROM guardians WHERE id = '{guardian}' AND has_custody");

    // The receiving school's teacher: neither custody away nor the guardian removed.
    let teacher = app.login(LAERER).await;
    let token = teacher.csrf(&edit).await;
    let fields = without_custody(&token);
    let fields: Vec<(&str, &str)> = fields.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let r = teacher.post_form(&edit, &fields).await;
    assert_eq!(r.status(), StatusCode::CONFLICT);
    assert!(r.text().await.unwrap().contains("afgør samtykket"));
    let r = teacher
        .post_form(
            &format!("{base}/guardians/{guardian}/delete"),
            &[("_csrf", &token)],
        )
        .await;
    assert_eq!(r.status(), StatusCode::CONFLICT);
    assert_eq!(app.count(&custody).await, 1);
    // Nor the custody guardian's e-mail changed to the teacher's own (the parents' link, the
    // draft and the consent button would go there), nor a custody guardian added with it.
    let own_email = [
        ("_csrf", token.as_str()),
        ("name", "Bo Far"),
        ("relation", "Far"),
        ("email", "laerer@vejle.overgang.test"),
        ("has_custody", "true"),
    ];
    let r = teacher.post_form(&edit, &own_email).await;
    assert_eq!(r.status(), StatusCode::CONFLICT);
    let r = teacher
        .post_form(&format!("{base}/guardians"), &own_email)
        .await;
    assert_eq!(r.status(), StatusCode::CONFLICT);
    let emails =
        format!("SELECT count(*) FROM guardians WHERE child_id = '{child}' AND email IS NOT NULL");
    assert_eq!(app.count(&emails).await, 0);
    // What consent does not rest on, the receiving side may still change.
    let r = teacher
        .post_form(
            &edit,
            &[
                ("_csrf", token.as_str()),
                ("name", "Bo Far"),
                ("relation", "Far"),
                ("phone", "12345678"),
                ("has_custody", "true"),
            ],
        )
        .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let r = teacher
        .post_form(
            &format!("{base}/guardians"),
            &[
                ("_csrf", token.as_str()),
                ("name", "Bedstemor"),
                ("relation", "Bedstemor"),
                ("email", "bedste@example.dk"),
            ],
        )
        .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert_eq!(app.count(&emails).await, 1);

    // The school's enrolment ends (the teacher's scope needed it above): what keeps the
    // pedagogue from deleting the child below is the handover alone.
    app.count(&format!(
        "WITH gone AS (DELETE FROM enrolments e USING institutions i
                       WHERE e.child_id = '{child}' AND i.id = e.institution_id
                         AND i.name = 'Bakkeskolen' RETURNING 1)
         SELECT count(*) FROM gone"
    ))
    .await;
    // The sending kindergarten's pedagogue: custody may change, the child may not go.
    let pedagogue = app.login(PAEDAGOG).await;
    let token = pedagogue.csrf(&edit).await;
    let fields = without_custody(&token);
    let fields: Vec<(&str, &str)> = fields.iter().map(|(k, v)| (*k, v.as_str())).collect();
    assert_eq!(
        pedagogue.post_form(&edit, &fields).await.status(),
        StatusCode::SEE_OTHER
    );
    assert_eq!(app.count(&custody).await, 0);
    let (_, page) = pedagogue.get_text(&format!("{base}/edit")).await;
    assert!(
        !page.contains(&format!("{base}/delete")),
        "no delete button"
    );
    let r = pedagogue
        .post_form(&format!("{base}/delete"), &[("_csrf", &token)])
        .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let children = format!("SELECT count(*) FROM children WHERE id = '{child}'");
    assert_eq!(app.count(&children).await, 1);

    // The administrator may.
    let admin = app.login(ADMIN).await;
    let token = admin.csrf(&format!("{base}/edit")).await;
    let r = admin
        .post_form(&format!("{base}/delete"), &[("_csrf", &token)])
        .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert_eq!(app.count(&children).await, 0);
}

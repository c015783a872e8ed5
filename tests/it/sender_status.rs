//! The sender's status page: the counts of a constructed set of transitions in every state,
//! each count's link listing exactly the children counted, the leader's narrower view, and
//! refusals for the other roles and the other municipality.

use std::collections::BTreeSet;

use reqwest::StatusCode;
use uuid::Uuid;

use crate::common::{spawn_app, TestApp};

const ADMIN: &str = "admin@vejle.overgang.test";
const LEDER: &str = "leder@vejle.overgang.test";
const STEVNS_ADMIN: &str = "admin@stevns.overgang.test";

/// Years no demo transition uses: a future cohort (nothing overdue) and a past one.
const FUTURE: i32 = 2098;
const PAST: i32 = 2002;
const KIND: &str = "kindergarten_school";

struct Made {
    id: Uuid,
    institution: Uuid,
}

/// A transition from `from` to Bakkeskolen of a fresh child, in `status`, planned on
/// `planned`; `read`: a receiver opened it; `received`: an acknowledgement event.
async fn make(
    app: &TestApp,
    from: &str,
    name: &str,
    planned: &str,
    status: &str,
    read: bool,
    received: bool,
) -> Made {
    let (m, institution, child) = app
        .enrolled_child(from, (name, "Status"), "2020-02-02", 300)
        .await;
    let mut conn = app.owner_conn().await;
    let id: Uuid = sqlx::query_scalar(
        "INSERT INTO transitions (municipality_id, child_id, sending_institution_id,
                                  receiving_institution_id, kind, planned_date, template_id, status)
         SELECT $1, $2, $3, r.id, $4, $5::date, t.id, $6
         FROM institutions r, form_templates t
         WHERE r.municipality_id = $1 AND r.name = 'Bakkeskolen'
           AND t.municipality_id = $1 AND t.transition_kind = $4 AND t.status = 'published'
         RETURNING id",
    )
    .bind(m)
    .bind(child)
    .bind(institution)
    .bind(KIND)
    .bind(planned)
    .bind(status)
    .fetch_one(&mut conn)
    .await
    .unwrap();
    if read {
        sqlx::query(
            "INSERT INTO transition_reads (municipality_id, transition_id, user_id)
             SELECT $1, $2, id FROM users WHERE email = 'laerer@vejle.overgang.test'",
        )
        .bind(m)
        .bind(id)
        .execute(&mut conn)
        .await
        .unwrap();
    }
    if received {
        sqlx::query(
            "INSERT INTO transition_events (municipality_id, transition_id, from_status, to_status)
             VALUES ($1, $2, 'sent', 'received')",
        )
        .bind(m)
        .bind(id)
        .execute(&mut conn)
        .await
        .unwrap();
    }
    Made { id, institution }
}

/// The count a status page shows for `state` of the cohort (0 when it shows no link).
fn count(html: &str, institution: Uuid, year: i32, state: &str) -> i64 {
    let needle = format!(
        "/transitions?institution={institution}&#38;year={year}&#38;kind={KIND}&#38;state={state}\">"
    );
    match html.find(&needle) {
        None => 0,
        Some(at) => html[at + needle.len()..]
            .chars()
            .take_while(char::is_ascii_digit)
            .collect::<String>()
            .parse()
            .unwrap(),
    }
}

fn link(institution: Uuid, year: i32, state: &str) -> String {
    format!("/transitions?institution={institution}&year={year}&kind={KIND}&state={state}")
}

/// The transition ids a list page links to.
fn listed(html: &str) -> BTreeSet<Uuid> {
    html.split("href=\"/transitions/")
        .skip(1)
        .filter_map(|s| s.get(..36)?.parse().ok())
        .collect()
}

fn ids(list: &[&Made]) -> BTreeSet<Uuid> {
    list.iter().map(|m| m.id).collect()
}

#[tokio::test]
async fn counts_per_cohort_and_every_link_lists_exactly_the_counted_children() {
    let app = spawn_app().await;
    let future = format!("{FUTURE}-08-01");
    let past = format!("{PAST}-08-01");
    let sol = "Børnehaven Solsikken";
    let d1 = make(&app, sol, "Draft1", &future, "draft", false, false).await;
    let d2 = make(&app, sol, "Draft2", &future, "draft", false, false).await;
    let wp = make(&app, sol, "Parents", &future, "with_parents", false, false).await;
    let rd = make(&app, sol, "Ready", &future, "ready", false, false).await;
    let s1 = make(&app, sol, "SentUnread", &future, "sent", false, false).await;
    let s2 = make(&app, sol, "SentRead", &future, "sent", true, false).await;
    let rc = make(&app, sol, "Received", &future, "received", true, true).await;
    // moved on to feedback without an acknowledgement: sent, not acknowledged
    let fb = make(
        &app,
        sol,
        "Feedback",
        &future,
        "feedback_requested",
        false,
        false,
    )
    .await;
    let cl = make(&app, sol, "Closed", &future, "closed", true, true).await;
    let _cancelled = make(&app, sol, "Cancelled", &future, "cancelled", true, false).await;
    let o1 = make(&app, sol, "LateDraft", &past, "draft", false, false).await;
    let o2 = make(&app, sol, "LateReady", &past, "ready", false, false).await;
    let ps = make(&app, sol, "PastSent", &past, "sent", false, false).await;
    let other = make(
        &app,
        "Børnehaven Mariehønen",
        "Other",
        &future,
        "draft",
        false,
        false,
    )
    .await;
    let inst = d1.institution;

    let expected: Vec<(i32, &str, Vec<&Made>)> = vec![
        (
            FUTURE,
            "all",
            vec![&d1, &d2, &wp, &rd, &s1, &s2, &rc, &fb, &cl],
        ),
        (FUTURE, "draft", vec![&d1, &d2]),
        (FUTURE, "with_parents", vec![&wp]),
        (FUTURE, "ready", vec![&rd]),
        (FUTURE, "sent", vec![&s1, &s2, &rc, &fb, &cl]),
        (FUTURE, "read", vec![&s2, &rc, &cl]),
        (FUTURE, "acknowledged", vec![&rc, &cl]),
        (FUTURE, "overdue", vec![]),
        (PAST, "all", vec![&o1, &o2, &ps]),
        (PAST, "draft", vec![&o1]),
        (PAST, "with_parents", vec![]),
        (PAST, "ready", vec![&o2]),
        (PAST, "sent", vec![&ps]),
        (PAST, "read", vec![]),
        (PAST, "acknowledged", vec![]),
        (PAST, "overdue", vec![&o1, &o2]),
    ];

    for who in [ADMIN, LEDER] {
        let c = app.login(who).await;
        let (status, html) = c.get_text("/transitions/status").await;
        assert_eq!(status, StatusCode::OK, "{who}");
        assert!(
            html.contains("Sådan tælles der")
                && html.contains("planlagte overgangsdato er passeret")
        );
        for (year, state, children) in &expected {
            assert_eq!(
                count(&html, inst, *year, state),
                children.len() as i64,
                "{who}: {year} {state}"
            );
            let (status, list) = c.get_text(&link(inst, *year, state)).await;
            assert_eq!(status, StatusCode::OK, "{who}: list {year} {state}");
            assert_eq!(listed(&list), ids(children), "{who}: list {year} {state}");
        }
        // what a screen reader says for a count: «1 barn», «2 børn»
        for said in [
            format!(
                "1<span class=\"sr-only\"> barn: Klar til afsendelse, {sol}, årgang {FUTURE}, "
            ),
            format!("2<span class=\"sr-only\"> børn: Kladde, {sol}, årgang {FUTURE}, "),
        ] {
            assert!(html.contains(&said), "{who}: {said}");
        }
        // Mariehønen: the administrator's, not Solsikken's leader's
        let shows_other = count(&html, other.institution, FUTURE, "draft") == 1;
        assert_eq!(shows_other, who == ADMIN, "{who} and Mariehønen");
        let (status, _) = c
            .get_text(&format!(
                "/transitions/status?institution={}",
                other.institution
            ))
            .await;
        assert_eq!(
            status,
            if who == ADMIN {
                StatusCode::OK
            } else {
                StatusCode::NOT_FOUND
            },
            "{who}: filter by Mariehønen"
        );
        let (status, list) = c.get_text(&link(other.institution, FUTURE, "draft")).await;
        if who == ADMIN {
            assert_eq!(status, StatusCode::OK);
            assert_eq!(listed(&list), ids(&[&other]));
        } else {
            assert_eq!(status, StatusCode::NOT_FOUND, "leader: Mariehønen's list");
        }
    }

    // The administrator's filters: one institution, one year.
    let admin = app.login(ADMIN).await;
    let (_, html) = admin
        .get_text(&format!(
            "/transitions/status?institution={inst}&year={PAST}"
        ))
        .await;
    assert_eq!(count(&html, inst, PAST, "overdue"), 2);
    assert_eq!(
        count(&html, inst, FUTURE, "all"),
        0,
        "other years filtered out"
    );
    assert_eq!(count(&html, other.institution, FUTURE, "all"), 0);
    // Bad filters: a clear 4xx.
    for (path, want) in [
        ("/transitions/status?year=abc", StatusCode::BAD_REQUEST),
        (
            "/transitions/status?institution=nope",
            StatusCode::NOT_FOUND,
        ),
        (
            &format!("/transitions?institution={inst}&state=lost") as &str,
            StatusCode::BAD_REQUEST,
        ),
        (
            &format!("/transitions?institution={inst}&kind=rocket") as &str,
            StatusCode::BAD_REQUEST,
        ),
    ] {
        assert_eq!(admin.get(path).await.status(), want, "{path}");
    }
    assert!(
        app.count("SELECT count(*) FROM audit_log WHERE action = 'view_status' AND entity_type = 'transitions'")
            .await
            >= 3
    );
    assert!(
        app.count("SELECT count(*) FROM audit_log WHERE action = 'view_list' AND details->>'state' = 'overdue'")
            .await
            >= 2
    );
}

#[tokio::test]
async fn other_roles_are_refused_and_other_municipalities_ids_are_unknown() {
    let app = spawn_app().await;
    let sol = make(
        &app,
        "Børnehaven Solsikken",
        "Refused",
        "2098-08-01",
        "draft",
        false,
        false,
    )
    .await;
    let stevns: Uuid = {
        let mut conn = app.owner_conn().await;
        sqlx::query_scalar("SELECT id FROM institutions WHERE name = 'Børnehaven Søstjernen'")
            .fetch_one(&mut conn)
            .await
            .unwrap()
    };
    for who in [
        "paedagog@vejle.overgang.test",
        "laerer@vejle.overgang.test",
        "specialist@vejle.overgang.test",
        "analytiker@vejle.overgang.test",
    ] {
        let c = app.login(who).await;
        assert_eq!(
            c.get("/transitions/status").await.status(),
            StatusCode::FORBIDDEN,
            "{who}"
        );
        assert_eq!(
            c.get(&link(sol.institution, 2098, "all")).await.status(),
            StatusCode::FORBIDDEN,
            "{who}: filtered list"
        );
    }
    // The staff's own worklist stays as it was.
    let staff = app.login("paedagog@vejle.overgang.test").await;
    assert_eq!(staff.get("/transitions").await.status(), StatusCode::OK);

    let vejle = app.login(ADMIN).await;
    let path = format!("/transitions/status?institution={stevns}");
    assert_eq!(vejle.get(&path).await.status(), StatusCode::NOT_FOUND);
    assert_eq!(
        vejle.get(&link(stevns, 2098, "all")).await.status(),
        StatusCode::NOT_FOUND
    );
    let stevns_admin = app.login(STEVNS_ADMIN).await;
    let path = format!("/transitions/status?institution={}", sol.institution);
    assert_eq!(
        stevns_admin.get(&path).await.status(),
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        stevns_admin
            .get(&link(sol.institution, 2098, "all"))
            .await
            .status(),
        StatusCode::NOT_FOUND
    );
    // Stevns' own page shows none of Vejle's.
    let (status, html) = stevns_admin.get_text("/transitions/status").await;
    assert_eq!(status, StatusCode::OK);
    assert!(!html.contains(&sol.institution.to_string()));
    assert!(!html.contains("Solsikken"));
}

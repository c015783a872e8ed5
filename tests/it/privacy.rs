//! Privacy by design: the administrators' audit search and CSV export, the data-subject export
//! of one child, and the retention purge.

use overgang::{
    db::{self, Scope},
    retention,
};
use reqwest::{header, StatusCode};
use time::OffsetDateTime;
use uuid::Uuid;

use crate::common::{location, spawn_app, TestApp};

const ADMIN: &str = "admin@vejle.overgang.test";
const LEDER: &str = "leder@vejle.overgang.test";
const STEVNS_ADMIN: &str = "admin@stevns.overgang.test";

/// A Vejle child at Solsikken with a guardian, an enrolment (current unless `ended`), and a
/// kindergarten → school transition in `status` whose status events happened `days_ago`. The
/// form has a free-text and a scale answer, the history and the consent ledger carry notes, and
/// the feedback says what was missing.
struct Case {
    municipality: Uuid,
    child: Uuid,
    transition: Uuid,
    guardian: Uuid,
    free_text_q: Uuid,
    scale_q: Uuid,
}

async fn case(app: &TestApp, name: &str, status: &str, days_ago: i32, ended: bool) -> Case {
    let mut conn = app.owner_conn().await;
    let (m, inst): (Uuid, Uuid) = sqlx::query_as(
        "SELECT municipality_id, id FROM institutions WHERE name = 'Børnehaven Solsikken'",
    )
    .fetch_one(&mut conn)
    .await
    .unwrap();
    let admin: Uuid = sqlx::query_scalar("SELECT id FROM users WHERE email = $1")
        .bind(ADMIN)
        .fetch_one(&mut conn)
        .await
        .unwrap();
    let child: Uuid = sqlx::query_scalar(
        "INSERT INTO children (municipality_id, first_name, last_name, birth_date, cpr)
         VALUES ($1, $2, 'Hemmelig', '2019-05-17', '170519-' || lpad((random() * 9999)::int::text, 4, '0'))
         RETURNING id",
    )
    .bind(m)
    .bind(name)
    .fetch_one(&mut conn)
    .await
    .unwrap();
    let guardian: Uuid = sqlx::query_scalar(
        "INSERT INTO guardians (municipality_id, child_id, name, email)
         VALUES ($1, $2, $3, 'mor@example.org') RETURNING id",
    )
    .bind(m)
    .bind(child)
    .bind(format!("Mor til {name}"))
    .fetch_one(&mut conn)
    .await
    .unwrap();
    sqlx::query(
        "INSERT INTO enrolments (municipality_id, child_id, institution_id, starts_on, ends_on)
         VALUES ($1, $2, $3, '2022-08-01', CASE WHEN $4 THEN DATE '2024-07-31' END)",
    )
    .bind(m)
    .bind(child)
    .bind(inst)
    .bind(ended)
    .execute(&mut conn)
    .await
    .unwrap();
    let transition: Uuid = sqlx::query_scalar(
        "INSERT INTO transitions (municipality_id, child_id, sending_institution_id, receiving_institution_id,
                                  kind, planned_date, template_id, status)
         SELECT $1, $2, $3, r.id, 'kindergarten_school', DATE '2024-08-01', t.id, $4
         FROM institutions r, form_templates t
         WHERE r.municipality_id = $1 AND r.name = 'Bakkeskolen'
           AND t.municipality_id = $1 AND t.transition_kind = 'kindergarten_school' AND t.status = 'published'
         RETURNING id",
    )
    .bind(m)
    .bind(child)
    .bind(inst)
    .bind(status)
    .fetch_one(&mut conn)
    .await
    .unwrap();
    sqlx::query(
        "INSERT INTO transition_events (municipality_id, transition_id, at, user_id, from_status, to_status, note)
         VALUES ($1, $2, now() - make_interval(days => $3 + 100), $4, NULL, 'draft', NULL),
                ($1, $2, now() - make_interval(days => $3), $4, 'feedback_given', $5, 'Mor bad om at ' || $6 || ' får ro')",
    )
    .bind(m)
    .bind(transition)
    .bind(days_ago)
    .bind(admin)
    .bind(status)
    .bind(name)
    .execute(&mut conn)
    .await
    .unwrap();
    let question = |kind: &'static str| {
        sqlx::query_scalar::<_, Uuid>(
            "SELECT q.id FROM transitions t JOIN template_questions q
               ON q.municipality_id = t.municipality_id AND q.template_id = t.template_id
             WHERE t.id = $1 AND q.kind = $2 ORDER BY q.position LIMIT 1",
        )
        .bind(transition)
        .bind(kind)
    };
    let free_text_q = question("free_text").fetch_one(&mut conn).await.unwrap();
    let scale_q = question("scale_1_4").fetch_one(&mut conn).await.unwrap();
    sqlx::query(
        "INSERT INTO answers (municipality_id, transition_id, question_id, template_id, value)
         SELECT $1, $2, q.id, q.template_id, CASE WHEN q.id = $3 THEN $5 || ' elsker dinosaurer' ELSE '3' END
         FROM template_questions q WHERE q.municipality_id = $1 AND q.id IN ($3, $4)",
    )
    .bind(m)
    .bind(transition)
    .bind(free_text_q)
    .bind(scale_q)
    .bind(name)
    .execute(&mut conn)
    .await
    .unwrap();
    sqlx::query(
        "INSERT INTO consent_records (municipality_id, transition_id, guardian_id, section_id, decision, method, note, recorded_by)
         SELECT $1, $2, $3, q.section_id, 'given', 'staff', 'Talt med mor i telefonen', $4
         FROM template_questions q WHERE q.municipality_id = $1 AND q.id = $5",
    )
    .bind(m)
    .bind(transition)
    .bind(guardian)
    .bind(admin)
    .bind(free_text_q)
    .execute(&mut conn)
    .await
    .unwrap();
    sqlx::query(
        "INSERT INTO feedback_requests (municipality_id, transition_id, round, due_on, answered_at, usefulness,
                                        completeness, missing, special_support)
         VALUES ($1, $2, 1, DATE '2024-11-01', now(), 4, 3, 'Mere om ' || $3 || 's sprog', true)",
    )
    .bind(m)
    .bind(transition)
    .bind(name)
    .execute(&mut conn)
    .await
    .unwrap();
    Case {
        municipality: m,
        child,
        transition,
        guardian,
        free_text_q,
        scale_q,
    }
}

/// Everything the purge may touch about one case, as text, to compare before and after.
async fn state_of(app: &TestApp, c: &Case) -> String {
    let mut conn = app.owner_conn().await;
    sqlx::query_scalar(
        "SELECT concat_ws(' | ',
            (SELECT concat_ws(',', first_name, last_name, birth_date, cpr) FROM children WHERE id = $1),
            (SELECT string_agg(name, ',' ORDER BY name) FROM guardians WHERE child_id = $1),
            (SELECT count(*) FROM enrolments WHERE child_id = $1),
            (SELECT concat_ws(',', status, purged_at, updated_at) FROM transitions WHERE id = $2),
            (SELECT string_agg(concat_ws(':', to_status, note), ',' ORDER BY at) FROM transition_events WHERE transition_id = $2),
            (SELECT string_agg(value, ',' ORDER BY value) FROM answers WHERE transition_id = $2),
            (SELECT string_agg(concat_ws(':', decision, guardian_id, note), ',') FROM consent_records WHERE transition_id = $2),
            (SELECT string_agg(concat_ws(':', usefulness, completeness, missing, special_support), ',') FROM feedback_requests WHERE transition_id = $2))",
    )
    .bind(c.child)
    .bind(c.transition)
    .fetch_one(&mut conn)
    .await
    .unwrap()
}

fn vejle(report: &retention::PurgeReport) -> &retention::PurgeCounts {
    &report
        .municipalities
        .iter()
        .find(|m| m.code == "0630")
        .expect("Vejle in the report")
        .counts
}

#[tokio::test]
async fn purge_removes_personal_data_of_old_finished_transitions_and_keeps_the_aggregates() {
    let app = spawn_app().await;
    // closed 6 years ago (Vejle keeps 1,825 days), child no longer enrolled
    let old = case(&app, "Gammel", "closed", 2200, true).await;
    // cancelled long ago too, but the child is still enrolled: its transition is purged, the
    // child stays
    let enrolled = case(&app, "Indskrevet", "cancelled", 2300, false).await;
    let recent = case(&app, "Nylig", "closed", 10, true).await;
    // open, however old its last event
    let open = case(&app, "Aaben", "sent", 3000, true).await;
    let cases = [&old, &enrolled, &recent, &open];
    let mut before = Vec::new();
    for c in cases {
        before.push(state_of(&app, c).await);
    }
    let audit_before = app.count("SELECT count(*) FROM audit_log").await;

    // Dry run: reports what would go, changes nothing (not even the audit log).
    let dry = retention::purge(&app.db, OffsetDateTime::now_utc(), true)
        .await
        .unwrap();
    assert!(dry.dry_run && dry.failures.is_empty());
    let expected = retention::PurgeCounts {
        purged_transitions: 2,
        deleted_answers: 2,
        erased_notes: 4,
        erased_feedback_texts: 2,
        deleted_guardians: 1,
        deleted_enrolments: 1,
        anonymised_children: 1,
        deleted_mails: 0,
        deleted_uploads: 0,
    };
    assert_eq!(vejle(&dry), &expected);
    for (c, b) in cases.iter().zip(&before) {
        assert_eq!(&state_of(&app, c).await, b, "the dry run changed data");
    }
    assert_eq!(
        app.count("SELECT count(*) FROM audit_log").await,
        audit_before
    );
    assert_eq!(
        app.count("SELECT count(*) FROM transitions WHERE purged_at IS NOT NULL")
            .await,
        0
    );
    assert!(retention::describe(&dry).contains("Prøvekørsel"));

    // The real run removes exactly what the dry run reported.
    let report = retention::purge(&app.db, OffsetDateTime::now_utc(), false)
        .await
        .unwrap();
    assert!(report.failures.is_empty(), "{:?}", report.failures);
    assert_eq!(vejle(&report), &expected);

    let mut conn = app.owner_conn().await;
    // the old child: anonymised, guardians and enrolments gone
    let (first, last, birth, cpr): (String, String, time::Date, Option<String>) =
        sqlx::query_as("SELECT first_name, last_name, birth_date, cpr FROM children WHERE id = $1")
            .bind(old.child)
            .fetch_one(&mut conn)
            .await
            .unwrap();
    assert_eq!((first.as_str(), last.as_str()), ("Anonymiseret", "barn"));
    assert_eq!(birth, time::macros::date!(2019 - 01 - 01));
    assert_eq!(cpr, None);
    let n = |sql: &'static str, id: Uuid| sqlx::query_scalar::<_, i64>(sql).bind(id);
    assert_eq!(
        n(
            "SELECT count(*) FROM guardians WHERE child_id = $1",
            old.child
        )
        .fetch_one(&mut conn)
        .await
        .unwrap(),
        0
    );
    // nor is it listed anywhere, under its old name or the new one
    assert_eq!(
        n(
            "SELECT count(*) FROM child_scope WHERE child_id = $1",
            old.child
        )
        .fetch_one(&mut conn)
        .await
        .unwrap(),
        0
    );
    assert_eq!(
        n(
            "SELECT count(*) FROM enrolments WHERE child_id = $1",
            old.child
        )
        .fetch_one(&mut conn)
        .await
        .unwrap(),
        0
    );
    // free text gone, the scale answer kept
    let answers: Vec<(Uuid, Option<String>)> =
        sqlx::query_as("SELECT question_id, value FROM answers WHERE transition_id = $1")
            .bind(old.transition)
            .fetch_all(&mut conn)
            .await
            .unwrap();
    assert_eq!(answers, vec![(old.scale_q, Some("3".to_string()))]);
    assert!(!answers.iter().any(|(q, _)| *q == old.free_text_q));
    // the transition and its history stay, without notes
    let (status, purged): (String, bool) =
        sqlx::query_as("SELECT status, purged_at IS NOT NULL FROM transitions WHERE id = $1")
            .bind(old.transition)
            .fetch_one(&mut conn)
            .await
            .unwrap();
    assert_eq!((status.as_str(), purged), ("closed", true));
    let events: Vec<(String, Option<String>)> = sqlx::query_as(
        "SELECT to_status, note FROM transition_events WHERE transition_id = $1 ORDER BY at",
    )
    .bind(old.transition)
    .fetch_all(&mut conn)
    .await
    .unwrap();
    assert_eq!(
        events,
        vec![("draft".to_string(), None), ("closed".to_string(), None)]
    );
    // the consent decision stays, without the guardian and the note
    let consent: (String, Option<Uuid>, Option<String>) = sqlx::query_as(
        "SELECT decision, guardian_id, note FROM consent_records WHERE transition_id = $1",
    )
    .bind(old.transition)
    .fetch_one(&mut conn)
    .await
    .unwrap();
    assert_eq!(consent, ("given".to_string(), None, None));
    // feedback numbers stay, its text goes
    let feedback: (Option<i16>, Option<i16>, Option<String>, Option<bool>) = sqlx::query_as(
        "SELECT usefulness, completeness, missing, special_support FROM feedback_requests WHERE transition_id = $1",
    )
    .bind(old.transition)
    .fetch_one(&mut conn)
    .await
    .unwrap();
    assert_eq!(feedback, (Some(4), Some(3), None, Some(true)));
    // nothing of the old child's name is left in its transition's data
    let leftover = state_of(&app, &old).await;
    assert!(!leftover.contains("Gammel"), "{leftover}");
    assert!(!leftover.contains("Mor til"), "{leftover}");

    // still enrolled: the transition is purged, the child and guardian stay
    let s = state_of(&app, &enrolled).await;
    assert!(s.contains("Indskrevet,Hemmelig,2019-05-17,170519-"), "{s}");
    assert!(s.contains("Mor til Indskrevet"), "{s}");
    assert!(!s.contains("dinosaurer") && !s.contains("får ro"), "{s}");
    assert_eq!(
        n(
            "SELECT count(*) FROM guardians WHERE id = $1",
            enrolled.guardian
        )
        .fetch_one(&mut conn)
        .await
        .unwrap(),
        1
    );

    // recent and open transitions: untouched
    assert_eq!(state_of(&app, &recent).await, before[2]);
    assert_eq!(state_of(&app, &open).await, before[3]);

    // one audit entry per municipality, with the counts
    assert_eq!(
        app.count("SELECT count(*) FROM audit_log WHERE action = 'purge'")
            .await,
        2
    );
    let details: serde_json::Value = sqlx::query_scalar(
        "SELECT details FROM audit_log WHERE action = 'purge' AND municipality_id = $1",
    )
    .bind(old.municipality)
    .fetch_one(&mut conn)
    .await
    .unwrap();
    assert_eq!(details["counts"]["purged_transitions"], 2);
    assert_eq!(details["counts"]["anonymised_children"], 1);

    // a second run finds nothing more and changes nothing
    let states: Vec<String> = {
        let mut v = Vec::new();
        for c in cases {
            v.push(state_of(&app, c).await);
        }
        v
    };
    let again = retention::purge(&app.db, OffsetDateTime::now_utc(), false)
        .await
        .unwrap();
    assert!(vejle(&again).is_empty(), "{:?}", vejle(&again));
    for (c, s) in cases.iter().zip(&states) {
        assert_eq!(&state_of(&app, c).await, s, "the second run changed data");
    }

    // once the enrolment ends, the next run anonymises the remaining child
    sqlx::query("UPDATE enrolments SET ends_on = current_date - 1 WHERE child_id = $1")
        .bind(enrolled.child)
        .execute(&mut conn)
        .await
        .unwrap();
    let later = retention::purge(&app.db, OffsetDateTime::now_utc(), false)
        .await
        .unwrap();
    assert_eq!(vejle(&later).anonymised_children, 1);
    assert_eq!(vejle(&later).purged_transitions, 0);
    assert!(state_of(&app, &enrolled)
        .await
        .starts_with("Anonymiseret,barn,2019-01-01"));
}

#[tokio::test]
async fn the_purge_function_only_works_in_the_callers_own_municipality() {
    let app = spawn_app().await;
    let vejle = app.municipality_id("0630").await;
    let stevns = app.municipality_id("0336").await;
    let mut tx = db::begin(&app.db, Scope::Municipality(vejle))
        .await
        .unwrap();
    let refused = sqlx::query("SELECT * FROM retention_purge($1, now(), true)")
        .bind(stevns)
        .fetch_all(&mut *tx)
        .await;
    assert!(refused.is_err(), "another municipality must be refused");
    drop(tx);
    // and the app role cannot rewrite the append-only history itself
    let mut tx = db::begin(&app.db, Scope::Municipality(vejle))
        .await
        .unwrap();
    let direct = sqlx::query("UPDATE transition_events SET note = NULL")
        .execute(&mut *tx)
        .await;
    assert!(direct.is_err());
}

// ---------------------------------------------------------------------------------------------
// The audit search

/// `n` audit entries about `child`, one second apart, with client addresses 10.9.0.0 + i.
async fn entries(app: &TestApp, municipality: Uuid, child: Uuid, n: i32) {
    let mut conn = app.owner_conn().await;
    sqlx::query(
        "INSERT INTO audit_log (municipality_id, at, user_id, role, action, entity_type, entity_id, child_id, client_addr)
         SELECT $1, now() - interval '1 day' + make_interval(secs => i), u.id, 'Kommunal administrator', 'read',
                'child', $2, $2, ('10.9.' || (i / 256) || '.' || (i % 256))::inet
         FROM generate_series(0, $3 - 1) AS i, users u WHERE u.email = $4",
    )
    .bind(municipality)
    .bind(child)
    .bind(n)
    .bind(ADMIN)
    .execute(&mut conn)
    .await
    .unwrap();
}

fn addresses(html: &str) -> Vec<String> {
    html.split("<td>10.9.")
        .skip(1)
        .map(|s| format!("10.9.{}", s.split('<').next().unwrap()))
        .collect()
}

fn link(html: &str, text: &str) -> Option<String> {
    let end = html.find(&format!(">{text}</a>"))?;
    let start = html[..end].rfind("href=\"")? + "href=\"".len();
    let href = html[start..].split('"').next()?;
    Some(href.replace("&amp;", "&").replace("&#38;", "&"))
}

/// The role under the name in each row of the audit table.
fn row_roles(html: &str) -> Vec<String> {
    html.split("<br><span class=\"weight-normal\">")
        .skip(1)
        .map(|s| s.split('<').next().unwrap().to_string())
        .collect()
}

#[tokio::test]
async fn audit_search_pages_newest_first_with_a_keyset() {
    let app = spawn_app().await;
    let c = case(&app, "Side", "closed", 10, true).await;
    entries(&app, c.municipality, c.child, 120).await;
    let admin = app.login(ADMIN).await;

    let (status, page1) = admin
        .get_text(&format!("/audit?child={}&action=read", c.child))
        .await;
    assert_eq!(status, StatusCode::OK, "{page1}");
    let a1 = addresses(&page1);
    assert_eq!(a1.len(), 50, "{a1:?}");
    assert_eq!(a1[0], "10.9.0.119", "newest first");
    assert!(link(&page1, "Nyere hændelser").is_none());
    let older = link(&page1, "Ældre hændelser").expect("a link to older entries");
    assert!(older.contains("before="), "{older}");

    let (_, page2) = admin.get_text(&older).await;
    let a2 = addresses(&page2);
    assert_eq!(a2.len(), 50, "{older} {a2:?}");
    assert_eq!(a2[0], "10.9.0.69");
    let (_, page3) = admin
        .get_text(&link(&page2, "Ældre hændelser").unwrap())
        .await;
    let a3 = addresses(&page3);
    assert_eq!(a3.len(), 20);
    assert_eq!(a3.last().unwrap(), "10.9.0.0");
    assert!(link(&page3, "Ældre hændelser").is_none());
    // and back again
    let (_, back) = admin
        .get_text(&link(&page2, "Nyere hændelser").unwrap())
        .await;
    assert_eq!(addresses(&back), a1);

    // reading the log is itself audited, with the child
    assert!(
        app.count(&format!(
            "SELECT count(*) FROM audit_log WHERE action = 'view_audit' AND child_id = '{}'",
            c.child
        ))
        .await
            >= 4
    );
}

#[tokio::test]
async fn audit_filters_csv_and_refusals() {
    let app = spawn_app().await;
    let c = case(&app, "Filter", "closed", 10, false).await;
    let admin = app.login(ADMIN).await;
    // a read of the child by the leader and by the administrator
    let leder = app.login(LEDER).await;
    assert_eq!(
        leder.get(&format!("/children/{}", c.child)).await.status(),
        StatusCode::OK
    );
    assert_eq!(
        admin.get(&format!("/children/{}", c.child)).await.status(),
        StatusCode::OK
    );
    // the child's page links to its access log
    let (_, show) = admin.get_text(&format!("/children/{}", c.child)).await;
    assert!(show.contains(&format!("href=\"/audit?child={}\"", c.child)));
    let (_, show) = leder.get_text(&format!("/children/{}", c.child)).await;
    assert!(!show.contains("Se adgangslog"));

    let mut conn = app.owner_conn().await;
    let (leder_id, leder_name): (Uuid, String) =
        sqlx::query_as("SELECT id, name FROM users WHERE email = $1")
            .bind(LEDER)
            .fetch_one(&mut conn)
            .await
            .unwrap();

    let (status, html) = admin.get_text(&format!("/audit?child={}", c.child)).await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains("Filter Hemmelig"), "the child is named");
    let roles = row_roles(&html);
    assert!(roles.contains(&"Leder".to_string()), "{roles:?}");
    assert!(
        roles.contains(&"Kommunal administrator".to_string()),
        "{roles:?}"
    );
    assert!(html.contains("Læst"));
    // by user
    let (_, html) = admin
        .get_text(&format!("/audit?child={}&user={leder_id}", c.child))
        .await;
    let roles = row_roles(&html);
    assert!(
        !roles.is_empty() && roles.iter().all(|r| r == "Leder"),
        "{roles:?}"
    );
    assert!(html.contains(&format!(">{leder_name}</a>")));
    // by action
    let (_, html) = admin
        .get_text(&format!("/audit?child={}&action=view_audit", c.child))
        .await;
    assert!(!row_roles(&html).is_empty());
    assert!(!html.contains("<td>Læst</td>"));
    // by name
    let (_, html) = admin.get_text("/audit?q=filter+hemm").await;
    assert!(html.contains("Filter Hemmelig"));
    assert!(!row_roles(&html).is_empty());
    let (_, html) = admin.get_text("/audit?q=ingen+s%C3%A5dan").await;
    assert!(html.contains("Ingen hændelser passer"));
    // by period: nothing before 2001, everything today
    let (_, html) = admin
        .get_text(&format!(
            "/audit?child={}&from=2000-01-01&to=2000-12-31",
            c.child
        ))
        .await;
    assert!(html.contains("Ingen hændelser passer"));
    // the filter's days are Danish days: after 23:00 UTC in winter it is tomorrow in Vejle
    let today: time::Date =
        sqlx::query_scalar("SELECT (now() AT TIME ZONE 'Europe/Copenhagen')::date")
            .fetch_one(&mut app.owner_conn().await)
            .await
            .unwrap();
    let (_, html) = admin
        .get_text(&format!("/audit?child={}&from={today}&to={today}", c.child))
        .await;
    assert!(row_roles(&html).contains(&"Leder".to_string()));

    // bad filters: field errors or 4xx, never a 500
    for bad in [
        "/audit?from=31-02-2026",
        "/audit?to=i+g%C3%A5r",
        "/audit?user=nogen",
        "/audit?child=ikke-et-id",
        "/audit?action=DROP%20TABLE",
        "/audit?from=2026-02-01&to=2026-01-01",
        "/audit?q=170519-1234",
    ] {
        let (status, html) = admin.get_text(bad).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{bad}");
        assert!(html.contains("Der er problemer"), "{bad}");
        assert!(!html.contains("170519-1234"), "a CPR number is not echoed");
    }
    for bad in ["/audit.csv?from=nej", "/audit?page=1&from=%ZZ"] {
        let status = admin.get(bad).await.status();
        assert!(status.is_client_error(), "{bad}: {status}");
    }
    let status = admin.get("/audit?before=abc&after=-1").await.status();
    assert_eq!(status, StatusCode::OK);

    // The filter form posts: a name goes on to the address, a CPR number never does.
    let search = |q: &'static str| {
        let admin = &admin;
        async move {
            admin
                .post_with_token(
                    "/audit",
                    "/audit/search",
                    &[("q", q), ("action", "read"), ("from", "")],
                )
                .await
        }
    };
    let r = search("  Filter   hemm ").await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&r), "/audit?q=Filter%20hemm&action=read");
    let r = search("170519-1234").await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&r), "/audit?action=read");
    let (_, html) = admin.get_text("/audit?action=read").await;
    assert!(html.contains("kan der ikke søges på CPR-nummer") && !html.contains("170519"));

    // CSV: same filters, quoted, formulas neutralised
    sqlx::query(
        "UPDATE children SET first_name = '=HYPERLINK(\"x\")', last_name = 'Semi;kolon' WHERE id = $1",
    )
    .bind(c.child)
    .execute(&mut conn)
    .await
    .unwrap();
    let r = admin
        .get(&format!("/audit.csv?child={}&user={leder_id}", c.child))
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    assert!(r.headers()[header::CONTENT_TYPE]
        .to_str()
        .unwrap()
        .starts_with("text/csv"));
    assert!(r.headers()[header::CONTENT_DISPOSITION]
        .to_str()
        .unwrap()
        .starts_with("attachment"));
    let csv = r.text().await.unwrap();
    let lines: Vec<&str> = csv.lines().collect();
    assert!(lines[0].starts_with("\u{feff}Tidspunkt;Bruger;"));
    assert!(lines.len() >= 2, "{csv}");
    assert!(
        csv.contains("\"'=HYPERLINK(\"\"x\"\") Semi;kolon\""),
        "quoted and neutralised: {csv}"
    );
    assert!(lines[1..].iter().all(|l| l.contains(&leder_name)), "{csv}");
    assert_eq!(
        app.count("SELECT count(*) FROM audit_log WHERE action = 'export_audit'")
            .await,
        1
    );

    // non-administrators are refused
    for path in ["/audit", "/audit.csv"] {
        assert_eq!(leder.get(path).await.status(), StatusCode::FORBIDDEN);
    }
    let staff = app.login("paedagog@vejle.overgang.test").await;
    assert_eq!(staff.get("/audit").await.status(), StatusCode::FORBIDDEN);
    let analyst = app.login("analytiker@vejle.overgang.test").await;
    assert_eq!(
        analyst.get("/audit.csv").await.status(),
        StatusCode::FORBIDDEN
    );
}

#[tokio::test]
async fn stevns_never_sees_vejle_entries() {
    let app = spawn_app().await;
    let c = case(&app, "Vejlebarn", "closed", 10, true).await;
    entries(&app, c.municipality, c.child, 3).await;
    let mut conn = app.owner_conn().await;
    let (vejle_admin, vejle_admin_name): (Uuid, String) =
        sqlx::query_as("SELECT id, name FROM users WHERE email = $1")
            .bind(ADMIN)
            .fetch_one(&mut conn)
            .await
            .unwrap();
    let vejle_entry: i64 = sqlx::query_scalar("SELECT max(id) FROM audit_log WHERE child_id = $1")
        .bind(c.child)
        .fetch_one(&mut conn)
        .await
        .unwrap();
    let stevns = app.login(STEVNS_ADMIN).await;
    for path in [
        "/audit".to_string(),
        format!("/audit?child={}", c.child),
        format!("/audit?user={vejle_admin}"),
        "/audit?q=vejlebarn".to_string(),
        format!("/audit?before={}", vejle_entry + 1),
        format!("/audit?after={}", vejle_entry - 1),
    ] {
        let (status, html) = stevns.get_text(&path).await;
        assert_eq!(status, StatusCode::OK, "{path}");
        assert!(addresses(&html).is_empty(), "{path} showed Vejle entries");
        assert!(!html.contains("Vejlebarn"), "{path}");
        assert!(!html.contains(&vejle_admin_name), "{path}");
    }
    let csv = stevns
        .get(&format!("/audit.csv?child={}", c.child))
        .await
        .text()
        .await
        .unwrap();
    assert_eq!(csv.lines().count(), 1, "only the header: {csv}");
    let csv = stevns.get("/audit.csv").await.text().await.unwrap();
    assert!(!csv.contains("Vejle"), "{csv}");
}

// ---------------------------------------------------------------------------------------------
// The data-subject export

#[tokio::test]
async fn subject_access_export_holds_every_section_and_is_audited() {
    let app = spawn_app().await;
    let c = case(&app, "Indsigt", "closed", 10, true).await;
    let mut conn = app.owner_conn().await;
    let cpr: String = sqlx::query_scalar("SELECT cpr FROM children WHERE id = $1")
        .bind(c.child)
        .fetch_one(&mut conn)
        .await
        .unwrap();
    // the guardian's link and the receiving teacher's read of the handover
    sqlx::raw_sql(&format!(
        "INSERT INTO parent_links (municipality_id, transition_id, guardian_id, token_hash, delivery,
                                   sent_to, expires_at, first_opened_at)
         VALUES ('{m}', '{t}', '{g}', decode(md5('indsigt') || md5('link'), 'hex'), 'email',
                 'mor@example.dk', now() + interval '30 days', now());
         INSERT INTO transition_reads (municipality_id, transition_id, user_id)
         SELECT '{m}', '{t}', id FROM users WHERE email = 'laerer@vejle.overgang.test';",
        m = c.municipality,
        t = c.transition,
        g = c.guardian,
    ))
    .execute(&mut conn)
    .await
    .unwrap();
    let admin = app.login(ADMIN).await;
    assert_eq!(
        admin.get(&format!("/children/{}", c.child)).await.status(),
        StatusCode::OK
    );

    let r = admin
        .get(&format!("/children/{}/export.json", c.child))
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    let disposition = r.headers()[header::CONTENT_DISPOSITION]
        .to_str()
        .unwrap()
        .to_string();
    assert!(disposition.starts_with("attachment"), "{disposition}");
    assert!(!disposition.contains(&cpr));
    let json: serde_json::Value = serde_json::from_str(&r.text().await.unwrap()).unwrap();
    for section in [
        "municipality",
        "child",
        "guardians",
        "enrolments",
        "transitions",
        "answers",
        "consent_records",
        "feedback",
        "audit_log",
    ] {
        assert!(json.get(section).is_some(), "section {section} missing");
    }
    assert_eq!(json["child"]["cpr"], cpr.as_str(), "the subject's own CPR");
    assert_eq!(json["child"]["first_name"], "Indsigt");
    assert_eq!(json["guardians"][0]["name"], "Mor til Indsigt");
    assert_eq!(json["enrolments"].as_array().unwrap().len(), 1);
    let t = &json["transitions"][0];
    assert_eq!(t["status"], "closed");
    assert_eq!(t["events"].as_array().unwrap().len(), 2);
    assert_eq!(t["events"][1]["note"], "Mor bad om at Indsigt får ro");
    let answers = json["answers"].as_array().unwrap();
    assert_eq!(answers.len(), 2);
    assert!(answers
        .iter()
        .any(|a| a["value"] == "Indsigt elsker dinosaurer"
            && !a["question"].as_str().unwrap().is_empty()));
    assert_eq!(json["consent_records"][0]["guardian"], "Mor til Indsigt");
    assert_eq!(json["feedback"][0]["missing"], "Mere om Indsigts sprog");
    let audit = json["audit_log"].as_array().unwrap();
    assert!(audit.iter().any(|a| a["action"] == "read"), "{audit:?}");
    let texts = json["texts"].as_array().unwrap();
    let text = |kind: &str| {
        texts
            .iter()
            .find(|x| x["kind"] == kind)
            .unwrap_or_else(|| panic!("no {kind} in {texts:?}"))
    };
    assert_eq!(text("parent_link")["by"], "Mor til Indsigt");
    assert!(text("parent_link")["text"]
        .as_str()
        .unwrap()
        .starts_with("Sendt med e-mail\nÅbnet: "));
    // Other people's contact details and addresses stay out: the export goes to guardians who
    // may live apart (art. 15(4)), and it says so.
    let whole = json.to_string();
    for other in [
        "mor@example.dk",
        "127.0.0.1",
        "client_addr",
        "\"email\"",
        "\"phone\"",
    ] {
        assert!(!whole.contains(other), "{other} in the export");
    }
    assert!(json["withheld"]
        .as_str()
        .unwrap()
        .contains("art. 15, stk. 4"));
    assert!(text("read")["text"]
        .as_str()
        .unwrap()
        .starts_with("Læst første gang "));
    let teacher: String =
        sqlx::query_scalar("SELECT name FROM users WHERE email = 'laerer@vejle.overgang.test'")
            .fetch_one(&mut conn)
            .await
            .unwrap();
    assert_eq!(text("read")["by"], teacher.as_str());

    let (status, html) = admin
        .get_text(&format!("/children/{}/export", c.child))
        .await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains(&cpr));
    assert!(html.contains("Indsigt elsker dinosaurer"));
    assert!(html.contains("Adgangslog"));
    assert_eq!(
        app.count(&format!(
            "SELECT count(*) FROM audit_log WHERE action = 'export' AND child_id = '{}'",
            c.child
        ))
        .await,
        2
    );
    // the CPR number is in no audit entry
    assert_eq!(
        app.count(&format!(
            "SELECT count(*) FROM audit_log WHERE details::text LIKE '%{cpr}%'"
        ))
        .await,
        0
    );

    // another municipality: 404; not an administrator: 403
    let stevns = app.login(STEVNS_ADMIN).await;
    let leder = app.login(LEDER).await;
    for suffix in ["export", "export.json"] {
        let path = format!("/children/{}/{suffix}", c.child);
        assert_eq!(stevns.get(&path).await.status(), StatusCode::NOT_FOUND);
        assert_eq!(leder.get(&path).await.status(), StatusCode::FORBIDDEN);
        let unknown = format!("/children/{}/{suffix}", Uuid::new_v4());
        assert_eq!(admin.get(&unknown).await.status(), StatusCode::NOT_FOUND);
    }
}

/// The insights figures for every scope the pages show, with and without a cohort year.
async fn all_figures(app: &TestApp, m: Uuid) -> Vec<overgang::insights::Figures> {
    use overgang::insights::{self, Filter, Scope as InsightScope};
    let mut conn = app.owner_conn().await;
    let (cluster, school): (Uuid, Uuid) = sqlx::query_as(
        "SELECT c.id, i.id FROM clusters c JOIN institutions i ON i.id = c.school_id
         WHERE c.name = 'Pilotklynge Bakkeskolen'",
    )
    .fetch_one(&mut conn)
    .await
    .unwrap();
    let mut out = Vec::new();
    for scope in [
        InsightScope::Municipality,
        InsightScope::Cluster(cluster),
        InsightScope::Institution(school),
    ] {
        for year in [None, Some(2024)] {
            let mut tx = db::begin(&app.db, Scope::Municipality(m)).await.unwrap();
            let filter = Filter {
                scope: scope.clone(),
                year,
                kind: None,
            };
            out.push(insights::compute(&mut tx, m, &filter).await.unwrap());
            tx.rollback().await.unwrap();
        }
    }
    out
}

#[tokio::test]
async fn the_insights_figures_are_identical_before_and_after_the_purge() {
    let app = spawn_app().await;
    let mut cases = Vec::new();
    for (i, status) in [
        "closed",
        "closed",
        "cancelled",
        "closed",
        "closed",
        "closed",
    ]
    .iter()
    .enumerate()
    {
        cases.push(case(&app, &format!("Barn{i}"), status, 2200 + i as i32, true).await);
    }
    cases.push(case(&app, "Nylig", "closed", 5, true).await);
    let old = &cases[0];
    // What else people wrote about the old transition: the meeting with an agreement, an
    // amendment, and the parents' perspective.
    let mut conn = app.owner_conn().await;
    for sql in [
        "INSERT INTO handover_meetings (municipality_id, transition_id, held_on, participants, notes)
         VALUES ($1, $2, '2024-06-01', 'Mor, pædagog, lærer', 'Barnet er glad for at tegne')",
        "INSERT INTO meeting_agreements (municipality_id, transition_id, description, follow_up_on)
         VALUES ($1, $2, 'Mødes igen efter efterårsferien', '2024-10-20')",
        "INSERT INTO transition_amendments (municipality_id, transition_id, body)
         VALUES ($1, $2, 'Har fået briller')",
    ] {
        sqlx::query(sql)
            .bind(old.municipality)
            .bind(old.transition)
            .execute(&mut conn)
            .await
            .unwrap();
    }
    sqlx::query(
        "INSERT INTO parent_perspectives (municipality_id, transition_id, guardian_id, body)
         VALUES ($1, $2, $3, 'Vores barn elsker at synge')",
    )
    .bind(old.municipality)
    .bind(old.transition)
    .bind(old.guardian)
    .execute(&mut conn)
    .await
    .unwrap();

    let before = all_figures(&app, old.municipality).await;
    // the six closed cases are counted (a cancelled transition is not), above the threshold
    // of five, so not suppressed
    assert_eq!(
        before[0].total.transitions,
        overgang::insights::Figure::Count(6)
    );
    assert!(
        matches!(
            before[0].total.usefulness,
            overgang::insights::Figure::Mean { .. }
        ),
        "{:?}",
        before[0].total
    );
    let report = retention::purge(&app.db, OffsetDateTime::now_utc(), false)
        .await
        .unwrap();
    assert!(report.failures.is_empty(), "{:?}", report.failures);
    assert_eq!(
        app.count("SELECT count(*) FROM transitions WHERE purged_at IS NOT NULL")
            .await,
        6,
        "the six old ones are purged, the recent one is not"
    );
    let after = all_figures(&app, old.municipality).await;
    assert_eq!(before, after, "the aggregates survive the purge unchanged");

    // ... while the personal texts about the purged transition are gone.
    for table in [
        "handover_meetings",
        "meeting_agreements",
        "transition_amendments",
        "parent_perspectives",
        "answers a JOIN template_questions q ON q.id = a.question_id AND q.kind = 'free_text' WHERE a.transition_id = $1 AND true",
    ] {
        let sql = if table.contains("WHERE") {
            format!("SELECT count(*) FROM {table}")
        } else {
            format!("SELECT count(*) FROM {table} WHERE transition_id = $1")
        };
        let n: i64 = sqlx::query_scalar(&sql)
            .bind(old.transition)
            .fetch_one(&mut conn)
            .await
            .unwrap();
        assert_eq!(n, 0, "{table} still holds personal data of a purged transition");
    }
}

/// What the purge also removes: a purged transition's class placement and handover wish, an
/// upload never confirmed a day after it came (its names and CPR numbers), and, outside the
/// municipalities, sessions, login counters and account tokens nothing can use any more.
/// A dry run counts them and keeps them.
#[tokio::test]
async fn purge_removes_placements_unconfirmed_uploads_and_spent_sign_in_rows() {
    let app = spawn_app().await;
    let old = case(&app, "Gammel", "closed", 2200, true).await;
    let recent = case(&app, "Nylig", "closed", 10, true).await;
    let mut conn = app.owner_conn().await;
    sqlx::raw_sql(&format!(
        "WITH class AS (
             INSERT INTO school_classes (municipality_id, institution_id, school_year, name)
             SELECT municipality_id, id, 2020, '0.A' FROM institutions WHERE name = 'Bakkeskolen'
             RETURNING municipality_id, id)
         INSERT INTO class_children (municipality_id, transition_id, class_id)
         SELECT municipality_id, t, id FROM class, unnest(ARRAY['{o}', '{r}']::uuid[]) AS t;
         INSERT INTO handover_wishes (municipality_id, transition_id, wish)
         SELECT '{m}', t, 'meeting' FROM unnest(ARRAY['{o}', '{r}']::uuid[]) AS t;
         INSERT INTO imports (municipality_id, kind, filename, content, row_count, created_by, created_at, imported_at)
         SELECT '{m}', 'children', f, c, 1, u.id, now() - a::interval, i
         FROM users u, (VALUES ('gammel.csv', 'cpr;010120-1234', '2 days', NULL::timestamptz),
                               ('ny.csv', 'cpr;020220-1234', '1 hour', NULL),
                               ('importeret.csv', NULL, '30 days', now() - interval '30 days'))
                       AS x(f, c, a, i)
         WHERE u.email = '{ADMIN}';
         INSERT INTO sessions (id, user_id, municipality_id, csrf_token, created_at, last_seen_at, expires_at, client_addr)
         SELECT decode(md5(x.k), 'hex'), u.id, u.municipality_id, 't', now() - interval '3 days',
                now() - x.seen::interval, now() + x.remaining::interval, '10.0.0.1'
         FROM users u, (VALUES ('udløbet', '13 hours', '-1 hour'), ('hvilende', '2 days', '1 day'),
                               ('levende', '1 minute', '8 hours')) AS x(k, seen, remaining)
         WHERE u.email = '{ADMIN}';
         INSERT INTO login_throttle (key, failures, window_start, locked_until)
         VALUES ('client:10.0.0.1', 5, now() - interval '2 days', now() - interval '2 days'),
                ('email:glemt@example.dk', 1, now() - interval '2 days', NULL),
                ('client:10.0.0.2', 5, now() - interval '2 days', now() + interval '1 hour'),
                ('email:ny@example.dk', 1, now() - interval '1 minute', NULL);
         INSERT INTO user_tokens (id, user_id, municipality_id, purpose, created_at, expires_at)
         SELECT decode(md5(x.k), 'hex'), u.id, u.municipality_id, 'reset', now() - interval '5 days',
                now() + x.remaining::interval
         FROM users u, (VALUES ('gammelt', '-2 days'), ('nyt', '1 hour')) AS x(k, remaining)
         WHERE u.email = '{ADMIN}';",
        o = old.transition,
        r = recent.transition,
        m = old.municipality,
    ))
    .execute(&mut conn)
    .await
    .unwrap();
    let rows = "SELECT (SELECT count(*) FROM class_children) * 1000000
                     + (SELECT count(*) FROM handover_wishes) * 100000
                     + (SELECT count(*) FROM imports) * 10000
                     + (SELECT count(*) FROM sessions) * 1000
                     + (SELECT count(*) FROM login_throttle) * 10
                     + (SELECT count(*) FROM user_tokens)";
    let before = app.count(rows).await;
    let housekeeping = retention::Housekeeping {
        deleted_sessions: 2,
        deleted_login_counters: 2,
        deleted_tokens: 1,
    };

    let dry = retention::purge(&app.db, OffsetDateTime::now_utc(), true)
        .await
        .unwrap();
    assert_eq!(vejle(&dry).deleted_uploads, 1);
    assert_eq!(dry.housekeeping, housekeeping);
    assert_eq!(app.count(rows).await, before, "the dry run changed nothing");

    let report = retention::purge(&app.db, OffsetDateTime::now_utc(), false)
        .await
        .unwrap();
    assert_eq!(vejle(&report).deleted_uploads, 1);
    assert_eq!(report.housekeeping, housekeeping);
    assert!(retention::describe(&report).contains("2 sessioner, 2 login-tællere, 1 links"));
    let left = |sql: String| {
        let app = &app;
        async move { app.count(&sql).await }
    };
    for (table, kept) in [("class_children", 1), ("handover_wishes", 1)] {
        assert_eq!(
            left(format!(
                "SELECT count(*) FROM {table} WHERE transition_id = '{}'",
                old.transition
            ))
            .await,
            0,
            "{table}"
        );
        assert_eq!(
            left(format!("SELECT count(*) FROM {table}")).await,
            kept,
            "{table}"
        );
    }
    assert_eq!(
        left("SELECT count(*) FROM imports WHERE filename <> 'gammel.csv'".into()).await,
        2
    );
    assert_eq!(left("SELECT count(*) FROM imports".into()).await, 2);
    assert_eq!(left("SELECT count(*) FROM sessions".into()).await, 1);
    assert_eq!(left("SELECT count(*) FROM login_throttle".into()).await, 2);
    assert_eq!(left("SELECT count(*) FROM user_tokens".into()).await, 1);
}

/// Every page that lists children by name is a read of their data and leaves an entry: the
/// worklist, the inbox, the feedback list, the moves between municipalities and the child
/// picker of a new transition, as the children list does.
#[tokio::test]
async fn lists_of_children_are_audited() {
    let app = spawn_app().await;
    let admin = app.login(ADMIN).await;
    let teacher = app.login("laerer@vejle.overgang.test").await;
    for (c, path, entity) in [
        (&admin, "/transitions", "transition"),
        (&teacher, "/inbox", "inbox"),
        (&teacher, "/feedback", "feedback_request"),
        (&admin, "/transfers", "transfer"),
        (&admin, "/transitions/new", "child"),
        (&admin, "/children", "child"),
    ] {
        let entries = format!(
            "SELECT count(*) FROM audit_log a JOIN users u ON u.id = a.user_id
             WHERE a.action = 'list' AND a.entity_type = '{entity}'"
        );
        let before = app.count(&entries).await;
        let (status, _) = c.get_text(path).await;
        assert_eq!(status, StatusCode::OK, "{path}");
        assert_eq!(app.count(&entries).await, before + 1, "{path}");
    }
}

/// A child who never had a transition (registered by hand, imported, or received from another
/// municipality) is anonymised once every enrolment ended before the retention cutoff, like a
/// child whose transitions are purged; one still enrolled, or gone only recently, is kept.
#[tokio::test]
async fn a_child_without_transitions_is_anonymised_after_the_retention_period() {
    let app = spawn_app().await;
    let mut conn = app.owner_conn().await;
    // Vejle keeps 1,825 days.
    let ids: Vec<(String, Uuid)> = sqlx::query_as(
        "WITH i AS (SELECT municipality_id, id FROM institutions WHERE name = 'Børnehaven Solsikken'),
              c AS (INSERT INTO children (municipality_id, first_name, last_name, birth_date, cpr, created_at)
                    SELECT i.municipality_id, x.name, 'Uden', DATE '2014-02-02', x.cpr,
                           now() - interval '3000 days'
                    FROM i, (VALUES ('Gammel', '020214-1234'), ('Nylig', NULL), ('Indskrevet', NULL))
                            AS x(name, cpr)
                    RETURNING municipality_id, id, first_name),
              e AS (INSERT INTO enrolments (municipality_id, child_id, institution_id, starts_on, ends_on)
                    SELECT c.municipality_id, c.id, i.id, current_date - 2900,
                           CASE c.first_name WHEN 'Gammel' THEN current_date - 2500
                                             WHEN 'Nylig' THEN current_date - 30 END
                    FROM c, i)
         SELECT first_name, id FROM c ORDER BY first_name",
    )
    .fetch_all(&mut conn)
    .await
    .unwrap();
    sqlx::query(
        "INSERT INTO guardians (municipality_id, child_id, name, has_custody)
         SELECT municipality_id, id, 'Mor', true FROM children WHERE id = ANY($1)",
    )
    .bind(ids.iter().map(|(_, id)| *id).collect::<Vec<_>>())
    .execute(&mut conn)
    .await
    .unwrap();
    let report = retention::purge(&app.db, OffsetDateTime::now_utc(), false)
        .await
        .unwrap();
    assert_eq!(vejle(&report).anonymised_children, 1);
    for (name, id) in &ids {
        let (first, cpr, guardians): (String, Option<String>, i64) = sqlx::query_as(
            "SELECT first_name, cpr, (SELECT count(*) FROM guardians g WHERE g.child_id = c.id)
             FROM children c WHERE id = $1",
        )
        .bind(id)
        .fetch_one(&mut conn)
        .await
        .unwrap();
        if name == "Gammel" {
            assert_eq!((first.as_str(), cpr, guardians), ("Anonymiseret", None, 0));
        } else {
            assert_eq!((&first, guardians), (name, 1), "{name} is kept");
        }
    }
}

//! Feedback from the receiver to the sender: automatic requests at the municipality's delay
//! (not before, never twice), the optional second round, reminders once, the receiver's form
//! (validation keeping the input, storing everything and moving the status, refusing a second
//! answer), who may see and answer, and the sender's view with both sides.

use reqwest::StatusCode;
use time::{Date, Duration};
use uuid::Uuid;

use crate::common::{location, spawn_app, TestApp};
use overgang::feedback::{create_due_requests, send_reminders, Created};

const PAEDAGOG: &str = "paedagog@vejle.overgang.test";
const LEDER: &str = "leder@vejle.overgang.test";
const LAERER: &str = "laerer@vejle.overgang.test";
const ADMIN: &str = "admin@vejle.overgang.test";
const ANALYST: &str = "analytiker@vejle.overgang.test";
const SPECIALIST: &str = "specialist@vejle.overgang.test";
const STEVNS_ADMIN: &str = "admin@stevns.overgang.test";
const OTHER_STAFF: &str = "anden@vejle.overgang.test";

async fn today(app: &TestApp) -> Date {
    let mut conn = app.owner_conn().await;
    sqlx::query_scalar("SELECT current_date")
        .fetch_one(&mut conn)
        .await
        .unwrap()
}

/// A transition of a new child from Solsikken to Bakkeskolen, planned `days_ago` days before
/// today, with `status`; the sender rated every themed scale question ('2' or 'yellow').
async fn transition(app: &TestApp, days_ago: i64, status: &str) -> Uuid {
    let mut conn = app.owner_conn().await;
    let (m, inst): (Uuid, Uuid) = sqlx::query_as(
        "SELECT municipality_id, id FROM institutions WHERE name = 'Børnehaven Solsikken'",
    )
    .fetch_one(&mut conn)
    .await
    .unwrap();
    let child: Uuid = sqlx::query_scalar(
        "INSERT INTO children (municipality_id, first_name, last_name, birth_date)
         VALUES ($1, 'Felix', 'Feedback', '2019-05-05') RETURNING id",
    )
    .bind(m)
    .fetch_one(&mut conn)
    .await
    .unwrap();
    let id: Uuid = sqlx::query_scalar(
        "INSERT INTO transitions (municipality_id, child_id, sending_institution_id, receiving_institution_id,
                                  kind, planned_date, template_id, status)
         SELECT $1, $2, $3, r.id, 'kindergarten_school', current_date - $4::int, t.id, $5
         FROM institutions r, form_templates t
         WHERE r.municipality_id = $1 AND r.name = 'Bakkeskolen'
           AND t.municipality_id = $1 AND t.transition_kind = 'kindergarten_school' AND t.status = 'published'
         RETURNING id",
    )
    .bind(m)
    .bind(child)
    .bind(inst)
    .bind(days_ago as i32)
    .bind(status)
    .fetch_one(&mut conn)
    .await
    .unwrap();
    sqlx::query(
        "INSERT INTO answers (municipality_id, transition_id, question_id, template_id, value)
         SELECT t.municipality_id, t.id, q.id, q.template_id,
                CASE q.kind WHEN 'scale_1_4' THEN '2' ELSE 'yellow' END
         FROM transitions t JOIN template_questions q
           ON q.municipality_id = t.municipality_id AND q.template_id = t.template_id
         WHERE t.id = $1 AND q.theme IS NOT NULL AND q.kind IN ('scale_1_4', 'traffic_light')",
    )
    .bind(id)
    .execute(&mut conn)
    .await
    .unwrap();
    id
}

/// The themed scale questions of the transition's template, in form order, with their kind.
async fn themed(app: &TestApp, transition: Uuid) -> Vec<(Uuid, String)> {
    let mut conn = app.owner_conn().await;
    sqlx::query_as(
        "SELECT q.id, q.kind FROM transitions t
         JOIN template_questions q ON q.municipality_id = t.municipality_id AND q.template_id = t.template_id
         JOIN template_sections s ON s.municipality_id = q.municipality_id AND s.id = q.section_id
         WHERE t.id = $1 AND q.theme IS NOT NULL AND q.kind IN ('scale_1_4', 'traffic_light')
         ORDER BY s.position, q.position",
    )
    .bind(transition)
    .fetch_all(&mut conn)
    .await
    .unwrap()
}

async fn status(app: &TestApp, transition: Uuid) -> String {
    let mut conn = app.owner_conn().await;
    sqlx::query_scalar("SELECT status FROM transitions WHERE id = $1")
        .bind(transition)
        .fetch_one(&mut conn)
        .await
        .unwrap()
}

async fn request(app: &TestApp, transition: Uuid, round: i16) -> Option<Uuid> {
    let mut conn = app.owner_conn().await;
    sqlx::query_scalar("SELECT id FROM feedback_requests WHERE transition_id = $1 AND round = $2")
        .bind(transition)
        .bind(round)
        .fetch_optional(&mut conn)
        .await
        .unwrap()
}

/// A transition with an open round-1 request, made by the sweep itself.
async fn requested(app: &TestApp) -> (Uuid, Uuid) {
    let t = transition(app, 120, "sent").await;
    create_due_requests(&app.db, today(app).await)
        .await
        .unwrap();
    let r = request(app, t, 1)
        .await
        .expect("the sweep created the request");
    (t, r)
}

/// A valid answer: every themed question rated (scale '4', traffic light 'green').
fn valid(questions: &[(Uuid, String)]) -> Vec<(String, String)> {
    let mut fields: Vec<(String, String)> = questions
        .iter()
        .map(|(id, kind)| {
            (
                format!("rating_{id}"),
                if kind == "scale_1_4" { "4" } else { "green" }.to_string(),
            )
        })
        .collect();
    for (k, v) in [
        ("usefulness", "4"),
        ("completeness", "3"),
        (
            "missing",
            "Mere om hvad der virker i overgangene i løbet af dagen.",
        ),
        ("special_support", "yes"),
        ("deferred_start", "no"),
        ("ppr_referral", "no"),
    ] {
        fields.push((k.into(), v.into()));
    }
    fields
}

fn refs(fields: &[(String, String)]) -> Vec<(&str, &str)> {
    fields
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect()
}

#[tokio::test]
async fn requests_are_created_at_the_delay_not_before_and_only_once() {
    let app = spawn_app().await;
    let today = today(&app).await;
    // Vejle's delay is the default 90 days.
    let at_delay = transition(&app, 90, "sent").await;
    let received = transition(&app, 100, "received").await;
    let one_day_early = transition(&app, 89, "sent").await;
    let draft = transition(&app, 200, "draft").await;

    let created = create_due_requests(&app.db, today).await.unwrap();
    assert_eq!(
        created,
        Created {
            first_round: 2,
            second_round: 0
        }
    );
    assert_eq!(status(&app, at_delay).await, "feedback_requested");
    assert_eq!(status(&app, received).await, "feedback_requested");
    assert_eq!(status(&app, one_day_early).await, "sent");
    assert_eq!(status(&app, draft).await, "draft");
    assert!(request(&app, one_day_early, 1).await.is_none());
    assert!(request(&app, draft, 1).await.is_none());
    // due in 30 days; the move is a system event (no user) and is audited
    assert_eq!(
        app.count(&format!(
            "SELECT count(*) FROM feedback_requests WHERE transition_id = '{at_delay}'
             AND due_on = DATE '{}' AND answered_at IS NULL",
            today + Duration::days(30)
        ))
        .await,
        1
    );
    assert_eq!(
        app.count(&format!(
            "SELECT count(*) FROM transition_events WHERE transition_id = '{at_delay}'
             AND from_status = 'sent' AND to_status = 'feedback_requested' AND user_id IS NULL"
        ))
        .await,
        1
    );
    assert_eq!(
        app.count(&format!(
            "SELECT version::bigint FROM transitions WHERE id = '{at_delay}'"
        ))
        .await,
        2
    );
    assert_eq!(
        app.count(
            "SELECT count(*) FROM audit_log WHERE action = 'create' AND entity_type = 'feedback_request'
             AND user_id IS NULL AND role = 'system'"
        )
        .await,
        2
    );

    // A second run creates nothing and moves nothing.
    assert_eq!(
        create_due_requests(&app.db, today).await.unwrap(),
        Created::default()
    );
    assert_eq!(app.count("SELECT count(*) FROM feedback_requests").await, 2);
    assert_eq!(
        app.count("SELECT count(*) FROM transition_events WHERE to_status = 'feedback_requested'")
            .await,
        2
    );

    // A day later the early one is due.
    let created = create_due_requests(&app.db, today + Duration::days(1))
        .await
        .unwrap();
    assert_eq!(created.first_round, 1);
    assert_eq!(status(&app, one_day_early).await, "feedback_requested");

    // A municipality's own delay counts.
    let mut conn = app.owner_conn().await;
    sqlx::query("UPDATE municipalities SET feedback_delay_days = 10 WHERE code = '0630'")
        .execute(&mut conn)
        .await
        .unwrap();
    let soon = transition(&app, 10, "received").await;
    let not_yet = transition(&app, 9, "received").await;
    assert_eq!(
        create_due_requests(&app.db, today)
            .await
            .unwrap()
            .first_round,
        1
    );
    assert!(request(&app, soon, 1).await.is_some());
    assert!(request(&app, not_yet, 1).await.is_none());
}

#[tokio::test]
async fn the_second_round_comes_only_when_enabled_and_keeps_the_status() {
    let app = spawn_app().await;
    let today = today(&app).await;
    let old = transition(&app, 400, "sent").await;
    let young = transition(&app, 300, "sent").await;
    create_due_requests(&app.db, today).await.unwrap();
    // Both answered.
    let mut conn = app.owner_conn().await;
    sqlx::query(
        "UPDATE feedback_requests SET answered_at = now(), usefulness = 3, completeness = 3,
                special_support = false, deferred_start = false, ppr_referral = false",
    )
    .execute(&mut conn)
    .await
    .unwrap();
    sqlx::query("UPDATE transitions SET status = 'feedback_given', version = version + 1")
        .execute(&mut conn)
        .await
        .unwrap();

    assert_eq!(
        create_due_requests(&app.db, today).await.unwrap(),
        Created::default(),
        "off by default"
    );
    assert!(request(&app, old, 2).await.is_none());

    sqlx::query("UPDATE municipalities SET feedback_second_round = true WHERE code = '0630'")
        .execute(&mut conn)
        .await
        .unwrap();
    let created = create_due_requests(&app.db, today).await.unwrap();
    assert_eq!(
        created,
        Created {
            first_round: 0,
            second_round: 1
        }
    );
    assert!(request(&app, old, 2).await.is_some());
    assert!(
        request(&app, young, 2).await.is_none(),
        "12 months have not passed"
    );
    // feedback_given → feedback_requested is not a legal move: round 2 leaves the status.
    assert_eq!(status(&app, old).await, "feedback_given");
    assert_eq!(
        create_due_requests(&app.db, today).await.unwrap(),
        Created::default()
    );

    // The receiver answers round 2 from the worklist; the status stays feedback_given.
    let r2 = request(&app, old, 2).await.unwrap();
    let c = app.login(LAERER).await;
    let (_, list) = c.get_text("/feedback").await;
    assert!(list.contains(&format!("/feedback/{r2}")), "{list}");
    assert!(list.contains("2. runde"));
    let fields = valid(&themed(&app, old).await);
    let path = format!("/feedback/{r2}");
    let r = c.post_with_token(&path, &path, &refs(&fields)).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert_eq!(status(&app, old).await, "feedback_given");
    assert_eq!(
        app.count(&format!(
            "SELECT count(*) FROM feedback_requests WHERE id = '{r2}' AND answered_at IS NOT NULL"
        ))
        .await,
        1
    );
}

#[tokio::test]
async fn the_form_validates_and_keeps_the_input_without_saving() {
    let app = spawn_app().await;
    let (t, r) = requested(&app).await;
    let questions = themed(&app, t).await;
    assert!(
        questions.len() >= 6,
        "the default template rates the themes"
    );
    let c = app.login(LAERER).await;
    let path = format!("/feedback/{r}");
    let (s, html) = c.get_text(&path).await;
    assert_eq!(s, StatusCode::OK);
    for (q, _) in &questions {
        assert!(html.contains(&format!("name=\"rating_{q}\"")), "{q}");
    }
    assert!(
        html.contains("2 – har brug for nogen støtte"),
        "the same scale"
    );
    // The sender's ratings are neither shown nor preselected before the receiver answers.
    assert!(!html.contains(" checked"), "nothing preselected");
    assert!(!html.contains("Afsenderens vurdering"));

    let long = "x".repeat(4001);
    let first = format!("rating_{}", questions[0].0);
    let r422 = c
        .post_with_token(
            &path,
            &path,
            &[
                (first.as_str(), "9"),
                ("usefulness", "7"),
                ("missing", long.as_str()),
                ("special_support", "yes"),
            ],
        )
        .await;
    assert_eq!(r422.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let html = r422.text().await.unwrap();
    for msg in [
        "Der er problemer",
        "Vælg et af de viste svar.",
        "Vælg et tal fra 1 til 5.",
        "Vælg, hvor dækkende overleveringen var.",
        "Teksten må højst være 4000 tegn.",
        "Svar ja eller nej.",
    ] {
        assert!(html.contains(msg), "missing {msg:?}");
    }
    assert!(html.contains(&long), "the text is kept");
    assert!(
        html.contains("value=\"yes\" checked"),
        "the chosen answer is kept"
    );
    assert_eq!(
        app.count(&format!(
            "SELECT count(*) FROM feedback_requests WHERE id = '{r}' AND answered_at IS NULL"
        ))
        .await,
        1
    );
    assert_eq!(app.count("SELECT count(*) FROM feedback_ratings").await, 0);
    assert_eq!(status(&app, t).await, "feedback_requested");

    // A field that is not one of this form's questions is refused outright.
    let bogus = format!("rating_{}", Uuid::new_v4());
    let r400 = c
        .post_with_token(&path, &path, &[(bogus.as_str(), "1")])
        .await;
    assert_eq!(r400.status(), StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn submitting_stores_everything_moves_the_status_and_refuses_a_second_answer() {
    let app = spawn_app().await;
    let (t, r) = requested(&app).await;
    let questions = themed(&app, t).await;
    let c = app.login(LAERER).await;
    let path = format!("/feedback/{r}");
    let fields = valid(&questions);
    let resp = c.post_with_token(&path, &path, &refs(&fields)).await;
    assert_eq!(resp.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&resp), path);

    assert_eq!(
        app.count(&format!(
            "SELECT count(*) FROM feedback_requests r JOIN users u ON u.id = r.answered_by
             WHERE r.id = '{r}' AND u.email = '{LAERER}' AND r.answered_at IS NOT NULL
               AND r.usefulness = 4 AND r.completeness = 3 AND r.missing LIKE 'Mere om%'
               AND r.special_support AND NOT r.deferred_start AND NOT r.ppr_referral"
        ))
        .await,
        1
    );
    assert_eq!(
        app.count(&format!(
            "SELECT count(*) FROM feedback_ratings WHERE request_id = '{r}'
             AND value IN ('4', 'green')"
        ))
        .await,
        questions.len() as i64
    );
    assert_eq!(status(&app, t).await, "feedback_given");
    assert_eq!(
        app.count(&format!(
            "SELECT count(*) FROM transition_events e JOIN users u ON u.id = e.user_id
             WHERE e.transition_id = '{t}' AND e.from_status = 'feedback_requested'
               AND e.to_status = 'feedback_given' AND u.email = '{LAERER}'"
        ))
        .await,
        1
    );
    assert_eq!(
        app.count(&format!(
            "SELECT count(*) FROM audit_log WHERE action = 'answer' AND entity_id = '{r}'"
        ))
        .await,
        1
    );

    // After answering, the receiver sees the sender's ratings next to their own.
    let (s, html) = c.get_text(&path).await;
    assert_eq!(s, StatusCode::OK);
    assert!(html.contains("Tak! Tilbagemeldingen er sendt"));
    assert!(html.contains("Afsenderens vurdering"));
    assert!(html.contains("2 – har brug for nogen støtte"));
    assert!(html.contains("4 – klarer det rigtig godt"));
    assert!(!html.contains("<form method=\"post\" action=\"/feedback/"));
    let (_, list) = c.get_text("/feedback").await;
    assert!(
        !list.contains(&path),
        "answered requests leave the worklist"
    );

    // A second answer is refused and changes nothing.
    let resp = c.post_with_token("/feedback", &path, &refs(&fields)).await;
    assert_eq!(resp.status(), StatusCode::CONFLICT);
    assert!(resp.text().await.unwrap().contains("allerede givet"));
    assert_eq!(
        app.count(&format!(
            "SELECT count(*) FROM feedback_ratings WHERE request_id = '{r}'"
        ))
        .await,
        questions.len() as i64
    );

    // A cancelled handover takes no feedback.
    let (t2, r2) = requested(&app).await;
    let mut conn = app.owner_conn().await;
    sqlx::query("UPDATE transitions SET status = 'cancelled' WHERE id = $1")
        .bind(t2)
        .execute(&mut conn)
        .await
        .unwrap();
    let path2 = format!("/feedback/{r2}");
    let resp = c.post_with_token("/feedback", &path2, &refs(&fields)).await;
    assert_eq!(resp.status(), StatusCode::CONFLICT);
    assert!(resp.text().await.unwrap().contains("«Annulleret»"));
}

#[tokio::test]
async fn one_reminder_per_unanswered_request() {
    let app = spawn_app().await;
    let today = today(&app).await;
    let (_, r) = requested(&app).await;
    let (t_answered, r_answered) = requested(&app).await;
    let mut conn = app.owner_conn().await;
    sqlx::query(
        "UPDATE feedback_requests SET answered_at = now(), usefulness = 3, completeness = 3 WHERE id = $1",
    )
    .bind(r_answered)
    .execute(&mut conn)
    .await
    .unwrap();
    sqlx::query("UPDATE transitions SET status = 'feedback_given' WHERE id = $1")
        .bind(t_answered)
        .execute(&mut conn)
        .await
        .unwrap();
    let base = "https://overgang.vejle.dk";
    // Vejle reminds after the default 14 days.
    assert_eq!(
        send_reminders(&app.db, today + Duration::days(13), base)
            .await
            .unwrap(),
        0
    );
    assert_eq!(
        send_reminders(&app.db, today + Duration::days(14), base)
            .await
            .unwrap(),
        1
    );
    // The receiving school's staff (the teacher) get it, the sender does not.
    assert_eq!(
        app.count(&format!(
            "SELECT count(*) FROM outbox WHERE to_address = '{LAERER}'
             AND subject LIKE 'Påmindelse%' AND body LIKE '%{base}/feedback/{r}%'
             AND body NOT LIKE '%Felix%'"
        ))
        .await,
        1
    );
    assert_eq!(
        app.count(&format!(
            "SELECT count(*) FROM outbox WHERE to_address IN ('{PAEDAGOG}', '{LEDER}')"
        ))
        .await,
        0
    );
    assert_eq!(
        app.count(&format!(
            "SELECT count(*) FROM feedback_requests WHERE id = '{r}' AND reminded_at IS NOT NULL"
        ))
        .await,
        1
    );
    // Never twice.
    assert_eq!(
        send_reminders(&app.db, today + Duration::days(40), base)
            .await
            .unwrap(),
        0
    );
    assert_eq!(
        app.count("SELECT count(*) FROM outbox WHERE subject LIKE 'Påmindelse%'")
            .await,
        1
    );
}

/// A staff member of another Vejle institution (Mariehønen), with the demo password.
async fn other_staff(app: &TestApp) {
    let mut conn = app.owner_conn().await;
    sqlx::query(
        "WITH u AS (
             INSERT INTO users (municipality_id, email, name, password_hash)
             SELECT municipality_id, $1, 'Anden Pædagog', password_hash FROM users WHERE email = $2
             RETURNING id, municipality_id)
         INSERT INTO role_assignments (municipality_id, user_id, role, institution_id)
         SELECT u.municipality_id, u.id, 'staff', i.id FROM u, institutions i
         WHERE i.municipality_id = u.municipality_id AND i.name = 'Børnehaven Mariehønen'",
    )
    .bind(OTHER_STAFF)
    .bind(LAERER)
    .execute(&mut conn)
    .await
    .unwrap();
}

#[tokio::test]
async fn who_may_see_and_answer() {
    let app = spawn_app().await;
    other_staff(&app).await;
    let (t, r) = requested(&app).await;
    let form = format!("/feedback/{r}");
    let sender = format!("/transitions/{t}/feedback");
    // (user, GET form, GET sender view, request in their /feedback list)
    let cases: [(&str, u16, u16, Option<bool>); 8] = [
        (LAERER, 200, 403, Some(true)),
        (ADMIN, 200, 200, Some(true)),
        (PAEDAGOG, 403, 200, Some(false)),
        (LEDER, 403, 200, Some(false)),
        (OTHER_STAFF, 404, 404, Some(false)),
        (STEVNS_ADMIN, 404, 404, Some(false)),
        (ANALYST, 403, 403, None),
        (SPECIALIST, 403, 403, None),
    ];
    for (user, form_status, sender_status, listed) in cases {
        let c = app.login(user).await;
        assert_eq!(
            c.get(&form).await.status().as_u16(),
            form_status,
            "{user} form"
        );
        assert_eq!(
            c.get(&sender).await.status().as_u16(),
            sender_status,
            "{user} sender view"
        );
        let (s, list) = c.get_text("/feedback").await;
        match listed {
            Some(expected) => {
                assert_eq!(s, StatusCode::OK, "{user} list");
                assert_eq!(list.contains(&form), expected, "{user} list");
            }
            None => assert_eq!(s, StatusCode::FORBIDDEN, "{user} list"),
        }
        // Only the receiving side may answer; the refusals change nothing.
        if form_status != 200 {
            let fields = valid(&themed(&app, t).await);
            let resp = c.post_with_token("/", &form, &refs(&fields)).await;
            assert_eq!(resp.status().as_u16(), form_status, "{user} answer");
        }
    }
    assert_eq!(
        app.count(&format!(
            "SELECT count(*) FROM feedback_requests WHERE id = '{r}' AND answered_at IS NULL"
        ))
        .await,
        1
    );
    assert_eq!(status(&app, t).await, "feedback_requested");
    // Without the CSRF token even the receiver is refused.
    let c = app.login(LAERER).await;
    let fields = valid(&themed(&app, t).await);
    let resp = c.post_form(&form, &refs(&fields)).await;
    assert_eq!(resp.status(), StatusCode::FORBIDDEN);
    assert_eq!(status(&app, t).await, "feedback_requested");
}

#[tokio::test]
async fn the_sender_sees_both_sides() {
    let app = spawn_app().await;
    let (t, r) = requested(&app).await;
    let sender = app.login(PAEDAGOG).await;
    let view = format!("/transitions/{t}/feedback");
    let (s, html) = sender.get_text(&view).await;
    assert_eq!(s, StatusCode::OK);
    assert!(html.contains("Venter på svar fra modtageren"), "{html}");
    assert!(!html.contains("Modtagerens vurdering"));

    let teacher = app.login(LAERER).await;
    let path = format!("/feedback/{r}");
    let fields = valid(&themed(&app, t).await);
    let resp = teacher.post_with_token(&path, &path, &refs(&fields)).await;
    assert_eq!(resp.status(), StatusCode::SEE_OTHER);

    let (s, html) = sender.get_text(&view).await;
    assert_eq!(s, StatusCode::OK);
    for text in [
        "1. runde",
        "Jeres vurdering",
        "Modtagerens vurdering",
        "Kommunikation og sprog",
        // the sender's '2' and the receiver's '4' on the same row, as words
        "<td>2 – har brug for nogen støtte</td><td>4 – klarer det rigtig godt</td>",
        "<td>Gul – god at være opmærksom på</td><td>Grøn – trives og udvikler sig godt</td>",
        "4 – brugbar",
        "3 – nogenlunde dækkende",
        "Mere om hvad der virker",
        "Peter Nielsen",
    ] {
        assert!(html.contains(text), "missing {text:?}");
    }
    assert_eq!(
        app.count(&format!(
            "SELECT count(*) FROM audit_log WHERE action = 'view_feedback' AND entity_id = '{t}'"
        ))
        .await,
        2
    );
}

/// The teacher's valid answer to request `r` of transition `t`, sent while another
/// transaction holds the transition's row and then makes `change` (`TestApp::during`).
async fn answer_during(app: &TestApp, t: Uuid, r: Uuid, change: &str) -> (StatusCode, String) {
    let c = app.login(LAERER).await;
    let path = format!("/feedback/{r}");
    let token = c.csrf(&path).await;
    let mut fields = vec![("_csrf".to_string(), token)];
    fields.extend(valid(&themed(app, t).await));
    app.during(
        &format!("SELECT 1 FROM transitions WHERE id = '{t}' FOR UPDATE"),
        change,
        async {
            let r = c.post_form(&path, &refs(&fields)).await;
            (r.status(), r.text().await.unwrap())
        },
    )
    .await
}

/// A second-round answer sent while the sender closes the handover (the close holds the
/// transition's row, the answer waits for it) sees the closed status once it gets the row, and
/// is refused: nothing is stored on a closed handover.
#[tokio::test]
async fn an_answer_waiting_for_a_close_sees_it_closed() {
    let app = spawn_app().await;
    let t = transition(&app, 400, "feedback_given").await;
    let r: Uuid = {
        let mut conn = app.owner_conn().await;
        sqlx::query_scalar(
            "INSERT INTO feedback_requests (municipality_id, transition_id, round, due_on)
             SELECT municipality_id, id, 2, current_date FROM transitions WHERE id = $1
             RETURNING id",
        )
        .bind(t)
        .fetch_one(&mut conn)
        .await
        .unwrap()
    };
    let (status, page) = answer_during(
        &app,
        t,
        r,
        &format!(
            "UPDATE transitions SET status = 'closed', version = version + 1 WHERE id = '{t}'"
        ),
    )
    .await;
    assert_eq!(status, StatusCode::CONFLICT, "{page}");
    assert!(page.contains("Afsluttet"), "{page}");
    assert_eq!(
        app.count(&format!(
            "SELECT count(*) FROM feedback_requests WHERE id = '{r}' AND answered_at IS NOT NULL"
        ))
        .await,
        0
    );
}

/// A first-round answer sent while the sending leader gives the handover a new responsible
/// (the reassign holds the transition's row and bumps its version): the answer waits, then
/// closes the loop on the version the reassign left, and is stored. Before, it expected the
/// version read before the wait, and a valid answer was refused as a conflict.
#[tokio::test]
async fn an_answer_waiting_for_a_reassign_is_stored() {
    let app = spawn_app().await;
    let (t, r) = requested(&app).await;
    let (status, page) = answer_during(
        &app,
        t,
        r,
        &format!(
            "UPDATE transitions SET responsible_user_id = NULL, version = version + 1
             WHERE id = '{t}'"
        ),
    )
    .await;
    assert_eq!(status, StatusCode::SEE_OTHER, "{page}");
    assert_eq!(
        app.count(&format!(
            "SELECT count(*) FROM feedback_requests WHERE id = '{r}' AND answered_at IS NOT NULL"
        ))
        .await,
        1
    );
    assert_eq!(
        app.count(&format!(
            "SELECT count(*) FROM transitions WHERE id = '{t}' AND status = 'feedback_given'"
        ))
        .await,
        1
    );
}

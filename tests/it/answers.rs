//! Filling the handover form through the real server: saving and reloading, validation that
//! saves nothing, the optimistic version check (form post and fetch), required questions before
//! the form leaves the sender, and who may fill it.

use reqwest::{header, StatusCode};
use uuid::Uuid;

use crate::common::{location, spawn_app, Client, TestApp};

const PAEDAGOG: &str = "paedagog@vejle.overgang.test";
const LEDER: &str = "leder@vejle.overgang.test";
const LAERER: &str = "laerer@vejle.overgang.test";
const STEVNS_ADMIN: &str = "admin@stevns.overgang.test";

struct Q {
    id: Uuid,
    kind: String,
    required: bool,
    options: Vec<String>,
    label: String,
}

/// A draft transition of a child at Solsikken to Bakkeskolen on the published template.
async fn transition(app: &TestApp) -> Uuid {
    let (m, inst, child) = app
        .enrolled_child("Børnehaven Solsikken", ("Ida", "Skema"), "2020-05-05", 500)
        .await;
    let mut conn = app.owner_conn().await;
    sqlx::query_scalar(
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
    .unwrap()
}

async fn questions(app: &TestApp, id: Uuid) -> Vec<Q> {
    let mut conn = app.owner_conn().await;
    let rows: Vec<(Uuid, String, bool, Vec<String>, String)> = sqlx::query_as(
        "SELECT q.id, q.kind, q.required, q.options, q.label
         FROM transitions t JOIN template_questions q
           ON q.municipality_id = t.municipality_id AND q.template_id = t.template_id
         JOIN template_sections s ON s.municipality_id = q.municipality_id AND s.id = q.section_id
         WHERE t.id = $1 ORDER BY s.position, q.position",
    )
    .bind(id)
    .fetch_all(&mut conn)
    .await
    .unwrap();
    rows.into_iter()
        .map(|(id, kind, required, options, label)| Q {
            id,
            kind,
            required,
            options,
            label,
        })
        .collect()
}

async fn version(app: &TestApp, id: Uuid) -> i64 {
    app.count(&format!(
        "SELECT version::bigint FROM transitions WHERE id = '{id}'"
    ))
    .await
}

async fn answer_count(app: &TestApp, id: Uuid) -> i64 {
    app.count(&format!(
        "SELECT count(*) FROM answers WHERE transition_id = '{id}'"
    ))
    .await
}

/// Answers every required question of the transition directly in the database (for tests
/// that are about the status machine, not about filling the form).
pub async fn answer_required(app: &TestApp, id: Uuid) {
    let mut conn = app.owner_conn().await;
    sqlx::query(
        r#"INSERT INTO answers (municipality_id, transition_id, question_id, template_id, value, "values")
           SELECT t.municipality_id, t.id, q.id, q.template_id,
                  CASE q.kind WHEN 'free_text' THEN 'Svar' WHEN 'scale_1_4' THEN '3'
                              WHEN 'traffic_light' THEN 'green' WHEN 'single_choice' THEN q.options[1]
                              WHEN 'date' THEN '2027-01-01' END,
                  CASE WHEN q.kind = 'multi_choice' THEN ARRAY[q.options[1]] ELSE '{}' END
           FROM transitions t JOIN template_questions q
             ON q.municipality_id = t.municipality_id AND q.template_id = t.template_id
           WHERE t.id = $1 AND q.required
           ON CONFLICT DO NOTHING"#,
    )
    .bind(id)
    .execute(&mut conn)
    .await
    .unwrap();
}

/// A valid answer to every question; free text answers are `text`.
fn valid(qs: &[Q], text: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for q in qs {
        let name = format!("q_{}", q.id);
        match q.kind.as_str() {
            "free_text" => out.push((name, text.to_string())),
            "scale_1_4" => out.push((name, "2".into())),
            "traffic_light" => out.push((name, "yellow".into())),
            "single_choice" => out.push((name, q.options[0].clone())),
            "multi_choice" => {
                out.push((name.clone(), q.options[0].clone()));
                out.push((name, q.options[1].clone()));
            }
            "date" => out.push((name, "2027-06-01".into())),
            other => panic!("unknown kind {other}"),
        }
    }
    out
}

fn form(id: Uuid) -> String {
    format!("/transitions/{id}/form")
}

async fn post(
    c: &Client,
    id: Uuid,
    version: &str,
    fields: &[(String, String)],
) -> reqwest::Response {
    let token = c.csrf(&form(id)).await;
    let mut all: Vec<(&str, &str)> = vec![("_csrf", &token), ("version", version)];
    all.extend(fields.iter().map(|(k, v)| (k.as_str(), v.as_str())));
    c.post_form(&form(id), &all).await
}

async fn move_to(c: &Client, id: Uuid, to: &str, version: i64) -> reqwest::Response {
    c.post_with_token(
        &format!("/transitions/{id}"),
        &format!("/transitions/{id}/status"),
        &[("to", to), ("version", &version.to_string())],
    )
    .await
}

#[tokio::test]
async fn saved_answers_are_shown_again() {
    let app = spawn_app().await;
    let id = transition(&app).await;
    let qs = questions(&app, id).await;
    let c = app.login(PAEDAGOG).await;

    let (status, html) = c.get_text(&form(id)).await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        html.contains(&format!("0 af {} spørgsmål besvaret", qs.len())),
        "{html}"
    );
    assert!(html.contains("obligatoriske mangler") || html.contains("obligatorisk mangler"));
    assert!(html.contains("(frivilligt)"));
    assert!(html.contains("Kræver forældrenes samtykke, før modtageren kan se det"));
    assert!(html.contains("name=\"version\" value=\"1\""));
    assert!(html.contains("Gem kladde") && html.contains("data-autosave"));
    // scales carry their words, not only a colour or number
    assert!(
        html.contains("Gul – god at være opmærksom på")
            || !qs.iter().any(|q| q.kind == "traffic_light")
    );

    let r = post(&c, id, "1", &valid(&qs, "Ida elsker at tegne")).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&r), form(id));
    assert_eq!(version(&app, id).await, 2);
    assert_eq!(answer_count(&app, id).await, qs.len() as i64);
    assert_eq!(
        app.count(&format!(
            "SELECT count(*) FROM audit_log WHERE action = 'answers_saved' AND entity_id = '{id}' AND child_id IS NOT NULL"
        ))
        .await,
        1
    );

    let (_, html) = c.get_text(&form(id)).await;
    assert!(html.contains("Kladden er gemt"));
    assert!(html.contains("Ida elsker at tegne"));
    assert!(html.contains(&format!("{n} af {n} spørgsmål besvaret", n = qs.len())));
    assert!(html.contains("name=\"version\" value=\"2\""));
    assert!(html.contains("checked"));

    // Clearing an answer removes it; the rest stay.
    let mut fewer = valid(&qs, "Ida elsker at tegne");
    let free = qs
        .iter()
        .find(|q| q.kind == "free_text" && !q.required)
        .unwrap();
    fewer.retain(|(k, _)| *k != format!("q_{}", free.id));
    let r = post(&c, id, "2", &fewer).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert_eq!(answer_count(&app, id).await, qs.len() as i64 - 1);
}

#[tokio::test]
async fn invalid_values_are_shown_with_the_input_and_nothing_is_saved() {
    let app = spawn_app().await;
    let id = transition(&app).await;
    let qs = questions(&app, id).await;
    let c = app.login(PAEDAGOG).await;

    let mut fields = valid(&qs, "Behold denne tekst");
    let first_text = qs.iter().find(|q| q.kind == "free_text").unwrap();
    for (k, v) in fields.iter_mut() {
        let q = qs.iter().find(|q| format!("q_{}", q.id) == *k).unwrap();
        match q.kind.as_str() {
            "scale_1_4" | "traffic_light" => *v = "9".into(),
            "single_choice" | "multi_choice" => *v = "Ikke en mulighed".into(),
            "date" => *v = "i morgen".into(),
            _ if q.id == first_text.id => *v = "x".repeat(10_001),
            _ => {}
        }
    }
    let r = post(&c, id, "1", &fields).await;
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let html = r.text().await.unwrap();
    assert!(html.contains("Der er problemer"));
    assert!(html.contains("Svaret må højst være 10000 tegn."));
    assert!(
        html.contains("Behold denne tekst"),
        "the user's input is kept"
    );
    if qs
        .iter()
        .any(|q| q.kind.starts_with("scale") || q.kind == "traffic_light")
    {
        assert!(html.contains("Vælg et af de viste svar."));
    }
    if qs.iter().any(|q| q.kind == "date") {
        assert!(html.contains("Skriv en gyldig dato"));
    }
    assert_eq!(answer_count(&app, id).await, 0);
    assert_eq!(version(&app, id).await, 1);

    // An unknown question id is a broken form, not a field error.
    let r = post(
        &c,
        id,
        "1",
        &[(format!("q_{}", Uuid::new_v4()), "x".into())],
    )
    .await;
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    let r = post(&c, id, "nope", &[]).await;
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    assert_eq!(answer_count(&app, id).await, 0);
}

#[tokio::test]
async fn the_second_of_two_editors_gets_a_conflict_and_the_first_answers_stay() {
    let app = spawn_app().await;
    let id = transition(&app).await;
    let qs = questions(&app, id).await;
    let first = app.login(PAEDAGOG).await;
    let second = app.login(LEDER).await;

    let r = post(&first, id, "1", &valid(&qs, "Første udgave")).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let r = post(&second, id, "1", &valid(&qs, "Anden udgave")).await;
    assert_eq!(r.status(), StatusCode::CONFLICT);
    let html = r.text().await.unwrap();
    assert!(html.contains("ændret af en anden"));
    assert!(
        html.contains("Anden udgave"),
        "the second editor's input is kept on screen"
    );
    assert_eq!(version(&app, id).await, 2);
    assert_eq!(
        app.count(&format!(
            "SELECT count(*) FROM answers WHERE transition_id = '{id}' AND value = 'Anden udgave'"
        ))
        .await,
        0
    );
    assert!(
        app.count(&format!(
            "SELECT count(*) FROM answers WHERE transition_id = '{id}' AND value = 'Første udgave'"
        ))
        .await
            > 0
    );
}

#[tokio::test]
async fn autosave_by_fetch_answers_204_with_the_version_or_409() {
    let app = spawn_app().await;
    let id = transition(&app).await;
    let qs = questions(&app, id).await;
    let c = app.login(PAEDAGOG).await;
    let token = c.csrf(&form(id)).await;
    let send = |version: &'static str, text: &'static str| {
        let mut fields = vec![
            ("_csrf".to_string(), token.clone()),
            ("version".into(), version.into()),
        ];
        fields.extend(valid(&qs, text));
        c.http
            .post(c.url(&form(id)))
            .header(header::ORIGIN, &c.base)
            .header("X-Requested-With", "fetch")
            .form(&fields)
            .send()
    };
    let r = send("1", "Autogemt").await.unwrap();
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    assert_eq!(r.headers()["x-version"], "2");
    let r = send("1", "Forældet").await.unwrap();
    assert_eq!(r.status(), StatusCode::CONFLICT);
    let r = send("2", "Autogemt igen").await.unwrap();
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    assert_eq!(r.headers()["x-version"], "3");
    assert_eq!(
        app.count(&format!(
            "SELECT count(*) FROM answers WHERE transition_id = '{id}' AND value = 'Forældet'"
        ))
        .await,
        0
    );
}

#[tokio::test]
async fn required_questions_block_leaving_the_sender_and_a_ready_form_is_closed() {
    let app = spawn_app().await;
    let id = transition(&app).await;
    let qs = questions(&app, id).await;
    let required: Vec<&Q> = qs.iter().filter(|q| q.required).collect();
    assert!(
        !required.is_empty(),
        "the default template has required questions"
    );
    let c = app.login(PAEDAGOG).await;

    for to in ["with_parents", "ready"] {
        let r = move_to(&c, id, to, 1).await;
        assert_eq!(r.status(), StatusCode::CONFLICT, "{to}");
        let html = r.text().await.unwrap();
        assert!(
            html.contains("obligatoriske spørgsmål er besvaret"),
            "{html}"
        );
        for q in &required {
            let label = q.label.replace('\'', "&#39;").replace('"', "&#34;");
            assert!(
                html.contains(&label) || html.contains(&q.label),
                "{} missing",
                q.label
            );
        }
    }
    assert_eq!(version(&app, id).await, 1);

    let r = post(&c, id, "1", &valid(&qs, "Alt besvaret")).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let r = move_to(&c, id, "ready", 2).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);

    // Once ready, the form is closed for changes.
    let (status, html) = c.get_text(&form(id)).await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains("kan ikke længere udfyldes"));
    assert!(!html.contains("Gem kladde"));
    let r = post(&c, id, "3", &valid(&qs, "For sent")).await;
    assert_eq!(r.status(), StatusCode::CONFLICT);
    assert_eq!(
        app.count(&format!(
            "SELECT count(*) FROM answers WHERE transition_id = '{id}' AND value = 'For sent'"
        ))
        .await,
        0
    );
}

#[tokio::test]
async fn receivers_stevns_and_forged_posts_are_refused() {
    let app = spawn_app().await;
    let id = transition(&app).await;
    let qs = questions(&app, id).await;

    let t = app.login(LAERER).await;
    assert_eq!(t.get(&form(id)).await.status(), StatusCode::FORBIDDEN);
    let token = t.csrf(&format!("/transitions/{id}")).await;
    let r = t
        .post_form(&form(id), &[("_csrf", &token), ("version", "1")])
        .await;
    assert_eq!(r.status(), StatusCode::FORBIDDEN);

    let s = app.login(STEVNS_ADMIN).await;
    assert_eq!(s.get(&form(id)).await.status(), StatusCode::NOT_FOUND);
    let token = s.csrf("/transitions").await;
    let r = s
        .post_form(&form(id), &[("_csrf", &token), ("version", "1")])
        .await;
    assert_eq!(r.status(), StatusCode::NOT_FOUND);

    // No CSRF token: refused before anything else.
    let c = app.login(PAEDAGOG).await;
    let fields = valid(&qs, "Uden token");
    let mut all: Vec<(&str, &str)> = vec![("version", "1")];
    all.extend(fields.iter().map(|(k, v)| (k.as_str(), v.as_str())));
    let r = c.post_form(&form(id), &all).await;
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    assert_eq!(answer_count(&app, id).await, 0);
    assert_eq!(version(&app, id).await, 1);
}

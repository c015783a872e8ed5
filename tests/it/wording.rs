//! Strengths-based wording hints: deficit wording in a saved answer gets a hint next to it,
//! neutral text none, and saving is never stopped; the administrator's list is theirs to edit
//! (a new phrase gives a hint at once), only theirs (the other municipality's list stays as it
//! was), and a new municipality starts with the default list.

use reqwest::StatusCode;
use uuid::Uuid;

use crate::common::{csrf_from, location, spawn_app, Client, TestApp};

const PAEDAGOG: &str = "paedagog@vejle.overgang.test";
const ADMIN: &str = "admin@vejle.overgang.test";
const LEDER: &str = "leder@vejle.overgang.test";
const STEVNS_ADMIN: &str = "admin@stevns.overgang.test";

/// A draft transition of a fresh child at Solsikken, and two of its free-text questions.
async fn transition(app: &TestApp) -> (Uuid, Uuid, Uuid) {
    let (m, inst, child) = app
        .enrolled_child(
            "Børnehaven Solsikken",
            ("Otto", "Ordvalg"),
            "2020-05-05",
            500,
        )
        .await;
    let mut conn = app.owner_conn().await;
    let id: Uuid = sqlx::query_scalar(
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
    let texts: Vec<Uuid> = sqlx::query_scalar(
        "SELECT q.id FROM transitions t JOIN template_questions q
           ON q.municipality_id = t.municipality_id AND q.template_id = t.template_id
         WHERE t.id = $1 AND q.kind = 'free_text' ORDER BY q.id LIMIT 2",
    )
    .bind(id)
    .fetch_all(&mut conn)
    .await
    .unwrap();
    (id, texts[0], texts[1])
}

/// Saves two answers with the form's current version; the answer must be a redirect (saved).
async fn save(c: &Client, id: Uuid, answers: &[(Uuid, &str)]) -> String {
    let form = format!("/transitions/{id}/form");
    let (_, html) = c.get_text(&form).await;
    let token = csrf_from(&html);
    let version = html
        .split("name=\"version\" value=\"")
        .nth(1)
        .and_then(|s| s.split('"').next())
        .unwrap()
        .to_string();
    let names: Vec<String> = answers.iter().map(|(q, _)| format!("q_{q}")).collect();
    let mut fields: Vec<(&str, &str)> = vec![("_csrf", &token), ("version", &version)];
    for ((_, text), name) in answers.iter().zip(&names) {
        fields.push((name, text));
    }
    let r = c.post_form(&form, &fields).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER, "the answers are saved");
    assert_eq!(location(&r), form);
    c.get_text(&form).await.1
}

/// The hint box of the question's answer on the form page.
fn hints(html: &str, q: Uuid) -> String {
    let start = html
        .find(&format!("id=\"q_{q}-wording\""))
        .expect("every free-text answer has a hint box");
    let rest = &html[start..];
    rest[..rest.find("</div>").unwrap()].to_string()
}

async fn answer(app: &TestApp, id: Uuid, q: Uuid) -> String {
    let mut conn = app.owner_conn().await;
    sqlx::query_scalar("SELECT value FROM answers WHERE transition_id = $1 AND question_id = $2")
        .bind(id)
        .bind(q)
        .fetch_one(&mut conn)
        .await
        .unwrap()
}

#[tokio::test]
async fn deficit_wording_gets_a_hint_neutral_text_none_and_saving_still_works() {
    let app = spawn_app().await;
    let (id, q1, q2) = transition(&app).await;
    let c = app.login(PAEDAGOG).await;
    let deficit =
        "Leger godt med Sara. Han KAN IKKE sidde stille i samling, og han er et problembarn!";
    let neutral = "Hun leger godt med andre og kan lide at tegne. Hun er glad for at synge.";
    let html = save(&c, id, &[(q1, deficit), (q2, neutral)]).await;
    // saved as written: the hints are advice only
    assert_eq!(answer(&app, id, q1).await, deficit);
    assert_eq!(answer(&app, id, q2).await, neutral);

    let box1 = hints(&html, q1);
    assert!(box1.contains("<mark>KAN IKKE</mark>"), "{box1}");
    assert!(box1.contains("<mark>problembarn</mark>"), "{box1}");
    assert!(box1.contains("Beskriv, hvad barnet kan"), "{box1}");
    assert!(box1.contains("Undgå etiketter"), "{box1}");
    // the sentence is shown, the neighbouring one is not
    assert!(box1.contains("Han ") && !box1.contains("Sara"), "{box1}");
    let box2 = hints(&html, q2);
    assert!(!box2.contains("<li>"), "neutral text gets no hint: {box2}");
    // not even white space, or `.wording-hints:empty` would not hide the bordered box
    assert_eq!(
        box2,
        format!("id=\"q_{q2}-wording\">"),
        "an empty hint box is empty"
    );
    // the answer is described by its hint box, and the summary says how many have hints
    let area = &html[html
        .find(&format!("<textarea class=\"form-input\" id=\"q_{q1}\""))
        .unwrap()..];
    let area = &area[..area.find('>').unwrap()];
    let described = area.split("aria-describedby=\"").nth(1).unwrap();
    assert!(
        described
            .split('"')
            .next()
            .unwrap()
            .split(' ')
            .any(|i| i == format!("q_{q1}-wording")),
        "{area}"
    );
    assert!(html.contains("Ét svar har forslag til ordvalg"));
    // the live hints in the browser get the list
    assert!(html.contains("data-wording=\"[{"));
    assert!(html.contains("problembarn"));

    // Rewritten in strengths: the hint is gone.
    let html = save(
        &c,
        id,
        &[
            (q1, "Han sidder bedst i samling tæt på en voksen."),
            (q2, neutral),
        ],
    )
    .await;
    assert_eq!(hints(&html, q1), format!("id=\"q_{q1}-wording\">"));
    assert!(!html.contains("svar har forslag til ordvalg"));

    // Once the form can no longer be changed, its answers get no advice for writing.
    save(&c, id, &[(q1, deficit)]).await;
    let mut conn = app.owner_conn().await;
    sqlx::query("UPDATE transitions SET status = 'sent' WHERE id = $1")
        .bind(id)
        .execute(&mut conn)
        .await
        .unwrap();
    let (status, html) = c.get_text(&format!("/transitions/{id}/form")).await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        html.contains("KAN IKKE sidde stille"),
        "the answer is shown"
    );
    assert_eq!(hints(&html, q1), format!("id=\"q_{q1}-wording\">"));
    assert!(!html.contains("data-wording="));
}

async fn phrase_id(app: &TestApp, code: &str, phrase: &str) -> Option<Uuid> {
    let mut conn = app.owner_conn().await;
    sqlx::query_scalar(
        "SELECT w.id FROM wording_phrases w JOIN municipalities m ON m.id = w.municipality_id
         WHERE m.code = $1 AND w.phrase_key = $2",
    )
    .bind(code)
    .bind(phrase)
    .fetch_optional(&mut conn)
    .await
    .unwrap()
}

async fn stevns_list(app: &TestApp) -> Vec<(String, String)> {
    let mut conn = app.owner_conn().await;
    sqlx::query_as(
        "SELECT w.phrase, w.suggestion FROM wording_phrases w JOIN municipalities m ON m.id = w.municipality_id
         WHERE m.code = '0336' ORDER BY w.phrase_key",
    )
    .fetch_all(&mut conn)
    .await
    .unwrap()
}

#[tokio::test]
async fn the_administrator_edits_the_list_and_a_new_phrase_gives_a_hint_in_that_municipality_only()
{
    let app = spawn_app().await;
    let stevns_before = stevns_list(&app).await;
    assert!(
        stevns_before.len() >= 20,
        "Stevns starts with the default list"
    );
    let admin = app.login(ADMIN).await;
    let (status, page) = admin.get_text("/settings/wording").await;
    assert_eq!(status, StatusCode::OK);
    assert!(page.contains("problembarn") && page.contains("kan ikke"));

    // Refused: empty, a duplicate in other letters, no letters at all. Nothing saved.
    let before = app.count("SELECT count(*) FROM wording_phrases").await;
    for (phrase, suggestion, message) in [
        ("", "Et forslag", "Udfyld ordet eller udtrykket"),
        ("  KAN   Ikke ", "Et forslag", "står allerede på listen"),
        ("!!!", "Et forslag", "mindst ét bogstav"),
        ("sløv", "", "Udfyld forslaget"),
    ] {
        let r = admin
            .post_with_token(
                "/settings/wording",
                "/settings/wording",
                &[("phrase", phrase), ("suggestion", suggestion)],
            )
            .await;
        assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY, "{phrase:?}");
        assert!(r.text().await.unwrap().contains(message), "{phrase:?}");
    }
    assert_eq!(
        app.count("SELECT count(*) FROM wording_phrases").await,
        before
    );

    // Added: the pedagogue's next save points it out.
    let r = admin
        .post_with_token(
            "/settings/wording",
            "/settings/wording",
            &[
                ("phrase", "Sløv"),
                ("suggestion", "Skriv, hvornår barnet har energi."),
            ],
        )
        .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let added = phrase_id(&app, "0630", "sløv").await.expect("stored");
    assert_eq!(
        app.count(&format!(
            "SELECT count(*) FROM audit_log WHERE action = 'create' AND entity_type = 'wording_phrase' AND entity_id = '{added}'"
        ))
        .await,
        1
    );
    let (id, q1, q2) = transition(&app).await;
    let c = app.login(PAEDAGOG).await;
    let html = save(&c, id, &[(q1, "Han er sløv om morgenen."), (q2, "Glad.")]).await;
    let b = hints(&html, q1);
    assert!(
        b.contains("<mark>sløv</mark>") && b.contains("har energi"),
        "{b}"
    );

    // Edited: the new wording counts, the old does not.
    let edit = format!("/settings/wording/{added}");
    let r = admin
        .post_with_token(
            &edit,
            &edit,
            &[
                ("phrase", "træg"),
                ("suggestion", "Skriv, hvad der sætter barnet i gang."),
            ],
        )
        .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let html = save(
        &c,
        id,
        &[(q1, "Han er sløv og træg om morgenen."), (q2, "Glad.")],
    )
    .await;
    let b = hints(&html, q1);
    assert!(
        b.contains("<mark>træg</mark>") && b.contains("sætter barnet i gang"),
        "{b}"
    );
    assert!(!b.contains("<mark>sløv</mark>"), "{b}");

    // Deleted: no hint any more; a bare POST without the button's confirmation deletes nothing.
    let delete = format!("/settings/wording/{added}/delete");
    let r = admin.post_with_token(&edit, &delete, &[]).await;
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    assert!(phrase_id(&app, "0630", "træg").await.is_some());
    let r = admin
        .post_with_token(&edit, &delete, &[("confirm", "ja")])
        .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert!(phrase_id(&app, "0630", "træg").await.is_none());
    let html = save(&c, id, &[(q1, "Han er træg om morgenen."), (q2, "Glad.")]).await;
    assert_eq!(hints(&html, q1), format!("id=\"q_{q1}-wording\">"));
    assert_eq!(
        app.count("SELECT count(*) FROM audit_log WHERE entity_type = 'wording_phrase'")
            .await,
        3,
        "added, edited and deleted: each audited"
    );

    // Stevns' list is untouched, and Stevns cannot reach Vejle's entries.
    assert_eq!(stevns_list(&app).await, stevns_before);
    let vejle_entry = phrase_id(&app, "0630", "doven").await.unwrap();
    let stevns = app.login(STEVNS_ADMIN).await;
    let (_, page) = stevns.get_text("/settings/wording").await;
    assert!(!page.contains("sløv") && !page.contains("træg"));
    let foreign = format!("/settings/wording/{vejle_entry}");
    assert_eq!(stevns.get(&foreign).await.status(), StatusCode::NOT_FOUND);
    let r = stevns
        .post_with_token(
            "/settings/wording",
            &foreign,
            &[("phrase", "hacket"), ("suggestion", "x")],
        )
        .await;
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    let r = stevns
        .post_with_token(
            "/settings/wording",
            &format!("{foreign}/delete"),
            &[("confirm", "ja")],
        )
        .await;
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    assert!(phrase_id(&app, "0630", "doven").await.is_some());

    // Only administrators keep the list.
    for who in [LEDER, PAEDAGOG] {
        let c = app.login(who).await;
        assert_eq!(
            c.get("/settings/wording").await.status(),
            StatusCode::FORBIDDEN
        );
        assert_eq!(c.get(&foreign).await.status(), StatusCode::FORBIDDEN);
    }
}

#[tokio::test]
async fn a_new_municipality_starts_with_the_default_list() {
    let app = spawn_app().await;
    let operator = app.login("operator@overgang.test").await;
    let r = operator
        .post_with_token(
            "/platform/municipalities/new",
            "/platform/municipalities",
            &[
                ("code", "0101"),
                ("name", "Testby"),
                ("admin_name", "Test Admin"),
                ("admin_email", "admin@testby.dk"),
                ("admin_password", "Et-nyt-kodeord-2026"),
            ],
        )
        .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let defaults = app.count("SELECT count(*) FROM wording_defaults()").await;
    assert!(defaults >= 20);
    assert_eq!(
        app.count(
            "SELECT count(*) FROM wording_phrases w JOIN municipalities m ON m.id = w.municipality_id
             WHERE m.code = '0101'"
        )
        .await,
        defaults
    );
    assert_eq!(
        app.count(
            "SELECT count(*) FROM wording_phrases w JOIN municipalities m ON m.id = w.municipality_id
             WHERE m.code = '0630'"
        )
        .await,
        defaults,
        "the demo municipalities have it too"
    );
}

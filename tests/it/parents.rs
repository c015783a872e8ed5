//! The parents' side through the real server: links mailed when the form goes to the parents,
//! the parent page (what is handed over, perspective, consent), every kind of bad link, the
//! staff ledger with links shown once, revoking and decisions after a conversation, reminders,
//! and the release rule of `receiver_answers` at the query level.

use reqwest::StatusCode;
use sha2::{Digest, Sha256};
use uuid::Uuid;

use crate::{
    answers::answer_required,
    common::{csrf_from, location, spawn_app, Client, TestApp},
};

const PAEDAGOG: &str = "paedagog@vejle.overgang.test";
const LAERER: &str = "laerer@vejle.overgang.test";
const STEVNS_ADMIN: &str = "admin@stevns.overgang.test";
const INVALID: &str = "Linket virker ikke";

struct Fx {
    m: Uuid,
    transition: Uuid,
    /// With custody and e-mail.
    anna: Uuid,
    /// With custody, no e-mail.
    bo: Uuid,
    /// Without custody, with e-mail: gets nothing, decides nothing.
    carl: Uuid,
}

/// A child "Ida" at Solsikken with three guardians and a transition to Bakkeskolen whose
/// required questions are answered (so it may go to the parents).
async fn fixture(app: &TestApp) -> Fx {
    let (m, inst, child) = app
        .enrolled_child(
            "Børnehaven Solsikken",
            ("Ida", "Forældreprøve"),
            "2020-05-05",
            500,
        )
        .await;
    let mut conn = app.owner_conn().await;
    let mut guardian = async |name: &str, email: Option<&str>, custody: bool| -> Uuid {
        sqlx::query_scalar(
            "INSERT INTO guardians (municipality_id, child_id, name, email, has_custody)
             VALUES ($1, $2, $3, $4, $5) RETURNING id",
        )
        .bind(m)
        .bind(child)
        .bind(name)
        .bind(email)
        .bind(custody)
        .fetch_one(&mut conn)
        .await
        .unwrap()
    };
    let anna = guardian("Anna Mor", Some("anna@example.dk"), true).await;
    let bo = guardian("Bo Far", None, true).await;
    let carl = guardian("Carl Plejefar", Some("carl@example.dk"), false).await;
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
    answer_required(app, transition).await;
    Fx {
        m,
        transition,
        anna,
        bo,
        carl,
    }
}

/// A fresh app whose fixture transition has gone to the parents, and the pedagogue who sent it.
async fn with_the_parents() -> (TestApp, Fx, Client) {
    let app = spawn_app().await;
    let fx = fixture(&app).await;
    let staff = app.login(PAEDAGOG).await;
    move_to(&app, &staff, fx.transition, "with_parents").await;
    (app, fx, staff)
}

async fn version(app: &TestApp, id: Uuid) -> i64 {
    app.count(&format!(
        "SELECT version::bigint FROM transitions WHERE id = '{id}'"
    ))
    .await
}

async fn move_to(app: &TestApp, c: &Client, id: Uuid, to: &str) -> reqwest::Response {
    let v = version(app, id).await.to_string();
    c.post_with_token(
        &format!("/transitions/{id}"),
        &format!("/transitions/{id}/status"),
        &[("to", to), ("version", &v)],
    )
    .await
}

/// The token in the newest parent-link mail to `to`.
async fn mailed_token(app: &TestApp, to: &str) -> String {
    let mut conn = app.owner_conn().await;
    let body: String = sqlx::query_scalar(
        "SELECT body FROM outbox WHERE to_address = $1 AND body LIKE '%/foraelder/%' ORDER BY id DESC LIMIT 1",
    )
    .bind(to)
    .fetch_one(&mut conn)
    .await
    .unwrap();
    token_in(&body)
}

fn token_in(text: &str) -> String {
    let start = text.find("/foraelder/").expect("a parent link") + "/foraelder/".len();
    text[start..start + 43].to_string()
}

fn parent(token: &str) -> String {
    format!("/foraelder/{token}")
}

/// A sensitive section of the transition's template, and one of its questions.
async fn sensitive(app: &TestApp, id: Uuid) -> Vec<(Uuid, Uuid, String)> {
    let mut conn = app.owner_conn().await;
    sqlx::query_as(
        "SELECT s.id, q.id, s.title FROM transitions t
         JOIN template_sections s ON s.template_id = t.template_id
         JOIN template_questions q ON q.section_id = s.id AND q.sensitive
         WHERE t.id = $1 ORDER BY s.position, q.position",
    )
    .bind(id)
    .fetch_all(&mut conn)
    .await
    .unwrap()
}

/// Everything a refused parent request could have changed.
async fn parent_state(app: &TestApp) -> Vec<i64> {
    let mut out = Vec::new();
    for sql in [
        "SELECT count(*) FROM parent_perspectives",
        "SELECT count(*) FROM consent_records",
        "SELECT count(*) FROM parent_links WHERE first_opened_at IS NOT NULL",
        "SELECT count(*) FROM parent_links WHERE responded_at IS NOT NULL",
        "SELECT count(*) FROM outbox",
        "SELECT count(*) FROM audit_log WHERE entity_type LIKE 'parent%' OR entity_type = 'consent_record'",
    ] {
        out.push(app.count(sql).await);
    }
    out
}

/// Posts to a parent page with the token the page itself hands out.
async fn parent_post(
    c: &Client,
    token: &str,
    path: &str,
    fields: &[(&str, &str)],
) -> reqwest::Response {
    let (_, html) = c.get_text(&parent(token)).await;
    let csrf = csrf_from(&html);
    let mut all = vec![("_csrf", csrf.as_str())];
    all.extend_from_slice(fields);
    c.post_form(path, &all).await
}

#[tokio::test]
async fn going_to_the_parents_mails_one_link_per_custody_guardian_with_email() {
    let app = spawn_app().await;
    let fx = fixture(&app).await;
    let mut conn = app.owner_conn().await;
    // A question hidden from parents keeps its answer off the page. (Published templates are
    // frozen by a trigger; the fixture switches triggers off for this one change, before the app
    // has read the template: the app may keep a frozen version's questions in memory.)
    sqlx::query("SET session_replication_role = replica")
        .execute(&mut conn)
        .await
        .unwrap();
    let hidden: Uuid = sqlx::query_scalar(
        "UPDATE template_questions q SET visible_to_parents = false
         FROM transitions t WHERE t.id = $1 AND q.template_id = t.template_id
           AND q.id = (SELECT id FROM template_questions WHERE template_id = t.template_id AND kind = 'free_text' AND NOT sensitive ORDER BY position LIMIT 1)
         RETURNING q.id",
    )
    .bind(fx.transition)
    .fetch_one(&mut conn)
    .await
    .unwrap();
    sqlx::query("RESET session_replication_role")
        .execute(&mut conn)
        .await
        .unwrap();
    let staff = app.login(PAEDAGOG).await;

    let r = move_to(&app, &staff, fx.transition, "with_parents").await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let (_, html) = staff.get_text(&location(&r)).await;
    assert!(html.contains("Uden e-mailadresse: Bo Far"), "{html}");

    // Anna gets a mail; Bo (no e-mail) and Carl (no custody) do not.
    assert_eq!(
        app.count("SELECT count(*) FROM outbox WHERE to_address = 'anna@example.dk'")
            .await,
        1
    );
    assert_eq!(
        app.count("SELECT count(*) FROM outbox WHERE to_address = 'carl@example.dk'")
            .await,
        0
    );
    assert_eq!(app.count("SELECT count(*) FROM parent_links").await, 1);
    let token = mailed_token(&app, "anna@example.dk").await;
    // Only the hash is stored.
    let (hash, guardian, delivery): (Vec<u8>, Uuid, String) =
        sqlx::query_as("SELECT token_hash, guardian_id, delivery FROM parent_links")
            .fetch_one(&mut conn)
            .await
            .unwrap();
    assert_eq!(hash, Sha256::digest(token.as_bytes()).to_vec());
    assert_eq!((guardian, delivery.as_str()), (fx.anna, "email"));
    let _ = (fx.bo, fx.carl, fx.m);

    let visible: Uuid = sqlx::query_scalar(
        "SELECT q.id FROM transitions t JOIN template_questions q ON q.template_id = t.template_id
         WHERE t.id = $1 AND q.kind = 'free_text' AND q.visible_to_parents ORDER BY q.position LIMIT 1",
    )
    .bind(fx.transition)
    .fetch_one(&mut conn)
    .await
    .unwrap();
    for (q, text) in [
        (hidden, "Skjult for forældre"),
        (visible, "Ida bygger gerne huler"),
    ] {
        sqlx::query(
            "INSERT INTO answers (municipality_id, transition_id, question_id, template_id, value)
             SELECT t.municipality_id, t.id, $2, t.template_id, $3 FROM transitions t WHERE t.id = $1
             ON CONFLICT (municipality_id, transition_id, question_id) DO UPDATE SET value = EXCLUDED.value",
        )
        .bind(fx.transition)
        .bind(q)
        .bind(text)
        .execute(&mut conn)
        .await
        .unwrap();
    }

    let anon = app.client();
    let (status, html) = anon.get_text(&parent(&token)).await;
    assert_eq!(status, StatusCode::OK, "{html}");
    assert!(html.contains("Overleveringen om Ida"));
    assert!(!html.contains("Forældreprøve"), "only the first name");
    assert!(html.contains("Børnehaven Solsikken") && html.contains("Bakkeskolen"));
    assert!(html.contains("Ida bygger gerne huler"));
    assert!(!html.contains("Skjult for forældre"));
    assert!(html.contains("Samtykke til følsomme oplysninger"));
    assert!(html.contains("1825 dage"), "retention explained");
    assert_eq!(
        app.count("SELECT count(*) FROM parent_links WHERE first_opened_at IS NOT NULL")
            .await,
        1
    );
    assert_eq!(
        app.count("SELECT count(*) FROM audit_log WHERE action = 'view' AND entity_type = 'parent_page' AND role = 'guardian' AND user_id IS NULL").await,
        1
    );
}

#[tokio::test]
async fn a_guardian_writes_a_perspective_gives_consent_and_withdraws_after_sending() {
    let (app, fx, staff) = with_the_parents().await;
    let token = mailed_token(&app, "anna@example.dk").await;
    let sections = sensitive(&app, fx.transition).await;
    let (section, _, title) = sections[0].clone();
    let anon = app.client();
    let anna = fx.anna.to_string();

    // Without the CSRF token nothing happens.
    let r = anon
        .post_form(
            &parent(&token),
            &[("guardian", &anna), ("perspective", "x")],
        )
        .await;
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    // Too long: the page again with a message, nothing stored.
    let long = "a".repeat(10_001);
    let r = parent_post(
        &anon,
        &token,
        &parent(&token),
        &[("guardian", &anna), ("perspective", &long)],
    )
    .await;
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(r.text().await.unwrap().contains("Skriv højst 10000 tegn"));
    assert_eq!(
        app.count("SELECT count(*) FROM parent_perspectives").await,
        0
    );

    let r = parent_post(
        &anon,
        &token,
        &parent(&token),
        &[
            ("guardian", &anna),
            ("perspective", "Ida er glad for dyr.\nHun sover middag."),
        ],
    )
    .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&r), parent(&token));
    let (_, html) = anon.get_text(&parent(&token)).await;
    assert!(html.contains("Dit perspektiv er gemt") && html.contains("Ida er glad for dyr."));
    assert_eq!(
        app.count(&format!("SELECT count(*) FROM parent_perspectives WHERE guardian_id = '{}' AND body LIKE 'Ida er glad for dyr.%'", fx.anna)).await,
        1
    );
    assert_eq!(
        app.count("SELECT count(*) FROM parent_links WHERE responded_at IS NOT NULL")
            .await,
        1
    );

    // A decision that is not one: 400, nothing stored.
    let consent = format!("{}/consent", parent(&token));
    let sid = section.to_string();
    let r = parent_post(
        &anon,
        &token,
        &consent,
        &[
            ("guardian", &anna),
            ("section", &sid),
            ("decision", "maybe"),
        ],
    )
    .await;
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    // Withdrawing what was never given: refused.
    let r = parent_post(
        &anon,
        &token,
        &consent,
        &[
            ("guardian", &anna),
            ("section", &sid),
            ("decision", "withdrawn"),
        ],
    )
    .await;
    assert_eq!(r.status(), StatusCode::CONFLICT);
    assert_eq!(app.count("SELECT count(*) FROM consent_records").await, 0);

    // Both custody guardians give consent to every sensitive section: Anna by link, Bo by staff.
    for (s, _, _) in &sections {
        let sid = s.to_string();
        let r = parent_post(
            &anon,
            &token,
            &consent,
            &[
                ("guardian", &anna),
                ("section", &sid),
                ("decision", "given"),
            ],
        )
        .await;
        assert_eq!(r.status(), StatusCode::SEE_OTHER);
        let r = staff
            .post_with_token(
                &format!("/transitions/{}/parents", fx.transition),
                &format!("/transitions/{}/parents/consent", fx.transition),
                &[
                    ("guardian", &fx.bo.to_string()),
                    ("section", &sid),
                    ("decision", "given"),
                    ("note", "Telefonsamtale med Bo"),
                ],
            )
            .await;
        assert_eq!(r.status(), StatusCode::SEE_OTHER);
    }
    assert_eq!(
        app.count(&format!("SELECT count(*) FROM consent_records WHERE method = 'link' AND recorded_by IS NULL AND guardian_id = '{}' AND decision = 'given'", fx.anna)).await,
        sections.iter().map(|s| s.0).collect::<std::collections::BTreeSet<_>>().len() as i64
    );
    // Pressing "yes" again records nothing new.
    let before = app.count("SELECT count(*) FROM consent_records").await;
    parent_post(
        &anon,
        &token,
        &consent,
        &[
            ("guardian", &anna),
            ("section", &sid),
            ("decision", "given"),
        ],
    )
    .await;
    assert_eq!(
        app.count("SELECT count(*) FROM consent_records").await,
        before
    );

    let (_, html) = staff
        .get_text(&format!("/transitions/{}/parents", fx.transition))
        .await;
    assert!(html.contains("Ida er glad for dyr."), "{html}");
    assert!(html.contains("Via forældrelinket") && html.contains("Telefonsamtale med Bo"));
    assert!(html.contains("Samtykke givet"));

    // Sent: the perspective is frozen, the receiver may read it, the link still works.
    for to in ["ready", "sent"] {
        assert_eq!(
            move_to(&app, &staff, fx.transition, to).await.status(),
            StatusCode::SEE_OTHER
        );
    }
    let r = parent_post(
        &anon,
        &token,
        &parent(&token),
        &[("guardian", &anna), ("perspective", "Ændret")],
    )
    .await;
    assert_eq!(r.status(), StatusCode::CONFLICT);
    assert_eq!(
        app.count("SELECT count(*) FROM parent_perspectives WHERE body = 'Ændret'")
            .await,
        0
    );
    let teacher = app.login(LAERER).await;
    let (status, html) = teacher
        .get_text(&format!("/transitions/{}/parents", fx.transition))
        .await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains("Ida er glad for dyr.") && !html.contains("Historik for samtykke"));

    // Anna withdraws after sending: the receiver's staff are told, the section is hidden.
    assert_eq!(released(&app, fx.transition, section).await, 1);
    let mails = app
        .count("SELECT count(*) FROM outbox WHERE to_address = 'laerer@vejle.overgang.test'")
        .await;
    let r = parent_post(
        &anon,
        &token,
        &consent,
        &[
            ("guardian", &anna),
            ("section", &sid),
            ("decision", "withdrawn"),
        ],
    )
    .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert_eq!(released(&app, fx.transition, section).await, 0);
    assert_eq!(
        app.count("SELECT count(*) FROM outbox WHERE to_address = 'laerer@vejle.overgang.test' AND subject = 'Et samtykke er trukket tilbage'").await,
        mails + 1
    );
    let body: String = sqlx::query_scalar("SELECT body FROM outbox WHERE to_address = 'laerer@vejle.overgang.test' ORDER BY id DESC LIMIT 1")
        .fetch_one(&mut app.owner_conn().await)
        .await
        .unwrap();
    assert!(body.contains(&title) && !body.contains("Ida"), "{body}");
    let (_, html) = staff
        .get_text(&format!("/transitions/{}/parents", fx.transition))
        .await;
    assert!(html.contains("Samtykke trukket tilbage"));

    // What the sender adds after sending, the guardians read on their page too.
    let (_, page) = anon.get_text(&parent(&token)).await;
    assert!(!page.contains("Tilføjet efter afsendelsen"));
    let r = staff
        .post_with_token(
            &format!("/transitions/{}", fx.transition),
            &format!("/transitions/{}/amendments", fx.transition),
            &[("amendment", "Ida er begyndt at cykle uden støttehjul.")],
        )
        .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let (_, page) = anon.get_text(&parent(&token)).await;
    assert!(
        page.contains("Tilføjet efter afsendelsen")
            && page.contains("Ida er begyndt at cykle uden støttehjul."),
        "{page}"
    );
}

async fn released(app: &TestApp, t: Uuid, section: Uuid) -> i64 {
    app.count(&format!(
        "SELECT count(*) FROM transitions t WHERE t.id = '{t}' AND consent_released(t.municipality_id, t.id, '{section}')"
    ))
    .await
}

#[tokio::test]
async fn every_bad_link_gets_the_same_page_and_changes_nothing() {
    let (app, fx, _) = with_the_parents().await;
    let token = mailed_token(&app, "anna@example.dk").await;
    let anna = fx.anna.to_string();
    let sections = sensitive(&app, fx.transition).await;
    let sid = sections[0].0.to_string();
    let anon = app.client();
    let mut conn = app.owner_conn().await;

    // A second child with its own guardian and transition: its ids must not work on Ida's link.
    let other = fixture(&app).await;
    let other_section: Uuid = sqlx::query_scalar(
        "SELECT s.id FROM template_sections s JOIN form_templates t ON t.id = s.template_id
         WHERE t.municipality_id = $1 AND t.transition_kind = 'nursery_kindergarten' LIMIT 1",
    )
    .bind(fx.m)
    .fetch_one(&mut conn)
    .await
    .unwrap();
    let plain_section: Uuid = sqlx::query_scalar(
        "SELECT s.id FROM transitions t JOIN template_sections s ON s.template_id = t.template_id
         WHERE t.id = $1 AND NOT EXISTS (SELECT 1 FROM template_questions q WHERE q.section_id = s.id AND q.sensitive)
         LIMIT 1",
    )
    .bind(fx.transition)
    .fetch_one(&mut conn)
    .await
    .unwrap();
    // the page hands out the CSRF token before anything else is tried
    let (status, html) = anon.get_text(&parent(&token)).await;
    assert_eq!(status, StatusCode::OK);
    let csrf = csrf_from(&html);
    let before = parent_state(&app).await;

    let refused = async |path: &str, fields: &[(&str, &str)]| {
        let mut all = vec![("_csrf", csrf.as_str())];
        all.extend_from_slice(fields);
        let r = anon.post_form(path, &all).await;
        let status = r.status();
        let text = r.text().await.unwrap();
        assert_eq!(status, StatusCode::NOT_FOUND, "POST {path} {fields:?}");
        assert!(text.contains(INVALID));
    };
    let consent = format!("{}/consent", parent(&token));
    let other_guardian = other.anna.to_string();
    let foreign = other_section.to_string();
    let plain = plain_section.to_string();
    let random = Uuid::new_v4().to_string();
    // foreign ids on a working link
    refused(
        &parent(&token),
        &[("guardian", &other_guardian), ("perspective", "x")],
    )
    .await;
    refused(&parent(&token), &[("perspective", "x")]).await;
    refused(
        &consent,
        &[
            ("guardian", &other_guardian),
            ("section", &sid),
            ("decision", "given"),
        ],
    )
    .await;
    refused(
        &consent,
        &[
            ("guardian", &fx.carl.to_string()),
            ("section", &sid),
            ("decision", "given"),
        ],
    )
    .await;
    refused(
        &consent,
        &[
            ("guardian", &anna),
            ("section", &foreign),
            ("decision", "given"),
        ],
    )
    .await;
    refused(
        &consent,
        &[
            ("guardian", &anna),
            ("section", &plain),
            ("decision", "given"),
        ],
    )
    .await;
    refused(
        &consent,
        &[
            ("guardian", &anna),
            ("section", &random),
            ("decision", "given"),
        ],
    )
    .await;
    refused(
        &consent,
        &[
            ("guardian", &anna),
            ("section", "kapow"),
            ("decision", "given"),
        ],
    )
    .await;
    assert_eq!(parent_state(&app).await, before);

    // tampered, unknown and malformed tokens
    let mut tampered = token.clone().into_bytes();
    tampered[10] = if tampered[10] == b'A' { b'B' } else { b'A' };
    let tampered = String::from_utf8(tampered).unwrap();
    let bad_tokens = [
        tampered,
        "A".repeat(43),
        "kort".to_string(),
        format!("{token}x"),
    ];
    let check = async |t: &str| {
        let (status, html) = anon.get_text(&parent(t)).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "GET {t}");
        assert!(html.contains(INVALID) && !html.contains("Ida"));
        refused(&parent(t), &[("guardian", &anna), ("perspective", "x")]).await;
        refused(
            &format!("{}/consent", parent(t)),
            &[
                ("guardian", &anna),
                ("section", &sid),
                ("decision", "given"),
            ],
        )
        .await;
    };
    for t in &bad_tokens {
        check(t).await;
    }
    assert_eq!(parent_state(&app).await, before);

    // The real link, made unusable in each way in turn (and restored after each).
    let link = format!(
        "(SELECT id FROM parent_links WHERE guardian_id = '{}')",
        fx.anna
    );
    let t = fx.transition;
    let cases: Vec<(String, String)> = vec![
        (
            format!("UPDATE parent_links SET created_at = now() - interval '30 days', expires_at = now() - interval '1 second' WHERE id = {link}"),
            format!("UPDATE parent_links SET created_at = now(), expires_at = now() + interval '21 days' WHERE id = {link}"),
        ),
        (
            format!("UPDATE parent_links SET revoked_at = now() WHERE id = {link}"),
            format!("UPDATE parent_links SET revoked_at = NULL WHERE id = {link}"),
        ),
        (
            format!("UPDATE transitions SET status = 'cancelled' WHERE id = '{t}'"),
            format!("UPDATE transitions SET status = 'with_parents' WHERE id = '{t}'"),
        ),
        (
            format!("UPDATE transitions SET status = 'closed' WHERE id = '{t}'"),
            format!("UPDATE transitions SET status = 'with_parents' WHERE id = '{t}'"),
        ),
        (
            format!("UPDATE guardians SET has_custody = false WHERE id = '{}'", fx.anna),
            format!("UPDATE guardians SET has_custody = true WHERE id = '{}'", fx.anna),
        ),
    ];
    for (break_it, restore) in cases {
        sqlx::query(&break_it).execute(&mut conn).await.unwrap();
        let before = parent_state(&app).await;
        check(&token).await;
        assert_eq!(parent_state(&app).await, before, "{break_it}");
        sqlx::query(&restore).execute(&mut conn).await.unwrap();
        assert_eq!(
            anon.get(&parent(&token)).await.status(),
            StatusCode::OK,
            "{restore}"
        );
    }
}

#[tokio::test]
async fn staff_show_a_link_once_revoke_it_and_record_decisions_with_a_note() {
    let app = spawn_app().await;
    let fx = fixture(&app).await;
    let staff = app.login(PAEDAGOG).await;
    let page = format!("/transitions/{}/parents", fx.transition);
    let links = format!("{page}/links");
    let bo = fx.bo.to_string();

    // While the form is a draft, there are no parent links.
    let r = staff
        .post_with_token(&page, &links, &[("guardian", &bo)])
        .await;
    assert_eq!(r.status(), StatusCode::CONFLICT);
    move_to(&app, &staff, fx.transition, "with_parents").await;

    // The transition page links here.
    let (_, html) = staff
        .get_text(&format!("/transitions/{}", fx.transition))
        .await;
    assert!(html.contains(&format!("href=\"{page}\"")));

    let r = staff
        .post_with_token(&page, &links, &[("guardian", &bo)])
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    let html = r.text().await.unwrap();
    assert!(html.contains("Nyt link til Bo Far") && html.contains("vises kun denne ene gang"));
    let first = token_in(&html);
    assert_eq!(
        app.client().get(&parent(&first)).await.status(),
        StatusCode::OK
    );
    // Shown once: the page does not show it again, and nothing stores it.
    let (_, html) = staff.get_text(&page).await;
    assert!(!html.contains(&first));
    assert!(html.contains("Vist til medarbejder") && html.contains("Åbnet"));
    assert_eq!(
        app.count(&format!(
            "SELECT count(*) FROM outbox WHERE body LIKE '%{first}%'"
        ))
        .await,
        0
    );

    // A fresh link replaces the old one.
    let r = staff
        .post_with_token(&page, &links, &[("guardian", &bo)])
        .await;
    let second = token_in(&r.text().await.unwrap());
    assert_eq!(
        app.client().get(&parent(&first)).await.status(),
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        app.client().get(&parent(&second)).await.status(),
        StatusCode::OK
    );

    // Revoking.
    let mut conn = app.owner_conn().await;
    let live: Uuid = sqlx::query_scalar(
        "SELECT id FROM parent_links WHERE guardian_id = $1 AND revoked_at IS NULL",
    )
    .bind(fx.bo)
    .fetch_one(&mut conn)
    .await
    .unwrap();
    let revoke = format!("{page}/revoke");
    let r = staff
        .post_with_token(&page, &revoke, &[("link", &live.to_string())])
        .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert_eq!(
        app.client().get(&parent(&second)).await.status(),
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        app.count(&format!(
            "SELECT count(*) FROM parent_links WHERE id = '{live}' AND revoked_by IS NOT NULL"
        ))
        .await,
        1
    );
    let r = staff
        .post_with_token(&page, &revoke, &[("link", &Uuid::new_v4().to_string())])
        .await;
    assert_eq!(r.status(), StatusCode::NOT_FOUND);

    // Refusals: the receiver, the other municipality, guardians that are not this child's
    // custody guardians.
    let teacher = app.login(LAERER).await;
    assert_eq!(teacher.get(&page).await.status(), StatusCode::FORBIDDEN);
    let (_, t_html) = teacher
        .get_text(&format!("/transitions/{}", fx.transition))
        .await;
    let t_csrf = csrf_from(&t_html);
    let r = teacher
        .post_form(&links, &[("_csrf", &t_csrf), ("guardian", &bo)])
        .await;
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    let stevns = app.login(STEVNS_ADMIN).await;
    assert_eq!(stevns.get(&page).await.status(), StatusCode::NOT_FOUND);
    let other = fixture(&app).await;
    for g in [other.anna, fx.carl] {
        let r = staff
            .post_with_token(&page, &links, &[("guardian", &g.to_string())])
            .await;
        assert_eq!(r.status(), StatusCode::NOT_FOUND);
    }

    // Recording a decision after a conversation.
    let sections = sensitive(&app, fx.transition).await;
    let sid = sections[0].0.to_string();
    let consent = format!("{page}/consent");
    let before = app.count("SELECT count(*) FROM consent_records").await;
    let r = staff
        .post_with_token(
            &page,
            &consent,
            &[
                ("guardian", &bo),
                ("section", &sid),
                ("decision", "given"),
                ("note", " "),
            ],
        )
        .await;
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(r
        .text()
        .await
        .unwrap()
        .contains("Skriv kort, hvornår og hvordan"));
    let r = staff
        .post_with_token(
            &page,
            &consent,
            &[
                ("guardian", &bo),
                ("section", &sid),
                ("decision", "withdrawn"),
                ("note", "Møde"),
            ],
        )
        .await;
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let r = staff
        .post_with_token(
            &page,
            &consent,
            &[
                ("guardian", &other.bo.to_string()),
                ("section", &sid),
                ("decision", "given"),
                ("note", "Møde"),
            ],
        )
        .await;
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    let plain: Uuid = sqlx::query_scalar(
        "SELECT s.id FROM transitions t JOIN template_sections s ON s.template_id = t.template_id
         WHERE t.id = $1 AND NOT EXISTS (SELECT 1 FROM template_questions q WHERE q.section_id = s.id AND q.sensitive) LIMIT 1",
    )
    .bind(fx.transition)
    .fetch_one(&mut conn)
    .await
    .unwrap();
    let r = staff
        .post_with_token(
            &page,
            &consent,
            &[
                ("guardian", &bo),
                ("section", &plain.to_string()),
                ("decision", "given"),
                ("note", "Møde"),
            ],
        )
        .await;
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    assert_eq!(
        app.count("SELECT count(*) FROM consent_records").await,
        before
    );

    let r = staff
        .post_with_token(
            &page,
            &consent,
            &[
                ("guardian", &bo),
                ("section", &sid),
                ("decision", "refused"),
                ("note", "Samtale ved afhentning 3/11"),
            ],
        )
        .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let (method, note, by): (String, String, String) = sqlx::query_as(
        "SELECT c.method, c.note, u.email FROM consent_records c JOIN users u ON u.id = c.recorded_by
         WHERE c.guardian_id = $1",
    )
    .bind(fx.bo)
    .fetch_one(&mut conn)
    .await
    .unwrap();
    assert_eq!(
        (method.as_str(), note.as_str(), by.as_str()),
        ("staff", "Samtale ved afhentning 3/11", PAEDAGOG)
    );
    let (_, html) = staff.get_text(&page).await;
    assert!(
        html.contains("Samtykke afvist")
            && html.contains("Registreret af Sofie Jensen efter samtale")
    );
    assert!(
        app.count("SELECT count(*) FROM audit_log WHERE entity_type IN ('parent_link', 'consent_record', 'parent_consent')").await >= 6
    );
}

#[tokio::test]
async fn one_reminder_goes_to_guardians_who_have_not_answered() {
    let (app, fx, staff) = with_the_parents().await;
    let config = crate::common::test_config();
    let remind = || overgang::parents::reminders::send_reminders(&app.db, &config);

    assert_eq!(remind().await.unwrap(), 0, "not yet due");
    let mut conn = app.owner_conn().await;
    sqlx::query("UPDATE parent_links SET created_at = now() - interval '8 days'")
        .execute(&mut conn)
        .await
        .unwrap();
    // The municipality's own setting decides when.
    sqlx::query("UPDATE municipalities SET parent_reminder_days = 10 WHERE id = $1")
        .bind(fx.m)
        .execute(&mut conn)
        .await
        .unwrap();
    assert_eq!(remind().await.unwrap(), 0);
    sqlx::query("UPDATE municipalities SET parent_reminder_days = 7 WHERE id = $1")
        .bind(fx.m)
        .execute(&mut conn)
        .await
        .unwrap();
    assert_eq!(remind().await.unwrap(), 1);
    assert_eq!(
        app.count("SELECT count(*) FROM outbox WHERE to_address = 'anna@example.dk' AND subject LIKE 'Påmindelse%'").await,
        1
    );
    let token = mailed_token(&app, "anna@example.dk").await;
    assert_eq!(
        app.client().get(&parent(&token)).await.status(),
        StatusCode::OK
    );
    // Only one.
    assert_eq!(remind().await.unwrap(), 0);

    // Someone who answered gets none: a second child whose guardian wrote a perspective.
    let other = fixture(&app).await;
    move_to(&app, &staff, other.transition, "with_parents").await;
    let token = mailed_token(&app, "anna@example.dk").await;
    let anon = app.client();
    let r = parent_post(
        &anon,
        &token,
        &parent(&token),
        &[
            ("guardian", &other.anna.to_string()),
            ("perspective", "Hej"),
        ],
    )
    .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    sqlx::query(
        "UPDATE parent_links SET created_at = now() - interval '8 days' WHERE transition_id = $1",
    )
    .bind(other.transition)
    .execute(&mut conn)
    .await
    .unwrap();
    assert_eq!(remind().await.unwrap(), 0);

    // Staff see who has answered.
    let (_, html) = staff
        .get_text(&format!("/transitions/{}/parents", other.transition))
        .await;
    assert!(html.contains("Påmindelse") || html.contains("Har svaret"));
    assert!(html.contains("Besvaret"));
}

/// The release rule itself, as the app role under RLS: a sensitive answer is never visible to the
/// receiver without the consent of every custody guardian.
#[tokio::test]
async fn receiver_answers_need_consent_of_every_custody_guardian() {
    let app = spawn_app().await;
    let fx = fixture(&app).await;
    let (section, question): (Uuid, Uuid) = sqlx::query_as(
        "SELECT q.section_id, q.id FROM transitions t
         JOIN template_questions q ON q.template_id = t.template_id
         WHERE t.id = $1 AND q.sensitive AND q.visible_to_receiver ORDER BY q.position LIMIT 1",
    )
    .bind(fx.transition)
    .fetch_one(&mut app.owner_conn().await)
    .await
    .unwrap();
    let mut conn = app.owner_conn().await;
    sqlx::query(
        "INSERT INTO answers (municipality_id, transition_id, question_id, template_id, value)
         SELECT t.municipality_id, t.id, $2, t.template_id, 'Følsomt svar' FROM transitions t WHERE t.id = $1
         ON CONFLICT (municipality_id, transition_id, question_id) DO UPDATE SET value = EXCLUDED.value",
    )
    .bind(fx.transition)
    .bind(question)
    .execute(&mut conn)
    .await
    .unwrap();
    let visible = async |conn: &mut sqlx::PgConnection| -> i64 {
        use sqlx::Connection;
        let mut tx = conn.begin().await.unwrap();
        sqlx::query("SET LOCAL ROLE overgang_app")
            .execute(&mut *tx)
            .await
            .unwrap();
        sqlx::query("SELECT set_config('app.municipality_id', $1, true)")
            .bind(fx.m.to_string())
            .execute(&mut *tx)
            .await
            .unwrap();
        let n: i64 = sqlx::query_scalar(
            "SELECT count(*) FROM receiver_answers WHERE transition_id = $1 AND question_id = $2",
        )
        .bind(fx.transition)
        .bind(question)
        .fetch_one(&mut *tx)
        .await
        .unwrap();
        tx.rollback().await.unwrap();
        n
    };
    let decide = async |conn: &mut sqlx::PgConnection, guardian: Uuid, decision: &str| {
        sqlx::query(
            "INSERT INTO consent_records (municipality_id, transition_id, guardian_id, section_id, decision, method)
             VALUES ($1, $2, $3, $4, $5, 'link')",
        )
        .bind(fx.m)
        .bind(fx.transition)
        .bind(guardian)
        .bind(section)
        .bind(decision)
        .execute(conn)
        .await
        .unwrap();
    };

    assert_eq!(visible(&mut conn).await, 0, "no decisions");
    decide(&mut conn, fx.carl, "given").await;
    assert_eq!(
        visible(&mut conn).await,
        0,
        "a guardian without custody does not count"
    );
    decide(&mut conn, fx.anna, "given").await;
    assert_eq!(visible(&mut conn).await, 0, "one of two custody guardians");
    decide(&mut conn, fx.bo, "refused").await;
    assert_eq!(visible(&mut conn).await, 0, "a refusal");
    decide(&mut conn, fx.bo, "given").await;
    assert_eq!(
        visible(&mut conn).await,
        1,
        "all custody guardians gave consent"
    );
    decide(&mut conn, fx.anna, "withdrawn").await;
    assert_eq!(visible(&mut conn).await, 0, "withdrawn");
    decide(&mut conn, fx.anna, "given").await;
    assert_eq!(visible(&mut conn).await, 1);
    // Another municipality's scope sees nothing at all.
    {
        use sqlx::Connection;
        let stevns = app.municipality_id("0336").await;
        let mut tx = conn.begin().await.unwrap();
        sqlx::query("SET LOCAL ROLE overgang_app")
            .execute(&mut *tx)
            .await
            .unwrap();
        sqlx::query("SELECT set_config('app.municipality_id', $1, true)")
            .bind(stevns.to_string())
            .execute(&mut *tx)
            .await
            .unwrap();
        let n: i64 = sqlx::query_scalar("SELECT count(*) FROM receiver_answers")
            .fetch_one(&mut *tx)
            .await
            .unwrap();
        assert_eq!(n, 0);
        let links: i64 = sqlx::query_scalar("SELECT count(*) FROM parent_links")
            .fetch_one(&mut *tx)
            .await
            .unwrap();
        assert_eq!(links, 0);
    }
    // A new guardian with custody must consent too.
    sqlx::query("INSERT INTO guardians (municipality_id, child_id, name) SELECT municipality_id, child_id, 'Ny værge' FROM transitions WHERE id = $1")
        .bind(fx.transition)
        .execute(&mut conn)
        .await
        .unwrap();
    assert_eq!(
        visible(&mut conn).await,
        0,
        "a new custody guardian has not decided"
    );
}

/// The parent's consent button pressed sixteen times at once: each press is handled after the
/// one before it, so the presses record one decision (pressing again records nothing new).
/// Before, each read the decisions as they were before the others, and the same decision was
/// recorded two to four times here (six times in the release build).
#[tokio::test]
async fn a_decision_sent_many_times_at_once_is_recorded_once() {
    let (app, fx, _) = with_the_parents().await;
    let token = mailed_token(&app, "anna@example.dk").await;
    let (section, _, _) = sensitive(&app, fx.transition).await[0].clone();
    let (section, anna) = (section.to_string(), fx.anna.to_string());
    let anon = app.client();
    let (_, html) = anon.get_text(&parent(&token)).await;
    let csrf = csrf_from(&html);
    let consent = format!("{}/consent", parent(&token));
    let fields = [
        ("_csrf", csrf.as_str()),
        ("guardian", anna.as_str()),
        ("section", section.as_str()),
        ("decision", "given"),
    ];
    let presses = (0..16).map(|_| async { anon.post_form(&consent, &fields).await.status() });
    for status in futures_util::future::join_all(presses).await {
        assert_eq!(status, StatusCode::SEE_OTHER);
    }
    assert_eq!(
        app.count(&format!(
            "SELECT count(*) FROM consent_records WHERE guardian_id = '{anna}'"
        ))
        .await,
        1
    );
}

#[tokio::test]
async fn a_decision_recorded_by_staff_many_times_at_once_is_recorded_once() {
    let (app, fx, staff) = with_the_parents().await;
    let (section, _, _) = sensitive(&app, fx.transition).await[0].clone();
    let (section, bo) = (section.to_string(), fx.bo.to_string());
    let page = format!("/transitions/{}/parents", fx.transition);
    let record = format!("{page}/consent");
    let (_, html) = staff.get_text(&page).await;
    let csrf = csrf_from(&html);
    let fields = [
        ("_csrf", csrf.as_str()),
        ("guardian", bo.as_str()),
        ("section", section.as_str()),
        ("decision", "given"),
        ("note", "Telefonsamtale med Bo"),
    ];
    let clicks = (0..16).map(|_| async { staff.post_form(&record, &fields).await.status() });
    for status in futures_util::future::join_all(clicks).await {
        assert_eq!(status, StatusCode::SEE_OTHER);
    }
    let count = format!("SELECT count(*) FROM consent_records WHERE guardian_id = '{bo}'");
    let records = || app.count(&count);
    assert_eq!(records().await, 1);
    // Sent again later it says so and still records nothing; a change of mind is recorded.
    let r = staff.post_form(&record, &fields).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let (_, html) = staff.get_text(&page).await;
    assert!(html.contains("var allerede registreret"), "{html}");
    assert_eq!(records().await, 1);
    let mut withdrawn = fields;
    withdrawn[3].1 = "withdrawn";
    assert_eq!(
        staff.post_form(&record, &withdrawn).await.status(),
        StatusCode::SEE_OTHER
    );
    assert_eq!(records().await, 2);
}

#[tokio::test]
async fn a_link_made_many_times_at_once_leaves_one_that_works() {
    let (app, fx, staff) = with_the_parents().await;
    let page = format!("/transitions/{}/parents", fx.transition);
    let links = format!("{page}/links");
    let (_, html) = staff.get_text(&page).await;
    let csrf = csrf_from(&html);
    let bo = fx.bo.to_string();
    let fields = [("_csrf", csrf.as_str()), ("guardian", bo.as_str())];
    let clicks = (0..16).map(|_| async { staff.post_form(&links, &fields).await.status() });
    for status in futures_util::future::join_all(clicks).await {
        assert_eq!(status, StatusCode::OK);
    }
    // each made one and took back the one before, so only the last shown is left to use
    let count = |revoked: &str| {
        format!("SELECT count(*) FROM parent_links WHERE guardian_id = '{bo}' AND revoked_at IS {revoked}")
    };
    assert_eq!(app.count(&count("NULL")).await, 1);
    assert_eq!(app.count(&count("NOT NULL")).await, 15);
}

/// Changes through a link while staff change what the link may do, at the same moment: staff's
/// change holds its rows and commits while the parent's post waits for them, and the post then
/// acts on what staff left. A consent sent as staff revoke the link (given to the wrong person,
/// say) is not recorded; a perspective saved as the handover is sent is not changed after it.
#[tokio::test]
async fn a_change_through_a_link_sees_what_staff_did_at_the_same_moment() {
    let (app, fx, staff) = with_the_parents().await;
    let token = mailed_token(&app, "anna@example.dk").await;
    let (section, _, _) = sensitive(&app, fx.transition).await[0].clone();
    let (section, anna, t) = (section.to_string(), fx.anna.to_string(), fx.transition);
    let anon = app.client();
    let (_, html) = anon.get_text(&parent(&token)).await;
    let csrf = csrf_from(&html);
    let before = parent_state(&app).await;

    let (status, page) = app
        .during(
            &format!("SELECT 1 FROM parent_links WHERE guardian_id = '{anna}' FOR UPDATE"),
            &format!("UPDATE parent_links SET revoked_at = now() WHERE guardian_id = '{anna}'"),
            async {
                let fields = [
                    ("_csrf", csrf.as_str()),
                    ("guardian", anna.as_str()),
                    ("section", section.as_str()),
                    ("decision", "given"),
                ];
                let r = anon
                    .post_form(&format!("{}/consent", parent(&token)), &fields)
                    .await;
                (r.status(), r.text().await.unwrap())
            },
        )
        .await;
    assert!(status.is_client_error(), "{status}");
    assert!(page.contains(INVALID), "{page}");
    assert_eq!(parent_state(&app).await, before);

    // A new link, and the handover sent while the perspective is saved.
    let r = staff
        .post_with_token(
            &format!("/transitions/{t}/parents"),
            &format!("/transitions/{t}/parents/links"),
            &[("guardian", &anna)],
        )
        .await;
    assert_eq!(r.status(), StatusCode::OK, "the link is shown once");
    let token = token_in(&r.text().await.unwrap());
    let (_, html) = anon.get_text(&parent(&token)).await;
    let csrf = csrf_from(&html);
    let before = parent_state(&app).await;
    let (status, page) = app
        .during(
            &format!("SELECT 1 FROM transitions WHERE id = '{t}' FOR UPDATE"),
            &format!(
                "UPDATE transitions SET status = 'sent', version = version + 1 WHERE id = '{t}'"
            ),
            async {
                let fields = [
                    ("_csrf", csrf.as_str()),
                    ("guardian", anna.as_str()),
                    ("perspective", "Skrevet efter afsendelsen"),
                ];
                let r = anon.post_form(&parent(&token), &fields).await;
                (r.status(), r.text().await.unwrap())
            },
        )
        .await;
    assert_eq!(status, StatusCode::CONFLICT, "{page}");
    assert_eq!(parent_state(&app).await, before);
}

/// A withdrawal staff record while the handover is being sent (the send holds the transition,
/// the withdrawal waits) is recorded on the handover as sent, so the receiver, who may already
/// have read the section, is told.
#[tokio::test]
async fn a_withdrawal_recorded_as_the_handover_is_sent_tells_the_receiver() {
    let (app, fx, staff) = with_the_parents().await;
    let (section, _, _) = sensitive(&app, fx.transition).await[0].clone();
    let (section, t) = (section.to_string(), fx.transition);
    let page = format!("/transitions/{t}/parents");
    let consent = format!("{page}/consent");
    for guardian in [fx.anna, fx.bo] {
        let r = staff
            .post_with_token(
                &page,
                &consent,
                &[
                    ("guardian", &guardian.to_string()),
                    ("section", &section),
                    ("decision", "given"),
                    ("note", "Telefonsamtale"),
                ],
            )
            .await;
        assert_eq!(r.status(), StatusCode::SEE_OTHER);
    }
    let token = staff.csrf(&page).await;
    let anna = fx.anna.to_string();
    let status = app
        .during(
            &format!("SELECT 1 FROM transitions WHERE id = '{t}' FOR UPDATE"),
            &format!(
                "UPDATE transitions SET status = 'sent', version = version + 1 WHERE id = '{t}'"
            ),
            async {
                staff
                    .post_form(
                        &consent,
                        &[
                            ("_csrf", token.as_str()),
                            ("guardian", anna.as_str()),
                            ("section", section.as_str()),
                            ("decision", "withdrawn"),
                            ("note", "Mor ringede"),
                        ],
                    )
                    .await
                    .status()
            },
        )
        .await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    assert_eq!(
        app.count(&format!(
            "SELECT count(*) FROM outbox WHERE to_address = '{LAERER}'
               AND subject = '{}'",
            overgang::parents::WITHDRAWN_SUBJECT
        ))
        .await,
        1
    );
}

/// A refusal recorded after consent was given takes the section away from the receiver as a
/// withdrawal does, and the receiver is told the same way; a decision that leaves the section
/// as it was tells nobody. Before, only a decision called "withdrawn" was told.
#[tokio::test]
async fn a_refusal_after_consent_tells_the_receiver_as_a_withdrawal_does() {
    let (app, fx, staff) = with_the_parents().await;
    let (section, _, _) = sensitive(&app, fx.transition).await[0].clone();
    let (section, t) = (section.to_string(), fx.transition);
    let page = format!("/transitions/{t}/parents");
    let consent = format!("{page}/consent");
    let decide = |guardian: Uuid, decision: &'static str| {
        let (staff, page, consent, section) = (&staff, &page, &consent, &section);
        async move {
            staff
                .post_with_token(
                    page,
                    consent,
                    &[
                        ("guardian", &guardian.to_string()),
                        ("section", section),
                        ("decision", decision),
                        ("note", "Telefonsamtale"),
                    ],
                )
                .await
                .status()
        }
    };
    for guardian in [fx.anna, fx.bo] {
        assert_eq!(decide(guardian, "given").await, StatusCode::SEE_OTHER);
    }
    app.count(&format!(
        "WITH s AS (UPDATE transitions SET status = 'sent', version = version + 1
                    WHERE id = '{t}' RETURNING 1) SELECT count(*) FROM s"
    ))
    .await;
    let told = format!(
        "SELECT count(*) FROM outbox WHERE to_address = '{LAERER}' AND subject = '{}'",
        overgang::parents::WITHDRAWN_SUBJECT
    );
    assert_eq!(app.count(&told).await, 0);
    assert_eq!(decide(fx.bo, "refused").await, StatusCode::SEE_OTHER);
    assert_eq!(app.count(&told).await, 1, "the section went away");
    assert_eq!(decide(fx.anna, "refused").await, StatusCode::SEE_OTHER);
    assert_eq!(app.count(&told).await, 1, "it was gone already");
}

/// A custody guardian's e-mail corrected (a typo, say) after the link went out: the link mailed
/// to the old address stops working, and the page says so. Before, whoever had the old mailbox
/// kept the draft and the consent button until the link expired.
#[tokio::test]
async fn correcting_a_guardians_email_revokes_the_link_sent_to_the_old_one() {
    let (app, fx, staff) = with_the_parents().await;
    let token = mailed_token(&app, "anna@example.dk").await;
    let anon = app.client();
    let (status, html) = anon.get_text(&parent(&token)).await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains("Ida"));
    let child: Uuid = {
        let mut conn = app.owner_conn().await;
        sqlx::query_scalar("SELECT child_id FROM transitions WHERE id = $1")
            .bind(fx.transition)
            .fetch_one(&mut conn)
            .await
            .unwrap()
    };
    let edit = format!("/children/{child}/guardians/{}/edit", fx.anna);
    let correct = |email: &'static str| {
        let (staff, edit) = (&staff, &edit);
        async move {
            staff
                .post_with_token(
                    edit,
                    edit,
                    &[
                        ("name", "Anna Mor"),
                        ("relation", "Mor"),
                        ("email", email),
                        ("has_custody", "true"),
                    ],
                )
                .await
                .status()
        }
    };
    assert_eq!(correct("anna.mor@example.dk").await, StatusCode::SEE_OTHER);
    // staff are told to send a new one
    let (_, html) = staff.get_text(&format!("/children/{child}")).await;
    assert!(html.contains("link er trukket tilbage"), "{html}");
    let (_, html) = anon.get_text(&parent(&token)).await;
    assert!(html.contains(INVALID) && !html.contains("Ida"), "{html}");
    let live = format!(
        "SELECT count(*) FROM parent_links WHERE guardian_id = '{}' AND revoked_at IS NULL",
        fx.anna
    );
    assert_eq!(app.count(&live).await, 0);
    // A link staff hand over in person went to no mailbox: a new address leaves it working.
    let t = fx.transition;
    let r = staff
        .post_with_token(
            &format!("/transitions/{t}/parents"),
            &format!("/transitions/{t}/parents/links"),
            &[("guardian", &fx.anna.to_string())],
        )
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    let shown = token_in(&r.text().await.unwrap());
    assert_eq!(correct("anna@mor.example.dk").await, StatusCode::SEE_OTHER);
    let (status, html) = anon.get_text(&parent(&shown)).await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains("Ida"));
    assert_eq!(app.count(&live).await, 1);
}

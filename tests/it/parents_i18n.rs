//! The parents' pages in more than one language (query, cookie, Accept-Language, a catalogue
//! dropped into the locales directory, right-to-left), and correction requests: a guardian asks
//! through their link, the sender's staff answer, the guardian reads the answer; nobody else
//! sees or answers them.

use overgang::config::Config;
use reqwest::{header, StatusCode};
use sha2::{Digest, Sha256};
use uuid::Uuid;

use crate::common::{csrf_from, how_many, location, spawn_app, spawn_app_with, Client, TestApp};

const PAEDAGOG: &str = "paedagog@vejle.overgang.test";
const LEDER: &str = "leder@vejle.overgang.test";
const LAERER: &str = "laerer@vejle.overgang.test";
const STEVNS_ADMIN: &str = "admin@stevns.overgang.test";

struct Fx {
    transition: Uuid,
    guardian: Uuid,
    token: String,
}

/// A child `first` at `kindergarten` with a guardian with custody and e-mail, a transition to
/// `school` with the parents, and a live link for the guardian.
async fn fixture(app: &TestApp, kindergarten: &str, school: &str, first: &str) -> Fx {
    let (m, inst, child) = app
        .enrolled_child(kindergarten, (first, "Sprogprøve"), "2020-05-05", 500)
        .await;
    let mut conn = app.owner_conn().await;
    let guardian: Uuid = sqlx::query_scalar(
        "INSERT INTO guardians (municipality_id, child_id, name, email, has_custody)
         VALUES ($1, $2, $3, $4, true) RETURNING id",
    )
    .bind(m)
    .bind(child)
    .bind(format!("Forælder til {first}"))
    .bind(format!("{}@example.dk", first.to_lowercase()))
    .fetch_one(&mut conn)
    .await
    .unwrap();
    let transition: Uuid = sqlx::query_scalar(
        "INSERT INTO transitions (municipality_id, child_id, sending_institution_id, receiving_institution_id,
                                  kind, planned_date, template_id, status)
         SELECT $1, $2, $3, r.id, 'kindergarten_school', DATE '2027-08-01', t.id, 'with_parents'
         FROM institutions r, form_templates t
         WHERE r.municipality_id = $1 AND r.name = $4
           AND t.municipality_id = $1 AND t.transition_kind = 'kindergarten_school' AND t.status = 'published'
         RETURNING id",
    )
    .bind(m)
    .bind(child)
    .bind(inst)
    .bind(school)
    .fetch_one(&mut conn)
    .await
    .unwrap();
    crate::answers::answer_required(app, transition).await;
    // 32 hex digits and 11 letters: as long as a real token, and only base64url characters.
    let token = format!("{}{}", Uuid::new_v4().simple(), "Abcdefghijk");
    sqlx::query(
        "INSERT INTO parent_links (municipality_id, transition_id, guardian_id, token_hash, delivery, expires_at)
         VALUES ($1, $2, $3, $4, 'shown', now() + interval '21 days')",
    )
    .bind(m)
    .bind(transition)
    .bind(guardian)
    .bind(Sha256::digest(token.as_bytes()).to_vec())
    .execute(&mut conn)
    .await
    .unwrap();
    Fx {
        transition,
        guardian,
        token,
    }
}

fn parent(token: &str) -> String {
    format!("/foraelder/{token}")
}

fn html_tag(html: &str) -> &str {
    let start = html.find("<html").expect("an html element");
    &html[start..start + html[start..].find('>').unwrap()]
}

async fn get_with(c: &Client, path: &str, accept_language: &str) -> (StatusCode, String) {
    let r = c
        .http
        .get(c.url(path))
        .header(header::ACCEPT_LANGUAGE, accept_language)
        .send()
        .await
        .unwrap();
    (r.status(), r.text().await.unwrap())
}

/// The first section a parent sees (what they may ask to have corrected), by id and title.
fn first_section(html: &str) -> (String, String) {
    let select = &html[html.find("name=\"section\"").expect("the section choice")..];
    let option = select
        .split("<option value=\"")
        .nth(2)
        .expect("a section besides the placeholder");
    let id = option.split('"').next().unwrap().to_string();
    let title = option
        .split_once('>')
        .unwrap()
        .1
        .split('<')
        .next()
        .unwrap()
        .to_string();
    (id, title)
}

async fn post_on_page(
    c: &Client,
    page: &str,
    path: &str,
    fields: &[(&str, &str)],
) -> reqwest::Response {
    let (_, html) = c.get_text(page).await;
    let csrf = csrf_from(&html);
    let mut all = vec![("_csrf", csrf.as_str())];
    all.extend_from_slice(fields);
    c.post_form(path, &all).await
}

/// Asks for a correction of `section` from the page of the link `from` through the link `to`
/// (the same link but where a test posts to another).
async fn ask_correction(
    c: &Client,
    from: &str,
    to: &str,
    guardian: Uuid,
    section: &str,
    correction: &str,
) -> reqwest::Response {
    post_on_page(
        c,
        &parent(from),
        &format!("{}/corrections", parent(to)),
        &[
            ("guardian", &guardian.to_string()),
            ("section", section),
            ("correction", correction),
        ],
    )
    .await
}

#[tokio::test]
async fn the_parent_page_speaks_english_by_query_cookie_or_browser_and_danish_by_default() {
    let app = spawn_app().await;
    let fx = fixture(&app, "Børnehaven Solsikken", "Bakkeskolen", "Ida").await;
    let c = app.client();

    let (status, html) = c.get_text(&parent(&fx.token)).await;
    assert_eq!(status, StatusCode::OK);
    assert!(html_tag(&html).contains("lang=\"da\"") && html_tag(&html).contains("dir=\"ltr\""));
    assert!(html.contains("Overleveringen om Ida"));
    assert!(html.contains("href=\"?lang=en\""), "a switch to English");

    let r = c.get(&format!("{}?lang=en", parent(&fx.token))).await;
    assert_eq!(r.status(), StatusCode::OK);
    let cookie = r
        .headers()
        .get_all(header::SET_COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|v| v.starts_with("ov_lang="))
        .expect("the choice is remembered")
        .to_string();
    assert!(
        cookie.starts_with("ov_lang=en;") && cookie.contains("Path=/foraelder"),
        "{cookie}"
    );
    let html = r.text().await.unwrap();
    assert!(
        html_tag(&html).contains("lang=\"en\""),
        "{}",
        html_tag(&html)
    );
    assert!(html.contains("The handover about Ida"));
    assert!(
        html.contains("Ask for a correction") && html.contains("Consent to sensitive information")
    );
    assert!(
        html.contains("shown exactly as written"),
        "staff's Danish text is not translated, and the page says so"
    );
    assert!(html.contains("Skip to the content") && html.contains("Accessibility statement"));
    assert!(!html.contains("Det bliver givet videre"));
    // What staff wrote stays as written (the section titles of the template are Danish).
    let (_, title) = first_section(&html);
    assert!(html.contains(&format!("<h3 lang=\"da\" dir=\"ltr\">{title}</h3>")));

    // The cookie carries the choice to the next visit and to the forms' answers.
    let (_, html) = c.get_text(&parent(&fx.token)).await;
    assert!(html_tag(&html).contains("lang=\"en\""));
    let r = ask_correction(&c, &fx.token, &fx.token, fx.guardian, "", "").await;
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let html = r.text().await.unwrap();
    assert!(
        html.contains("Choose the section that should be corrected.")
            && html.contains("Write what is wrong.")
    );
    // A refusal before any handler runs (here: no CSRF token) is in English too.
    let r = c
        .post_form(
            &format!("{}/corrections", parent(&fx.token)),
            &[("guardian", &fx.guardian.to_string())],
        )
        .await;
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    let html = r.text().await.unwrap();
    assert!(html.contains("The security check failed") && html_tag(&html).contains("lang=\"en\""));
    assert!(
        html.contains(&format!("href=\"{}\"", parent(&fx.token))),
        "a way back"
    );
    let (_, html) = c.get_text(&format!("{}?lang=da", parent(&fx.token))).await;
    assert!(html.contains("Overleveringen om Ida"));
    let (_, html) = c.get_text(&parent(&fx.token)).await;
    assert!(
        html_tag(&html).contains("lang=\"da\""),
        "switched back, and remembered"
    );

    // The browser's language when nothing was chosen; an unknown one is Danish.
    let fresh = app.client();
    let (_, html) = get_with(&fresh, &parent(&fx.token), "en-GB,en;q=0.9,da;q=0.5").await;
    assert!(html_tag(&html).contains("lang=\"en\"") && html.contains("The handover about Ida"));
    let (_, html) = get_with(&fresh, &parent(&fx.token), "fr-FR, de;q=0.8").await;
    assert!(html_tag(&html).contains("lang=\"da\""));
    let (_, html) = get_with(&fresh, &format!("{}?lang=xx", parent(&fx.token)), "").await;
    assert!(
        html_tag(&html).contains("lang=\"da\""),
        "an unknown choice changes nothing"
    );

    // The bad-link page too.
    let (status, html) = get_with(&fresh, &parent(&"B".repeat(43)), "en").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert!(html.contains("The link does not work") && html_tag(&html).contains("lang=\"en\""));
    let (_, html) = fresh.get_text(&parent("kort")).await;
    assert!(html.contains("Linket virker ikke"));

    // Staff pages stay Danish whatever the browser says.
    let staff = app.login(PAEDAGOG).await;
    let (_, html) = get_with(&staff, &format!("/transitions/{}", fx.transition), "en").await;
    assert!(html_tag(&html).contains("lang=\"da\""));
}

#[tokio::test]
async fn a_catalogue_dropped_into_the_locales_directory_is_offered_and_right_to_left_works() {
    let dir = tempfile::tempdir().unwrap();
    let repo = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("locales");
    for name in ["da.toml", "en.toml"] {
        std::fs::copy(repo.join(name), dir.path().join(name)).unwrap();
    }
    // A test catalogue (not real Arabic): a name, the direction and one message; every other
    // message falls back to Danish.
    std::fs::write(
        dir.path().join("ar.toml"),
        "[meta]\nname = \"العربية\"\ndir = \"rtl\"\n\n[page]\ntitle = \"RTL-PRØVE {child}\"\n",
    )
    .unwrap();
    let path = dir.path().to_str().unwrap().to_string();
    let config =
        Config::from_lookup(|k| (k == "OVERGANG_LOCALES_DIR").then(|| path.clone())).unwrap();
    let app = spawn_app_with(config).await;
    let fx = fixture(&app, "Børnehaven Solsikken", "Bakkeskolen", "Ida").await;
    let c = app.client();
    let (_, html) = c.get_text(&parent(&fx.token)).await;
    assert!(
        html.contains("href=\"?lang=ar\"") && html.contains("العربية"),
        "offered in the switcher"
    );
    let (status, html) = c.get_text(&format!("{}?lang=ar", parent(&fx.token))).await;
    assert_eq!(status, StatusCode::OK);
    let tag = html_tag(&html);
    assert!(
        tag.contains("lang=\"ar\"") && tag.contains("dir=\"rtl\""),
        "{tag}"
    );
    assert!(html.contains("RTL-PRØVE Ida"));
    assert!(
        html.contains("Det bliver givet videre"),
        "a missing key falls back to Danish"
    );
    let (_, html) = get_with(&app.client(), &parent(&fx.token), "ar-EG").await;
    assert!(html_tag(&html).contains("dir=\"rtl\""));
}

#[tokio::test]
async fn a_parent_asks_for_a_correction_staff_answer_and_the_parent_reads_the_answer() {
    let app = spawn_app().await;
    let fx = fixture(&app, "Børnehaven Solsikken", "Bakkeskolen", "Ida").await;
    let parent_c = app.client();
    let page = parent(&fx.token);
    let (_, html) = parent_c.get_text(&page).await;
    let (section, title) = first_section(&html);
    let wrong = "Ida er ikke bange for hunde.\nHun har selv en.";
    let r = ask_correction(
        &parent_c,
        &fx.token,
        &fx.token,
        fx.guardian,
        &section,
        wrong,
    )
    .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&r), format!("{page}#rettelser"));
    let (_, html) = parent_c.get_text(&page).await;
    assert!(html.contains("Din anmodning om rettelse er sendt"));
    assert!(html.contains("Ida er ikke bange for hunde.") && html.contains("Afventer svar"));
    assert_eq!(
        app.count("SELECT count(*) FROM correction_requests WHERE status = 'open'")
            .await,
        1
    );
    assert_eq!(
        app.count("SELECT count(*) FROM audit_log WHERE action = 'request_correction' AND entity_type = 'correction_request' AND role = 'guardian'")
            .await,
        1
    );
    // Nobody is responsible yet: the sending institution's leader hears of it, without the child's name.
    assert_eq!(
        app.count(&format!("SELECT count(*) FROM outbox WHERE to_address = '{LEDER}' AND subject LIKE '%rettelse%' AND body NOT LIKE '%Ida%' AND body LIKE '%/transitions/{}/corrections%'", fx.transition))
            .await,
        1
    );
    assert_eq!(
        app.count("SELECT count(*) FROM parent_links WHERE responded_at IS NOT NULL")
            .await,
        1
    );

    // The sender's staff see the count on the transition and the request on its page.
    let staff = app.login(PAEDAGOG).await;
    let (_, html) = staff
        .get_text(&format!("/transitions/{}", fx.transition))
        .await;
    assert!(
        html.contains("1 anmodning om rettelse fra forældrene venter på svar"),
        "count on the transition"
    );
    let corrections = format!("/transitions/{}/corrections", fx.transition);
    let (status, html) = staff.get_text(&corrections).await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains("Ida er ikke bange for hunde.") && html.contains(&title));
    assert!(
        html.contains(&format!("/transitions/{}/form", fx.transition)),
        "a way to correct the form"
    );
    let request: Uuid = sqlx::query_scalar("SELECT id FROM correction_requests")
        .fetch_one(&mut app.owner_conn().await)
        .await
        .unwrap();
    // An answer needs a decision and a text.
    let r = staff
        .post_with_token(
            &corrections,
            &corrections,
            &[("request", &request.to_string()), ("answer", "")],
        )
        .await;
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let r = staff
        .post_with_token(
            &corrections,
            &corrections,
            &[
                ("request", &request.to_string()),
                ("decision", "resolved"),
                ("answer", "Tak, vi har rettet det i skemaet."),
            ],
        )
        .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&r), corrections);
    assert_eq!(
        app.count("SELECT count(*) FROM correction_requests WHERE status = 'resolved' AND answered_by IS NOT NULL AND answered_at IS NOT NULL").await,
        1
    );
    assert_eq!(
        app.count("SELECT count(*) FROM outbox WHERE to_address = 'ida@example.dk' AND subject = 'Svar på din anmodning om rettelse'").await,
        1
    );
    assert_eq!(
        app.count("SELECT count(*) FROM audit_log WHERE action = 'answer' AND entity_type = 'correction_request'").await,
        1
    );
    let (_, html) = staff
        .get_text(&format!("/transitions/{}", fx.transition))
        .await;
    assert!(!html.contains("venter på svar"));
    // Answered once: a second answer is refused.
    let r = staff
        .post_with_token(
            &corrections,
            &corrections,
            &[
                ("request", &request.to_string()),
                ("decision", "declined"),
                ("answer", "Nej"),
            ],
        )
        .await;
    assert_eq!(r.status(), StatusCode::CONFLICT);

    // The parent reads the answer, in their language.
    let (_, html) = parent_c.get_text(&page).await;
    assert!(html.contains("Tak, vi har rettet det i skemaet.") && html.contains("Rettet"));
    let (_, html) = parent_c.get_text(&format!("{page}?lang=en")).await;
    assert!(html.contains("Corrected") && html.contains("Answer from Børnehaven Solsikken"));

    // The data-subject export holds both texts.
    let admin = app.login("admin@vejle.overgang.test").await;
    let child: Uuid = sqlx::query_scalar("SELECT child_id FROM transitions WHERE id = $1")
        .bind(fx.transition)
        .fetch_one(&mut app.owner_conn().await)
        .await
        .unwrap();
    let (status, json) = admin
        .get_text(&format!("/children/{child}/export.json"))
        .await;
    assert_eq!(status, StatusCode::OK);
    assert!(json.contains("correction_request") && json.contains("Ida er ikke bange for hunde."));
    assert!(
        json.contains("correction_answer") && json.contains("Tak, vi har rettet det i skemaet.")
    );
}

/// A request must reach somebody who can answer it: a responsible who was deactivated, or who
/// no longer works at the sending institution, is passed over for its leaders. Before, the
/// deactivated one got nothing and nobody was told; the one who had left got the mail.
#[tokio::test]
async fn a_request_reaches_the_leaders_when_the_responsible_cannot_answer() {
    let app = spawn_app().await;
    let fx = fixture(&app, "Børnehaven Solsikken", "Bakkeskolen", "Ida").await;
    let parent_c = app.client();
    let (_, html) = parent_c.get_text(&parent(&fx.token)).await;
    let (section, _) = first_section(&html);
    let mailed = |to: &str| {
        format!(
            "SELECT count(*) FROM outbox WHERE to_address = '{to}' AND subject LIKE '%rettelse%'"
        )
    };
    let ask = async |text: &str| {
        let r = ask_correction(&parent_c, &fx.token, &fx.token, fx.guardian, &section, text).await;
        assert_eq!(r.status(), StatusCode::SEE_OTHER, "{text}");
    };
    let mut conn = app.owner_conn().await;
    for (responsible, change) in [
        // works at the receiving school, not at the sender
        (LAERER, ""),
        (
            PAEDAGOG,
            "UPDATE users SET is_active = false WHERE email = 'paedagog@vejle.overgang.test'",
        ),
    ] {
        sqlx::raw_sql(&format!(
            "UPDATE transitions SET responsible_user_id = (SELECT id FROM users WHERE email = '{responsible}')
             WHERE id = '{}'; {change}",
            fx.transition
        ))
        .execute(&mut conn)
        .await
        .unwrap();
        let leader_before = app.count(&mailed(LEDER)).await;
        ask(&format!("Ret venligst ({responsible}).")).await;
        assert_eq!(
            app.count(&mailed(LEDER)).await,
            leader_before + 1,
            "{responsible}"
        );
        assert_eq!(app.count(&mailed(responsible)).await, 0, "{responsible}");
    }
    // An active responsible at the sender gets it, and the leaders do not.
    sqlx::raw_sql("UPDATE users SET is_active = true WHERE email = 'paedagog@vejle.overgang.test'")
        .execute(&mut conn)
        .await
        .unwrap();
    let leader_before = app.count(&mailed(LEDER)).await;
    ask("Og dette.").await;
    assert_eq!(app.count(&mailed(PAEDAGOG)).await, 1);
    assert_eq!(app.count(&mailed(LEDER)).await, leader_before);
}

#[tokio::test]
async fn requests_stay_with_their_guardian_their_transition_and_the_sender() {
    let app = spawn_app().await;
    let ida = fixture(&app, "Børnehaven Solsikken", "Bakkeskolen", "Ida").await;
    let ole = fixture(&app, "Børnehaven Mariehønen", "Bakkeskolen", "Ole").await;
    let stevns = fixture(&app, "Børnehaven Søstjernen", "Strandskolen", "Sif").await;
    let c = app.client();
    let (_, html) = c.get_text(&parent(&ida.token)).await;
    let (section, _) = first_section(&html);
    let r = ask_correction(
        &c,
        &ida.token,
        &ida.token,
        ida.guardian,
        &section,
        "Hemmelig rettelse om Ida",
    )
    .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);

    // Another child's parent does not see it.
    let (_, html) = c.get_text(&parent(&ole.token)).await;
    assert!(!html.contains("Hemmelig rettelse om Ida"));
    let before = app.count("SELECT count(*) FROM correction_requests").await;
    // Another guardian's id, or a section of another municipality's template: the bad-link page.
    let r = ask_correction(&c, &ole.token, &ole.token, ida.guardian, &section, "x").await;
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    let r = ask_correction(
        &c,
        &stevns.token,
        &stevns.token,
        stevns.guardian,
        &section,
        "x",
    )
    .await;
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    // A bogus token.
    let r = ask_correction(&c, &ida.token, &"C".repeat(43), ida.guardian, &section, "x").await;
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    assert_eq!(
        app.count("SELECT count(*) FROM correction_requests").await,
        before
    );

    // A parent has no session: the staff page sends them to log in.
    let r = c
        .get(&format!("/transitions/{}/corrections", ida.transition))
        .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert!(location(&r).starts_with("/login"));

    // Staff of another kindergarten (Ole's is Mariehønen; the pedagogue works at Solsikken) and
    // of another municipality get 404; the receiving school may not act (403).
    let staff = app.login(PAEDAGOG).await;
    let r = staff
        .get(&format!("/transitions/{}/corrections", ole.transition))
        .await;
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    let request: Uuid = sqlx::query_scalar("SELECT id FROM correction_requests")
        .fetch_one(&mut app.owner_conn().await)
        .await
        .unwrap();
    let r = staff
        .post_with_token(
            "/",
            &format!("/transitions/{}/corrections", ole.transition),
            &[
                ("request", &request.to_string()),
                ("decision", "declined"),
                ("answer", "Forkert sted"),
            ],
        )
        .await;
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    // Ida's request posted under Ole's... no: under Ida's transition by the right staff, but
    // with a request of another transition, is not found either.
    let ole_request: Uuid = {
        let (_, html) = c.get_text(&parent(&ole.token)).await;
        let (s, _) = first_section(&html);
        let r = ask_correction(
            &c,
            &ole.token,
            &ole.token,
            ole.guardian,
            &s,
            "Oles rettelse",
        )
        .await;
        assert_eq!(r.status(), StatusCode::SEE_OTHER);
        sqlx::query_scalar("SELECT id FROM correction_requests WHERE body = 'Oles rettelse'")
            .fetch_one(&mut app.owner_conn().await)
            .await
            .unwrap()
    };
    let r = staff
        .post_with_token(
            "/",
            &format!("/transitions/{}/corrections", ida.transition),
            &[
                ("request", &ole_request.to_string()),
                ("decision", "declined"),
                ("answer", "Forkert sted"),
            ],
        )
        .await;
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    let foreign = app.login(STEVNS_ADMIN).await;
    let r = foreign
        .get(&format!("/transitions/{}/corrections", ida.transition))
        .await;
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    let receiver = app.login(LAERER).await;
    let r = receiver
        .get(&format!("/transitions/{}/corrections", ida.transition))
        .await;
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    let (_, html) = receiver
        .get_text(&format!("/transitions/{}", ida.transition))
        .await;
    assert!(
        !html.contains("anmodning om rettelse"),
        "the receiver sees no count"
    );
    assert_eq!(
        app.count("SELECT count(*) FROM correction_requests WHERE status <> 'open'")
            .await,
        0
    );
}

#[tokio::test]
async fn oversized_or_marked_up_requests_are_refused_or_shown_escaped() {
    let app = spawn_app().await;
    let fx = fixture(&app, "Børnehaven Solsikken", "Bakkeskolen", "Ida").await;
    let c = app.client();
    let page = parent(&fx.token);
    let (_, html) = c.get_text(&page).await;
    let (section, _) = first_section(&html);
    let long = "a".repeat(2001);
    let r = ask_correction(&c, &fx.token, &fx.token, fx.guardian, &section, &long).await;
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let html = r.text().await.unwrap();
    assert!(html.contains("Skriv højst 2000 tegn"));
    // the page comes back at the top: a summary there leads to the field, the title says it
    assert!(
        html.contains("Der er problemer")
            && html.contains("href=\"#correction\"")
            && html.contains("id=\"correction\""),
        "{html}"
    );
    assert!(html.contains("<title>Fejl: "), "{html}");
    let huge = "a".repeat(1024 * 1024);
    let r = ask_correction(&c, &fx.token, &fx.token, fx.guardian, &section, &huge).await;
    assert!(r.status().is_client_error(), "{}", r.status());
    let r = ask_correction(&c, &fx.token, &fx.token, fx.guardian, "not-an-id", "x").await;
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    assert_eq!(
        app.count("SELECT count(*) FROM correction_requests").await,
        0
    );

    let script = "<script>alert(1)</script>";
    let r = ask_correction(&c, &fx.token, &fx.token, fx.guardian, &section, script).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert_eq!(
        app.count(
            "SELECT count(*) FROM correction_requests WHERE body = '<script>alert(1)</script>'"
        )
        .await,
        1
    );
    let (_, html) = c.get_text(&page).await;
    assert!(!html.contains(script) && html.contains("&#60;script&#62;alert(1)&#60;/script&#62;"));
    let staff = app.login(PAEDAGOG).await;
    let corrections = format!("/transitions/{}/corrections", fx.transition);
    let (_, html) = staff.get_text(&corrections).await;
    assert!(!html.contains(script) && html.contains("&#60;script&#62;"));
    let request: Uuid = sqlx::query_scalar("SELECT id FROM correction_requests")
        .fetch_one(&mut app.owner_conn().await)
        .await
        .unwrap();
    let r = staff
        .post_with_token(
            &corrections,
            &corrections,
            &[
                ("request", &request.to_string()),
                ("decision", "declined"),
                ("answer", &"b".repeat(4001)),
            ],
        )
        .await;
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let r = staff
        .post_with_token(
            &corrections,
            &corrections,
            &[
                ("request", "junk"),
                ("decision", "declined"),
                ("answer", "x"),
            ],
        )
        .await;
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    let r = staff
        .post_with_token(
            &corrections,
            &corrections,
            &[
                ("request", &request.to_string()),
                ("decision", "declined"),
                ("answer", script),
            ],
        )
        .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let (_, html) = c.get_text(&page).await;
    assert!(!html.contains(script) && html.contains("Ikke rettet"));

    // Ten open requests are enough for one guardian.
    for i in 0..10 {
        let r = ask_correction(
            &c,
            &fx.token,
            &fx.token,
            fx.guardian,
            &section,
            &format!("Nummer {i}"),
        )
        .await;
        assert_eq!(r.status(), StatusCode::SEE_OTHER);
    }
    let r = ask_correction(
        &c,
        &fx.token,
        &fx.token,
        fx.guardian,
        &section,
        "En for meget",
    )
    .await;
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(
        app.count("SELECT count(*) FROM correction_requests WHERE status = 'open'")
            .await,
        10
    );
}

#[tokio::test]
async fn retention_deletes_the_requests_of_purged_transitions_only() {
    let app = spawn_app().await;
    let old = fixture(&app, "Børnehaven Solsikken", "Bakkeskolen", "Gammel").await;
    let recent = fixture(&app, "Børnehaven Solsikken", "Bakkeskolen", "Nylig").await;
    let c = app.client();
    for fx in [&old, &recent] {
        let page = parent(&fx.token);
        let (_, html) = c.get_text(&page).await;
        let (section, _) = first_section(&html);
        let r = ask_correction(
            &c,
            &fx.token,
            &fx.token,
            fx.guardian,
            &section,
            "Noget om barnet",
        )
        .await;
        assert_eq!(r.status(), StatusCode::SEE_OTHER);
    }
    // The old one closed six years ago (Vejle keeps 1,825 days).
    let mut conn = app.owner_conn().await;
    sqlx::query(
        "WITH t AS (UPDATE transitions SET status = 'closed', updated_at = now() - interval '2200 days'
                    WHERE id = $1 RETURNING municipality_id, id)
         INSERT INTO transition_events (municipality_id, transition_id, at, from_status, to_status)
         SELECT municipality_id, id, now() - interval '2200 days', 'with_parents', 'closed' FROM t",
    )
    .bind(old.transition)
    .execute(&mut conn)
    .await
    .unwrap();
    let report = overgang::retention::purge(&app.db, time::OffsetDateTime::now_utc(), false)
        .await
        .unwrap();
    assert!(report.failures.is_empty());
    let left =
        |id: Uuid| format!("SELECT count(*) FROM correction_requests WHERE transition_id = '{id}'");
    assert_eq!(app.count(&left(old.transition)).await, 0);
    assert_eq!(app.count(&left(recent.transition)).await, 1);
}

/// Correction requests sent at the same moment are made one after the other: the same request
/// sent sixteen times at once (a double click, a slow network) is one request and one mail,
/// and sixteen different ones at once stop at the cap of ten open requests. Before, each
/// counted the open requests as they were before the others, and all sixteen were stored.
#[tokio::test]
async fn correction_requests_sent_at_once_are_one_request_and_stop_at_the_cap() {
    let app = spawn_app().await;
    let fx = fixture(&app, "Børnehaven Solsikken", "Bakkeskolen", "Ida").await;
    let c = app.client();
    let page = parent(&fx.token);
    let (_, html) = c.get_text(&page).await;
    let (section, _) = first_section(&html);
    let csrf = csrf_from(&html);
    let guardian = fx.guardian.to_string();
    let path = format!("{page}/corrections");
    let send = |text: String| {
        let (c, csrf, guardian, section, path) = (&c, &csrf, &guardian, &section, &path);
        async move {
            let fields = [
                ("_csrf", csrf.as_str()),
                ("guardian", guardian.as_str()),
                ("section", section.as_str()),
                ("correction", text.as_str()),
            ];
            c.post_form(path, &fields).await.status()
        }
    };
    let open = "SELECT count(*) FROM correction_requests WHERE status = 'open'";
    let same = (0..16).map(|_| send("Ida har ingen bror.".to_string()));
    for status in futures_util::future::join_all(same).await {
        assert_eq!(status, StatusCode::SEE_OTHER);
    }
    assert_eq!(app.count(open).await, 1);
    assert_eq!(
        app.count(&format!(
            "SELECT count(*) FROM outbox WHERE to_address = '{LEDER}' AND subject LIKE '%rettelse%'"
        ))
        .await,
        1
    );
    let different = (0..16).map(|i| send(format!("Rettelse nummer {i}.")));
    let answers = futures_util::future::join_all(different).await;
    let refused = how_many(&answers, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!((app.count(open).await, refused), (10, 7), "{answers:?}");
}

//! The receiving end through the real server, as one journey from creating a transition to the
//! receiver's acknowledgement and the handover meeting: the inbox, the read receipt the sender
//! sees, consent deciding what the receiver reads, the print view for either side, and every
//! refusal on the way (wrong side, other institution, other municipality, stale version,
//! illegal move).

use reqwest::StatusCode;
use uuid::Uuid;

use crate::common::{location, spawn_app, Client, TestApp};

const PAEDAGOG: &str = "paedagog@vejle.overgang.test";
const LAERER: &str = "laerer@vejle.overgang.test";
const STEVNS_STAFF: &str = "paedagog@stevns.overgang.test";

/// Marker texts: one in an ordinary answer, one in a sensitive one.
const VISIBLE: &str = "SYNLIG-leger-godt-med-andre";
const SECRET: &str = "FORTROLIG-stoette-fra-ppr";

async fn one<T>(app: &TestApp, sql: &str) -> T
where
    T: for<'r> sqlx::Decode<'r, sqlx::Postgres> + sqlx::Type<sqlx::Postgres> + Send + Unpin,
{
    let mut conn = app.owner_conn().await;
    sqlx::query_scalar(sql).fetch_one(&mut conn).await.unwrap()
}

/// A child at Solsikken with two custody guardians.
async fn child(app: &TestApp) -> (Uuid, Vec<Uuid>) {
    let (m, _, child) = app
        .enrolled_child(
            "Børnehaven Solsikken",
            ("Alma", "Modtager"),
            "2020-03-03",
            100,
        )
        .await;
    let mut conn = app.owner_conn().await;
    let mut guardians = Vec::new();
    for name in ["Mor Modtager", "Far Modtager"] {
        guardians.push(
            sqlx::query_scalar(
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
    (child, guardians)
}

/// Every question of the transition's form answered; free texts get `VISIBLE`, except the
/// first sensitive free-text question, which gets `SECRET`. Returns the sensitive question's
/// section.
async fn fill(app: &TestApp, c: &Client, id: Uuid) -> Uuid {
    let mut conn = app.owner_conn().await;
    let rows: Vec<(Uuid, String, Vec<String>, bool, Uuid, bool)> = sqlx::query_as(
        "SELECT q.id, q.kind, q.options, q.sensitive, q.section_id, q.visible_to_receiver
         FROM transitions t JOIN template_questions q
           ON q.municipality_id = t.municipality_id AND q.template_id = t.template_id
         WHERE t.id = $1 ORDER BY q.section_id, q.position",
    )
    .bind(id)
    .fetch_all(&mut conn)
    .await
    .unwrap();
    let secret = rows
        .iter()
        .find(|r| r.1 == "free_text" && r.3 && r.5)
        .expect("the default template has a sensitive free-text question the receiver may see");
    let secret_section = secret.4;
    let mut fields: Vec<(String, String)> = Vec::new();
    for (q, kind, options, _, _, _) in &rows {
        let name = format!("q_{q}");
        let value = match kind.as_str() {
            "free_text" if *q == secret.0 => SECRET.to_string(),
            "free_text" => VISIBLE.to_string(),
            "scale_1_4" => "3".into(),
            "traffic_light" => "green".into(),
            "single_choice" | "multi_choice" => options[0].clone(),
            "date" => "2027-06-01".into(),
            other => panic!("unknown kind {other}"),
        };
        fields.push((name, value));
    }
    let form = format!("/transitions/{id}/form");
    let token = c.csrf(&form).await;
    let mut all: Vec<(&str, &str)> = vec![("_csrf", &token), ("version", "1")];
    all.extend(fields.iter().map(|(k, v)| (k.as_str(), v.as_str())));
    let r = c.post_form(&form, &all).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER, "the form is saved");
    secret_section
}

async fn status(app: &TestApp, id: Uuid) -> (String, i32) {
    let mut conn = app.owner_conn().await;
    sqlx::query_as("SELECT status, version FROM transitions WHERE id = $1")
        .bind(id)
        .fetch_one(&mut conn)
        .await
        .unwrap()
}

async fn move_to(c: &Client, id: Uuid, to: &str, version: i32) -> reqwest::Response {
    c.post_with_token(
        &format!("/transitions/{id}"),
        &format!("/transitions/{id}/status"),
        &[("to", to), ("version", &version.to_string())],
    )
    .await
}

async fn acknowledge(c: &Client, id: Uuid, version: i32) -> reqwest::Response {
    c.post_with_token(
        "/inbox",
        &format!("/transitions/{id}/acknowledge"),
        &[("version", &version.to_string()), ("ack_note", "Tak!")],
    )
    .await
}

async fn consent(app: &TestApp, id: Uuid, guardian: Uuid, section: Uuid, decision: &str) {
    let mut conn = app.owner_conn().await;
    sqlx::query(
        "INSERT INTO consent_records (municipality_id, transition_id, guardian_id, section_id, decision, method)
         SELECT municipality_id, id, $2, $3, $4, 'link' FROM transitions WHERE id = $1",
    )
    .bind(id)
    .bind(guardian)
    .bind(section)
    .bind(decision)
    .execute(&mut conn)
    .await
    .unwrap();
}

/// A staff member at another kindergarten of the municipality.
async fn other_institution_staff(app: &TestApp) -> Client {
    let mut conn = app.owner_conn().await;
    let hash: String = sqlx::query_scalar("SELECT password_hash FROM users WHERE email = $1")
        .bind(PAEDAGOG)
        .fetch_one(&mut conn)
        .await
        .unwrap();
    sqlx::query(
        "WITH u AS (
             INSERT INTO users (municipality_id, email, name, password_hash)
             SELECT municipality_id, 'mariehoenen@vejle.overgang.test', 'Mia Mariehøne', $1
             FROM institutions WHERE name = 'Børnehaven Mariehønen' RETURNING id, municipality_id)
         INSERT INTO role_assignments (municipality_id, user_id, role, institution_id)
         SELECT u.municipality_id, u.id, 'staff', i.id FROM u, institutions i
         WHERE i.name = 'Børnehaven Mariehønen'",
    )
    .bind(hash)
    .execute(&mut conn)
    .await
    .unwrap();
    app.login("mariehoenen@vejle.overgang.test").await
}

#[tokio::test]
async fn a_handover_goes_from_creation_to_acknowledgement_and_meeting() {
    let app = spawn_app().await;
    let (child, guardians) = child(&app).await;
    let sender = app.login(PAEDAGOG).await;
    let receiver = app.login(LAERER).await;
    let stevns = app.login(STEVNS_STAFF).await;
    let other = other_institution_staff(&app).await;
    let school: Uuid = one(
        &app,
        "SELECT id FROM institutions WHERE name = 'Bakkeskolen'",
    )
    .await;
    let me: Uuid = one(
        &app,
        "SELECT id FROM users WHERE email = 'paedagog@vejle.overgang.test'",
    )
    .await;

    // 1. The pedagogue creates the transition and fills the form.
    let r = sender
        .post_with_token(
            &format!("/transitions/new?child={child}"),
            "/transitions",
            &[
                ("child_id", &child.to_string()),
                ("receiving_institution_id", &school.to_string()),
                ("kind", "kindergarten_school"),
                ("planned_date", "2027-08-01"),
                ("responsible_user_id", &me.to_string()),
            ],
        )
        .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let id: Uuid = location(&r)
        .strip_prefix("/transitions/")
        .unwrap()
        .parse()
        .unwrap();
    let secret_section = fill(&app, &sender, id).await;
    assert_eq!(status(&app, id).await, ("draft".into(), 2));
    // The worklist shows how far the form is.
    let questions = app
        .count(&format!(
            "SELECT count(*) FROM template_questions q JOIN transitions t ON t.template_id = q.template_id WHERE t.id = '{id}'"
        ))
        .await;
    let (_, worklist) = sender.get_text("/transitions").await;
    assert!(
        worklist.contains(&format!("{questions} af {questions}")),
        "{worklist}"
    );

    // Before it is sent the school sees that it is coming, but not its content.
    let (_, inbox) = receiver.get_text("/inbox").await;
    assert!(inbox.contains("1 overlevering er på vej"), "{inbox}");
    assert!(!inbox.contains("Alma Modtager"));
    let (code, page) = receiver.get_text(&format!("/transitions/{id}")).await;
    assert_eq!(code, StatusCode::OK);
    assert!(!page.contains(VISIBLE) && !page.contains("Kvittér"));
    assert_eq!(
        receiver
            .get(&format!("/transitions/{id}/print"))
            .await
            .status(),
        StatusCode::FORBIDDEN
    );

    // 2. Ready, then sent (the sender cannot make the receiver's move).
    assert_eq!(
        move_to(&sender, id, "ready", 2).await.status(),
        StatusCode::SEE_OTHER
    );
    assert_eq!(
        move_to(&sender, id, "sent", 3).await.status(),
        StatusCode::SEE_OTHER
    );
    let r = move_to(&sender, id, "received", 4).await;
    assert_eq!(r.status(), StatusCode::CONFLICT);
    assert_eq!(status(&app, id).await, ("sent".into(), 4));

    // 3. The inbox lists it as unread; opening it records the read receipt.
    let (_, inbox) = receiver.get_text("/inbox").await;
    assert!(
        inbox.contains("Alma Modtager") && inbox.contains("Ulæst"),
        "{inbox}"
    );
    assert!(inbox.contains("Børnehaven Solsikken"));
    // The administrator oversees every institution's inbox; another school's teacher does not
    // see it, nor does the other municipality's administrator.
    for (email, sees) in [
        ("admin@vejle.overgang.test", true),
        ("admin@stevns.overgang.test", false),
    ] {
        let (code, inbox) = app.login(email).await.get_text("/inbox").await;
        assert_eq!(code, StatusCode::OK, "{email}");
        assert_eq!(inbox.contains("Alma Modtager"), sees, "{email}");
    }
    let (code, page) = receiver.get_text(&format!("/transitions/{id}")).await;
    assert_eq!(code, StatusCode::OK);
    assert!(page.contains(VISIBLE), "the receiver reads the handover");
    assert!(
        !page.contains(SECRET),
        "no consent: the sensitive answer is withheld"
    );
    assert!(page.contains("samtykket foreligger ikke"));
    assert!(page.contains("Kvittér for modtagelsen"));
    assert_eq!(
        app.count(&format!(
            "SELECT count(*) FROM transition_reads WHERE transition_id = '{id}'"
        ))
        .await,
        1
    );
    let (_, inbox) = receiver.get_text("/inbox").await;
    assert!(!inbox.contains("Ulæst"));

    // The sender sees who read it, and that it is not acknowledged yet.
    let (_, page) = sender.get_text(&format!("/transitions/{id}")).await;
    assert!(
        page.contains("Læst af") && page.contains("Peter Nielsen"),
        "{page}"
    );
    assert!(page.contains("Modtageren har ikke kvitteret endnu"));

    // 4. Refusals: the sender, another kindergarten, another municipality, a stale version.
    assert_eq!(
        acknowledge(&sender, id, 4).await.status(),
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        acknowledge(&other, id, 4).await.status(),
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        acknowledge(&stevns, id, 4).await.status(),
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        other.get(&format!("/transitions/{id}")).await.status(),
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        acknowledge(&receiver, id, 3).await.status(),
        StatusCode::CONFLICT
    );
    assert_eq!(status(&app, id).await, ("sent".into(), 4));

    // 5. The receiver acknowledges; once only.
    let r = acknowledge(&receiver, id, 4).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert_eq!(status(&app, id).await, ("received".into(), 5));
    let (by, note): (String, Option<String>) = {
        let mut conn = app.owner_conn().await;
        sqlx::query_as(
            "SELECT u.email, e.note FROM transition_events e JOIN users u ON u.id = e.user_id
             WHERE e.transition_id = $1 AND e.to_status = 'received'",
        )
        .bind(id)
        .fetch_one(&mut conn)
        .await
        .unwrap()
    };
    assert_eq!((by.as_str(), note.as_deref()), (LAERER, Some("Tak!")));
    let r = acknowledge(&receiver, id, 5).await;
    assert_eq!(
        r.status(),
        StatusCode::CONFLICT,
        "received cannot be received again"
    );
    let (_, page) = sender.get_text(&format!("/transitions/{id}")).await;
    assert!(page.contains("Kvitteret for modtagelsen"), "{page}");
    assert!(page.contains("af Peter Nielsen"));

    // 6. Consent from every custody guardian releases the sensitive section; a withdrawal hides
    //    it again.
    consent(&app, id, guardians[0], secret_section, "given").await;
    let (_, page) = receiver.get_text(&format!("/transitions/{id}")).await;
    assert!(
        !page.contains(SECRET),
        "one of two custody guardians is not enough"
    );
    consent(&app, id, guardians[1], secret_section, "given").await;
    let (_, page) = receiver.get_text(&format!("/transitions/{id}")).await;
    assert!(page.contains(SECRET), "both gave consent");
    consent(&app, id, guardians[0], secret_section, "withdrawn").await;
    let (_, page) = receiver.get_text(&format!("/transitions/{id}")).await;
    assert!(!page.contains(SECRET), "withdrawn");

    // 7. Print: each side its own copy.
    let (code, print) = receiver.get_text(&format!("/transitions/{id}/print")).await;
    assert_eq!(code, StatusCode::OK);
    assert!(print.contains("Modtagerens eksemplar") && print.contains(VISIBLE));
    assert!(!print.contains(SECRET));
    let (code, print) = sender.get_text(&format!("/transitions/{id}/print")).await;
    assert_eq!(code, StatusCode::OK);
    assert!(print.contains("Afsenderens eksemplar") && print.contains(SECRET));
    assert!(
        print.contains("03-03-2020"),
        "the print names the birth date"
    );
    assert_eq!(
        stevns
            .get(&format!("/transitions/{id}/print"))
            .await
            .status(),
        StatusCode::NOT_FOUND
    );

    // 8. The meeting: recorded by the receiver, a stale second save refused, corrected by the
    //    sender; agreements with follow-up dates, shown in the inbox.
    let meeting = format!("/transitions/{id}/meeting");
    let fields = |version: &'static str, notes: &'static str| {
        vec![
            ("version", version),
            ("held_on", "2027-06-10"),
            ("held_time", "14:30"),
            ("place", "Bakkeskolen, lokale 3"),
            (
                "participants",
                "Mor og far\nSofie Jensen, pædagog\nPeter Nielsen, lærer",
            ),
            ("notes", notes),
        ]
    };
    let r = receiver
        .post_with_token(
            &meeting,
            &meeting,
            &fields("0", "<script>alert(1)</script> Alma glæder sig."),
        )
        .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let r = sender
        .post_with_token(&meeting, &meeting, &fields("0", "Mine noter"))
        .await;
    assert_eq!(
        r.status(),
        StatusCode::CONFLICT,
        "a second first save is stale"
    );
    let bad = vec![
        ("version", "1"),
        ("held_on", "i morgen"),
        ("participants", ""),
    ];
    let r = sender.post_with_token(&meeting, &meeting, &bad).await;
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let body = r.text().await.unwrap();
    assert!(body.contains("Skriv mødets dato") && body.contains("Udfyld deltagerne"));
    // a year that parses but no meeting has (it was stored as 1 BC)
    for year_zero in ["0000-01-01", "9999-12-31"] {
        let mut wrong = fields("1", "x");
        wrong[1].1 = year_zero;
        let r = sender.post_with_token(&meeting, &meeting, &wrong).await;
        assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY, "{year_zero}");
    }
    let r = sender
        .post_with_token(
            &meeting,
            &meeting,
            &fields("1", "Alma glæder sig til skolen."),
        )
        .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let notes: (String, i32) = {
        let mut conn = app.owner_conn().await;
        sqlx::query_as("SELECT notes, version FROM handover_meetings WHERE transition_id = $1")
            .bind(id)
            .fetch_one(&mut conn)
            .await
            .unwrap()
    };
    assert_eq!(notes, ("Alma glæder sig til skolen.".into(), 2));
    assert_eq!(
        stevns
            .post_with_token("/", &meeting, &fields("2", "x"))
            .await
            .status(),
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        other
            .post_with_token("/", &meeting, &fields("2", "x"))
            .await
            .status(),
        StatusCode::NOT_FOUND
    );

    let agreements = format!("{meeting}/agreements");
    let agreement = [
        ("description", "Lærer og forældre mødes efter tre uger."),
        ("responsible", "Peter Nielsen"),
        ("follow_up_on", "2027-09-01"),
    ];
    // the same agreement sent twice (the form sent again) is stored once
    for _ in 0..2 {
        let r = receiver
            .post_with_token(&meeting, &agreements, &agreement)
            .await;
        assert_eq!(r.status(), StatusCode::SEE_OTHER);
    }
    let r = receiver
        .post_with_token(
            &meeting,
            &agreements,
            &[("description", ""), ("follow_up_on", "snart")],
        )
        .await;
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let r = receiver
        .post_with_token(
            &meeting,
            &agreements,
            &[
                ("description", "Opfølgning"),
                ("follow_up_on", "0000-01-01"),
            ],
        )
        .await;
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(
        app.count(&format!(
            "SELECT count(*) FROM meeting_agreements WHERE transition_id = '{id}'"
        ))
        .await,
        1
    );
    let (_, inbox) = receiver.get_text("/inbox").await;
    assert!(
        inbox.contains("Lærer og forældre mødes efter tre uger.") && inbox.contains("01-09-2027")
    );
    let (_, page) = sender.get_text(&format!("/transitions/{id}")).await;
    assert!(page.contains("Bakkeskolen, lokale 3") && page.contains("Lærer og forældre mødes"));
    assert!(page.contains("10-06-2027 kl. 14:30") && page.contains("01-09-2027"));
    assert!(page.contains("<td>Åben</td>") && !page.contains("Overskredet"));
    // An agreement due yesterday and not followed up is marked; the list is in date order.
    let mut conn = app.owner_conn().await;
    sqlx::query(
        "INSERT INTO meeting_agreements (municipality_id, transition_id, description, responsible,
                                         follow_up_on)
         SELECT municipality_id, id, 'Tidligere aftale', 'Sofie', current_date - 1
         FROM transitions WHERE id = $1",
    )
    .bind(id)
    .execute(&mut conn)
    .await
    .unwrap();
    let (_, page) = sender.get_text(&format!("/transitions/{id}")).await;
    let (earlier, later) = (
        page.find("Tidligere aftale").unwrap(),
        page.find("Lærer og forældre mødes").unwrap(),
    );
    assert!(earlier < later && page.contains("<strong>Overskredet</strong>"));
    sqlx::query("DELETE FROM meeting_agreements WHERE description = 'Tidligere aftale'")
        .execute(&mut conn)
        .await
        .unwrap();
    let agreement: Uuid = one(
        &app,
        &format!("SELECT id FROM meeting_agreements WHERE transition_id = '{id}'"),
    )
    .await;
    let done = format!("{agreements}/{agreement}/done");
    assert_eq!(
        stevns.post_with_token("/", &done, &[]).await.status(),
        StatusCode::NOT_FOUND
    );
    let r = sender.post_with_token(&meeting, &done, &[]).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert_eq!(
        sender.post_with_token(&meeting, &done, &[]).await.status(),
        StatusCode::NOT_FOUND,
        "already followed up"
    );
    let (_, inbox) = receiver.get_text("/inbox").await;
    assert!(!inbox.contains("Lærer og forældre mødes efter tre uger."));
    let (_, page) = sender.get_text(&format!("/transitions/{id}")).await;
    assert!(page.contains("<td>Fulgt op</td>") && !page.contains("<td>Åben</td>"));

    // Script tags in what people write are shown as text.
    let (_, page) = receiver.get_text(&meeting).await;
    assert!(!page.contains("<script>alert(1)</script>"));

    // 9. Every step is in the audit log.
    for action in [
        "read_handover",
        "print",
        "save_meeting",
        "add_agreement",
        "complete_agreement",
    ] {
        assert!(
            app.count(&format!(
                "SELECT count(*) FROM audit_log WHERE entity_id = '{id}' AND action = '{action}'"
            ))
            .await
                > 0,
            "{action} is audited"
        );
    }
}

#[tokio::test]
async fn the_meeting_is_closed_with_the_transition() {
    let app = spawn_app().await;
    let (child, _) = child(&app).await;
    let id: Uuid = {
        let mut conn = app.owner_conn().await;
        sqlx::query_scalar(
            "INSERT INTO transitions (municipality_id, child_id, sending_institution_id, receiving_institution_id,
                                      kind, planned_date, template_id, status)
             SELECT c.municipality_id, c.id, s.id, r.id, 'kindergarten_school', DATE '2027-08-01', t.id, 'cancelled'
             FROM children c, institutions s, institutions r, form_templates t
             WHERE c.id = $1 AND s.name = 'Børnehaven Solsikken' AND r.name = 'Bakkeskolen'
               AND t.municipality_id = c.municipality_id AND t.transition_kind = 'kindergarten_school'
               AND t.status = 'published'
             RETURNING id",
        )
        .bind(child)
        .fetch_one(&mut conn)
        .await
        .unwrap()
    };
    let sender = app.login(PAEDAGOG).await;
    let meeting = format!("/transitions/{id}/meeting");
    let (code, page) = sender.get_text(&meeting).await;
    assert_eq!(code, StatusCode::OK);
    assert!(page.contains("kan ikke længere ændres"));
    let r = sender
        .post_with_token(
            &meeting,
            &meeting,
            &[
                ("version", "0"),
                ("held_on", "2027-06-10"),
                ("participants", "Os"),
            ],
        )
        .await;
    assert_eq!(r.status(), StatusCode::CONFLICT);
    assert_eq!(app.count("SELECT count(*) FROM handover_meetings").await, 0);
    // a receiver does not acknowledge a cancelled handover
    let receiver = app.login(LAERER).await;
    assert_eq!(
        acknowledge(&receiver, id, 1).await.status(),
        StatusCode::CONFLICT
    );
}

/// A sent handover of a fresh child, written through the pages; returns its id (version 4).
async fn sent(app: &TestApp, sender: &Client) -> Uuid {
    let (child, _) = child(app).await;
    let school: Uuid = one(
        app,
        "SELECT id FROM institutions WHERE name = 'Bakkeskolen'",
    )
    .await;
    let r = sender
        .post_with_token(
            &format!("/transitions/new?child={child}"),
            "/transitions",
            &[
                ("child_id", &child.to_string()),
                ("receiving_institution_id", &school.to_string()),
                ("kind", "kindergarten_school"),
                ("planned_date", "2027-08-01"),
            ],
        )
        .await;
    let id: Uuid = location(&r)
        .strip_prefix("/transitions/")
        .unwrap()
        .parse()
        .unwrap();
    fill(app, sender, id).await;
    assert_eq!(
        move_to(sender, id, "ready", 2).await.status(),
        StatusCode::SEE_OTHER
    );
    assert_eq!(
        move_to(sender, id, "sent", 3).await.status(),
        StatusCode::SEE_OTHER
    );
    id
}

async fn amend(c: &Client, id: Uuid, text: &str) -> reqwest::Response {
    c.post_with_token(
        "/",
        &format!("/transitions/{id}/amendments"),
        &[("amendment", text)],
    )
    .await
}

async fn recall(c: &Client, id: Uuid, version: i32) -> reqwest::Response {
    c.post_with_token(
        "/",
        &format!("/transitions/{id}/recall"),
        &[("version", &version.to_string())],
    )
    .await
}

#[tokio::test]
async fn recall_before_opening_and_amendments_after_sending() {
    let app = spawn_app().await;
    let sender = app.login(PAEDAGOG).await;
    let receiver = app.login(LAERER).await;
    let stevns = app.login(STEVNS_STAFF).await;

    // Unopened: the sender sees the recall button and recalls it to a draft to correct it.
    let id = sent(&app, &sender).await;
    let (_, page) = sender.get_text(&format!("/transitions/{id}")).await;
    assert!(page.contains("Kald overleveringen tilbage"));
    assert_eq!(
        recall(&receiver, id, 4).await.status(),
        StatusCode::FORBIDDEN
    );
    assert_eq!(recall(&stevns, id, 4).await.status(), StatusCode::NOT_FOUND);
    assert_eq!(
        recall(&sender, id, 3).await.status(),
        StatusCode::CONFLICT,
        "stale"
    );
    // the generic status form cannot be used to get around the rule
    assert_eq!(
        move_to(&sender, id, "draft", 4).await.status(),
        StatusCode::CONFLICT
    );
    assert_eq!(recall(&sender, id, 4).await.status(), StatusCode::SEE_OTHER);
    assert_eq!(status(&app, id).await, ("draft".into(), 5));
    let (_, inbox) = receiver.get_text("/inbox").await;
    assert!(!inbox.contains("Alma Modtager"), "gone from the inbox");
    // Sent again, and this time the receiver opens it: recall is refused from then on.
    assert_eq!(
        move_to(&sender, id, "ready", 5).await.status(),
        StatusCode::SEE_OTHER
    );
    assert_eq!(
        move_to(&sender, id, "sent", 6).await.status(),
        StatusCode::SEE_OTHER
    );
    receiver.get_text(&format!("/transitions/{id}")).await;
    let (_, page) = sender.get_text(&format!("/transitions/{id}")).await;
    assert!(!page.contains("Kald overleveringen tilbage"));
    let r = recall(&sender, id, 7).await;
    assert_eq!(r.status(), StatusCode::CONFLICT);
    assert!(r.text().await.unwrap().contains("modtageren har åbnet den"));
    assert_eq!(status(&app, id).await, ("sent".into(), 7));

    // Amendments: only by the sender, only after sending, never empty; the receiver is told
    // by mail and sees what is new since they last read it.
    let mails_before = app.count("SELECT count(*) FROM outbox").await;
    assert_eq!(
        amend(&receiver, id, "Nej").await.status(),
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        amend(&stevns, id, "Nej").await.status(),
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        amend(&sender, id, "   ").await.status(),
        StatusCode::UNPROCESSABLE_ENTITY
    );
    // Too long: the page comes back with the error at the field and what was typed kept.
    let long = format!("Alma{}", "x".repeat(10_000));
    let r = amend(&sender, id, &long).await;
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let page = r.text().await.unwrap();
    assert!(
        page.contains("Der er problemer")
            && page.contains("href=\"#amendment\"")
            && page.contains("aria-invalid=\"true\"")
            && page.contains(&long),
        "{page}"
    );
    let r = amend(&sender, id, "Alma har fået briller <b>i går</b>.").await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert_eq!(
        app.count(&format!(
            "SELECT count(*) FROM transition_amendments WHERE transition_id = '{id}'"
        ))
        .await,
        1
    );
    assert_eq!(
        app.count(&format!(
            "SELECT count(*) FROM outbox WHERE to_address = '{LAERER}' AND subject = 'Tilføjelse til en overlevering'"
        ))
        .await,
        1
    );
    assert_eq!(
        app.count("SELECT count(*) FROM outbox").await,
        mails_before + 1
    );
    let (_, page) = receiver.get_text(&format!("/transitions/{id}")).await;
    assert!(
        page.contains("Alma har fået briller &#60;b&#62;i går") && !page.contains("<b>i går"),
        "escaped"
    );
    assert!(page.contains("Ny siden du sidst læste"));
    let (_, page) = receiver.get_text(&format!("/transitions/{id}")).await;
    assert!(!page.contains("Ny siden du sidst læste"), "read now");
    // the sent answers are untouched by an amendment
    let (_, page) = sender.get_text(&format!("/transitions/{id}/form")).await;
    assert!(page.contains(VISIBLE));

    // A draft cannot be amended (it is corrected in the form).
    let draft = sent(&app, &sender).await;
    assert_eq!(
        recall(&sender, draft, 4).await.status(),
        StatusCode::SEE_OTHER
    );
    let r = amend(&sender, draft, "Tilføjelse").await;
    assert_eq!(r.status(), StatusCode::CONFLICT);
}

#[tokio::test]
async fn an_amendment_sent_many_times_at_once_is_one_amendment_and_one_mail() {
    let app = spawn_app().await;
    let sender = app.login(PAEDAGOG).await;
    let id = sent(&app, &sender).await;
    let count = |sql: String| {
        let app = &app;
        async move { app.count(&sql).await }
    };
    let amendments = || {
        count(format!(
            "SELECT count(*) FROM transition_amendments WHERE transition_id = '{id}'"
        ))
    };
    let mails = || {
        count(format!("SELECT count(*) FROM outbox WHERE to_address = '{LAERER}' AND subject = 'Tilføjelse til en overlevering'"))
    };
    // A double click, sixteen times over: one amendment, one mail, and every click is told
    // it was sent.
    let clicks =
        (0..16).map(|_| async { amend(&sender, id, "Alma har fået briller.").await.status() });
    for status in futures_util::future::join_all(clicks).await {
        assert_eq!(status, StatusCode::SEE_OTHER);
    }
    assert_eq!((amendments().await, mails().await), (1, 1));
    // The same text later is still the same amendment; another text is a new one.
    assert_eq!(
        amend(&sender, id, "Alma har fået briller.").await.status(),
        StatusCode::SEE_OTHER
    );
    assert_eq!((amendments().await, mails().await), (1, 1));
    assert_eq!(
        amend(&sender, id, "Alma bruger briller til læsning.")
            .await
            .status(),
        StatusCode::SEE_OTHER
    );
    assert_eq!((amendments().await, mails().await), (2, 2));
}

/// An amendment sent while a recall of the handover is being committed (the recall holds the
/// transition's row, the amendment waits for it) sees the recall's draft once it gets the row,
/// and is refused: nothing is added to a handover that is a draft again, and nobody is told.
#[tokio::test]
async fn an_amendment_waiting_for_a_recall_sees_the_draft() {
    let app = spawn_app().await;
    let sender = app.login(PAEDAGOG).await;
    let id = sent(&app, &sender).await;
    let (status, page) = app
        .during(
            &format!("SELECT 1 FROM transitions WHERE id = '{id}' FOR UPDATE"),
            &format!(
                "UPDATE transitions SET status = 'draft', version = version + 1 WHERE id = '{id}'"
            ),
            async {
                let r = amend(&sender, id, "Alma har fået briller.").await;
                (r.status(), r.text().await.unwrap())
            },
        )
        .await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert!(page.contains("Kladde"), "{page}");
    let stored = app
        .count(&format!(
            "SELECT count(*) FROM transition_amendments WHERE transition_id = '{id}'"
        ))
        .await;
    let told = app
        .count("SELECT count(*) FROM outbox WHERE subject = 'Tilføjelse til en overlevering'")
        .await;
    assert_eq!((stored, told), (0, 0));
}

/// The receiver's print of a handover is a read like opening it: the sender sees the receipt,
/// and can no longer recall what the receiver may already have on paper.
#[tokio::test]
async fn a_handover_the_receiver_printed_cannot_be_recalled() {
    let app = spawn_app().await;
    let sender = app.login(PAEDAGOG).await;
    let receiver = app.login(LAERER).await;
    let id = sent(&app, &sender).await;
    let (code, print) = receiver.get_text(&format!("/transitions/{id}/print")).await;
    assert_eq!(code, StatusCode::OK);
    assert!(print.contains("Modtagerens eksemplar"));
    assert_eq!(
        app.count(&format!(
            "SELECT count(*) FROM transition_reads WHERE transition_id = '{id}'"
        ))
        .await,
        1
    );
    let (_, page) = sender.get_text(&format!("/transitions/{id}")).await;
    assert!(!page.contains("Kald overleveringen tilbage"));
    let r = recall(&sender, id, 4).await;
    assert_eq!(r.status(), StatusCode::CONFLICT);
    assert!(r.text().await.unwrap().contains("modtageren har åbnet den"));
    assert_eq!(status(&app, id).await, ("sent".into(), 4));
}

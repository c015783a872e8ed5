use reqwest::StatusCode;

use crate::common::{location, spawn_app};

fn new_municipality<'a>(token: &'a str, code: &'a str, email: &'a str) -> Vec<(&'a str, &'a str)> {
    vec![
        ("_csrf", token),
        ("code", code),
        ("name", "Odense"),
        ("admin_name", "Ole Olsen"),
        ("admin_email", email),
        ("admin_password", "en lang og god adgangskode"),
    ]
}

#[tokio::test]
async fn the_operator_creates_a_municipality_whose_admin_can_log_in() {
    let app = spawn_app().await;
    let op = app.login("operator@overgang.test").await;
    let (status, html) = op.get_text("/platform/municipalities").await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains("Vejle") && html.contains("Stevns"));

    let token = op.csrf("/platform/municipalities/new").await;
    let r = op
        .post_form(
            "/platform/municipalities",
            &new_municipality(&token, "0461", "ole@odense.dk"),
        )
        .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&r), "/platform/municipalities");
    let (_, html) = op.get_text("/platform/municipalities").await;
    assert!(html.contains("Odense Kommune er oprettet"));

    let admin = app.client();
    let r = admin
        .login("ole@odense.dk", "en lang og god adgangskode")
        .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let (status, html) = admin.get_text("/").await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains("Odense Kommune") && html.contains("(0461)"));
    assert!(html.contains("Kommunal administrator"));

    // Duplicates are field errors, and nothing is half-saved.
    let r = op
        .post_form(
            "/platform/municipalities",
            &new_municipality(&token, "0461", "other@odense.dk"),
        )
        .await;
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(r
        .text()
        .await
        .unwrap()
        .contains("Der findes allerede en kommune med den kode."));
    let r = op
        .post_form(
            "/platform/municipalities",
            &new_municipality(&token, "0101", "ole@odense.dk"),
        )
        .await;
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let html = r.text().await.unwrap();
    assert!(html.contains("Der findes allerede en bruger med den e-mailadresse."));
    assert!(html.contains("value=\"0101\""), "the user's input is kept");
    let mut conn = app.owner_conn().await;
    let n: i64 = sqlx::query_scalar("SELECT count(*) FROM municipalities WHERE code = '0101'")
        .fetch_one(&mut conn)
        .await
        .unwrap();
    assert_eq!(
        n, 0,
        "the municipality of the failed attempt was rolled back"
    );
    let audited: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM audit_log a JOIN municipalities m ON m.id = a.municipality_id
         WHERE m.code = '0461' AND a.action = 'create'",
    )
    .fetch_one(&mut conn)
    .await
    .unwrap();
    assert_eq!(
        audited, 2,
        "municipality and administrator creation are audited"
    );
}

#[tokio::test]
async fn invalid_input_is_shown_next_to_the_fields() {
    let app = spawn_app().await;
    let op = app.login("operator@overgang.test").await;
    let token = op.csrf("/platform/municipalities/new").await;
    let r = op
        .post_form(
            "/platform/municipalities",
            &[
                ("_csrf", &token),
                ("code", "63"),
                ("name", "<script>alert(1)</script>"),
                ("admin_email", "nope"),
                ("admin_password", "kort"),
            ],
        )
        .await;
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let html = r.text().await.unwrap();
    for msg in [
        "Kommunekoden skal være fire cifre",
        "Udfyld administratorens navn.",
        "gyldig e-mailadresse",
        "mindst 12 tegn",
    ] {
        assert!(html.contains(msg), "missing {msg}");
    }
    assert!(
        !html.contains("<script>alert(1)</script>"),
        "input is escaped"
    );
    assert!(
        html.contains("&lt;script&gt;alert(1)") || html.contains("&#60;script&#62;alert(1)"),
        "the text is kept, escaped"
    );
    assert!(
        !html.contains("value=\"kort\""),
        "the password is not echoed back"
    );
}

#[tokio::test]
async fn only_the_operator_may_manage_municipalities() {
    let app = spawn_app().await;
    for email in [
        "admin@vejle.overgang.test",
        "analytiker@stevns.overgang.test",
        "paedagog@vejle.overgang.test",
    ] {
        let c = app.login(email).await;
        assert_eq!(
            c.get("/platform/municipalities").await.status(),
            StatusCode::FORBIDDEN,
            "{email}"
        );
        let token = c.csrf("/").await;
        let r = c
            .post_form(
                "/platform/municipalities",
                &new_municipality(&token, "0999", "x@y.dk"),
            )
            .await;
        assert_eq!(r.status(), StatusCode::FORBIDDEN, "{email}");
    }
    let mut conn = app.owner_conn().await;
    let n: i64 = sqlx::query_scalar("SELECT count(*) FROM municipalities")
        .fetch_one(&mut conn)
        .await
        .unwrap();
    assert_eq!(n, 2);
}

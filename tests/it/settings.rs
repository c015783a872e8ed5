//! The municipality's settings page: an administrator changes them (audited), bad values are
//! shown next to the fields and change nothing, other roles are refused, and a municipality only
//! ever changes its own row.

use reqwest::StatusCode;

use crate::common::spawn_app;

const ADMIN: &str = "admin@vejle.overgang.test";
const LEDER: &str = "leder@vejle.overgang.test";
const STEVNS_ADMIN: &str = "admin@stevns.overgang.test";

type Row = (i32, bool, i32, i32, i32, i32, Vec<String>);

async fn row(app: &crate::common::TestApp, code: &str) -> Row {
    let mut conn = app.owner_conn().await;
    sqlx::query_as(
        "SELECT feedback_delay_days, feedback_second_round, feedback_reminder_days,
                parent_reminder_days, retention_days, small_number_threshold, enabled_transition_kinds
         FROM municipalities WHERE code = $1",
    )
    .bind(code)
    .fetch_one(&mut conn)
    .await
    .unwrap()
}

#[tokio::test]
async fn an_administrator_changes_the_settings_and_bad_values_change_nothing() {
    let app = spawn_app().await;
    let admin = app.login(ADMIN).await;
    let (code, page) = admin.get_text("/settings").await;
    assert_eq!(code, StatusCode::OK);
    assert!(page.contains("value=\"90\"") && page.contains("value=\"1825\""));
    let stevns_before = row(&app, "0336").await;

    // Out of range, not a number, an unknown kind: 422, every message, nothing saved.
    let before = row(&app, "0630").await;
    let r = admin
        .post_with_token(
            "/settings",
            "/settings",
            &[
                ("feedback_delay_days", "0"),
                ("feedback_reminder_days", "fjorten"),
                ("parent_reminder_days", "61"),
                ("retention_days", "29"),
                ("small_number_threshold", "<script>"),
                ("kinds", "rocket_school"),
            ],
        )
        .await;
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let body = r.text().await.unwrap();
    for msg in [
        "helt tal fra 1 til 730",
        "helt tal fra 1 til 365",
        "helt tal fra 1 til 60",
        "helt tal fra 30 til 7300",
        "helt tal fra 1 til 100",
        "Vælg blandt de overgangstyper",
    ] {
        assert!(body.contains(msg), "missing «{msg}»");
    }
    assert!(!body.contains("<script>"), "the input is shown escaped");
    assert_eq!(row(&app, "0630").await, before);
    let r = admin
        .post_with_token(
            "/settings",
            "/settings",
            &[
                ("feedback_delay_days", "60"),
                ("feedback_reminder_days", "10"),
                ("parent_reminder_days", "5"),
                ("retention_days", "3650"),
                ("small_number_threshold", "7"),
            ],
        )
        .await;
    assert_eq!(
        r.status(),
        StatusCode::UNPROCESSABLE_ENTITY,
        "no kind at all"
    );
    assert!(r
        .text()
        .await
        .unwrap()
        .contains("Vælg mindst én overgangstype"));
    assert_eq!(row(&app, "0630").await, before);

    // A valid change is saved (kinds in the order children meet them) and audited.
    let r = admin
        .post_with_token(
            "/settings",
            "/settings",
            &[
                ("feedback_delay_days", "60"),
                ("feedback_second_round", "ja"),
                ("feedback_reminder_days", "10"),
                ("parent_reminder_days", "5"),
                ("retention_days", "3650"),
                ("small_number_threshold", "7"),
                ("kinds", "kindergarten_sfo"),
                ("kinds", "kindergarten_school"),
            ],
        )
        .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert_eq!(
        row(&app, "0630").await,
        (
            60,
            true,
            10,
            5,
            3650,
            7,
            vec!["kindergarten_school".into(), "kindergarten_sfo".into()]
        )
    );
    assert_eq!(
        app.count("SELECT count(*) FROM audit_log WHERE action = 'update_settings'")
            .await,
        1
    );
    // The other municipality is untouched.
    assert_eq!(row(&app, "0336").await, stevns_before);

    // Other roles are refused; Stevns' administrator edits Stevns.
    let leader = app.login(LEDER).await;
    assert_eq!(
        leader.get("/settings").await.status(),
        StatusCode::FORBIDDEN
    );
    let r = leader
        .post_with_token("/", "/settings", &[("feedback_delay_days", "1")])
        .await;
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    let stevns = app.login(STEVNS_ADMIN).await;
    let (_, page) = stevns.get_text("/settings").await;
    assert!(page.contains("value=\"90\""), "Stevns sees its own values");
}

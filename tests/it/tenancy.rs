use overgang::db::{self, Scope};
use reqwest::StatusCode;
use uuid::Uuid;

use crate::common::spawn_app;

async fn institution_of(app: &crate::common::TestApp, name: &str) -> Uuid {
    let mut conn = app.owner_conn().await;
    sqlx::query_scalar("SELECT id FROM institutions WHERE name = $1")
        .bind(name)
        .fetch_one(&mut conn)
        .await
        .unwrap()
}

#[tokio::test]
async fn a_query_without_where_sees_only_the_current_municipality() {
    let app = spawn_app().await;
    let vejle = app.municipality_id("0630").await;
    let stevns = app.municipality_id("0336").await;
    let mut owner = app.owner_conn().await;
    let all: i64 = sqlx::query_scalar("SELECT count(*) FROM institutions")
        .fetch_one(&mut owner)
        .await
        .unwrap();
    assert_eq!(
        all, 10,
        "the owner (superuser here) sees both municipalities"
    );

    let mut tx = db::begin(&app.db, Scope::Municipality(vejle))
        .await
        .unwrap();
    let (role, bypass): (String, bool) = sqlx::query_as(
        "SELECT current_user::text, rolbypassrls FROM pg_roles WHERE rolname = current_user",
    )
    .fetch_one(&mut *tx)
    .await
    .unwrap();
    assert_eq!(role, "overgang_app");
    assert!(!bypass);
    let municipalities: Vec<Uuid> =
        sqlx::query_scalar("SELECT DISTINCT municipality_id FROM institutions")
            .fetch_all(&mut *tx)
            .await
            .unwrap();
    assert_eq!(municipalities, vec![vejle]);
    for table in [
        "clusters",
        "institutions",
        "role_assignments",
        "users",
        "audit_log",
    ] {
        let foreign: i64 = sqlx::query_scalar(&format!(
            "SELECT count(*) FROM {table} WHERE municipality_id <> $1"
        ))
        .bind(vejle)
        .fetch_one(&mut *tx)
        .await
        .unwrap();
        assert_eq!(foreign, 0, "{table} leaks another municipality");
    }
    let seen: Vec<Uuid> = sqlx::query_scalar("SELECT id FROM municipalities")
        .fetch_all(&mut *tx)
        .await
        .unwrap();
    assert_eq!(seen, vec![vejle]);

    // Writes into the other municipality are refused or touch nothing.
    let insert = sqlx::query(
        "INSERT INTO institutions (municipality_id, name, kind) VALUES ($1, 'Snyd', 'skole')",
    )
    .bind(stevns)
    .execute(&mut *tx)
    .await;
    let err = insert.expect_err("insert into another municipality must fail");
    assert!(err.to_string().contains("row-level security"), "{err}");
    drop(tx);
    let mut tx = db::begin(&app.db, Scope::Municipality(vejle))
        .await
        .unwrap();
    let updated = sqlx::query("UPDATE institutions SET name = 'Hacked'")
        .execute(&mut *tx)
        .await
        .unwrap();
    assert_eq!(updated.rows_affected(), 5, "only Vejle's five institutions");
    let moved = sqlx::query("UPDATE institutions SET municipality_id = $1")
        .bind(stevns)
        .execute(&mut *tx)
        .await;
    assert!(
        moved.is_err(),
        "rows cannot be moved into another municipality"
    );
    drop(tx);

    // With no municipality set, no tenant row is visible at all.
    let mut tx = db::begin(&app.db, Scope::None).await.unwrap();
    let n: i64 = sqlx::query_scalar("SELECT count(*) FROM institutions")
        .fetch_one(&mut *tx)
        .await
        .unwrap();
    assert_eq!(n, 0);
    // The platform scope sees municipalities but still no tenant data.
    db::set_scope(&mut tx, Scope::Platform).await.unwrap();
    let n: i64 = sqlx::query_scalar("SELECT count(*) FROM municipalities")
        .fetch_one(&mut *tx)
        .await
        .unwrap();
    assert_eq!(n, 2);
    let n: i64 = sqlx::query_scalar("SELECT count(*) FROM institutions")
        .fetch_one(&mut *tx)
        .await
        .unwrap();
    assert_eq!(n, 0);
}

#[tokio::test]
async fn the_audit_log_is_append_only_for_the_application() {
    let app = spawn_app().await;
    let vejle = app.municipality_id("0630").await;
    let mut tx = db::begin(&app.db, Scope::Municipality(vejle))
        .await
        .unwrap();
    let n: i64 = sqlx::query_scalar("SELECT count(*) FROM audit_log")
        .fetch_one(&mut *tx)
        .await
        .unwrap();
    assert!(n > 0);
    refused(
        &app,
        vejle,
        &[
            "UPDATE audit_log SET action = 'x'",
            "DELETE FROM audit_log",
            "TRUNCATE audit_log",
        ],
    )
    .await;
}

/// Each statement, run by the application in the municipality's scope, is refused outright.
async fn refused(app: &crate::common::TestApp, municipality: Uuid, statements: &[&str]) {
    for statement in statements {
        let mut tx = db::begin(&app.db, Scope::Municipality(municipality))
            .await
            .unwrap();
        let err = sqlx::query(statement)
            .execute(&mut *tx)
            .await
            .expect_err(statement);
        assert!(
            err.to_string().contains("permission denied"),
            "{statement}: {err}"
        );
    }
}

/// A municipality changes its own settings, not the name or code other municipalities know it
/// by in transfers: the application may update only the settings columns.
#[tokio::test]
async fn a_municipality_cannot_rename_itself() {
    let app = spawn_app().await;
    let vejle = app.municipality_id("0630").await;
    refused(
        &app,
        vejle,
        &[
            "UPDATE municipalities SET name = 'Stevns'",
            "UPDATE municipalities SET code = '0336'",
        ],
    )
    .await;
    let mut tx = db::begin(&app.db, Scope::Municipality(vejle))
        .await
        .unwrap();
    let done = sqlx::query("UPDATE municipalities SET retention_days = retention_days")
        .execute(&mut *tx)
        .await
        .unwrap();
    assert_eq!(
        done.rows_affected(),
        1,
        "its own settings, and only its own"
    );
}

/// Sessions are the app's own to create and end; what a session holds beyond its id and user
/// (its CSRF token, client address, expiry) only the session check reads and changes.
#[tokio::test]
async fn the_application_cannot_read_or_change_a_session() {
    let app = spawn_app().await;
    let vejle = app.municipality_id("0630").await;
    app.login("paedagog@vejle.overgang.test").await;
    refused(
        &app,
        vejle,
        &[
            "SELECT csrf_token FROM sessions",
            "SELECT client_addr FROM sessions",
            "UPDATE sessions SET expires_at = now() + interval '1 year'",
            "UPDATE sessions SET user_id = user_id",
        ],
    )
    .await;
    let mut tx = db::begin(&app.db, Scope::Municipality(vejle))
        .await
        .unwrap();
    let ids: i64 = sqlx::query_scalar("SELECT count(id) FROM sessions")
        .fetch_one(&mut *tx)
        .await
        .unwrap();
    assert_eq!(ids, 1, "ids it may read, to end sessions");
}

#[tokio::test]
async fn another_municipalitys_ids_answer_404() {
    let app = spawn_app().await;
    let own = institution_of(&app, "Børnehaven Solsikken").await;
    let foreign = institution_of(&app, "Børnehaven Søstjernen").await;
    let c = app.login("paedagog@vejle.overgang.test").await;
    let (status, html) = c.get_text(&format!("/institutions/{own}")).await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains("Børnehaven Solsikken"));

    let (status, html) = c.get_text(&format!("/institutions/{foreign}")).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert!(!html.contains("Søstjernen"));
    let (unknown, _) = c
        .get_text(&format!("/institutions/{}", Uuid::new_v4()))
        .await;
    assert_eq!(
        unknown,
        StatusCode::NOT_FOUND,
        "foreign and unknown ids look the same"
    );
    let (malformed, html) = c.get_text("/institutions/not-a-uuid").await;
    assert_eq!(malformed, StatusCode::NOT_FOUND);
    assert!(html.contains("Siden findes ikke"));

    // The platform operator has no tenant data either.
    let op = app.login("operator@overgang.test").await;
    assert_eq!(
        op.get(&format!("/institutions/{own}")).await.status(),
        StatusCode::NOT_FOUND
    );
}

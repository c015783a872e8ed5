//! Small pages that belong to no capability.

use askama::Template;
use axum::{extract::State, routing::get, Router};

use crate::{
    auth::Visitor,
    state::AppState,
    web::{self, AppResult, Layout},
};

pub fn router() -> Router<AppState> {
    Router::new().route("/tilgaengelighed", get(accessibility))
}

#[derive(Template)]
#[template(path = "tilgaengelighed.html")]
pub struct AccessibilityPage {
    pub layout: Layout,
}

async fn accessibility(visitor: Visitor) -> AppResult<axum::response::Html<String>> {
    web::render(&AccessibilityPage {
        layout: Layout::anonymous("Tilgængelighedserklæring", visitor.0.csrf),
    })
}

/// For load balancers: the process answers and the database is reachable.
pub async fn health(State(state): State<AppState>) -> (axum::http::StatusCode, &'static str) {
    match sqlx::query("SELECT 1").execute(&state.db).await {
        Ok(_) => (axum::http::StatusCode::OK, "ok"),
        Err(_) => (
            axum::http::StatusCode::SERVICE_UNAVAILABLE,
            "database unavailable",
        ),
    }
}

//! Passwords, sessions, login/logout, CSRF, the current-user extractor and permissions.

pub mod handlers;
pub mod password;
pub mod permissions;
pub mod session;
pub mod throttle;
pub mod user;

use axum::{routing::get, routing::post, Router};

use crate::state::AppState;

pub use permissions::Permission;
pub use user::{ChildScope, Ctx, CurrentUser, Role, Visitor};

pub fn router() -> Router<AppState> {
    Router::new()
        .route(
            "/login",
            get(handlers::login_form).post(handlers::login_submit),
        )
        .route("/logout", post(handlers::logout))
        .route("/session/keepalive", get(handlers::keepalive))
}

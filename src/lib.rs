//! Overgang: handover of knowledge about children from one institution to the next.

pub mod audit;
pub mod auth;
pub mod children;
pub mod classes;
pub mod config;
pub mod dashboard;
pub mod db;
pub mod dsar;
pub mod feedback;
pub mod forms;
pub mod i18n;
pub mod import;
pub mod insights;
pub mod institutions;
pub mod mail;
pub mod pages;
pub mod parents;
pub mod platform;
pub mod retention;
pub mod seed;
pub mod server;
pub mod settings;
pub mod state;
pub mod synthetic;
pub mod transfers;
pub mod transitions;
pub mod users;
pub mod web;
pub mod wording;

use axum::{http::StatusCode, middleware, response::IntoResponse, routing::get, Router};
use tower_http::{
    catch_panic::CatchPanicLayer, services::ServeDir, timeout::TimeoutLayer, trace::TraceLayer,
};

pub use state::AppState;

/// The whole application. Session/CSRF handling wraps the pages; static files and the health
/// check stay outside it.
pub fn router(state: AppState) -> Router {
    let pages = Router::new()
        .merge(auth::router())
        .merge(dashboard::router())
        .merge(children::router())
        .merge(classes::router())
        .merge(platform::router())
        .merge(institutions::router())
        .merge(import::router())
        .merge(forms::router())
        .merge(users::router())
        .merge(transitions::router())
        .merge(transfers::router())
        .merge(audit::router())
        .merge(dsar::router())
        .merge(parents::router())
        .merge(feedback::router())
        .merge(insights::router())
        .merge(settings::router())
        .merge(wording::router())
        .merge(pages::router())
        .fallback(web::not_found)
        .method_not_allowed_fallback(web::method_not_allowed)
        .layer(middleware::from_fn_with_state(
            state.clone(),
            auth::session::middleware,
        ));
    Router::new()
        .route("/healthz", get(pages::health))
        .nest_service(
            "/static",
            ServeDir::new(server::static_dir()).fallback(get(web::not_found)),
        )
        .merge(pages)
        .layer(middleware::from_fn_with_state(
            state.clone(),
            web::security::headers,
        ))
        // In the encoding the browser prefers, at the fastest level (src/web/compress.rs).
        .layer(middleware::from_fn(web::compress::layer))
        .layer(TimeoutLayer::with_status_code(
            StatusCode::REQUEST_TIMEOUT,
            state.config.request_timeout,
        ))
        .layer(CatchPanicLayer::custom(|_| {
            web::error::error_page(
                StatusCode::INTERNAL_SERVER_ERROR,
                "Der skete en fejl",
                "Noget gik galt hos os. Fejlen er registreret. Prøv igen om lidt.",
            )
            .into_response()
        }))
        .layer(TraceLayer::new_for_http())
        .with_state(state)
}

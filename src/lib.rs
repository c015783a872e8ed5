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
        .layer(TraceLayer::new_for_http().make_span_with(request_span))
        .with_state(state)
}

/// The request's span names its route pattern, never the path it was called with: paths hold
/// parent-link, invitation and reset tokens (`/foraelder/{token}`), and query strings can hold a
/// child's name. tower-http's default records the whole URI (at DEBUG, so only when that is
/// switched on to look into a fault, which is when logs get copied around).
fn request_span(req: &axum::http::Request<axum::body::Body>) -> tracing::Span {
    let route = req
        .extensions()
        .get::<axum::extract::MatchedPath>()
        .map_or("-", |p| p.as_str());
    tracing::debug_span!("request", method = %req.method(), route)
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};

    use axum::{body::Body, http::Request};
    use tower::ServiceExt;
    use tracing::instrument::WithSubscriber;

    use super::*;

    #[derive(Clone, Default)]
    struct Captured(Arc<Mutex<Vec<u8>>>);

    impl std::io::Write for Captured {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[tokio::test]
    async fn the_request_span_names_the_route_never_the_token_or_the_query() {
        let log = Captured::default();
        let writer = log.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_max_level(tracing::Level::DEBUG)
            .with_ansi(false)
            .with_writer(move || writer.clone())
            .finish();
        let app: Router = Router::new()
            .route("/foraelder/{token}", get(|| async { "ok" }))
            .layer(TraceLayer::new_for_http().make_span_with(request_span));
        let response = app
            .oneshot(
                Request::get("/foraelder/HEMMELIGT-TOKEN?q=Ida")
                    .body(Body::empty())
                    .unwrap(),
            )
            .with_subscriber(subscriber)
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::OK);
        let out = String::from_utf8(log.0.lock().unwrap().clone()).unwrap();
        assert!(out.contains("route=\"/foraelder/{token}\""), "{out}");
        assert!(!out.contains("HEMMELIGT") && !out.contains("Ida"), "{out}");
    }
}

//! The one error type. Every failure becomes a friendly Danish page with the right status;
//! internal details are logged, never shown.

use askama::Template;
use axum::{
    http::{header, StatusCode},
    response::{IntoResponse, Redirect, Response},
};

use super::layout::Layout;

#[derive(Debug, thiserror::Error)]
pub enum AppError {
    #[error("not found")]
    NotFound,
    /// Not logged in: send the visitor to the login page, then back to `next`.
    #[error("login required")]
    LoginRequired { next: String },
    #[error("forbidden")]
    Forbidden,
    #[error("bad request: {0}")]
    BadRequest(String),
    #[error("conflict: {0}")]
    Conflict(String),
    #[error("csrf check failed")]
    Csrf,
    #[error("payload too large")]
    PayloadTooLarge,
    #[error("unsupported media type")]
    UnsupportedMediaType,
    #[error("method not allowed")]
    MethodNotAllowed,
    #[error("too many requests")]
    TooManyRequests(String),
    #[error("database: {0}")]
    Database(#[from] sqlx::Error),
    #[error("template: {0}")]
    Template(#[from] askama::Error),
    #[error("internal: {0}")]
    Internal(#[from] anyhow::Error),
}

pub type AppResult<T> = Result<T, AppError>;

#[derive(Template)]
#[template(path = "error.html")]
pub struct ErrorPage {
    pub layout: Layout,
    pub status: u16,
    pub heading: String,
    pub message: String,
}

impl AppError {
    fn parts(&self) -> (StatusCode, &'static str, String) {
        match self {
            AppError::NotFound => (
                StatusCode::NOT_FOUND,
                "Siden findes ikke",
                "Siden eller oplysningen findes ikke, eller du har ikke adgang til den.".into(),
            ),
            AppError::LoginRequired { .. } => {
                (StatusCode::UNAUTHORIZED, "Log ind", "Du skal være logget ind for at se siden.".into())
            }
            AppError::Forbidden => (
                StatusCode::FORBIDDEN,
                "Ingen adgang",
                "Din rolle giver ikke adgang til denne handling.".into(),
            ),
            AppError::BadRequest(msg) => (StatusCode::BAD_REQUEST, "Forespørgslen kunne ikke behandles", msg.clone()),
            AppError::Conflict(msg) => (StatusCode::CONFLICT, "Ændringen kunne ikke gemmes", msg.clone()),
            AppError::Csrf => (
                StatusCode::FORBIDDEN,
                "Sikkerhedstjekket fejlede",
                "Formularen var udløbet eller kom ikke fra Overgang. Gå tilbage, genindlæs siden og prøv igen.".into(),
            ),
            AppError::PayloadTooLarge => (
                StatusCode::PAYLOAD_TOO_LARGE,
                "For meget indhold",
                "Det indsendte er for stort. Forkort teksten eller filen og prøv igen.".into(),
            ),
            AppError::UnsupportedMediaType => (
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "Formatet understøttes ikke",
                "Det indsendte havde et format, som siden ikke kan modtage.".into(),
            ),
            AppError::MethodNotAllowed => (
                StatusCode::METHOD_NOT_ALLOWED,
                "Handlingen er ikke tilladt",
                "Siden kan ikke bruges på den måde.".into(),
            ),
            AppError::TooManyRequests(msg) => (StatusCode::TOO_MANY_REQUESTS, "For mange forsøg", msg.clone()),
            AppError::Database(e) if lost_race(e) => (
                StatusCode::CONFLICT,
                "Ændringen kunne ikke gemmes",
                "Det samme blev ændret et andet sted i samme øjeblik, så intet er gemt. Genindlæs siden og prøv igen.".into(),
            ),
            AppError::Database(_) | AppError::Template(_) | AppError::Internal(_) => (
                StatusCode::INTERNAL_SERVER_ERROR,
                "Der skete en fejl",
                "Noget gik galt hos os. Fejlen er registreret. Prøv igen om lidt.".into(),
            ),
        }
    }
}

/// Renders the error page; used for errors and for fallbacks.
pub fn error_page(status: StatusCode, heading: &str, message: &str) -> Response {
    let page = ErrorPage {
        layout: Layout::anonymous(heading, String::new()),
        status: status.as_u16(),
        heading: heading.to_string(),
        message: message.to_string(),
    };
    let body = page.render().unwrap_or_else(|_| {
        format!(
            "<!doctype html><html lang=\"da\"><title>{heading}</title><h1>{heading}</h1></html>"
        )
    });
    (
        status,
        [(header::CONTENT_TYPE, "text/html; charset=utf-8")],
        body,
    )
        .into_response()
}

impl IntoResponse for AppError {
    fn into_response(self) -> Response {
        if let AppError::LoginRequired { next } = &self {
            let target = if super::safe_next(next) {
                format!("/login?next={}", super::urlencode(next))
            } else {
                "/login".into()
            };
            return Redirect::to(&target).into_response();
        }
        let (status, heading, message) = self.parts();
        if status.is_server_error() {
            // Logged here, inside the request's trace span; the page says nothing specific.
            tracing::error!(error = %self, "request failed");
        } else if matches!(self, AppError::Database(_)) {
            // A race the handler does not answer itself: worth a form message of its own.
            tracing::warn!(error = %self, "request lost a race with another");
        }
        error_page(status, heading, &message)
    }
}

/// Whether a statement failed only because a concurrent transaction got there first: the
/// same form sent twice at once (a double click), two people changing one thing. The request's
/// transaction is rolled back, so nothing of it is stored; handlers that expect such a race
/// answer it with a message of their own (`constraint_name`), and this is the answer for the
/// rest: a unique key taken meanwhile, a serialization failure, a deadlock.
fn lost_race(err: &sqlx::Error) -> bool {
    match err {
        sqlx::Error::Database(db) => {
            matches!(db.code().as_deref(), Some("23505" | "40001" | "40P01"))
        }
        _ => false,
    }
}

/// Maps unique/foreign-key violations to a readable message for the form that caused them.
pub fn constraint_name(err: &sqlx::Error) -> Option<&str> {
    match err {
        sqlx::Error::Database(db) => db.constraint(),
        _ => None,
    }
}

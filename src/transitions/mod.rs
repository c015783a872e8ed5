//! Transitions: a child's move from a sending to a receiving institution, with its status
//! machine (`status`), the worklist, the creation of one transition and the relay holder, and
//! filling its handover form (`answers`), and the receiving end: the inbox, read receipts,
//! acknowledgement and the print view (`receiving`), the handover meeting (`meeting`), and the
//! handover as read by either side (`handover`).
//!
//! Who may: administrators, and leaders and staff of the SENDING institution, create and act
//! (`acts_for`); staff of the receiving institution may see the transition but not act (403);
//! anybody else gets 404 for its id, so ids leak nothing.

pub mod amendments;
pub mod answers;
pub mod cohort;
pub mod handlers;
pub mod handover;
pub mod meeting;
pub mod queries;
pub mod receiving;
pub mod sender_status;
pub mod status;

use axum::{
    routing::{get, post},
    Router,
};

use crate::state::AppState;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/transitions", get(handlers::list).post(handlers::create))
        .route("/transitions/new", get(handlers::new_form))
        .route("/transitions/status", get(sender_status::show))
        .route(
            "/transitions/cohort",
            get(cohort::form).post(cohort::create),
        )
        .route("/transitions/{id}", get(handlers::show))
        .route(
            "/transitions/{id}/form",
            get(answers::show).post(answers::save),
        )
        .route("/transitions/{id}/status", post(handlers::change_status))
        .route("/transitions/{id}/responsible", post(handlers::reassign))
        .route(
            "/transitions/{id}/acknowledge",
            post(receiving::acknowledge),
        )
        .route("/transitions/{id}/amendments", post(amendments::add))
        .route("/transitions/{id}/recall", post(amendments::recall))
        .route("/transitions/{id}/print", get(receiving::print))
        .route(
            "/transitions/{id}/meeting",
            get(meeting::show).post(meeting::save),
        )
        .route("/transitions/{id}/handover-wish", post(meeting::save_wish))
        .route(
            "/transitions/{id}/meeting/agreements",
            post(meeting::add_agreement),
        )
        .route(
            "/transitions/{id}/meeting/agreements/{agreement}/done",
            post(meeting::complete_agreement),
        )
        .route("/inbox", get(receiving::inbox))
}

/// The years a transition's planned date may lie in, as the app's filters take them: a date
/// beyond them is a typing error (or, in a package, no date PostgreSQL can store).
pub const PLANNED_YEARS: std::ops::RangeInclusive<i32> = 1990..=2200;

/// The planned date of a transition from its form field, in `PLANNED_YEARS`, or the field's
/// error.
pub fn planned_date(raw: &str, errors: &mut crate::web::FieldErrors) -> Option<time::Date> {
    match crate::children::domain::parse_date(raw) {
        Some(d) if PLANNED_YEARS.contains(&d.year()) => Some(d),
        Some(_) => {
            errors.add(
                "planned_date",
                "Den planlagte dato skal ligge mellem år 1990 og 2200, fx 2027-08-01.",
            );
            None
        }
        None => {
            errors.add(
                "planned_date",
                "Skriv den planlagte dato for overgangen, fx 2027-08-01.",
            );
            None
        }
    }
}

/// The transition's status once its lock is held (`queries::lock`), for a change that depends
/// on it: a status change committed while the change waited is seen here; no such transition
/// is 404.
pub async fn status_under_lock(
    tx: &mut crate::db::Tx,
    municipality_id: uuid::Uuid,
    transition_id: uuid::Uuid,
) -> crate::web::AppResult<status::Status> {
    Ok(under_lock(tx, municipality_id, transition_id).await?.0)
}

/// As `status_under_lock`, with the version the lock found, for a status move the system makes
/// on the back of another change (not on what a user saw on a page).
pub async fn under_lock(
    tx: &mut crate::db::Tx,
    municipality_id: uuid::Uuid,
    transition_id: uuid::Uuid,
) -> crate::web::AppResult<(status::Status, i32)> {
    queries::lock(tx, municipality_id, transition_id)
        .await?
        .ok_or(crate::web::AppError::NotFound)
}

//! Transfers between municipalities: a child who moves to another municipality takes the
//! consented part of its handover along, as a package (`package`, documented in
//! docs/handover-package.md).
//!
//! The sending side (an administrator, or a leader of the sending institution) starts a
//! transfer from the transition's page, to a named municipality of the platform or to an
//! unknown destination. The package is stored with the SENDER's transfer row (tenant-owned);
//! the receiving municipality's administrator sees only the sending municipality, the date and
//! the child's first name and birth date (definer function `transfer_incoming`) and accepts
//! (choosing the receiving institution) or rejects (`transfer_decide`). Only on acceptance is
//! the package copied into the receiving municipality, filtered again by the consent as it is
//! at that moment, as an incoming handover (`incoming_handovers`) for a matched or new child.
//! Transfers with an unknown destination wait in the sender's queue until the administrator
//! sets the municipality (the package is rebuilt then) or closes them with a reason.
//!
//! A package can also leave as a file (`GET /transitions/{id}/package.json`) and arrive as an
//! upload by an administrator (`/transfers/import`), for municipalities not on the platform.

pub mod handlers;
pub mod package;

use axum::{
    extract::DefaultBodyLimit,
    routing::{get, post},
    Router,
};

use crate::state::AppState;

/// The import form's body: the package plus the form's small fields.
const IMPORT_BODY_LIMIT: usize = package::MAX_BYTES + 64 * 1024;

pub fn router() -> Router<AppState> {
    Router::new()
        .route(
            "/transitions/{id}/package.json",
            get(handlers::export_package),
        )
        .route(
            "/transitions/{id}/transfer",
            get(handlers::start_form).post(handlers::start),
        )
        .route("/transfers", get(handlers::overview))
        .route(
            "/transfers/import",
            get(handlers::import_form)
                .post(handlers::import)
                .layer(DefaultBodyLimit::max(IMPORT_BODY_LIMIT)),
        )
        .route("/transfers/{id}/accept", post(handlers::accept))
        .route("/transfers/{id}/reject", post(handlers::reject))
        .route(
            "/transfers/{id}/destination",
            post(handlers::set_destination),
        )
        .route("/transfers/{id}/close", post(handlers::close))
        .route("/transfers/received/{id}", get(handlers::show_incoming))
}

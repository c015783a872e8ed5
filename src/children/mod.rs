//! Children, their guardians and enrolments.
//!
//! Who sees which child is decided by `CurrentUser::child_scope` and applied in every query
//! (`queries`): administrators see the municipality's children, leaders and staff the children
//! enrolled (now or from a future date) at their institutions, everybody else none. A child
//! outside the scope answers 404 on every route, as does a guardian or enrolment id that
//! belongs to another child, so ids leak nothing. Every read of a child's data and every
//! change is audited in the transaction that does it.
//!
//! The CPR number is optional and never leaves the server in full: not in lists, not in URLs
//! (forms post it; the search form posts too, and a number typed into it is refused
//! before it could reach the address bar), not in logs or audit details (`domain::Cpr` cannot be
//! printed), and not back into the edit form; the child's page shows it masked.

pub mod domain;
pub mod enrolments;
pub mod forms;
pub mod guardians;
pub mod handlers;
pub mod queries;

use axum::{
    routing::{get, post},
    Router,
};
use uuid::Uuid;

use crate::{
    auth::{ChildScope, Ctx, Permission},
    state::AppState,
    web::AppResult,
};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/children", get(handlers::list).post(handlers::create))
        .route("/children/new", get(handlers::new_form))
        .route("/children/search", post(handlers::search))
        .route("/children/{id}", get(handlers::show))
        .route(
            "/children/{id}/edit",
            get(handlers::edit_form).post(handlers::update),
        )
        .route("/children/{id}/delete", post(handlers::delete))
        .route("/children/{id}/guardians", post(guardians::create))
        .route("/children/{id}/guardians/new", get(guardians::new_form))
        .route(
            "/children/{id}/guardians/{gid}/edit",
            get(guardians::edit_form).post(guardians::update),
        )
        .route(
            "/children/{id}/guardians/{gid}/delete",
            post(guardians::delete),
        )
        .route("/children/{id}/enrolments", post(enrolments::create))
        .route("/children/{id}/enrolments/new", get(enrolments::new_form))
        .route(
            "/children/{id}/enrolments/{eid}/end",
            get(enrolments::end_form).post(enrolments::end),
        )
        .route(
            "/children/{id}/enrolments/{eid}/delete",
            post(enrolments::delete),
        )
}

/// What a children handler needs to know about the user, after the permission check.
pub struct Access {
    pub municipality_id: Uuid,
    pub scope: ChildScope,
}

impl Access {
    /// The one permission check at the top of every children handler.
    pub fn check(ctx: &Ctx, permission: Permission) -> AppResult<Access> {
        ctx.user.require(permission)?;
        Ok(Access {
            municipality_id: ctx.user.municipality()?,
            scope: ctx.user.child_scope(),
        })
    }

    /// Whether the user may enrol children at, or end and remove enrolments of, `institution`:
    /// administrators anywhere in the municipality, leaders and staff at their own
    /// institutions only (so they cannot move children out of another institution).
    pub fn manages(&self, institution: Uuid) -> bool {
        match &self.scope {
            ChildScope::Municipality => true,
            ChildScope::Institutions(ids) => ids.contains(&institution),
            ChildScope::Nothing => false,
        }
    }
}

/// An option of a `select` (see templates/macros.html).
pub struct Choice {
    pub value: String,
    pub label: String,
    pub selected: bool,
}

/// The institution options, with `selected` (the form's raw value) marked.
pub fn institution_options(list: &[queries::InstitutionChoice], selected: &str) -> Vec<Choice> {
    list.iter()
        .map(|i| Choice {
            value: i.id.to_string(),
            label: i.name.clone(),
            selected: i.id.to_string() == selected.trim(),
        })
        .collect()
}

pub fn child_path(id: Uuid) -> String {
    format!("/children/{id}")
}

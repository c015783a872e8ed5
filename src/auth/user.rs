//! Who is asking: the current user with their roles, and the per-request context handlers take.

use axum::{
    extract::FromRequestParts,
    http::{request::Parts, Method},
};
use serde::Deserialize;
use uuid::Uuid;

use super::{permissions::Permission, session::RequestContext};
use crate::{
    audit::Actor,
    db::{self, Scope, Tx},
    state::AppState,
    web::{AppError, AppResult, Layout, NavItem},
};

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    MunicipalAdmin,
    InstitutionLeader,
    Staff,
    Specialist,
    Analyst,
}

impl Role {
    pub const ALL: [Role; 5] = [
        Role::MunicipalAdmin,
        Role::InstitutionLeader,
        Role::Staff,
        Role::Specialist,
        Role::Analyst,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Role::MunicipalAdmin => "municipal_admin",
            Role::InstitutionLeader => "institution_leader",
            Role::Staff => "staff",
            Role::Specialist => "specialist",
            Role::Analyst => "analyst",
        }
    }

    pub fn parse(s: &str) -> Option<Role> {
        Role::ALL.into_iter().find(|r| r.as_str() == s)
    }

    pub fn label(self) -> &'static str {
        match self {
            Role::MunicipalAdmin => "Kommunal administrator",
            Role::InstitutionLeader => "Leder",
            Role::Staff => "Medarbejder",
            Role::Specialist => "Specialist",
            Role::Analyst => "Analytiker",
        }
    }
}

/// Which children a user may see: every child of the municipality, the children enrolled
/// (now or from a future date) at some institutions, or none.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ChildScope {
    Municipality,
    Institutions(Vec<Uuid>),
    Nothing,
}

impl ChildScope {
    /// For queries: `(all, institution ids)`; use as
    /// `($all OR EXISTS (enrolment at institution_id = ANY($ids) and not ended))`.
    pub fn as_params(&self) -> (bool, Vec<Uuid>) {
        match self {
            ChildScope::Municipality => (true, Vec::new()),
            ChildScope::Institutions(ids) => (false, ids.clone()),
            ChildScope::Nothing => (false, Vec::new()),
        }
    }
}

#[derive(Clone, Debug, Deserialize)]
pub struct RoleAssignment {
    pub role: Role,
    pub institution_id: Option<Uuid>,
    pub institution_name: Option<String>,
}

#[derive(Clone, Debug)]
pub struct CurrentUser {
    pub id: Uuid,
    pub name: String,
    pub email: String,
    pub municipality_id: Option<Uuid>,
    pub municipality_name: Option<String>,
    pub is_platform_operator: bool,
    pub roles: Vec<RoleAssignment>,
}

impl CurrentUser {
    pub fn has_role(&self, role: Role) -> bool {
        self.roles.iter().any(|r| r.role == role)
    }

    /// Institutions where the user holds `role`.
    pub fn institutions_with(&self, role: Role) -> impl Iterator<Item = Uuid> + '_ {
        self.roles
            .iter()
            .filter(move |r| r.role == role)
            .filter_map(|r| r.institution_id)
    }

    /// The role that decides the dashboard and the label in the header.
    pub fn primary_role_label(&self) -> &'static str {
        if self.is_platform_operator {
            return "Platformoperatør";
        }
        self.roles
            .iter()
            .map(|r| r.role)
            .min()
            .map(Role::label)
            .unwrap_or("Ingen rolle")
    }

    pub fn can(&self, permission: Permission) -> bool {
        super::permissions::allows(self, permission)
    }

    /// The one place handlers ask; a refusal is a 403 page (for foreign ids use 404 instead).
    pub fn require(&self, permission: Permission) -> AppResult<()> {
        if self.can(permission) {
            Ok(())
        } else {
            Err(AppError::Forbidden)
        }
    }

    /// Leads `institution` (or administers the whole municipality).
    pub fn leads(&self, institution: Uuid) -> bool {
        self.has_role(Role::MunicipalAdmin)
            || self
                .institutions_with(Role::InstitutionLeader)
                .any(|i| i == institution)
    }

    /// Whose children the user may see and edit.
    pub fn child_scope(&self) -> ChildScope {
        if !self.can(Permission::ViewChildren) {
            ChildScope::Nothing
        } else if self.has_role(Role::MunicipalAdmin) {
            ChildScope::Municipality
        } else {
            let mut ids: Vec<Uuid> = self
                .institutions_with(Role::InstitutionLeader)
                .chain(self.institutions_with(Role::Staff))
                .collect();
            ids.sort();
            ids.dedup();
            ChildScope::Institutions(ids)
        }
    }

    pub fn municipality(&self) -> AppResult<Uuid> {
        self.municipality_id.ok_or(AppError::NotFound)
    }
}

/// A logged-in request: the user, their tenant-scoped transaction, and the request facts.
/// Handlers that change data call `commit`; a transaction dropped without it rolls back.
pub struct Ctx {
    pub user: CurrentUser,
    pub tx: Tx,
    pub req: RequestContext,
    /// Today's date in Denmark (the transaction's `current_date`), read with the session.
    pub today: time::Date,
    /// A page view (GET/HEAD): its audit entries wait in `reads` for `commit`.
    is_view: bool,
    reads: Vec<crate::audit::ReadEntry>,
    audit: crate::audit::Writer,
}

impl Ctx {
    /// Commits the transaction; a page view then waits until its audit entries are written,
    /// so nothing is answered without them (a view holds no connection while it waits).
    pub async fn commit(self) -> AppResult<()> {
        self.tx.commit().await?;
        self.audit.write(self.reads).await?;
        Ok(())
    }

    /// Audits `entry`: a change in the request's transaction, committed or rolled back with
    /// it; a page view's entry is written when the page commits (`audit::reads`), and is
    /// dropped with the page if it fails before that.
    pub async fn audit(&mut self, entry: crate::audit::Entry<'_>) -> AppResult<()> {
        let actor = self.actor();
        if self.is_view {
            self.reads.push(crate::audit::ReadEntry::new(&actor, entry));
        } else {
            crate::audit::record(&mut self.tx, &actor, entry).await?;
        }
        Ok(())
    }

    pub fn actor(&self) -> Actor {
        Actor {
            user_id: Some(self.user.id),
            role: Some(self.user.primary_role_label().to_string()),
            municipality_id: self.user.municipality_id,
            client_addr: self.req.client_addr,
        }
    }

    pub fn layout(&self, title: &str, active: &str) -> Layout {
        let nav = super::permissions::navigation(&self.user)
            .into_iter()
            .map(|(href, label)| NavItem {
                active: href == active,
                href: href.to_string(),
                label: label.to_string(),
            })
            .collect();
        Layout {
            title: title.to_string(),
            user: Some(crate::web::layout::LayoutUser {
                name: self.user.name.clone(),
                municipality: self.user.municipality_name.clone(),
                role_label: self.user.primary_role_label().to_string(),
            }),
            csrf: self.req.csrf.clone(),
            nav,
            flash: self.req.flash.clone(),
            i18n: None,
        }
    }
}

pub fn request_context(parts: &Parts) -> AppResult<RequestContext> {
    parts
        .extensions
        .get::<RequestContext>()
        .cloned()
        .ok_or_else(|| AppError::Internal(anyhow::anyhow!("session middleware missing")))
}

/// The row-level security scope of a session: its municipality, or the platform's.
fn session_scope(session: &super::session::SessionData) -> Scope {
    session
        .municipality_id
        .map(Scope::Municipality)
        .unwrap_or(Scope::Platform)
}

impl FromRequestParts<AppState> for Ctx {
    type Rejection = AppError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let req = request_context(parts)?;
        let next = parts
            .uri
            .path_and_query()
            .map(|p| p.as_str())
            .unwrap_or("/")
            .to_string();
        let login = || AppError::LoginRequired { next: next.clone() };
        let mut session = req.session.clone().ok_or_else(login)?;
        // A page view writes at most its audit entry: it need not wait for the disk (see
        // `db::begin_read`); anything that changes data waits as always.
        let is_view = matches!(parts.method, Method::GET | Method::HEAD);
        let mut tx = None;
        if session.unconfirmed.is_some() {
            // Cached: confirmed by the database in the same round trip as BEGIN.
            match db::begin_checked(
                &state.db,
                &session.check_expression(),
                session_scope(&session),
                !is_view,
            )
            .await
            {
                Ok(t) => tx = Some(t),
                Err(e) if super::session::needs_reload(&e) => {
                    session = super::session::load(state, session.id.clone())
                        .await?
                        .ok_or_else(login)?
                        .0;
                }
                Err(e) => return Err(e.into()),
            }
        }
        let row = &session.user;
        let platform_ok = row.municipality_id.is_some() || row.is_platform_operator;
        if !row.is_active || !platform_ok || row.municipality_id != session.municipality_id {
            drop(tx);
            super::session::delete(state, &session.id).await?;
            return Err(login());
        }
        let tx = match tx {
            Some(t) => t,
            None if is_view => db::begin_read(&state.db, session_scope(&session)).await?,
            None => db::begin(&state.db, session_scope(&session)).await?,
        };
        let user = CurrentUser {
            id: session.user_id,
            name: row.name.clone(),
            email: row.email.clone(),
            municipality_id: row.municipality_id,
            municipality_name: row.municipality_name.clone(),
            is_platform_operator: row.is_platform_operator,
            roles: row.roles.clone(),
        };
        let today = session.today;
        Ok(Ctx {
            user,
            tx,
            req,
            today,
            is_view,
            reads: Vec::new(),
            audit: state.audit.clone(),
        })
    }
}

/// For pages anyone may see (login): the request facts without requiring a session.
pub struct Visitor(pub RequestContext);

impl<S: Send + Sync> FromRequestParts<S> for Visitor {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        Ok(Visitor(request_context(parts)?))
    }
}

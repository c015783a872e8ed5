//! Classes at a receiving institution (a name such as "0.A" per school year) and the receiving
//! teacher's overview of the incoming children placed in them (`overview`); placing children
//! and teachers and delegating that right (`manage`).
//!
//! Who may: a teacher sees the classes they are assigned to (while they still work at the
//! institution); the institution's leader, the staff the leader has delegated the placing to,
//! and administrators see and arrange every class of the institution. Any other class id is
//! 404, so ids leak nothing. The decision is made here (`ClassAccess`), nowhere else.

pub mod manage;
pub mod overview;

use axum::{
    routing::{get, post},
    Router,
};
use uuid::Uuid;

use crate::{
    auth::{Ctx, Permission, Role},
    db::Tx,
    state::AppState,
    web::{AppError, AppResult},
};

pub const NAV: &str = "/classes";

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/classes", get(manage::list).post(manage::create))
        .route("/classes/delegates", post(manage::grant))
        .route("/classes/delegates/revoke", post(manage::revoke))
        .route("/classes/{id}", get(overview::show))
        .route("/classes/{id}/children", post(manage::place))
        .route("/classes/{id}/children/remove", post(manage::unplace))
        .route("/classes/{id}/teachers", post(manage::add_teacher))
        .route(
            "/classes/{id}/teachers/remove",
            post(manage::remove_teacher),
        )
}

pub fn class_path(id: Uuid) -> String {
    format!("/classes/{id}")
}

/// What the user may do with classes.
pub struct ClassAccess {
    pub municipality_id: Uuid,
    pub user_id: Uuid,
    /// An administrator: every institution of the municipality.
    pub all: bool,
    /// Institutions where the user places children and teachers: those they lead, and those
    /// whose leader delegated it to them (while they still work there).
    pub arranges: Vec<Uuid>,
    /// Institutions where the user works (leader or staff): where being a class's teacher counts.
    pub works: Vec<Uuid>,
    /// Institutions the user leads by role (they grant and revoke delegations there).
    pub leads: Vec<Uuid>,
}

impl ClassAccess {
    /// The one check at the top of every class handler.
    pub async fn check(ctx: &mut Ctx) -> AppResult<ClassAccess> {
        ctx.user.require(Permission::ViewClasses)?;
        let m = ctx.user.municipality()?;
        let leads: Vec<Uuid> = ctx
            .user
            .institutions_with(Role::InstitutionLeader)
            .collect();
        let staff: Vec<Uuid> = ctx.user.institutions_with(Role::Staff).collect();
        let delegated = sqlx::query_scalar!(
            "SELECT institution_id FROM class_delegates
             WHERE municipality_id = $1 AND user_id = $2 AND institution_id = ANY($3)",
            m,
            ctx.user.id,
            &staff
        )
        .fetch_all(&mut *ctx.tx)
        .await?;
        let mut arranges = leads.clone();
        arranges.extend(delegated);
        arranges.sort();
        arranges.dedup();
        let mut works: Vec<Uuid> = leads.iter().chain(staff.iter()).copied().collect();
        works.sort();
        works.dedup();
        Ok(ClassAccess {
            municipality_id: m,
            user_id: ctx.user.id,
            all: ctx.user.has_role(Role::MunicipalAdmin),
            arranges,
            works,
            leads,
        })
    }

    pub fn arranges_at(&self, institution: Uuid) -> bool {
        self.all || self.arranges.contains(&institution)
    }

    /// Grants and revokes delegations: the institution's leader (or an administrator).
    pub fn delegates_at(&self, institution: Uuid) -> bool {
        self.all || self.leads.contains(&institution)
    }

    pub fn arranges_any(&self) -> bool {
        self.all || !self.arranges.is_empty()
    }
}

pub struct Class {
    pub id: Uuid,
    pub institution_id: Uuid,
    pub institution_name: String,
    pub name: String,
    pub school_year: i32,
    /// The user is one of the class's teachers.
    pub teaches: bool,
}

impl Class {
    pub fn label(&self) -> String {
        format!("{} ({})", self.name, school_year_label(self.school_year))
    }
}

pub fn school_year_label(year: i32) -> String {
    format!("skoleåret {}/{:02}", year, (year + 1) % 100)
}

/// The class if the user may see it (its teacher at an institution they still work at, or
/// someone who arranges classes there); `None` otherwise, which the handlers answer with 404.
pub async fn visible(
    tx: &mut Tx,
    access: &ClassAccess,
    id: Uuid,
) -> Result<Option<Class>, sqlx::Error> {
    let class = sqlx::query_as!(
        Class,
        r#"SELECT c.id, c.institution_id, i.name AS institution_name, c.name, c.school_year,
                  EXISTS (SELECT 1 FROM class_teachers k
                          WHERE k.municipality_id = c.municipality_id AND k.class_id = c.id
                            AND k.user_id = $3) AS "teaches!"
           FROM school_classes c
           JOIN institutions i ON i.municipality_id = c.municipality_id AND i.id = c.institution_id
           WHERE c.municipality_id = $1 AND c.id = $2"#,
        access.municipality_id,
        id,
        access.user_id
    )
    .fetch_optional(&mut **tx)
    .await?;
    Ok(class.filter(|c| {
        access.arranges_at(c.institution_id)
            || (c.teaches && access.works.contains(&c.institution_id))
    }))
}

/// As `visible`, or 404.
pub async fn find(tx: &mut Tx, access: &ClassAccess, id: Uuid) -> AppResult<Class> {
    visible(tx, access, id).await?.ok_or(AppError::NotFound)
}

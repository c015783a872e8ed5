//! Institutions and clusters.

use askama::Template;
use axum::{
    response::Html,
    routing::{get, post},
    Router,
};
use serde::Deserialize;
use uuid::Uuid;

mod clusters;
pub mod edit;
mod list;

use crate::{
    auth::{Ctx, Permission},
    state::AppState,
    web::{self, AppError, AppResult, Layout, Path, SelectOption},
};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/institutions", get(list::list).post(edit::create))
        .route("/institutions/new", get(edit::new_form))
        .route("/institutions/{id}", get(show).post(edit::update))
        .route("/institutions/{id}/edit", get(edit::edit_form))
        .route("/institutions/{id}/active", post(edit::set_active))
        .route("/clusters", get(clusters::list).post(clusters::create))
        .route("/clusters/new", get(clusters::new_form))
        .route(
            "/clusters/{id}",
            get(clusters::edit_form).post(clusters::update),
        )
}

pub struct InstitutionView {
    pub id: Uuid,
    pub name: String,
    pub kind: String,
    pub institution_number: Option<String>,
    pub cluster: Option<String>,
    pub is_pilot: bool,
    pub is_active: bool,
}

#[derive(Template)]
#[template(path = "institutions/show.html")]
pub struct ShowPage {
    pub layout: Layout,
    pub institution: InstitutionView,
    pub can_edit: bool,
}

/// Any user of the municipality may see an institution's public facts; another
/// municipality's id is simply not found.
async fn show(mut ctx: Ctx, Path(id): Path<Uuid>) -> AppResult<Html<String>> {
    let municipality_id = ctx.user.municipality()?;
    let row = sqlx::query!(
        r#"SELECT i.name, i.kind, i.institution_number, i.is_pilot, i.is_active, c.name AS "cluster?"
           FROM institutions i
           LEFT JOIN clusters c ON c.municipality_id = i.municipality_id AND c.id = i.cluster_id
           WHERE i.municipality_id = $1 AND i.id = $2"#,
        municipality_id,
        id
    )
    .fetch_optional(&mut *ctx.tx)
    .await?
    .ok_or(AppError::NotFound)?;
    let institution = InstitutionView {
        id,
        kind: kind_label(&row.kind).to_string(),
        name: row.name,
        institution_number: row.institution_number,
        cluster: row.cluster,
        is_pilot: row.is_pilot,
        is_active: row.is_active,
    };
    let page = ShowPage {
        layout: ctx.layout(&institution.name, "/institutions"),
        can_edit: ctx.user.can(Permission::AdministerMunicipality),
        institution,
    };
    let html = web::render(&page)?;
    ctx.commit().await?;
    Ok(html)
}

/// The municipality's clusters as select options (with an empty choice first).
pub async fn cluster_options(
    tx: &mut crate::db::Tx,
    municipality_id: Uuid,
    selected: Option<Uuid>,
) -> AppResult<Vec<SelectOption>> {
    let rows = sqlx::query!(
        "SELECT id, name FROM clusters WHERE municipality_id = $1 ORDER BY name",
        municipality_id
    )
    .fetch_all(&mut **tx)
    .await?;
    Ok(rows
        .into_iter()
        .map(|r| SelectOption::new(r.id.to_string(), r.name, Some(r.id) == selected))
        .collect())
}

pub fn kind_options(selected: &str) -> Vec<SelectOption> {
    InstitutionKind::ALL
        .iter()
        .map(|k| SelectOption::new(k.as_str(), k.label(), k.as_str() == selected))
        .collect()
}

/// An optional id from a form or query field: empty means none, garbage means none too (the
/// caller validates that a given id exists in the municipality).
pub fn optional_id(value: &str) -> Result<Option<Uuid>, uuid::Error> {
    let v = value.trim();
    if v.is_empty() {
        Ok(None)
    } else {
        v.parse().map(Some)
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum InstitutionKind {
    Dagpleje,
    Vuggestue,
    Boernehave,
    Integreret,
    Skole,
    Sfo,
    Klub,
    Specialtilbud,
    Ungdomsuddannelse,
}

impl InstitutionKind {
    pub const ALL: [InstitutionKind; 9] = [
        InstitutionKind::Dagpleje,
        InstitutionKind::Vuggestue,
        InstitutionKind::Boernehave,
        InstitutionKind::Integreret,
        InstitutionKind::Skole,
        InstitutionKind::Sfo,
        InstitutionKind::Klub,
        InstitutionKind::Specialtilbud,
        InstitutionKind::Ungdomsuddannelse,
    ];

    /// The value stored in the database.
    pub fn as_str(self) -> &'static str {
        match self {
            InstitutionKind::Dagpleje => "dagpleje",
            InstitutionKind::Vuggestue => "vuggestue",
            InstitutionKind::Boernehave => "boernehave",
            InstitutionKind::Integreret => "integreret",
            InstitutionKind::Skole => "skole",
            InstitutionKind::Sfo => "sfo",
            InstitutionKind::Klub => "klub",
            InstitutionKind::Specialtilbud => "specialtilbud",
            InstitutionKind::Ungdomsuddannelse => "ungdomsuddannelse",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.as_str() == s)
    }

    /// What a person writes in a spreadsheet: the stored value, the Danish label, or a common
    /// short form, in any case.
    pub fn from_user(s: &str) -> Option<Self> {
        let s = s.trim().to_lowercase();
        let alias = match s.as_str() {
            "sfo" | "fritidshjem" => Some(InstitutionKind::Sfo),
            "integreret" => Some(InstitutionKind::Integreret),
            "ungdomsuddannelse" | "ungdomsudd." => Some(InstitutionKind::Ungdomsuddannelse),
            _ => None,
        };
        alias.or_else(|| {
            Self::ALL
                .into_iter()
                .find(|k| k.as_str() == s || k.label().to_lowercase() == s)
        })
    }

    pub fn label(self) -> &'static str {
        match self {
            InstitutionKind::Dagpleje => "Dagpleje",
            InstitutionKind::Vuggestue => "Vuggestue",
            InstitutionKind::Boernehave => "Børnehave",
            InstitutionKind::Integreret => "Integreret institution",
            InstitutionKind::Skole => "Skole",
            InstitutionKind::Sfo => "SFO/fritidshjem",
            InstitutionKind::Klub => "Klub",
            InstitutionKind::Specialtilbud => "Specialtilbud",
            InstitutionKind::Ungdomsuddannelse => "Ungdomsuddannelse",
        }
    }
}

/// Label for a stored kind value (unknown values are shown as stored).
pub fn kind_label(stored: &str) -> &str {
    InstitutionKind::parse(stored)
        .map(InstitutionKind::label)
        .unwrap_or(stored)
}

//! Institutions and clusters.

use askama::Template;
use axum::{response::Html, routing::get, Router};
use serde::Deserialize;
use uuid::Uuid;

use crate::{
    auth::Ctx,
    state::AppState,
    web::{self, AppError, AppResult, Layout, Path},
};

pub fn router() -> Router<AppState> {
    Router::new().route("/institutions/{id}", get(show))
}

pub struct InstitutionView {
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
        kind: kind_label(&row.kind).to_string(),
        name: row.name,
        institution_number: row.institution_number,
        cluster: row.cluster,
        is_pilot: row.is_pilot,
        is_active: row.is_active,
    };
    let html = web::render(&ShowPage {
        layout: ctx.layout(&institution.name, ""),
        institution,
    })?;
    ctx.commit().await?;
    Ok(html)
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

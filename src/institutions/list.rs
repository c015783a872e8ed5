//! The administrator's list of institutions, with filters.

use askama::Template;
use axum::response::Html;
use serde::Deserialize;
use uuid::Uuid;

use super::{cluster_options, kind_label, kind_options, optional_id, InstitutionKind};
use crate::{
    auth::{Ctx, Permission},
    web::{self, AppResult, Layout, Query, SelectOption},
};

#[derive(Default, Deserialize)]
pub struct Filter {
    #[serde(default)]
    kind: String,
    #[serde(default)]
    cluster: String,
    #[serde(default)]
    pilot: String,
    #[serde(default)]
    inactive: String,
}

pub struct Row {
    pub id: Uuid,
    pub name: String,
    pub kind: String,
    pub number: Option<String>,
    pub cluster: Option<String>,
    pub is_pilot: bool,
    pub is_active: bool,
}

#[derive(Template)]
#[template(path = "institutions/list.html")]
pub struct ListPage {
    pub layout: Layout,
    pub rows: Vec<Row>,
    pub kinds: Vec<SelectOption>,
    pub clusters: Vec<SelectOption>,
    pub pilot: Vec<SelectOption>,
    pub show_inactive: bool,
}

pub async fn list(mut ctx: Ctx, Query(f): Query<Filter>) -> AppResult<Html<String>> {
    ctx.user.require(Permission::AdministerMunicipality)?;
    let municipality_id = ctx.user.municipality()?;
    // Unknown filter values are ignored rather than refused: they come from bookmarks and
    // hand-edited addresses, and showing everything is a safe answer.
    let kind = InstitutionKind::parse(&f.kind).map(|k| k.as_str().to_string());
    let cluster = optional_id(&f.cluster).ok().flatten();
    let pilot = match f.pilot.as_str() {
        "ja" => Some(true),
        "nej" => Some(false),
        _ => None,
    };
    let show_inactive = f.inactive == "ja";
    let rows = sqlx::query!(
        r#"SELECT i.id, i.name, i.kind, i.institution_number, i.is_pilot, i.is_active, c.name AS "cluster?"
           FROM institutions i
           LEFT JOIN clusters c ON c.municipality_id = i.municipality_id AND c.id = i.cluster_id
           WHERE i.municipality_id = $1
             AND ($2::text IS NULL OR i.kind = $2)
             AND ($3::uuid IS NULL OR i.cluster_id = $3)
             AND ($4::bool IS NULL OR i.is_pilot = $4)
             AND (i.is_active OR $5)
           ORDER BY i.name"#,
        municipality_id,
        kind,
        cluster,
        pilot,
        show_inactive
    )
    .fetch_all(&mut *ctx.tx)
    .await?
    .into_iter()
    .map(|r| Row {
        id: r.id,
        kind: kind_label(&r.kind).to_string(),
        name: r.name,
        number: r.institution_number,
        cluster: r.cluster,
        is_pilot: r.is_pilot,
        is_active: r.is_active,
    })
    .collect();
    let page = ListPage {
        layout: ctx.layout("Institutioner", "/institutions"),
        rows,
        kinds: kind_options(kind.as_deref().unwrap_or("")),
        clusters: cluster_options(&mut ctx.tx, municipality_id, cluster).await?,
        pilot: vec![
            SelectOption::new("ja", "Kun pilotinstitutioner", pilot == Some(true)),
            SelectOption::new(
                "nej",
                "Kun institutioner uden for piloten",
                pilot == Some(false),
            ),
        ],
        show_inactive,
    };
    let html = web::render(&page)?;
    ctx.commit().await?;
    Ok(html)
}

//! Clusters: a school and the day-care institutions that feed it.

use askama::Template;
use axum::response::{Html, Response};
use serde::Deserialize;
use serde_json::json;
use uuid::Uuid;

use super::{kind_label, optional_id};
use crate::{
    audit::{self, Entry},
    auth::{Ctx, Permission},
    db::Tx,
    web::{self, form, AppError, AppResult, FieldErrors, Flash, Form, Layout, Path, SelectOption},
};

pub struct ClusterRow {
    pub id: Uuid,
    pub name: String,
    pub school: Option<String>,
    pub members: Vec<String>,
}

#[derive(Template)]
#[template(path = "clusters/list.html")]
pub struct ListPage {
    pub layout: Layout,
    pub rows: Vec<ClusterRow>,
}

pub async fn list(mut ctx: Ctx) -> AppResult<Html<String>> {
    ctx.user.require(Permission::AdministerMunicipality)?;
    let municipality_id = ctx.user.municipality()?;
    let rows = sqlx::query!(
        r#"SELECT c.id, c.name, s.name AS "school?",
                  coalesce(array_agg(i.name ORDER BY i.name) FILTER (WHERE i.id IS NOT NULL AND i.id IS DISTINCT FROM c.school_id),
                           '{}') AS "members!"
           FROM clusters c
           LEFT JOIN institutions s ON s.municipality_id = c.municipality_id AND s.id = c.school_id
           LEFT JOIN institutions i ON i.municipality_id = c.municipality_id AND i.cluster_id = c.id AND i.is_active
           WHERE c.municipality_id = $1
           GROUP BY c.id, c.name, s.name ORDER BY c.name"#,
        municipality_id
    )
    .fetch_all(&mut *ctx.tx)
    .await?
    .into_iter()
    .map(|r| ClusterRow { id: r.id, name: r.name, school: r.school, members: r.members })
    .collect();
    web::render(&ListPage {
        layout: ctx.layout("Klynger", "/clusters"),
        rows,
    })
}

#[derive(Default, Deserialize)]
pub struct ClusterForm {
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub school: String,
    #[serde(default)]
    pub members: Vec<String>,
}

pub struct MemberOption {
    pub id: Uuid,
    pub label: String,
    pub checked: bool,
}

#[derive(Template)]
#[template(path = "clusters/form.html")]
pub struct FormPage {
    pub layout: Layout,
    pub id: Option<Uuid>,
    pub form: ClusterForm,
    pub schools: Vec<SelectOption>,
    pub institutions: Vec<MemberOption>,
    pub errors: FieldErrors,
}

async fn form_page(
    ctx: &mut Ctx,
    id: Option<Uuid>,
    form: ClusterForm,
    errors: FieldErrors,
) -> AppResult<FormPage> {
    let municipality_id = ctx.user.municipality()?;
    let rows = sqlx::query!(
        r#"SELECT i.id, i.name, i.kind, c.name AS "cluster?", i.cluster_id
           FROM institutions i
           LEFT JOIN clusters c ON c.municipality_id = i.municipality_id AND c.id = i.cluster_id
           WHERE i.municipality_id = $1 AND i.is_active ORDER BY i.name"#,
        municipality_id
    )
    .fetch_all(&mut *ctx.tx)
    .await?;
    let school = optional_id(&form.school).ok().flatten();
    let schools = rows
        .iter()
        .filter(|r| r.kind == "skole")
        .map(|r| SelectOption::new(r.id.to_string(), r.name.clone(), Some(r.id) == school))
        .collect();
    let institutions = rows
        .iter()
        .filter(|r| r.kind != "skole")
        .map(|r| {
            let elsewhere = match (&r.cluster, r.cluster_id) {
                (Some(c), Some(cid)) if Some(cid) != id => format!(" – nu i {c}"),
                _ => String::new(),
            };
            MemberOption {
                id: r.id,
                label: format!("{} ({}){elsewhere}", r.name, kind_label(&r.kind)),
                checked: form.members.iter().any(|m| m == &r.id.to_string()),
            }
        })
        .collect();
    Ok(FormPage {
        layout: ctx.layout(
            if id.is_some() {
                "Redigér klynge"
            } else {
                "Opret klynge"
            },
            "/clusters",
        ),
        id,
        form,
        schools,
        institutions,
        errors,
    })
}

pub async fn new_form(mut ctx: Ctx) -> AppResult<Html<String>> {
    ctx.user.require(Permission::AdministerMunicipality)?;
    let page = form_page(
        &mut ctx,
        None,
        ClusterForm::default(),
        FieldErrors::default(),
    )
    .await?;
    web::render(&page)
}

pub async fn edit_form(mut ctx: Ctx, Path(id): Path<Uuid>) -> AppResult<Html<String>> {
    ctx.user.require(Permission::AdministerMunicipality)?;
    let municipality_id = ctx.user.municipality()?;
    let c = sqlx::query!(
        "SELECT name, school_id FROM clusters WHERE municipality_id = $1 AND id = $2",
        municipality_id,
        id
    )
    .fetch_optional(&mut *ctx.tx)
    .await?
    .ok_or(AppError::NotFound)?;
    let members = sqlx::query_scalar!(
        "SELECT id FROM institutions WHERE municipality_id = $1 AND cluster_id = $2 AND kind <> 'skole'",
        municipality_id,
        id
    )
    .fetch_all(&mut *ctx.tx)
    .await?;
    let form = ClusterForm {
        name: c.name,
        school: c.school_id.map(|s| s.to_string()).unwrap_or_default(),
        members: members.iter().map(Uuid::to_string).collect(),
    };
    let page = form_page(&mut ctx, Some(id), form, FieldErrors::default()).await?;
    web::render(&page)
}

struct Cluster {
    name: String,
    school: Option<Uuid>,
    members: Vec<Uuid>,
}

/// Every id must be an active institution of this municipality (a school for `school`).
async fn validate(
    tx: &mut Tx,
    municipality_id: Uuid,
    f: &ClusterForm,
) -> AppResult<(Option<Cluster>, FieldErrors)> {
    let mut errors = FieldErrors::default();
    let name = form::required_text(&mut errors, "name", &f.name, "navnet", 200);
    let school = optional_id(&f.school).unwrap_or_else(|_| {
        errors.add("school", "Vælg en skole fra listen.");
        None
    });
    let members: Vec<Uuid> = f.members.iter().filter_map(|m| m.parse().ok()).collect();
    if members.len() != f.members.len() || members.len() > 500 {
        return Err(AppError::BadRequest(
            "Listen over institutioner var ugyldig.".into(),
        ));
    }
    let mut wanted = members.clone();
    wanted.extend(school);
    let known = sqlx::query!(
        "SELECT id, kind FROM institutions WHERE municipality_id = $1 AND is_active AND id = ANY($2)",
        municipality_id,
        &wanted
    )
    .fetch_all(&mut **tx)
    .await?;
    if let Some(s) = school {
        if !known.iter().any(|k| k.id == s && k.kind == "skole") {
            errors.add("school", "Vælg en skole fra listen.");
        }
    }
    if members
        .iter()
        .any(|m| !known.iter().any(|k| k.id == *m && k.kind != "skole"))
    {
        errors.add("members", "Vælg institutionerne fra listen.");
    }
    Ok((
        errors.is_empty().then_some(Cluster {
            name,
            school,
            members,
        }),
        errors,
    ))
}

/// The school and the chosen institutions belong to the cluster; institutions no longer
/// chosen leave it.
async fn save_members(tx: &mut Tx, municipality_id: Uuid, id: Uuid, c: &Cluster) -> AppResult<()> {
    let mut all = c.members.clone();
    all.extend(c.school);
    sqlx::query!(
        "UPDATE institutions SET cluster_id = NULL, updated_at = now()
         WHERE municipality_id = $1 AND cluster_id = $2 AND NOT (id = ANY($3))",
        municipality_id,
        id,
        &all
    )
    .execute(&mut **tx)
    .await?;
    sqlx::query!(
        "UPDATE institutions SET cluster_id = $2, updated_at = now()
         WHERE municipality_id = $1 AND id = ANY($3) AND cluster_id IS DISTINCT FROM $2",
        municipality_id,
        id,
        &all
    )
    .execute(&mut **tx)
    .await?;
    Ok(())
}

pub async fn create(mut ctx: Ctx, Form(f): Form<ClusterForm>) -> AppResult<Response> {
    ctx.user.require(Permission::AdministerMunicipality)?;
    let municipality_id = ctx.user.municipality()?;
    let (valid, errors) = validate(&mut ctx.tx, municipality_id, &f).await?;
    let Some(c) = valid else {
        let page = form_page(&mut ctx, None, f, errors).await?;
        return web::render_invalid(&page);
    };
    let id = sqlx::query_scalar!(
        "INSERT INTO clusters (municipality_id, name, school_id) VALUES ($1, $2, $3) RETURNING id",
        municipality_id,
        c.name,
        c.school
    )
    .fetch_one(&mut *ctx.tx)
    .await?;
    save_members(&mut ctx.tx, municipality_id, id, &c).await?;
    let actor = ctx.actor();
    audit::record(
        &mut ctx.tx,
        &actor,
        Entry::new("create", "cluster", Some(id))
            .details(json!({"name": c.name, "members": c.members.len()})),
    )
    .await?;
    ctx.commit().await?;
    Ok(web::redirect_with_flash(
        "/clusters",
        Flash::success(format!("Klyngen {} er oprettet.", c.name)),
    ))
}

pub async fn update(
    mut ctx: Ctx,
    Path(id): Path<Uuid>,
    Form(f): Form<ClusterForm>,
) -> AppResult<Response> {
    ctx.user.require(Permission::AdministerMunicipality)?;
    let municipality_id = ctx.user.municipality()?;
    // A foreign id is a 404 whatever the form held.
    sqlx::query_scalar!(
        "SELECT id FROM clusters WHERE municipality_id = $1 AND id = $2 FOR UPDATE",
        municipality_id,
        id
    )
    .fetch_optional(&mut *ctx.tx)
    .await?
    .ok_or(AppError::NotFound)?;
    let (valid, errors) = validate(&mut ctx.tx, municipality_id, &f).await?;
    let Some(c) = valid else {
        let page = form_page(&mut ctx, Some(id), f, errors).await?;
        return web::render_invalid(&page);
    };
    let updated = sqlx::query!(
        "UPDATE clusters SET name = $3, school_id = $4 WHERE municipality_id = $1 AND id = $2",
        municipality_id,
        id,
        c.name,
        c.school
    )
    .execute(&mut *ctx.tx)
    .await?;
    if updated.rows_affected() == 0 {
        return Err(AppError::NotFound);
    }
    save_members(&mut ctx.tx, municipality_id, id, &c).await?;
    let actor = ctx.actor();
    audit::record(
        &mut ctx.tx,
        &actor,
        Entry::new("update", "cluster", Some(id))
            .details(json!({"name": c.name, "members": c.members.len()})),
    )
    .await?;
    ctx.commit().await?;
    Ok(web::redirect_with_flash(
        "/clusters",
        Flash::success(format!("Klyngen {} er gemt.", c.name)),
    ))
}

//! Creating, editing, deactivating and reactivating institutions.

use askama::Template;
use axum::response::{Html, Response};
use serde::Deserialize;
use serde_json::json;
use uuid::Uuid;

use super::{cluster_options, kind_options, optional_id, InstitutionKind};
use crate::{
    audit::{self, Entry},
    auth::{Ctx, Permission},
    db::Tx,
    web::{
        self, error::constraint_name, form, AppError, AppResult, FieldErrors, Flash, Form, Layout,
        Path, SelectOption,
    },
};

#[derive(Default, Deserialize)]
pub struct InstitutionForm {
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub kind: String,
    #[serde(default)]
    pub institution_number: String,
    #[serde(default)]
    pub cluster: String,
    #[serde(default)]
    pub is_pilot: Option<String>,
}

#[derive(Template)]
#[template(path = "institutions/form.html")]
pub struct FormPage {
    pub layout: Layout,
    /// None when creating.
    pub id: Option<Uuid>,
    pub form: InstitutionForm,
    pub kinds: Vec<SelectOption>,
    pub clusters: Vec<SelectOption>,
    pub errors: FieldErrors,
}

/// What a valid form becomes.
pub struct Institution {
    pub name: String,
    pub kind: InstitutionKind,
    pub institution_number: Option<String>,
    pub cluster_id: Option<Uuid>,
    pub is_pilot: bool,
}

pub fn valid_number(n: &str) -> bool {
    (1..=20).contains(&n.len()) && n.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
}

async fn validate(
    tx: &mut Tx,
    municipality_id: Uuid,
    id: Option<Uuid>,
    f: &InstitutionForm,
) -> AppResult<(Option<Institution>, FieldErrors)> {
    let mut errors = FieldErrors::default();
    let name = form::required_text(&mut errors, "name", &f.name, "navnet", 200);
    let kind = InstitutionKind::parse(&f.kind);
    if kind.is_none() {
        errors.add("kind", "Vælg hvilken slags institution det er.");
    }
    let number = f.institution_number.trim().to_string();
    if !number.is_empty() && !valid_number(&number) {
        errors.add(
            "institution_number",
            "Institutionsnummeret må kun have bogstaver, cifre og bindestreg (højst 20).",
        );
    } else if !number.is_empty() {
        let taken = sqlx::query_scalar!(
            r#"SELECT EXISTS (SELECT 1 FROM institutions WHERE municipality_id = $1 AND institution_number = $2
                              AND id IS DISTINCT FROM $3) AS "e!""#,
            municipality_id,
            number,
            id
        )
        .fetch_one(&mut **tx)
        .await?;
        if taken {
            errors.add("institution_number", DUPLICATE_NUMBER);
        }
    }
    let cluster_id = match optional_id(&f.cluster) {
        Ok(None) => None,
        Ok(Some(id)) => {
            let exists = sqlx::query_scalar!(
                r#"SELECT EXISTS (SELECT 1 FROM clusters WHERE municipality_id = $1 AND id = $2) AS "e!""#,
                municipality_id,
                id
            )
            .fetch_one(&mut **tx)
            .await?;
            if !exists {
                errors.add("cluster", "Vælg en klynge fra listen.");
            }
            Some(id)
        }
        Err(_) => {
            errors.add("cluster", "Vælg en klynge fra listen.");
            None
        }
    };
    let valid = errors.is_empty().then(|| Institution {
        name,
        kind: kind.unwrap_or(InstitutionKind::Boernehave),
        institution_number: (!number.is_empty()).then_some(number),
        cluster_id,
        is_pilot: f.is_pilot.is_some(),
    });
    Ok((valid, errors))
}

async fn form_page(
    ctx: &mut Ctx,
    id: Option<Uuid>,
    form: InstitutionForm,
    errors: FieldErrors,
) -> AppResult<FormPage> {
    let municipality_id = ctx.user.municipality()?;
    let cluster = optional_id(&form.cluster).ok().flatten();
    Ok(FormPage {
        layout: ctx.layout(
            if id.is_some() {
                "Redigér institution"
            } else {
                "Opret institution"
            },
            "/institutions",
        ),
        id,
        kinds: kind_options(&form.kind),
        clusters: cluster_options(&mut ctx.tx, municipality_id, cluster).await?,
        form,
        errors,
    })
}

pub async fn new_form(mut ctx: Ctx) -> AppResult<Html<String>> {
    ctx.user.require(Permission::AdministerMunicipality)?;
    let page = form_page(
        &mut ctx,
        None,
        InstitutionForm::default(),
        FieldErrors::default(),
    )
    .await?;
    web::render(&page)
}

pub async fn edit_form(mut ctx: Ctx, Path(id): Path<Uuid>) -> AppResult<Html<String>> {
    ctx.user.require(Permission::AdministerMunicipality)?;
    let municipality_id = ctx.user.municipality()?;
    let r = sqlx::query!(
        "SELECT name, kind, institution_number, cluster_id, is_pilot FROM institutions WHERE municipality_id = $1 AND id = $2",
        municipality_id,
        id
    )
    .fetch_optional(&mut *ctx.tx)
    .await?
    .ok_or(AppError::NotFound)?;
    let form = InstitutionForm {
        name: r.name,
        kind: r.kind,
        institution_number: r.institution_number.unwrap_or_default(),
        cluster: r.cluster_id.map(|c| c.to_string()).unwrap_or_default(),
        is_pilot: r.is_pilot.then(|| "ja".to_string()),
    };
    let page = form_page(&mut ctx, Some(id), form, FieldErrors::default()).await?;
    web::render(&page)
}

const DUPLICATE_NUMBER: &str = "En anden institution i kommunen har allerede det nummer.";

/// A duplicate institution number is checked in `validate`; the constraint still catches two
/// simultaneous saves.
fn duplicate_number(err: &sqlx::Error, errors: &mut FieldErrors) -> bool {
    if constraint_name(err) == Some("institutions_number") {
        errors.add("institution_number", DUPLICATE_NUMBER);
        true
    } else {
        false
    }
}

pub async fn create(mut ctx: Ctx, Form(f): Form<InstitutionForm>) -> AppResult<Response> {
    ctx.user.require(Permission::AdministerMunicipality)?;
    let municipality_id = ctx.user.municipality()?;
    let (valid, mut errors) = validate(&mut ctx.tx, municipality_id, None, &f).await?;
    let Some(i) = valid else {
        let page = form_page(&mut ctx, None, f, errors).await?;
        return web::render_invalid(&page);
    };
    let inserted = sqlx::query_scalar!(
        "INSERT INTO institutions (municipality_id, name, kind, institution_number, cluster_id, is_pilot)
         VALUES ($1, $2, $3, $4, $5, $6) RETURNING id",
        municipality_id,
        i.name,
        i.kind.as_str(),
        i.institution_number,
        i.cluster_id,
        i.is_pilot
    )
    .fetch_one(&mut *ctx.tx)
    .await;
    let id = match inserted {
        Ok(id) => id,
        Err(e) if duplicate_number(&e, &mut errors) => {
            // The failed statement aborted the transaction; render from a fresh one.
            ctx.tx.rollback().await?;
            return Err(AppError::Conflict(
                errors.msg("institution_number").to_string(),
            ));
        }
        Err(e) => return Err(e.into()),
    };
    let actor = ctx.actor();
    audit::record(
        &mut ctx.tx,
        &actor,
        Entry::new("create", "institution", Some(id))
            .details(json!({"name": i.name, "kind": i.kind.as_str()})),
    )
    .await?;
    ctx.commit().await?;
    Ok(web::redirect_with_flash(
        "/institutions",
        Flash::success(format!("{} er oprettet.", i.name)),
    ))
}

/// Locks the institution for the change, or answers 404 before anything else is looked at, so
/// a foreign id gets the same answer whatever the form held.
async fn lock(tx: &mut Tx, municipality_id: Uuid, id: Uuid) -> AppResult<()> {
    sqlx::query_scalar!(
        "SELECT id FROM institutions WHERE municipality_id = $1 AND id = $2 FOR UPDATE",
        municipality_id,
        id
    )
    .fetch_optional(&mut **tx)
    .await?
    .map(|_| ())
    .ok_or(AppError::NotFound)
}

pub async fn update(
    mut ctx: Ctx,
    Path(id): Path<Uuid>,
    Form(f): Form<InstitutionForm>,
) -> AppResult<Response> {
    ctx.user.require(Permission::AdministerMunicipality)?;
    let municipality_id = ctx.user.municipality()?;
    lock(&mut ctx.tx, municipality_id, id).await?;
    let (valid, mut errors) = validate(&mut ctx.tx, municipality_id, Some(id), &f).await?;
    let Some(i) = valid else {
        let page = form_page(&mut ctx, Some(id), f, errors).await?;
        return web::render_invalid(&page);
    };
    let updated = sqlx::query!(
        "UPDATE institutions SET name = $3, kind = $4, institution_number = $5, cluster_id = $6, is_pilot = $7,
                updated_at = now()
         WHERE municipality_id = $1 AND id = $2",
        municipality_id,
        id,
        i.name,
        i.kind.as_str(),
        i.institution_number,
        i.cluster_id,
        i.is_pilot
    )
    .execute(&mut *ctx.tx)
    .await;
    match updated {
        Ok(r) if r.rows_affected() == 0 => return Err(AppError::NotFound),
        Ok(_) => {}
        Err(e) if duplicate_number(&e, &mut errors) => {
            ctx.tx.rollback().await?;
            return Err(AppError::Conflict(
                errors.msg("institution_number").to_string(),
            ));
        }
        Err(e) => return Err(e.into()),
    }
    let actor = ctx.actor();
    audit::record(
        &mut ctx.tx,
        &actor,
        Entry::new("update", "institution", Some(id))
            .details(json!({"name": i.name, "kind": i.kind.as_str(), "pilot": i.is_pilot})),
    )
    .await?;
    ctx.commit().await?;
    Ok(web::redirect_with_flash(
        &format!("/institutions/{id}"),
        Flash::success("Ændringerne er gemt."),
    ))
}

#[derive(Deserialize)]
pub struct ActiveForm {
    #[serde(default)]
    active: String,
}

/// Deactivation keeps the institution and its history (handovers refer to it) but takes it
/// out of lists and choices.
pub async fn set_active(
    mut ctx: Ctx,
    Path(id): Path<Uuid>,
    Form(f): Form<ActiveForm>,
) -> AppResult<Response> {
    ctx.user.require(Permission::AdministerMunicipality)?;
    let municipality_id = ctx.user.municipality()?;
    lock(&mut ctx.tx, municipality_id, id).await?;
    let active = match f.active.as_str() {
        "ja" => true,
        "nej" => false,
        _ => return Err(AppError::BadRequest("Ukendt handling.".into())),
    };
    let name = sqlx::query_scalar!(
        "UPDATE institutions SET is_active = $3, updated_at = now() WHERE municipality_id = $1 AND id = $2 RETURNING name",
        municipality_id,
        id,
        active
    )
    .fetch_optional(&mut *ctx.tx)
    .await?
    .ok_or(AppError::NotFound)?;
    let actor = ctx.actor();
    let action = if active { "reactivate" } else { "deactivate" };
    audit::record(
        &mut ctx.tx,
        &actor,
        Entry::new(action, "institution", Some(id)),
    )
    .await?;
    ctx.commit().await?;
    let message = if active {
        format!("{name} er aktiv igen.")
    } else {
        format!("{name} er deaktiveret.")
    };
    Ok(web::redirect_with_flash(
        &format!("/institutions/{id}"),
        Flash::success(message),
    ))
}

//! A child's enrolments: add, end, remove. Leaders and staff work only with enrolments at their
//! own institutions (`Access::manages`); administrators anywhere in the municipality.
//!
//! Ending or removing an enrolment can take the child out of the user's scope. Then the user
//! is sent to the list with a note, since the child's page would now be a 404 for them.

use askama::Template;
use axum::response::{IntoResponse, Response};
use serde_json::json;
use uuid::Uuid;

use super::{
    child_path,
    domain::{format_date, iso_date},
    forms::{self, EndForm, EnrolmentForm},
    institution_options,
    queries::{self, Reach},
    Access, Choice,
};
use crate::{
    audit::Entry,
    auth::{Ctx, Permission},
    web::{self, AppError, AppResult, FieldErrors, Flash, Form, Layout, Path},
};

const NAV: &str = "/children";

#[derive(Template)]
#[template(path = "children/enrolment_form.html")]
pub struct EnrolmentPage {
    pub layout: Layout,
    pub child_name: String,
    pub action: String,
    pub cancel_href: String,
    pub form: EnrolmentForm,
    pub institutions: Vec<Choice>,
    pub errors: FieldErrors,
}

#[derive(Template)]
#[template(path = "children/enrolment_end.html")]
pub struct EndPage {
    pub layout: Layout,
    pub child_name: String,
    pub institution: String,
    pub group_name: String,
    pub starts_on: String,
    pub action: String,
    pub cancel_href: String,
    pub ends_on: String,
    pub errors: FieldErrors,
}

fn name(child: &queries::Child) -> String {
    format!("{} {}", child.first_name, child.last_name)
}

/// Where to go after a change: the child's page, or the list if the child left the scope.
async fn after_change(
    ctx: &mut Ctx,
    access: &Access,
    id: Uuid,
    message: &str,
) -> AppResult<Response> {
    let visible = queries::in_scope(&mut ctx.tx, access.municipality_id, &access.scope, id).await?;
    let (to, flash) = if visible {
        (child_path(id), Flash::success(message))
    } else {
        (
            NAV.to_string(),
            Flash::info(format!(
                "{message} Barnet er ikke længere indskrevet i din institution, så det vises ikke længere for dig."
            )),
        )
    };
    Ok(web::redirect_with_flash(&to, flash))
}

fn enrolment_page(
    ctx: &Ctx,
    child: &queries::Child,
    form: EnrolmentForm,
    choices: &[queries::InstitutionChoice],
    errors: FieldErrors,
) -> EnrolmentPage {
    let child_name = name(child);
    EnrolmentPage {
        layout: ctx.layout(&format!("Tilføj indskrivning – {child_name}"), NAV),
        child_name,
        action: format!("{}/enrolments", child_path(child.id)),
        cancel_href: child_path(child.id),
        institutions: institution_options(choices, &form.institution_id),
        form,
        errors,
    }
}

pub async fn new_form(mut ctx: Ctx, Path(id): Path<Uuid>) -> AppResult<Response> {
    let access = Access::check(&ctx, Permission::EditChildren)?;
    let m = access.municipality_id;
    let child = queries::find_child(&mut ctx.tx, m, &access.scope, id, Reach::Edit)
        .await?
        .ok_or(AppError::NotFound)?;
    let choices = queries::institution_choices(&mut ctx.tx, m, &access.scope).await?;
    let today = ctx.today;
    let form = EnrolmentForm {
        institution_id: match choices.as_slice() {
            [only] => only.id.to_string(),
            _ => String::new(),
        },
        starts_on: iso_date(today),
        ..Default::default()
    };
    let page = enrolment_page(&ctx, &child, form, &choices, FieldErrors::default());
    Ok(web::render(&page)?.into_response())
}

pub async fn create(
    mut ctx: Ctx,
    Path(id): Path<Uuid>,
    Form(f): Form<EnrolmentForm>,
) -> AppResult<Response> {
    let access = Access::check(&ctx, Permission::EditChildren)?;
    let m = access.municipality_id;
    let child = queries::lock_child(&mut ctx.tx, m, &access.scope, id)
        .await?
        .ok_or(AppError::NotFound)?;
    let choices = queries::institution_choices(&mut ctx.tx, m, &access.scope).await?;
    let allowed: Vec<Uuid> = choices.iter().map(|c| c.id).collect();
    let today = ctx.today;
    let mut errors = FieldErrors::default();
    let Some(e) =
        forms::validate_enrolment(&f, &allowed, Some(child.birth_date), today, &mut errors)
    else {
        return web::render_invalid(&enrolment_page(&ctx, &child, f, &choices, errors));
    };
    let eid = queries::insert_enrolment(
        &mut ctx.tx,
        m,
        id,
        &queries::NewEnrolment {
            institution_id: e.institution_id,
            group_name: e.group_name.as_ref().map(|g| g.as_str()),
            starts_on: e.starts_on,
            ends_on: e.ends_on,
        },
    )
    .await?;
    ctx.audit(
        Entry::new("create", "enrolment", Some(eid))
            .child(id)
            .details(json!({
                "institution_id": e.institution_id,
                "starts_on": iso_date(e.starts_on),
                "ends_on": e.ends_on.map(iso_date),
            })),
    )
    .await?;
    let response = after_change(&mut ctx, &access, id, "Indskrivningen er tilføjet.").await?;
    ctx.commit().await?;
    Ok(response)
}

/// The child in scope and its enrolment `eid`, which the user must manage (else 403: the
/// enrolment is visible to them, so refusing says nothing new).
async fn managed_enrolment(
    ctx: &mut Ctx,
    access: &Access,
    id: Uuid,
    eid: Uuid,
    lock: bool,
) -> AppResult<(queries::Child, queries::Enrolment)> {
    let m = access.municipality_id;
    let child = if lock {
        queries::lock_child(&mut ctx.tx, m, &access.scope, id).await?
    } else {
        queries::find_child(&mut ctx.tx, m, &access.scope, id, Reach::Edit).await?
    }
    .ok_or(AppError::NotFound)?;
    let enrolment = queries::find_enrolment(&mut ctx.tx, m, id, eid)
        .await?
        .ok_or(AppError::NotFound)?;
    if !access.manages(enrolment.institution_id) {
        return Err(AppError::Forbidden);
    }
    Ok((child, enrolment))
}

fn end_page(
    ctx: &Ctx,
    child: &queries::Child,
    e: &queries::Enrolment,
    ends_on: String,
    errors: FieldErrors,
) -> EndPage {
    let child_name = name(child);
    EndPage {
        layout: ctx.layout(&format!("Afslut indskrivning – {child_name}"), NAV),
        child_name,
        institution: e.institution.clone(),
        group_name: e.group_name.clone().unwrap_or_default(),
        starts_on: format_date(e.starts_on),
        action: format!("{}/enrolments/{}/end", child_path(child.id), e.id),
        cancel_href: child_path(child.id),
        ends_on,
        errors,
    }
}

pub async fn end_form(mut ctx: Ctx, Path((id, eid)): Path<(Uuid, Uuid)>) -> AppResult<Response> {
    let access = Access::check(&ctx, Permission::EditChildren)?;
    let (child, e) = managed_enrolment(&mut ctx, &access, id, eid, false).await?;
    let today = ctx.today;
    let suggested = e.ends_on.unwrap_or(today).max(e.starts_on);
    let page = end_page(
        &ctx,
        &child,
        &e,
        iso_date(suggested),
        FieldErrors::default(),
    );
    Ok(web::render(&page)?.into_response())
}

pub async fn end(
    mut ctx: Ctx,
    Path((id, eid)): Path<(Uuid, Uuid)>,
    Form(f): Form<EndForm>,
) -> AppResult<Response> {
    let access = Access::check(&ctx, Permission::EditChildren)?;
    let (child, e) = managed_enrolment(&mut ctx, &access, id, eid, true).await?;
    let today = ctx.today;
    let mut errors = FieldErrors::default();
    let Some(ends_on) = forms::validate_end(&f, e.starts_on, today, &mut errors) else {
        return web::render_invalid(&end_page(&ctx, &child, &e, f.ends_on, errors));
    };
    queries::end_enrolment(&mut ctx.tx, access.municipality_id, id, eid, ends_on).await?;
    ctx.audit(
        Entry::new("update", "enrolment", Some(eid))
            .child(id)
            .details(json!({
                "fields": ["ends_on"],
                "institution_id": e.institution_id,
                "ends_on": iso_date(ends_on),
            })),
    )
    .await?;
    let response = after_change(&mut ctx, &access, id, "Indskrivningen er afsluttet.").await?;
    ctx.commit().await?;
    Ok(response)
}

pub async fn delete(mut ctx: Ctx, Path((id, eid)): Path<(Uuid, Uuid)>) -> AppResult<Response> {
    let access = Access::check(&ctx, Permission::EditChildren)?;
    let (_, e) = managed_enrolment(&mut ctx, &access, id, eid, true).await?;
    queries::delete_enrolment(&mut ctx.tx, access.municipality_id, id, eid).await?;
    ctx.audit(
        Entry::new("delete", "enrolment", Some(eid))
            .child(id)
            .details(json!({
                "institution_id": e.institution_id,
                "starts_on": iso_date(e.starts_on),
                "ends_on": e.ends_on.map(iso_date),
            })),
    )
    .await?;
    let response = after_change(&mut ctx, &access, id, "Indskrivningen er fjernet.").await?;
    ctx.commit().await?;
    Ok(response)
}

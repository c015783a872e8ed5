//! The municipality's settings, kept by its administrators: when feedback is asked for (and a
//! second round at 12 months), when reminders go to receivers and guardians, how long personal
//! data of finished transitions is kept, the small-number threshold of the insights, and which
//! transition kinds the municipality uses. Every change is audited with the old and new values.

use askama::Template;
use axum::{
    response::{IntoResponse, Response},
    routing::get,
    Router,
};
use serde::Deserialize;
use serde_json::json;

use crate::{
    audit::Entry,
    auth::{Ctx, Permission},
    forms::TransitionKind,
    state::AppState,
    web::{self, AppResult, FieldErrors, Flash, Form, Layout, SelectOption},
};

pub const NAV: &str = "/settings";

pub fn router() -> Router<AppState> {
    Router::new().route("/settings", get(show).post(save))
}

#[derive(Clone, Debug, PartialEq, Eq)]
struct Settings {
    feedback_delay_days: i32,
    feedback_second_round: bool,
    feedback_reminder_days: i32,
    parent_reminder_days: i32,
    retention_days: i32,
    small_number_threshold: i32,
    enabled_transition_kinds: Vec<String>,
}

#[derive(Default, Deserialize)]
#[serde(default)]
pub struct SettingsForm {
    pub feedback_delay_days: String,
    pub feedback_second_round: String,
    pub feedback_reminder_days: String,
    pub parent_reminder_days: String,
    pub retention_days: String,
    pub small_number_threshold: String,
    pub kinds: Vec<String>,
}

impl SettingsForm {
    fn from_settings(s: &Settings) -> Self {
        SettingsForm {
            feedback_delay_days: s.feedback_delay_days.to_string(),
            feedback_second_round: if s.feedback_second_round { "ja" } else { "" }.into(),
            feedback_reminder_days: s.feedback_reminder_days.to_string(),
            parent_reminder_days: s.parent_reminder_days.to_string(),
            retention_days: s.retention_days.to_string(),
            small_number_threshold: s.small_number_threshold.to_string(),
            kinds: s.enabled_transition_kinds.clone(),
        }
    }
}

#[derive(Template)]
#[template(path = "settings/form.html")]
pub struct SettingsPage {
    pub layout: Layout,
    pub form: SettingsForm,
    pub kinds: Vec<SelectOption>,
    pub errors: FieldErrors,
}

fn page(ctx: &Ctx, form: SettingsForm, errors: FieldErrors) -> SettingsPage {
    let kinds = TransitionKind::ALL
        .iter()
        .map(|k| {
            SelectOption::new(
                k.as_str(),
                k.label(),
                form.kinds.iter().any(|s| s == k.as_str()),
            )
        })
        .collect();
    SettingsPage {
        layout: ctx.layout("Kommunens indstillinger", NAV),
        form,
        kinds,
        errors,
    }
}

async fn load(ctx: &mut Ctx) -> AppResult<Settings> {
    let m = ctx.user.municipality()?;
    Ok(sqlx::query_as!(
        Settings,
        "SELECT feedback_delay_days, feedback_second_round, feedback_reminder_days,
                parent_reminder_days, retention_days, small_number_threshold,
                enabled_transition_kinds
         FROM municipalities WHERE id = $1",
        m
    )
    .fetch_one(&mut *ctx.tx)
    .await?)
}

pub async fn show(mut ctx: Ctx) -> AppResult<Response> {
    ctx.user.require(Permission::AdministerMunicipality)?;
    let current = load(&mut ctx).await?;
    let page = page(
        &ctx,
        SettingsForm::from_settings(&current),
        FieldErrors::default(),
    );
    ctx.commit().await?;
    Ok(web::render(&page)?.into_response())
}

/// A whole number of days (or people) within `min..=max`; records a message when it is not.
fn number(
    errors: &mut FieldErrors,
    field: &'static str,
    raw: &str,
    what: &str,
    min: i32,
    max: i32,
) -> i32 {
    match raw.trim().parse::<i32>() {
        Ok(n) if (min..=max).contains(&n) => n,
        _ => {
            errors.add(
                field,
                format!("Skriv {what} som et helt tal fra {min} til {max}."),
            );
            0
        }
    }
}

fn validate(f: &SettingsForm) -> Result<Settings, FieldErrors> {
    let mut errors = FieldErrors::default();
    let feedback_delay_days = number(
        &mut errors,
        "feedback_delay_days",
        &f.feedback_delay_days,
        "antal dage",
        1,
        730,
    );
    let feedback_reminder_days = number(
        &mut errors,
        "feedback_reminder_days",
        &f.feedback_reminder_days,
        "antal dage",
        1,
        365,
    );
    let parent_reminder_days = number(
        &mut errors,
        "parent_reminder_days",
        &f.parent_reminder_days,
        "antal dage",
        1,
        60,
    );
    let retention_days = number(
        &mut errors,
        "retention_days",
        &f.retention_days,
        "antal dage",
        30,
        7300,
    );
    let small_number_threshold = number(
        &mut errors,
        "small_number_threshold",
        &f.small_number_threshold,
        "grænsen",
        1,
        100,
    );
    let mut kinds: Vec<String> = Vec::new();
    for raw in &f.kinds {
        match TransitionKind::parse(raw.trim()) {
            Some(k) if !kinds.iter().any(|s| s == k.as_str()) => kinds.push(k.as_str().into()),
            Some(_) => {}
            None => errors.add("kinds", "Vælg blandt de overgangstyper, der står på siden."),
        }
    }
    if kinds.is_empty() && errors.get("kinds").is_none() {
        errors.add("kinds", "Vælg mindst én overgangstype.");
    }
    // stored in the order children meet them, whatever order the form sent
    kinds.sort_by_key(|s| TransitionKind::ALL.iter().position(|k| k.as_str() == s));
    let second = match f.feedback_second_round.trim() {
        "" => false,
        "ja" => true,
        _ => {
            errors.add("feedback_second_round", "Sæt kryds, eller lad være.");
            false
        }
    };
    if !errors.is_empty() {
        return Err(errors);
    }
    Ok(Settings {
        feedback_delay_days,
        feedback_second_round: second,
        feedback_reminder_days,
        parent_reminder_days,
        retention_days,
        small_number_threshold,
        enabled_transition_kinds: kinds,
    })
}

pub async fn save(mut ctx: Ctx, Form(f): Form<SettingsForm>) -> AppResult<Response> {
    ctx.user.require(Permission::AdministerMunicipality)?;
    let m = ctx.user.municipality()?;
    let new = match validate(&f) {
        Ok(s) => s,
        Err(errors) => return web::render_invalid(&page(&ctx, f, errors)),
    };
    let old = load(&mut ctx).await?;
    if old == new {
        return Ok(web::redirect_with_flash(
            NAV,
            Flash::success("Der var ingen ændringer at gemme."),
        ));
    }
    sqlx::query!(
        "UPDATE municipalities
         SET feedback_delay_days = $2, feedback_second_round = $3, feedback_reminder_days = $4,
             parent_reminder_days = $5, retention_days = $6, small_number_threshold = $7,
             enabled_transition_kinds = $8
         WHERE id = $1",
        m,
        new.feedback_delay_days,
        new.feedback_second_round,
        new.feedback_reminder_days,
        new.parent_reminder_days,
        new.retention_days,
        new.small_number_threshold,
        &new.enabled_transition_kinds
    )
    .execute(&mut *ctx.tx)
    .await?;
    let actor = ctx.actor();
    crate::audit::record(
        &mut ctx.tx,
        &actor,
        Entry::new("update_settings", "municipality", Some(m)).details(json!({
            "from": format!("{old:?}"),
            "to": format!("{new:?}"),
        })),
    )
    .await?;
    ctx.commit().await?;
    Ok(web::redirect_with_flash(
        NAV,
        Flash::success("Indstillingerne er gemt."),
    ))
}

//! Strengths-based wording: the municipality's list of phrases that describe a child by its
//! deficits («kan ikke», «doven», «problembarn» …), each with a suggestion of what to write
//! instead (what the child can, and what helps). While a pedagogue writes a handover the form
//! points the phrases out (`transitions::answers` after a save, `static/app.js` live while
//! typing); the hints are advice and never stop a save.
//!
//! Administrators keep the list under the settings (`/settings/wording`). Every municipality
//! starts with the default list of migration 20261201000019 (`wording_defaults()`): existing
//! ones from the migration, new ones from `install`. Every change is audited.

pub mod matcher;

use askama::Template;
use axum::{
    response::{IntoResponse, Response},
    routing::{get, post},
    Router,
};
use serde::Deserialize;
use serde_json::json;
use uuid::Uuid;

pub use matcher::{find, Hit, Matcher, Phrase};

use crate::{
    audit::Entry,
    auth::{Ctx, Permission},
    db::Tx,
    state::AppState,
    web::{
        self, error::constraint_name, AppError, AppResult, FieldErrors, Flash, Form, Layout, Path,
    },
};

const NAV: &str = crate::settings::NAV;
const LIST: &str = "/settings/wording";
const MAX_PHRASE: usize = 100;
const MAX_SUGGESTION: usize = 500;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/settings/wording", get(list).post(add))
        .route("/settings/wording/{id}", get(edit_form).post(update))
        .route("/settings/wording/{id}/delete", post(delete))
}

/// The municipality's phrases, for the matcher (one indexed query).
pub async fn phrases(tx: &mut Tx, municipality_id: Uuid) -> Result<Vec<Phrase>, sqlx::Error> {
    sqlx::query_as!(
        Phrase,
        "SELECT phrase, suggestion FROM wording_phrases WHERE municipality_id = $1 ORDER BY phrase_key",
        municipality_id
    )
    .fetch_all(&mut **tx)
    .await
}

/// Gives a new municipality the default list. Runs in the caller's transaction, which must be
/// scoped to `municipality_id`; phrases it has already are left alone.
pub async fn install(tx: &mut Tx, municipality_id: Uuid) -> Result<u64, sqlx::Error> {
    Ok(sqlx::query!(
        "INSERT INTO wording_phrases (municipality_id, phrase, phrase_key, suggestion)
         SELECT $1, d.phrase, d.phrase, d.suggestion FROM wording_defaults() d
         ON CONFLICT (municipality_id, phrase_key) DO NOTHING",
        municipality_id
    )
    .execute(&mut **tx)
    .await?
    .rows_affected())
}

// ---------------------------------------------------------------------------------------------
// The administrator's pages

pub struct Row {
    pub id: Uuid,
    pub phrase: String,
    pub suggestion: String,
}

#[derive(Clone, Default, Deserialize)]
#[serde(default)]
pub struct PhraseForm {
    pub phrase: String,
    pub suggestion: String,
}

#[derive(Template)]
#[template(path = "settings/wording.html")]
pub struct ListPage {
    pub layout: Layout,
    pub rows: Vec<Row>,
    pub form: PhraseForm,
    pub errors: FieldErrors,
}

#[derive(Template)]
#[template(path = "settings/wording_edit.html")]
pub struct EditPage {
    pub layout: Layout,
    pub id: Uuid,
    pub form: PhraseForm,
    pub errors: FieldErrors,
}

fn admin(ctx: &Ctx) -> AppResult<Uuid> {
    ctx.user.require(Permission::AdministerMunicipality)?;
    ctx.user.municipality()
}

async fn rows(tx: &mut Tx, m: Uuid) -> Result<Vec<Row>, sqlx::Error> {
    sqlx::query_as!(
        Row,
        "SELECT id, phrase, suggestion FROM wording_phrases WHERE municipality_id = $1 ORDER BY phrase_key, id",
        m
    )
    .fetch_all(&mut **tx)
    .await
}

async fn find_row(tx: &mut Tx, m: Uuid, id: Uuid) -> AppResult<Row> {
    sqlx::query_as!(
        Row,
        "SELECT id, phrase, suggestion FROM wording_phrases WHERE municipality_id = $1 AND id = $2",
        m,
        id
    )
    .fetch_optional(&mut **tx)
    .await?
    .ok_or(AppError::NotFound)
}

async fn list_page(
    ctx: &mut Ctx,
    m: Uuid,
    form: PhraseForm,
    errors: FieldErrors,
) -> AppResult<ListPage> {
    Ok(ListPage {
        rows: rows(&mut ctx.tx, m).await?,
        layout: ctx.layout("Ordvalg i overleveringer", NAV),
        form,
        errors,
    })
}

fn edit_page(ctx: &Ctx, id: Uuid, form: PhraseForm, errors: FieldErrors) -> EditPage {
    EditPage {
        layout: ctx.layout("Ret formulering", NAV),
        id,
        form,
        errors,
    }
}

/// The phrase (as written; its key is `matcher::normalize`d) and the suggestion, or the messages.
fn validate(f: &PhraseForm) -> Result<Phrase, FieldErrors> {
    let mut errors = FieldErrors::default();
    let phrase = web::form::required_text(
        &mut errors,
        "phrase",
        &f.phrase,
        "ordet eller udtrykket",
        MAX_PHRASE,
    );
    if errors.get("phrase").is_none() && !phrase.chars().any(char::is_alphanumeric) {
        errors.add(
            "phrase",
            "Ordet eller udtrykket skal indeholde mindst ét bogstav eller tal.",
        );
    }
    let suggestion = web::form::multiline_text(
        &mut errors,
        "suggestion",
        &f.suggestion,
        "forslaget",
        MAX_SUGGESTION,
        true,
    );
    if errors.is_empty() {
        Ok(Phrase { phrase, suggestion })
    } else {
        Err(errors)
    }
}

const DUPLICATE: &str = "Ordet eller udtrykket står allerede på listen.";

pub async fn list(mut ctx: Ctx) -> AppResult<Response> {
    let m = admin(&ctx)?;
    let page = list_page(&mut ctx, m, PhraseForm::default(), FieldErrors::default()).await?;
    Ok(web::render(&page)?.into_response())
}

pub async fn add(mut ctx: Ctx, Form(f): Form<PhraseForm>) -> AppResult<Response> {
    let m = admin(&ctx)?;
    let p = match validate(&f) {
        Ok(p) => p,
        Err(errors) => return web::render_invalid(&list_page(&mut ctx, m, f, errors).await?),
    };
    let inserted = sqlx::query_scalar!(
        "INSERT INTO wording_phrases (municipality_id, phrase, phrase_key, suggestion)
         VALUES ($1, $2, $3, $4)
         ON CONFLICT (municipality_id, phrase_key) DO NOTHING RETURNING id",
        m,
        p.phrase,
        matcher::normalize(&p.phrase),
        p.suggestion
    )
    .fetch_optional(&mut *ctx.tx)
    .await?;
    let Some(id) = inserted else {
        let mut errors = FieldErrors::default();
        errors.add("phrase", DUPLICATE);
        return web::render_invalid(&list_page(&mut ctx, m, f, errors).await?);
    };
    let actor = ctx.actor();
    crate::audit::record(
        &mut ctx.tx,
        &actor,
        Entry::new("create", "wording_phrase", Some(id))
            .details(json!({ "phrase": p.phrase, "suggestion": p.suggestion })),
    )
    .await?;
    ctx.commit().await?;
    Ok(web::redirect_with_flash(
        LIST,
        Flash::success(format!("«{}» er tilføjet til listen.", p.phrase)),
    ))
}

pub async fn edit_form(mut ctx: Ctx, Path(id): Path<Uuid>) -> AppResult<Response> {
    let m = admin(&ctx)?;
    let row = find_row(&mut ctx.tx, m, id).await?;
    let form = PhraseForm {
        phrase: row.phrase,
        suggestion: row.suggestion,
    };
    Ok(web::render(&edit_page(&ctx, id, form, FieldErrors::default()))?.into_response())
}

pub async fn update(
    mut ctx: Ctx,
    Path(id): Path<Uuid>,
    Form(f): Form<PhraseForm>,
) -> AppResult<Response> {
    let m = admin(&ctx)?;
    let old = find_row(&mut ctx.tx, m, id).await?;
    let p = match validate(&f) {
        Ok(p) => p,
        Err(errors) => return web::render_invalid(&edit_page(&ctx, id, f, errors)),
    };
    if p.phrase == old.phrase && p.suggestion == old.suggestion {
        return Ok(web::redirect_with_flash(
            LIST,
            Flash::success("Der var ingen ændringer at gemme."),
        ));
    }
    let updated = sqlx::query!(
        "UPDATE wording_phrases SET phrase = $3, phrase_key = $4, suggestion = $5, updated_at = now()
         WHERE municipality_id = $1 AND id = $2",
        m,
        id,
        p.phrase,
        matcher::normalize(&p.phrase),
        p.suggestion
    )
    .execute(&mut *ctx.tx)
    .await;
    match updated {
        Ok(_) => {}
        Err(e) if constraint_name(&e) == Some("wording_phrases_municipality_id_phrase_key_key") => {
            let mut errors = FieldErrors::default();
            errors.add("phrase", DUPLICATE);
            return web::render_invalid(&edit_page(&ctx, id, f, errors));
        }
        Err(e) => return Err(e.into()),
    }
    let actor = ctx.actor();
    crate::audit::record(
        &mut ctx.tx,
        &actor,
        Entry::new("update", "wording_phrase", Some(id)).details(json!({
            "from": { "phrase": old.phrase, "suggestion": old.suggestion },
            "to": { "phrase": p.phrase, "suggestion": p.suggestion },
        })),
    )
    .await?;
    ctx.commit().await?;
    Ok(web::redirect_with_flash(
        LIST,
        Flash::success(format!("«{}» er gemt.", p.phrase)),
    ))
}

#[derive(Default, Deserialize)]
#[serde(default)]
pub struct DeleteForm {
    pub confirm: String,
}

pub async fn delete(
    mut ctx: Ctx,
    Path(id): Path<Uuid>,
    Form(f): Form<DeleteForm>,
) -> AppResult<Response> {
    let m = admin(&ctx)?;
    let old = find_row(&mut ctx.tx, m, id).await?;
    // The button sends it; a bare POST (a stray request) deletes nothing.
    if f.confirm != "ja" {
        return Err(AppError::BadRequest(
            "Sletningen blev ikke bekræftet. Gå tilbage og brug knappen «Slet».".into(),
        ));
    }
    sqlx::query!(
        "DELETE FROM wording_phrases WHERE municipality_id = $1 AND id = $2",
        m,
        id
    )
    .execute(&mut *ctx.tx)
    .await?;
    let actor = ctx.actor();
    crate::audit::record(
        &mut ctx.tx,
        &actor,
        Entry::new("delete", "wording_phrase", Some(id))
            .details(json!({ "phrase": old.phrase, "suggestion": old.suggestion })),
    )
    .await?;
    ctx.commit().await?;
    Ok(web::redirect_with_flash(
        LIST,
        Flash::success(format!("«{}» er slettet fra listen.", old.phrase)),
    ))
}

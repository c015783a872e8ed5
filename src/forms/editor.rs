//! The administrator's template editor: versions per transition kind, a read-only view (also
//! the preview), and editing of drafts. Published and archived versions are never changed:
//! the handlers refuse it with a 409 page, and the database triggers refuse it too.

use axum::response::{Html, Response};
use serde::Deserialize;
use serde_json::json;
use time::OffsetDateTime;
use uuid::Uuid;

use super::{
    kinds::{theme_label, QuestionKind, TemplateStatus, TransitionKind, THEMES},
    load_template, versions, Template,
};
use crate::{
    audit::{self, Entry},
    auth::{Ctx, Permission},
    db::Tx,
    web::{
        self, error::constraint_name, form, AppError, AppResult, FieldErrors, Flash, Form, Layout,
        Path, SelectOption,
    },
};

const IMMUTABLE: &str = "Offentliggjorte versioner kan ikke ændres – opret en ny version.";
const NAV: &str = "/templates";

fn admin(ctx: &Ctx) -> AppResult<Uuid> {
    ctx.user.require(Permission::AdministerMunicipality)?;
    ctx.user.municipality()
}

/// The database's own refusal (trigger, SQLSTATE OV001) becomes the same 409 page as the
/// handlers' check, in case a change slips past the check.
fn db_err(err: sqlx::Error) -> AppError {
    match &err {
        sqlx::Error::Database(db) if db.code().as_deref() == Some("OV001") => {
            AppError::Conflict(IMMUTABLE.into())
        }
        _ if constraint_name(&err) == Some("form_templates_one_published")
            || constraint_name(&err)
                == Some("form_templates_municipality_id_transition_kind_version_key") =>
        {
            AppError::Conflict(
                "En anden ændring af skabelonerne kom først. Genindlæs siden og prøv igen.".into(),
            )
        }
        _ if constraint_name(&err) == Some("form_templates_version_check") => AppError::Conflict(
            "Der kan højst være 100.000 versioner af en skabelon. Slet kladder, I ikke bruger."
                .into(),
        ),
        _ => AppError::Database(err),
    }
}

struct Draft {
    kind: TransitionKind,
    version: i32,
}

/// Locks the template row (so a concurrent publish waits) and checks that it is a draft.
async fn lock_draft(tx: &mut Tx, municipality_id: Uuid, id: Uuid) -> AppResult<Draft> {
    let row = sqlx::query!(
        "SELECT status, transition_kind, version FROM form_templates
         WHERE municipality_id = $1 AND id = $2 FOR UPDATE",
        municipality_id,
        id
    )
    .fetch_optional(&mut **tx)
    .await?
    .ok_or(AppError::NotFound)?;
    if row.status != TemplateStatus::Draft.as_str() {
        return Err(AppError::Conflict(IMMUTABLE.into()));
    }
    Ok(Draft {
        kind: TransitionKind::parse(&row.transition_kind)
            .ok_or_else(|| AppError::Internal(anyhow::anyhow!("unknown transition kind")))?,
        version: row.version,
    })
}

fn date(d: OffsetDateTime) -> String {
    format!("{:02}-{:02}-{}", d.day(), u8::from(d.month()), d.year())
}

/// Optional multi-line text: trimmed, line breaks normalised, no other control characters.
fn optional_text(
    errors: &mut FieldErrors,
    field: &'static str,
    value: &str,
    label: &str,
    max: usize,
) -> String {
    let v = value.replace("\r\n", "\n").trim().to_string();
    if v.chars().count() > max {
        errors.add(field, format!("{label} må højst være {max} tegn."));
    } else if v.chars().any(|c| c.is_control() && c != '\n' && c != '\t') {
        errors.add(field, format!("{label} indeholder ugyldige tegn."));
    }
    v
}

// ---------------------------------------------------------------------------------------------
// List and view

pub struct VersionRow {
    pub id: Uuid,
    pub version: i32,
    pub title: String,
    pub published: String,
}

pub struct KindRow {
    pub label: &'static str,
    pub published: Option<VersionRow>,
    pub drafts: Vec<VersionRow>,
    pub archived: Vec<VersionRow>,
    /// The version "Ny version" copies: the published one, else the newest.
    pub source: Option<Uuid>,
}

#[derive(askama::Template)]
#[template(path = "forms/list.html")]
pub struct ListPage {
    pub layout: Layout,
    pub kinds: Vec<KindRow>,
    /// Some kind has no template at all (a municipality from before templates existed).
    pub missing: bool,
}

pub async fn list(mut ctx: Ctx) -> AppResult<Html<String>> {
    let municipality_id = admin(&ctx)?;
    let all = versions(&mut ctx.tx, municipality_id).await?;
    let kinds: Vec<KindRow> = TransitionKind::ALL
        .into_iter()
        .map(|kind| {
            let of_kind: Vec<_> = all.iter().filter(|v| v.transition_kind == kind).collect();
            let row = |v: &&super::TemplateVersion| VersionRow {
                id: v.id,
                version: v.version,
                title: v.title.clone(),
                published: v.published_at.map(date).unwrap_or_default(),
            };
            let with = |s: TemplateStatus| -> Vec<VersionRow> {
                of_kind.iter().filter(|v| v.status == s).map(row).collect()
            };
            let published = with(TemplateStatus::Published).into_iter().next();
            KindRow {
                label: kind.label(),
                source: published
                    .as_ref()
                    .map(|p| p.id)
                    .or_else(|| of_kind.first().map(|v| v.id)),
                published,
                drafts: with(TemplateStatus::Draft),
                archived: with(TemplateStatus::Archived),
            }
        })
        .collect();
    let page = ListPage {
        layout: ctx.layout("Skabeloner", NAV),
        missing: kinds.iter().any(|k| k.source.is_none()),
        kinds,
    };
    web::render(&page)
}

/// Installs the default template for every kind that has none; kinds with templates are left
/// alone, so this is safe to press twice.
pub async fn install_defaults(mut ctx: Ctx) -> AppResult<Response> {
    let municipality_id = admin(&ctx)?;
    let installed = super::defaults::install(&mut ctx.tx, municipality_id)
        .await
        .map_err(db_err)?;
    let actor = ctx.actor();
    audit::record(
        &mut ctx.tx,
        &actor,
        Entry::new("install_defaults", "form_template", None)
            .details(json!({"installed": installed})),
    )
    .await?;
    ctx.commit().await?;
    let message = match installed {
        0 => "Alle overgange har allerede en skabelon.".to_string(),
        1 => "Én standardskabelon er oprettet og offentliggjort.".to_string(),
        n => format!("{n} standardskabeloner er oprettet og offentliggjort."),
    };
    Ok(web::redirect_with_flash(NAV, Flash::success(message)))
}

#[derive(askama::Template)]
#[template(path = "forms/show.html")]
pub struct ShowPage {
    pub layout: Layout,
    pub t: Template,
    pub kind_label: &'static str,
    pub status_label: &'static str,
    pub editable: bool,
    pub published: String,
    /// Why publishing was refused.
    pub problems: Vec<String>,
}

impl ShowPage {
    pub fn theme(&self, key: &Option<String>) -> String {
        key.as_deref()
            .map(|k| theme_label(k).unwrap_or(k).to_string())
            .unwrap_or_default()
    }
}

async fn show_page(ctx: &mut Ctx, id: Uuid, problems: Vec<String>) -> AppResult<ShowPage> {
    let municipality_id = admin(ctx)?;
    let t = load_template(&mut ctx.tx, municipality_id, id)
        .await?
        .ok_or(AppError::NotFound)?;
    let title = format!("{} (version {})", t.title, t.version);
    Ok(ShowPage {
        layout: ctx.layout(&title, NAV),
        kind_label: t.transition_kind.label(),
        status_label: t.status.label(),
        editable: t.status == TemplateStatus::Draft,
        published: t.published_at.map(date).unwrap_or_default(),
        t,
        problems,
    })
}

pub async fn show(mut ctx: Ctx, Path(id): Path<Uuid>) -> AppResult<Html<String>> {
    let page = show_page(&mut ctx, id, Vec::new()).await?;
    web::render(&page)
}

// ---------------------------------------------------------------------------------------------
// Versions: copy, publish, discard

pub async fn new_version(mut ctx: Ctx, Path(id): Path<Uuid>) -> AppResult<Response> {
    let municipality_id = admin(&ctx)?;
    let created_by = ctx.user.id;
    let new = sqlx::query!(
        "INSERT INTO form_templates (municipality_id, transition_kind, version, title, intro, created_by)
         SELECT src.municipality_id, src.transition_kind,
                (SELECT max(v.version) + 1 FROM form_templates v
                 WHERE v.municipality_id = src.municipality_id AND v.transition_kind = src.transition_kind),
                src.title, src.intro, $3
         FROM form_templates src WHERE src.municipality_id = $1 AND src.id = $2
         RETURNING id, version",
        municipality_id,
        id,
        created_by
    )
    .fetch_optional(&mut *ctx.tx)
    .await
    .map_err(db_err)?
    .ok_or(AppError::NotFound)?;
    // New ids for everything: the source version keeps its own, which handovers point at.
    sqlx::query!(
        "WITH s AS MATERIALIZED (
             SELECT id AS old_id, gen_random_uuid() AS new_id, position, title, description
             FROM template_sections WHERE municipality_id = $1 AND template_id = $2
         ), ins AS (
             INSERT INTO template_sections (municipality_id, id, template_id, position, title, description)
             SELECT $1, s.new_id, $3, s.position, s.title, s.description FROM s
         )
         INSERT INTO template_questions (municipality_id, template_id, section_id, position, kind, label,
                                         help_text, options, required, visible_to_receiver,
                                         visible_to_parents, sensitive, theme)
         SELECT $1, $3, s.new_id, q.position, q.kind, q.label, q.help_text, q.options, q.required,
                q.visible_to_receiver, q.visible_to_parents, q.sensitive, q.theme
         FROM template_questions q JOIN s ON s.old_id = q.section_id
         WHERE q.municipality_id = $1 AND q.template_id = $2",
        municipality_id,
        id,
        new.id
    )
    .execute(&mut *ctx.tx)
    .await
    .map_err(db_err)?;
    let actor = ctx.actor();
    audit::record(
        &mut ctx.tx,
        &actor,
        Entry::new("create_version", "form_template", Some(new.id))
            .details(json!({"copied_from": id, "version": new.version})),
    )
    .await?;
    ctx.commit().await?;
    Ok(web::redirect_with_flash(
        &format!("/templates/{}", new.id),
        Flash::success(format!(
            "Version {} er oprettet som kladde. Ret den til, og offentliggør den, når den er klar.",
            new.version
        )),
    ))
}

pub async fn publish(mut ctx: Ctx, Path(id): Path<Uuid>) -> AppResult<Response> {
    let municipality_id = admin(&ctx)?;
    let draft = lock_draft(&mut ctx.tx, municipality_id, id).await?;
    let t = load_template(&mut ctx.tx, municipality_id, id)
        .await?
        .ok_or(AppError::NotFound)?;
    let mut problems = Vec::new();
    if t.questions().next().is_none() {
        problems
            .push("Skabelonen har ingen spørgsmål. Tilføj mindst ét afsnit med spørgsmål.".into());
    }
    for s in t.sections.iter() {
        if s.questions.is_empty() {
            problems.push(format!("Afsnittet »{}« har ingen spørgsmål.", s.title));
        }
        for q in &s.questions {
            if q.kind.has_options() && q.options.len() < 2 {
                problems.push(format!(
                    "Spørgsmålet »{}« skal have mindst to svarmuligheder.",
                    q.label
                ));
            }
        }
    }
    if !problems.is_empty() {
        let page = show_page(&mut ctx, id, problems).await?;
        return web::render_invalid(&page);
    }
    // Archive first: at most one version of a kind is published (unique index).
    let archived = sqlx::query_scalar!(
        "UPDATE form_templates SET status = 'archived'
         WHERE municipality_id = $1 AND transition_kind = $2 AND status = 'published' RETURNING id",
        municipality_id,
        draft.kind.as_str()
    )
    .fetch_optional(&mut *ctx.tx)
    .await
    .map_err(db_err)?;
    sqlx::query!(
        "UPDATE form_templates SET status = 'published', published_at = now()
         WHERE municipality_id = $1 AND id = $2",
        municipality_id,
        id
    )
    .execute(&mut *ctx.tx)
    .await
    .map_err(db_err)?;
    let actor = ctx.actor();
    audit::record(
        &mut ctx.tx,
        &actor,
        Entry::new("publish", "form_template", Some(id)).details(json!({
            "transition_kind": draft.kind.as_str(), "version": draft.version, "archived": archived
        })),
    )
    .await?;
    ctx.commit().await?;
    Ok(web::redirect_with_flash(
        &format!("/templates/{id}"),
        Flash::success(format!(
            "Version {} er offentliggjort. Nye overleveringer ({}) bruger den fra nu af.",
            draft.version,
            draft.kind.label()
        )),
    ))
}

pub async fn delete_draft(mut ctx: Ctx, Path(id): Path<Uuid>) -> AppResult<Response> {
    let municipality_id = admin(&ctx)?;
    let draft = lock_draft(&mut ctx.tx, municipality_id, id).await?;
    sqlx::query!(
        "DELETE FROM form_templates WHERE municipality_id = $1 AND id = $2",
        municipality_id,
        id
    )
    .execute(&mut *ctx.tx)
    .await
    .map_err(db_err)?;
    let actor = ctx.actor();
    audit::record(
        &mut ctx.tx,
        &actor,
        Entry::new("delete", "form_template", Some(id))
            .details(json!({"transition_kind": draft.kind.as_str(), "version": draft.version})),
    )
    .await?;
    ctx.commit().await?;
    Ok(web::redirect_with_flash(
        NAV,
        Flash::success(format!("Kladden (version {}) er slettet.", draft.version)),
    ))
}

// ---------------------------------------------------------------------------------------------
// Title and introduction

#[derive(Default, Deserialize)]
pub struct TemplateForm {
    #[serde(default)]
    pub title: String,
    #[serde(default)]
    pub intro: String,
}

#[derive(askama::Template)]
#[template(path = "forms/template_form.html")]
pub struct TemplateFormPage {
    pub layout: Layout,
    pub id: Uuid,
    pub form: TemplateForm,
    pub errors: FieldErrors,
}

pub async fn edit_template_form(mut ctx: Ctx, Path(id): Path<Uuid>) -> AppResult<Html<String>> {
    let municipality_id = admin(&ctx)?;
    lock_draft(&mut ctx.tx, municipality_id, id).await?;
    let r = sqlx::query!(
        "SELECT title, intro FROM form_templates WHERE municipality_id = $1 AND id = $2",
        municipality_id,
        id
    )
    .fetch_one(&mut *ctx.tx)
    .await?;
    web::render(&TemplateFormPage {
        layout: ctx.layout("Redigér titel og indledning", NAV),
        id,
        form: TemplateForm {
            title: r.title,
            intro: r.intro,
        },
        errors: FieldErrors::default(),
    })
}

pub async fn update_template(
    mut ctx: Ctx,
    Path(id): Path<Uuid>,
    Form(f): Form<TemplateForm>,
) -> AppResult<Response> {
    let municipality_id = admin(&ctx)?;
    lock_draft(&mut ctx.tx, municipality_id, id).await?;
    let mut errors = FieldErrors::default();
    let title = form::required_text(&mut errors, "title", &f.title, "titlen", 200);
    let intro = optional_text(&mut errors, "intro", &f.intro, "Indledningen", 4000);
    if !errors.is_empty() {
        return web::render_invalid(&TemplateFormPage {
            layout: ctx.layout("Redigér titel og indledning", NAV),
            id,
            form: f,
            errors,
        });
    }
    sqlx::query!(
        "UPDATE form_templates SET title = $3, intro = $4 WHERE municipality_id = $1 AND id = $2",
        municipality_id,
        id,
        title,
        intro
    )
    .execute(&mut *ctx.tx)
    .await
    .map_err(db_err)?;
    let actor = ctx.actor();
    audit::record(
        &mut ctx.tx,
        &actor,
        Entry::new("update", "form_template", Some(id)).details(json!({"title": title})),
    )
    .await?;
    ctx.commit().await?;
    Ok(web::redirect_with_flash(
        &format!("/templates/{id}"),
        Flash::success("Titel og indledning er gemt."),
    ))
}

// ---------------------------------------------------------------------------------------------
// Sections

#[derive(Default, Deserialize)]
pub struct SectionForm {
    #[serde(default)]
    pub title: String,
    #[serde(default)]
    pub description: String,
}

#[derive(askama::Template)]
#[template(path = "forms/section_form.html")]
pub struct SectionFormPage {
    pub layout: Layout,
    pub template_id: Uuid,
    pub section_id: Option<Uuid>,
    pub form: SectionForm,
    pub errors: FieldErrors,
}

fn section_page(
    ctx: &Ctx,
    template_id: Uuid,
    section_id: Option<Uuid>,
    form: SectionForm,
    errors: FieldErrors,
) -> SectionFormPage {
    let title = if section_id.is_some() {
        "Redigér afsnit"
    } else {
        "Tilføj afsnit"
    };
    SectionFormPage {
        layout: ctx.layout(title, NAV),
        template_id,
        section_id,
        form,
        errors,
    }
}

fn validate_section(f: &SectionForm) -> (String, String, FieldErrors) {
    let mut errors = FieldErrors::default();
    let title = form::required_text(&mut errors, "title", &f.title, "afsnittets titel", 200);
    let description = optional_text(
        &mut errors,
        "description",
        &f.description,
        "Beskrivelsen",
        2000,
    );
    (title, description, errors)
}

pub async fn new_section_form(mut ctx: Ctx, Path(id): Path<Uuid>) -> AppResult<Html<String>> {
    let municipality_id = admin(&ctx)?;
    lock_draft(&mut ctx.tx, municipality_id, id).await?;
    web::render(&section_page(
        &ctx,
        id,
        None,
        SectionForm::default(),
        FieldErrors::default(),
    ))
}

pub async fn create_section(
    mut ctx: Ctx,
    Path(id): Path<Uuid>,
    Form(f): Form<SectionForm>,
) -> AppResult<Response> {
    let municipality_id = admin(&ctx)?;
    lock_draft(&mut ctx.tx, municipality_id, id).await?;
    let (title, description, errors) = validate_section(&f);
    if !errors.is_empty() {
        return web::render_invalid(&section_page(&ctx, id, None, f, errors));
    }
    let section_id = sqlx::query_scalar!(
        r#"INSERT INTO template_sections (municipality_id, template_id, position, title, description)
           SELECT $1, $2, coalesce(max(position), 0) + 1, $3, $4 FROM template_sections
           WHERE municipality_id = $1 AND template_id = $2
           RETURNING id"#,
        municipality_id,
        id,
        title,
        description
    )
    .fetch_one(&mut *ctx.tx)
    .await
    .map_err(db_err)?;
    let actor = ctx.actor();
    audit::record(
        &mut ctx.tx,
        &actor,
        Entry::new("create", "template_section", Some(section_id))
            .details(json!({"template_id": id, "title": title})),
    )
    .await?;
    ctx.commit().await?;
    Ok(web::redirect_with_flash(
        &format!("/templates/{id}#afsnit-{section_id}"),
        Flash::success(format!("Afsnittet »{title}« er tilføjet.")),
    ))
}

pub async fn edit_section_form(
    mut ctx: Ctx,
    Path((id, section_id)): Path<(Uuid, Uuid)>,
) -> AppResult<Html<String>> {
    let municipality_id = admin(&ctx)?;
    lock_draft(&mut ctx.tx, municipality_id, id).await?;
    let r = sqlx::query!(
        "SELECT title, description FROM template_sections
         WHERE municipality_id = $1 AND template_id = $2 AND id = $3",
        municipality_id,
        id,
        section_id
    )
    .fetch_optional(&mut *ctx.tx)
    .await?
    .ok_or(AppError::NotFound)?;
    let form = SectionForm {
        title: r.title,
        description: r.description,
    };
    web::render(&section_page(
        &ctx,
        id,
        Some(section_id),
        form,
        FieldErrors::default(),
    ))
}

pub async fn update_section(
    mut ctx: Ctx,
    Path((id, section_id)): Path<(Uuid, Uuid)>,
    Form(f): Form<SectionForm>,
) -> AppResult<Response> {
    let municipality_id = admin(&ctx)?;
    lock_draft(&mut ctx.tx, municipality_id, id).await?;
    let (title, description, errors) = validate_section(&f);
    if !errors.is_empty() {
        section_exists(&mut ctx.tx, municipality_id, id, section_id).await?;
        return web::render_invalid(&section_page(&ctx, id, Some(section_id), f, errors));
    }
    let updated = sqlx::query!(
        "UPDATE template_sections SET title = $4, description = $5
         WHERE municipality_id = $1 AND template_id = $2 AND id = $3",
        municipality_id,
        id,
        section_id,
        title,
        description
    )
    .execute(&mut *ctx.tx)
    .await
    .map_err(db_err)?;
    if updated.rows_affected() == 0 {
        return Err(AppError::NotFound);
    }
    let actor = ctx.actor();
    audit::record(
        &mut ctx.tx,
        &actor,
        Entry::new("update", "template_section", Some(section_id))
            .details(json!({"template_id": id, "title": title})),
    )
    .await?;
    ctx.commit().await?;
    Ok(web::redirect_with_flash(
        &format!("/templates/{id}#afsnit-{section_id}"),
        Flash::success("Afsnittet er gemt."),
    ))
}

async fn section_exists(
    tx: &mut Tx,
    municipality_id: Uuid,
    template_id: Uuid,
    section_id: Uuid,
) -> AppResult<()> {
    let exists = sqlx::query_scalar!(
        r#"SELECT EXISTS (SELECT 1 FROM template_sections
                          WHERE municipality_id = $1 AND template_id = $2 AND id = $3) AS "e!""#,
        municipality_id,
        template_id,
        section_id
    )
    .fetch_one(&mut **tx)
    .await?;
    if exists {
        Ok(())
    } else {
        Err(AppError::NotFound)
    }
}

pub async fn delete_section(
    mut ctx: Ctx,
    Path((id, section_id)): Path<(Uuid, Uuid)>,
) -> AppResult<Response> {
    let municipality_id = admin(&ctx)?;
    lock_draft(&mut ctx.tx, municipality_id, id).await?;
    let title = sqlx::query_scalar!(
        "DELETE FROM template_sections WHERE municipality_id = $1 AND template_id = $2 AND id = $3
         RETURNING title",
        municipality_id,
        id,
        section_id
    )
    .fetch_optional(&mut *ctx.tx)
    .await
    .map_err(db_err)?
    .ok_or(AppError::NotFound)?;
    renumber_sections(&mut ctx.tx, municipality_id, id).await?;
    let actor = ctx.actor();
    audit::record(
        &mut ctx.tx,
        &actor,
        Entry::new("delete", "template_section", Some(section_id))
            .details(json!({"template_id": id, "title": title})),
    )
    .await?;
    ctx.commit().await?;
    Ok(web::redirect_with_flash(
        &format!("/templates/{id}"),
        Flash::success(format!("Afsnittet »{title}« og dets spørgsmål er slettet.")),
    ))
}

async fn renumber_sections(tx: &mut Tx, municipality_id: Uuid, template_id: Uuid) -> AppResult<()> {
    sqlx::query!(
        r#"UPDATE template_sections s SET position = o.n
           FROM (SELECT id, row_number() OVER (ORDER BY position)::int4 AS n FROM template_sections
                 WHERE municipality_id = $1 AND template_id = $2) o
           WHERE s.municipality_id = $1 AND s.id = o.id AND s.position <> o.n"#,
        municipality_id,
        template_id
    )
    .execute(&mut **tx)
    .await
    .map_err(db_err)?;
    Ok(())
}

async fn renumber_questions(tx: &mut Tx, municipality_id: Uuid, section_id: Uuid) -> AppResult<()> {
    sqlx::query!(
        r#"UPDATE template_questions q SET position = o.n
           FROM (SELECT id, row_number() OVER (ORDER BY position)::int4 AS n FROM template_questions
                 WHERE municipality_id = $1 AND section_id = $2) o
           WHERE q.municipality_id = $1 AND q.id = o.id AND q.position <> o.n"#,
        municipality_id,
        section_id
    )
    .execute(&mut **tx)
    .await
    .map_err(db_err)?;
    Ok(())
}

#[derive(Deserialize)]
pub struct MoveForm {
    #[serde(default)]
    direction: String,
}

/// Swaps `id` with its neighbour in `order` (ids with their positions, in order); None when it
/// is already first/last or unknown.
fn swap_with_neighbour(order: &[(Uuid, i32)], id: Uuid, up: bool) -> Option<[(Uuid, i32); 2]> {
    let i = order.iter().position(|(x, _)| *x == id)?;
    let j = if up { i.checked_sub(1)? } else { i + 1 };
    let (a, b) = (order[i], *order.get(j)?);
    Some([(a.0, b.1), (b.0, a.1)])
}

fn direction(f: &MoveForm) -> AppResult<bool> {
    match f.direction.as_str() {
        "up" => Ok(true),
        "down" => Ok(false),
        _ => Err(AppError::BadRequest("Ukendt retning.".into())),
    }
}

pub async fn move_section(
    mut ctx: Ctx,
    Path((id, section_id)): Path<(Uuid, Uuid)>,
    Form(f): Form<MoveForm>,
) -> AppResult<Response> {
    let municipality_id = admin(&ctx)?;
    // The id first: a foreign template is a 404 whatever the form held.
    lock_draft(&mut ctx.tx, municipality_id, id).await?;
    let order: Vec<(Uuid, i32)> = sqlx::query!(
        "SELECT id, position FROM template_sections WHERE municipality_id = $1 AND template_id = $2
         ORDER BY position",
        municipality_id,
        id
    )
    .fetch_all(&mut *ctx.tx)
    .await?
    .into_iter()
    .map(|r| (r.id, r.position))
    .collect();
    if !order.iter().any(|(s, _)| *s == section_id) {
        return Err(AppError::NotFound);
    }
    finish_move(
        ctx,
        municipality_id,
        id,
        Movable::Section,
        section_id,
        &order,
        &f,
    )
    .await
}

// ---------------------------------------------------------------------------------------------
// Questions

#[derive(Default, Deserialize)]
pub struct QuestionForm {
    #[serde(default)]
    pub kind: String,
    #[serde(default)]
    pub label: String,
    #[serde(default)]
    pub help_text: String,
    #[serde(default)]
    pub options: String,
    #[serde(default)]
    pub required: Option<String>,
    #[serde(default)]
    pub visible_to_receiver: Option<String>,
    #[serde(default)]
    pub visible_to_parents: Option<String>,
    #[serde(default)]
    pub sensitive: Option<String>,
    #[serde(default)]
    pub theme: String,
    /// Only when editing: the section the question belongs to (it may move to another).
    #[serde(default)]
    pub section: String,
}

#[derive(askama::Template)]
#[template(path = "forms/question_form.html")]
pub struct QuestionFormPage {
    pub layout: Layout,
    pub template_id: Uuid,
    pub action: String,
    pub form: QuestionForm,
    pub kinds: Vec<SelectOption>,
    pub themes: Vec<SelectOption>,
    /// Empty when adding (the question goes into the section it was added from).
    pub sections: Vec<SelectOption>,
    pub errors: FieldErrors,
}

struct ValidQuestion {
    kind: QuestionKind,
    label: String,
    help_text: String,
    options: Vec<String>,
    theme: Option<String>,
    section: Option<Uuid>,
}

fn validate_question(f: &QuestionForm) -> (Option<ValidQuestion>, FieldErrors) {
    let mut errors = FieldErrors::default();
    let kind = QuestionKind::parse(&f.kind);
    if kind.is_none() {
        errors.add("kind", "Vælg en spørgsmålstype.");
    }
    let label = form::required_text(&mut errors, "label", &f.label, "spørgsmålet", 500);
    let help_text = optional_text(
        &mut errors,
        "help_text",
        &f.help_text,
        "Hjælpeteksten",
        2000,
    );
    let mut options: Vec<String> = Vec::new();
    if kind.is_some_and(QuestionKind::has_options) {
        for line in f.options.lines().map(str::trim).filter(|l| !l.is_empty()) {
            if line.chars().count() > 200 || line.chars().any(char::is_control) {
                errors.add(
                    "options",
                    "En svarmulighed må højst være 200 tegn og kun almindelige tegn.",
                );
            } else if options.iter().any(|o| o == line) {
                errors.add(
                    "options",
                    format!("Svarmuligheden »{line}« står der to gange."),
                );
            } else {
                options.push(line.to_string());
            }
        }
        if options.len() < 2 {
            errors.add("options", "Skriv mindst to svarmuligheder, én pr. linje.");
        } else if options.len() > 30 {
            errors.add("options", "Der må højst være 30 svarmuligheder.");
        }
    }
    // Options typed for a kind without choices are dropped: they would never be shown.
    let theme = f.theme.trim();
    let theme = if theme.is_empty() {
        None
    } else if theme_label(theme).is_some() {
        Some(theme.to_string())
    } else {
        errors.add("theme", "Vælg et tema fra listen.");
        None
    };
    let section = match crate::institutions::optional_id(&f.section) {
        Ok(s) => s,
        Err(_) => {
            errors.add("section", "Vælg et afsnit fra listen.");
            None
        }
    };
    let valid = match kind {
        Some(kind) if errors.is_empty() => Some(ValidQuestion {
            kind,
            label,
            help_text,
            options,
            theme,
            section,
        }),
        _ => None,
    };
    (valid, errors)
}

fn kind_options(selected: &str) -> Vec<SelectOption> {
    QuestionKind::ALL
        .iter()
        .map(|k| SelectOption::new(k.as_str(), k.label(), k.as_str() == selected))
        .collect()
}

fn theme_options(selected: &str) -> Vec<SelectOption> {
    THEMES
        .iter()
        .map(|(k, l)| SelectOption::new(*k, *l, *k == selected))
        .collect()
}

async fn section_options(
    tx: &mut Tx,
    municipality_id: Uuid,
    template_id: Uuid,
    selected: &str,
) -> AppResult<Vec<SelectOption>> {
    let rows = sqlx::query!(
        "SELECT id, title FROM template_sections WHERE municipality_id = $1 AND template_id = $2
         ORDER BY position",
        municipality_id,
        template_id
    )
    .fetch_all(&mut **tx)
    .await?;
    Ok(rows
        .into_iter()
        .map(|r| {
            let id = r.id.to_string();
            let is = id == selected;
            SelectOption::new(id, r.title, is)
        })
        .collect())
}

fn question_page(
    ctx: &Ctx,
    template_id: Uuid,
    action: String,
    editing: bool,
    form: QuestionForm,
    sections: Vec<SelectOption>,
    errors: FieldErrors,
) -> QuestionFormPage {
    let title = if editing {
        "Redigér spørgsmål"
    } else {
        "Tilføj spørgsmål"
    };
    QuestionFormPage {
        layout: ctx.layout(title, NAV),
        template_id,
        action,
        kinds: kind_options(&form.kind),
        themes: theme_options(&form.theme),
        sections,
        form,
        errors,
    }
}

pub async fn new_question_form(
    mut ctx: Ctx,
    Path((id, section_id)): Path<(Uuid, Uuid)>,
) -> AppResult<Html<String>> {
    let municipality_id = admin(&ctx)?;
    lock_draft(&mut ctx.tx, municipality_id, id).await?;
    section_exists(&mut ctx.tx, municipality_id, id, section_id).await?;
    let form = QuestionForm {
        kind: QuestionKind::FreeText.as_str().into(),
        visible_to_receiver: Some("ja".into()),
        visible_to_parents: Some("ja".into()),
        ..Default::default()
    };
    web::render(&question_page(
        &ctx,
        id,
        format!("/templates/{id}/sections/{section_id}/questions"),
        false,
        form,
        Vec::new(),
        FieldErrors::default(),
    ))
}

pub async fn create_question(
    mut ctx: Ctx,
    Path((id, section_id)): Path<(Uuid, Uuid)>,
    Form(f): Form<QuestionForm>,
) -> AppResult<Response> {
    let municipality_id = admin(&ctx)?;
    lock_draft(&mut ctx.tx, municipality_id, id).await?;
    section_exists(&mut ctx.tx, municipality_id, id, section_id).await?;
    let (valid, errors) = validate_question(&f);
    let Some(q) = valid else {
        return web::render_invalid(&question_page(
            &ctx,
            id,
            format!("/templates/{id}/sections/{section_id}/questions"),
            false,
            f,
            Vec::new(),
            errors,
        ));
    };
    let question_id = sqlx::query_scalar!(
        "INSERT INTO template_questions (municipality_id, template_id, section_id, position, kind, label,
                                         help_text, options, required, visible_to_receiver,
                                         visible_to_parents, sensitive, theme)
         SELECT $1, $2, $3, coalesce(max(position), 0) + 1, $4, $5, $6, $7, $8, $9, $10, $11, $12
         FROM template_questions WHERE municipality_id = $1 AND section_id = $3
         RETURNING id",
        municipality_id,
        id,
        section_id,
        q.kind.as_str(),
        q.label,
        q.help_text,
        &q.options,
        f.required.is_some(),
        f.visible_to_receiver.is_some(),
        f.visible_to_parents.is_some(),
        f.sensitive.is_some(),
        q.theme
    )
    .fetch_one(&mut *ctx.tx)
    .await
    .map_err(db_err)?;
    let actor = ctx.actor();
    audit::record(
        &mut ctx.tx,
        &actor,
        Entry::new("create", "template_question", Some(question_id))
            .details(json!({"template_id": id, "label": q.label, "kind": q.kind.as_str()})),
    )
    .await?;
    ctx.commit().await?;
    Ok(web::redirect_with_flash(
        &format!("/templates/{id}#spoergsmaal-{question_id}"),
        Flash::success("Spørgsmålet er tilføjet."),
    ))
}

pub async fn edit_question_form(
    mut ctx: Ctx,
    Path((id, question_id)): Path<(Uuid, Uuid)>,
) -> AppResult<Html<String>> {
    let municipality_id = admin(&ctx)?;
    lock_draft(&mut ctx.tx, municipality_id, id).await?;
    let r = sqlx::query!(
        "SELECT section_id, kind, label, help_text, options, required, visible_to_receiver,
                visible_to_parents, sensitive, theme
         FROM template_questions WHERE municipality_id = $1 AND template_id = $2 AND id = $3",
        municipality_id,
        id,
        question_id
    )
    .fetch_optional(&mut *ctx.tx)
    .await?
    .ok_or(AppError::NotFound)?;
    let yes = |b: bool| b.then(|| "ja".to_string());
    let form = QuestionForm {
        kind: r.kind,
        label: r.label,
        help_text: r.help_text,
        options: r.options.join("\n"),
        required: yes(r.required),
        visible_to_receiver: yes(r.visible_to_receiver),
        visible_to_parents: yes(r.visible_to_parents),
        sensitive: yes(r.sensitive),
        theme: r.theme.unwrap_or_default(),
        section: r.section_id.to_string(),
    };
    let sections = section_options(&mut ctx.tx, municipality_id, id, &form.section).await?;
    web::render(&question_page(
        &ctx,
        id,
        format!("/templates/{id}/questions/{question_id}"),
        true,
        form,
        sections,
        FieldErrors::default(),
    ))
}

pub async fn update_question(
    mut ctx: Ctx,
    Path((id, question_id)): Path<(Uuid, Uuid)>,
    Form(f): Form<QuestionForm>,
) -> AppResult<Response> {
    let municipality_id = admin(&ctx)?;
    lock_draft(&mut ctx.tx, municipality_id, id).await?;
    let old_section = sqlx::query_scalar!(
        "SELECT section_id FROM template_questions
         WHERE municipality_id = $1 AND template_id = $2 AND id = $3",
        municipality_id,
        id,
        question_id
    )
    .fetch_optional(&mut *ctx.tx)
    .await?
    .ok_or(AppError::NotFound)?;
    let (valid, mut errors) = validate_question(&f);
    let sections = section_options(&mut ctx.tx, municipality_id, id, &f.section).await?;
    let section_id = valid
        .as_ref()
        .and_then(|q| q.section)
        .unwrap_or(old_section);
    if !sections.iter().any(|s| s.value == section_id.to_string()) {
        errors.add("section", "Vælg et afsnit fra listen.");
    }
    let (Some(q), true) = (valid, errors.is_empty()) else {
        return web::render_invalid(&question_page(
            &ctx,
            id,
            format!("/templates/{id}/questions/{question_id}"),
            true,
            f,
            sections,
            errors,
        ));
    };
    // A question moved to another section goes to its end.
    sqlx::query!(
        "UPDATE template_questions SET
            section_id = $4, kind = $5, label = $6, help_text = $7, options = $8, required = $9,
            visible_to_receiver = $10, visible_to_parents = $11, sensitive = $12, theme = $13,
            position = CASE WHEN section_id = $4 THEN position ELSE
                (SELECT coalesce(max(o.position), 0) + 1 FROM template_questions o
                 WHERE o.municipality_id = $1 AND o.section_id = $4) END
         WHERE municipality_id = $1 AND template_id = $2 AND id = $3",
        municipality_id,
        id,
        question_id,
        section_id,
        q.kind.as_str(),
        q.label,
        q.help_text,
        &q.options,
        f.required.is_some(),
        f.visible_to_receiver.is_some(),
        f.visible_to_parents.is_some(),
        f.sensitive.is_some(),
        q.theme
    )
    .execute(&mut *ctx.tx)
    .await
    .map_err(db_err)?;
    if section_id != old_section {
        renumber_questions(&mut ctx.tx, municipality_id, old_section).await?;
    }
    let actor = ctx.actor();
    audit::record(
        &mut ctx.tx,
        &actor,
        Entry::new("update", "template_question", Some(question_id))
            .details(json!({"template_id": id, "label": q.label, "kind": q.kind.as_str()})),
    )
    .await?;
    ctx.commit().await?;
    Ok(web::redirect_with_flash(
        &format!("/templates/{id}#spoergsmaal-{question_id}"),
        Flash::success("Spørgsmålet er gemt."),
    ))
}

pub async fn delete_question(
    mut ctx: Ctx,
    Path((id, question_id)): Path<(Uuid, Uuid)>,
) -> AppResult<Response> {
    let municipality_id = admin(&ctx)?;
    lock_draft(&mut ctx.tx, municipality_id, id).await?;
    let r = sqlx::query!(
        "DELETE FROM template_questions WHERE municipality_id = $1 AND template_id = $2 AND id = $3
         RETURNING section_id, label",
        municipality_id,
        id,
        question_id
    )
    .fetch_optional(&mut *ctx.tx)
    .await
    .map_err(db_err)?
    .ok_or(AppError::NotFound)?;
    renumber_questions(&mut ctx.tx, municipality_id, r.section_id).await?;
    let actor = ctx.actor();
    audit::record(
        &mut ctx.tx,
        &actor,
        Entry::new("delete", "template_question", Some(question_id))
            .details(json!({"template_id": id, "label": r.label})),
    )
    .await?;
    ctx.commit().await?;
    Ok(web::redirect_with_flash(
        &format!("/templates/{id}#afsnit-{}", r.section_id),
        Flash::success("Spørgsmålet er slettet."),
    ))
}

pub async fn move_question(
    mut ctx: Ctx,
    Path((id, question_id)): Path<(Uuid, Uuid)>,
    Form(f): Form<MoveForm>,
) -> AppResult<Response> {
    let municipality_id = admin(&ctx)?;
    // The id first: a foreign template is a 404 whatever the form held.
    lock_draft(&mut ctx.tx, municipality_id, id).await?;
    let order: Vec<(Uuid, i32)> = sqlx::query!(
        "SELECT q.id, q.position FROM template_questions q
         WHERE q.municipality_id = $1 AND q.section_id =
               (SELECT section_id FROM template_questions
                WHERE municipality_id = $1 AND template_id = $2 AND id = $3)
         ORDER BY q.position",
        municipality_id,
        id,
        question_id
    )
    .fetch_all(&mut *ctx.tx)
    .await?
    .into_iter()
    .map(|r| (r.id, r.position))
    .collect();
    if !order.iter().any(|(q, _)| *q == question_id) {
        return Err(AppError::NotFound);
    }
    finish_move(
        ctx,
        municipality_id,
        id,
        Movable::Question,
        question_id,
        &order,
        &f,
    )
    .await
}

/// What is being moved: a section within its template or a question within its section.
#[derive(Clone, Copy)]
enum Movable {
    Section,
    Question,
}

/// Swaps `item` with its neighbour in `order`, saves both positions, audits, and sends the user
/// back to the item on the template page.
async fn finish_move(
    mut ctx: Ctx,
    municipality_id: Uuid,
    id: Uuid,
    what: Movable,
    item: Uuid,
    order: &[(Uuid, i32)],
    f: &MoveForm,
) -> AppResult<Response> {
    let up = direction(f)?;
    if let Some(swap) = swap_with_neighbour(order, item, up) {
        let ids: Vec<Uuid> = swap.iter().map(|s| s.0).collect();
        let positions: Vec<i32> = swap.iter().map(|s| s.1).collect();
        let saved = match what {
            Movable::Section => {
                sqlx::query!(
                    "UPDATE template_sections s SET position = o.position
                 FROM unnest($3::uuid[], $4::int4[]) AS o(id, position)
                 WHERE s.municipality_id = $1 AND s.template_id = $2 AND s.id = o.id",
                    municipality_id,
                    id,
                    &ids,
                    &positions
                )
                .execute(&mut *ctx.tx)
                .await
            }
            Movable::Question => {
                sqlx::query!(
                    "UPDATE template_questions q SET position = o.position
                 FROM unnest($3::uuid[], $4::int4[]) AS o(id, position)
                 WHERE q.municipality_id = $1 AND q.template_id = $2 AND q.id = o.id",
                    municipality_id,
                    id,
                    &ids,
                    &positions
                )
                .execute(&mut *ctx.tx)
                .await
            }
        };
        saved.map_err(db_err)?;
        let entity = match what {
            Movable::Section => "template_section",
            Movable::Question => "template_question",
        };
        let actor = ctx.actor();
        audit::record(
            &mut ctx.tx,
            &actor,
            Entry::new("move", entity, Some(item))
                .details(json!({"template_id": id, "direction": f.direction})),
        )
        .await?;
    }
    ctx.commit().await?;
    let (anchor, message) = match what {
        Movable::Section => ("afsnit", "Afsnittet er flyttet."),
        Movable::Question => ("spoergsmaal", "Spørgsmålet er flyttet."),
    };
    Ok(web::redirect_with_flash(
        &format!("/templates/{id}#{anchor}-{item}"),
        Flash::success(message),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn swapping() {
        let (a, b, c) = (Uuid::new_v4(), Uuid::new_v4(), Uuid::new_v4());
        let order = [(a, 1), (b, 2), (c, 5)];
        assert_eq!(swap_with_neighbour(&order, b, true), Some([(b, 1), (a, 2)]));
        assert_eq!(
            swap_with_neighbour(&order, b, false),
            Some([(b, 5), (c, 2)])
        );
        assert_eq!(swap_with_neighbour(&order, a, true), None);
        assert_eq!(swap_with_neighbour(&order, c, false), None);
        assert_eq!(swap_with_neighbour(&order, Uuid::nil(), true), None);
    }

    #[test]
    fn question_validation() {
        let f = QuestionForm {
            kind: "single_choice".into(),
            label: "Hvilket?".into(),
            options: " A \r\n\r\nB\n".into(),
            ..Default::default()
        };
        let (v, e) = validate_question(&f);
        assert!(e.is_empty());
        assert_eq!(v.unwrap().options, ["A", "B"]);
        let f = QuestionForm {
            kind: "multi_choice".into(),
            label: "".into(),
            options: "A\nA".into(),
            theme: "ufo".into(),
            ..Default::default()
        };
        let (v, e) = validate_question(&f);
        assert!(v.is_none());
        for field in ["label", "options", "theme"] {
            assert!(e.get(field).is_some(), "{field}");
        }
        let (_, e) = validate_question(&QuestionForm {
            kind: "essay".into(),
            label: "x".into(),
            ..Default::default()
        });
        assert_eq!(e.get("kind"), Some("Vælg en spørgsmålstype."));
    }
}

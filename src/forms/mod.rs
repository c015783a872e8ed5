//! Form templates: per municipality and transition kind, versioned; the administrator's editor
//! and the default Danish templates.
//!
//! For handovers: write a handover on `published_template(..)`'s id, load its questions with
//! `load_template(..)`, and store answers per question id. A version that is not a draft never
//! changes (the database refuses it), so the ids and texts a handover was written on stay.

use axum::{
    routing::{get, post},
    Router,
};
use time::OffsetDateTime;
use uuid::Uuid;

pub mod defaults;
mod editor;
pub mod kinds;

pub use kinds::{QuestionKind, TemplateStatus, TransitionKind};

use crate::{db::Tx, state::AppState};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/templates", get(editor::list))
        .route("/templates/defaults", post(editor::install_defaults))
        .route("/templates/{id}", get(editor::show))
        .route("/templates/{id}/new-version", post(editor::new_version))
        .route(
            "/templates/{id}/edit",
            get(editor::edit_template_form).post(editor::update_template),
        )
        .route("/templates/{id}/publish", post(editor::publish))
        .route("/templates/{id}/delete", post(editor::delete_draft))
        .route(
            "/templates/{id}/sections",
            get(editor::new_section_form).post(editor::create_section),
        )
        .route(
            "/templates/{id}/sections/{section}",
            get(editor::edit_section_form).post(editor::update_section),
        )
        .route(
            "/templates/{id}/sections/{section}/delete",
            post(editor::delete_section),
        )
        .route(
            "/templates/{id}/sections/{section}/move",
            post(editor::move_section),
        )
        .route(
            "/templates/{id}/sections/{section}/questions",
            get(editor::new_question_form).post(editor::create_question),
        )
        .route(
            "/templates/{id}/questions/{question}",
            get(editor::edit_question_form).post(editor::update_question),
        )
        .route(
            "/templates/{id}/questions/{question}/delete",
            post(editor::delete_question),
        )
        .route(
            "/templates/{id}/questions/{question}/move",
            post(editor::move_question),
        )
}

/// One version of a template, without its content.
#[derive(Clone, Debug)]
pub struct TemplateVersion {
    pub id: Uuid,
    pub municipality_id: Uuid,
    pub transition_kind: TransitionKind,
    pub version: i32,
    pub title: String,
    pub status: TemplateStatus,
    pub published_at: Option<OffsetDateTime>,
}

/// A version with its sections and questions, in order.
#[derive(Clone, Debug)]
pub struct Template {
    pub id: Uuid,
    pub municipality_id: Uuid,
    pub transition_kind: TransitionKind,
    pub version: i32,
    pub title: String,
    pub intro: String,
    pub status: TemplateStatus,
    pub created_at: OffsetDateTime,
    pub published_at: Option<OffsetDateTime>,
    /// Shared with the cache of versions that no longer change (`with_sections`): a page
    /// that shows a form reads it without copying it.
    pub sections: std::sync::Arc<Vec<Section>>,
}

#[derive(Clone, Debug)]
pub struct Section {
    pub id: Uuid,
    pub position: i32,
    pub title: String,
    pub description: String,
    pub questions: Vec<Question>,
}

#[derive(Clone, Debug)]
pub struct Question {
    /// Stable for the life of the version: answers are stored under it.
    pub id: Uuid,
    pub section_id: Uuid,
    pub position: i32,
    pub kind: QuestionKind,
    pub label: String,
    pub help_text: String,
    /// The choices of single/multi choice questions; empty for the other kinds.
    pub options: Vec<String>,
    pub required: bool,
    pub visible_to_receiver: bool,
    pub visible_to_parents: bool,
    /// Not released to the receiver without the parents' consent.
    pub sensitive: bool,
    /// Theme key (see `kinds::THEMES`) shared by comparable questions.
    pub theme: Option<String>,
}

impl Question {
    /// The possible answers as (stored value, label): the scale's fixed values, or the options
    /// (value = label) for choice questions; empty for free text and dates.
    pub fn choices(&self) -> Vec<(&str, &str)> {
        if self.kind.has_options() {
            self.options
                .iter()
                .map(|o| (o.as_str(), o.as_str()))
                .collect()
        } else {
            self.kind.scale().to_vec()
        }
    }
}

impl Template {
    pub fn questions(&self) -> impl Iterator<Item = &Question> {
        self.sections.iter().flat_map(|s| s.questions.iter())
    }
}

fn decode_err(what: &str, value: &str) -> sqlx::Error {
    sqlx::Error::Decode(format!("unknown {what} {value:?}").into())
}

fn parse_kind(s: &str) -> Result<TransitionKind, sqlx::Error> {
    TransitionKind::parse(s).ok_or_else(|| decode_err("transition kind", s))
}

fn parse_status(s: &str) -> Result<TemplateStatus, sqlx::Error> {
    TemplateStatus::parse(s).ok_or_else(|| decode_err("template status", s))
}

/// The version new handovers of `kind` are written on, if the municipality has published one.
pub async fn published_template(
    tx: &mut Tx,
    municipality_id: Uuid,
    kind: TransitionKind,
) -> Result<Option<TemplateVersion>, sqlx::Error> {
    let row = sqlx::query!(
        "SELECT id, transition_kind, version, title, status, published_at FROM form_templates
         WHERE municipality_id = $1 AND transition_kind = $2 AND status = 'published'",
        municipality_id,
        kind.as_str()
    )
    .fetch_optional(&mut **tx)
    .await?;
    row.map(|r| {
        Ok(TemplateVersion {
            id: r.id,
            municipality_id,
            transition_kind: parse_kind(&r.transition_kind)?,
            version: r.version,
            title: r.title,
            status: parse_status(&r.status)?,
            published_at: r.published_at,
        })
    })
    .transpose()
}

/// Every version of the municipality's templates, newest version of each kind first.
pub async fn versions(
    tx: &mut Tx,
    municipality_id: Uuid,
) -> Result<Vec<TemplateVersion>, sqlx::Error> {
    let rows = sqlx::query!(
        "SELECT id, transition_kind, version, title, status, published_at FROM form_templates
         WHERE municipality_id = $1 ORDER BY transition_kind, version DESC",
        municipality_id
    )
    .fetch_all(&mut **tx)
    .await?;
    rows.into_iter()
        .map(|r| {
            Ok(TemplateVersion {
                id: r.id,
                municipality_id,
                transition_kind: parse_kind(&r.transition_kind)?,
                version: r.version,
                title: r.title,
                status: parse_status(&r.status)?,
                published_at: r.published_at,
            })
        })
        .collect()
}

/// A version's own row (without its sections), as `load_template` reads it.
pub struct TemplateRow {
    pub id: Uuid,
    pub transition_kind: String,
    pub version: i32,
    pub title: String,
    pub intro: String,
    pub status: String,
    pub created_at: OffsetDateTime,
    pub published_at: Option<OffsetDateTime>,
}

/// A version with all its sections and questions; None for unknown (or foreign) ids.
pub async fn load_template(
    tx: &mut Tx,
    municipality_id: Uuid,
    template_id: Uuid,
) -> Result<Option<Template>, sqlx::Error> {
    let row = sqlx::query_as!(
        TemplateRow,
        "SELECT id, transition_kind, version, title, intro, status, created_at, published_at
         FROM form_templates WHERE municipality_id = $1 AND id = $2",
        municipality_id,
        template_id
    )
    .fetch_optional(&mut **tx)
    .await?;
    match row {
        Some(row) => with_sections(tx, municipality_id, row).await.map(Some),
        None => Ok(None),
    }
}

/// The version of `row` with its sections and questions.
///
/// A version that is not a draft never changes (the database refuses it), so its sections and
/// questions are kept in memory once read. The row itself is still read each time by the
/// caller: it carries the status (published → archived) and is the tenant-scoped proof that the
/// caller may see this version at all.
pub async fn with_sections(
    tx: &mut Tx,
    municipality_id: Uuid,
    t: TemplateRow,
) -> Result<Template, sqlx::Error> {
    let status = parse_status(&t.status)?;
    let sections = if status == TemplateStatus::Draft {
        std::sync::Arc::new(load_sections(tx, municipality_id, t.id).await?)
    } else if let Some(cached) = frozen_sections(municipality_id, t.id) {
        cached
    } else {
        let sections = std::sync::Arc::new(load_sections(tx, municipality_id, t.id).await?);
        remember_sections(municipality_id, t.id, &sections);
        sections
    };
    Ok(Template {
        id: t.id,
        municipality_id,
        transition_kind: parse_kind(&t.transition_kind)?,
        version: t.version,
        title: t.title,
        intro: t.intro,
        status,
        created_at: t.created_at,
        published_at: t.published_at,
        sections,
    })
}

type FrozenKey = (Uuid, Uuid);
static FROZEN: std::sync::OnceLock<
    std::sync::RwLock<std::collections::HashMap<FrozenKey, std::sync::Arc<Vec<Section>>>>,
> = std::sync::OnceLock::new();
/// Published versions per municipality are few; the bound only guards against surprises.
const FROZEN_MAX: usize = 4096;

fn frozen(
) -> &'static std::sync::RwLock<std::collections::HashMap<FrozenKey, std::sync::Arc<Vec<Section>>>>
{
    FROZEN.get_or_init(Default::default)
}

fn frozen_sections(
    municipality_id: Uuid,
    template_id: Uuid,
) -> Option<std::sync::Arc<Vec<Section>>> {
    let map = frozen().read().unwrap_or_else(|e| e.into_inner());
    map.get(&(municipality_id, template_id)).cloned()
}

fn remember_sections(
    municipality_id: Uuid,
    template_id: Uuid,
    sections: &std::sync::Arc<Vec<Section>>,
) {
    let mut map = frozen().write().unwrap_or_else(|e| e.into_inner());
    if map.len() >= FROZEN_MAX {
        map.clear();
    }
    map.insert((municipality_id, template_id), sections.clone());
}

/// The sections and questions of a version, from the database.
async fn load_sections(
    tx: &mut Tx,
    municipality_id: Uuid,
    template_id: Uuid,
) -> Result<Vec<Section>, sqlx::Error> {
    let sections = sqlx::query!(
        "SELECT id, position, title, description FROM template_sections
         WHERE municipality_id = $1 AND template_id = $2 ORDER BY position",
        municipality_id,
        template_id
    )
    .fetch_all(&mut **tx)
    .await?;
    let questions = sqlx::query!(
        "SELECT id, section_id, position, kind, label, help_text, options, required,
                visible_to_receiver, visible_to_parents, sensitive, theme
         FROM template_questions WHERE municipality_id = $1 AND template_id = $2
         ORDER BY position",
        municipality_id,
        template_id
    )
    .fetch_all(&mut **tx)
    .await?;
    let mut sections: Vec<Section> = sections
        .into_iter()
        .map(|s| Section {
            id: s.id,
            position: s.position,
            title: s.title,
            description: s.description,
            questions: Vec::new(),
        })
        .collect();
    for q in questions {
        let kind =
            QuestionKind::parse(&q.kind).ok_or_else(|| decode_err("question kind", &q.kind))?;
        if let Some(section) = sections.iter_mut().find(|s| s.id == q.section_id) {
            section.questions.push(Question {
                id: q.id,
                section_id: q.section_id,
                position: q.position,
                kind,
                label: q.label,
                help_text: q.help_text,
                options: q.options,
                required: q.required,
                visible_to_receiver: q.visible_to_receiver,
                visible_to_parents: q.visible_to_parents,
                sensitive: q.sensitive,
                theme: q.theme,
            });
        }
    }
    Ok(sections)
}

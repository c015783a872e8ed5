//! Filling the handover form: the form of the transition's own template version, saving a
//! draft (with an optimistic version check, so two pedagogues never overwrite each other
//! silently), and the required-question check before the form leaves the sender.

use std::{borrow::Cow, collections::HashMap};

use askama::Template;
use axum::{
    extract::{FromRequest, Request},
    http::{HeaderMap, HeaderValue, StatusCode},
    response::{IntoResponse, Response},
};
use serde_json::json;
use sqlx::types::Json;
use time::OffsetDateTime;
use uuid::Uuid;

use super::{handlers, status::Status};
use crate::{
    audit::Entry,
    auth::{Ctx, Permission},
    children::{
        domain::{iso_date, parse_date},
        Access,
    },
    db::Tx,
    forms::{self, QuestionKind},
    web::{self, AppError, AppResult, Flash, Form, Layout, Path},
    wording::Phrase,
};

/// Longest free-text answer, in characters (also a CHECK in the database).
const MAX_TEXT: usize = 10_000;
/// Single choice questions with more options than this are a select, not radios.
const MAX_RADIOS: usize = 6;
const SENSITIVE_NOTE: &str = "Kræver forældrenes samtykke, før modtageren kan se det.";
const CONFLICT: &str = "Formularen er blevet ændret af en anden, siden du åbnede den, så dine ændringer er ikke gemt. Kopiér det, du har skrevet, genindlæs siden og prøv igen.";

fn form_path(id: Uuid) -> String {
    format!("/transitions/{id}/form")
}

fn field_name(q: Uuid) -> String {
    format!("q_{q}")
}

/// Only a draft (and while it is with the parents) is still being written.
fn editable(status: &str) -> bool {
    matches!(
        Status::parse(status),
        Some(Status::Draft | Status::WithParents)
    )
}

/// Stored answers as the raw values a form posts: one value, or the chosen options.
async fn stored(
    tx: &mut Tx,
    municipality_id: Uuid,
    transition_id: Uuid,
) -> Result<HashMap<Uuid, Vec<String>>, sqlx::Error> {
    let rows = sqlx::query_as!(
        StoredAnswer,
        r#"SELECT question_id, value, "values" AS "values!" FROM answers
         WHERE municipality_id = $1 AND transition_id = $2"#,
        municipality_id,
        transition_id
    )
    .fetch_all(&mut **tx)
    .await?;
    Ok(raw_values(rows))
}

struct StoredAnswer {
    question_id: Uuid,
    value: Option<String>,
    values: Vec<String>,
}

fn raw_values(rows: Vec<StoredAnswer>) -> HashMap<Uuid, Vec<String>> {
    rows.into_iter()
        .map(|r| {
            let mut v = r.values;
            if let Some(value) = r.value {
                v.insert(0, value);
            }
            (r.question_id, v)
        })
        .collect()
}

/// What the form page reads besides the transition: the row of the template version the
/// handover is written on, the stored answers (three arrays in one order: the question, the
/// single value, the chosen options as JSON) and, for a form still being written, the wording
/// list (phrases and suggestions in one order; empty for one that can no longer be changed).
/// Arrays rather than JSON objects: the answers' long texts are sent as they are.
struct FormData {
    id: Uuid,
    transition_kind: String,
    version: i32,
    title: String,
    intro: String,
    status: String,
    created_at: OffsetDateTime,
    published_at: Option<OffsetDateTime>,
    questions: Vec<Uuid>,
    values: Vec<Option<String>>,
    options: Json<Vec<Vec<String>>>,
    phrases: Vec<String>,
    suggestions: Vec<String>,
}

/// One statement for the form page (`None` for a template the municipality does not have).
async fn form_data(
    tx: &mut Tx,
    municipality_id: Uuid,
    template_id: Uuid,
    transition_id: Uuid,
    editable: bool,
) -> Result<Option<FormData>, sqlx::Error> {
    sqlx::query_as!(
        FormData,
        r#"SELECT f.id, f.transition_kind, f.version, f.title, f.intro, f.status, f.created_at,
                  f.published_at,
                  coalesce(a.questions, '{}') AS "questions!: Vec<Uuid>",
                  coalesce(a."values", '{}') AS "values!: Vec<Option<String>>",
                  coalesce(a.options, '[]') AS "options!: Json<Vec<Vec<String>>>",
                  coalesce(w.phrases, '{}') AS "phrases!",
                  coalesce(w.suggestions, '{}') AS "suggestions!"
           FROM form_templates f
           LEFT JOIN LATERAL (
               SELECT array_agg(x.question_id ORDER BY x.question_id) AS questions,
                      array_agg(x.value ORDER BY x.question_id) AS "values",
                      json_agg(x."values" ORDER BY x.question_id) AS options
               FROM answers x
               WHERE x.municipality_id = $1 AND x.transition_id = $3
           ) a ON true
           LEFT JOIN LATERAL (
               SELECT array_agg(p.phrase ORDER BY p.phrase_key) AS phrases,
                      array_agg(p.suggestion ORDER BY p.phrase_key) AS suggestions
               FROM wording_phrases p
               WHERE p.municipality_id = $1 AND $4
           ) w ON true
           WHERE f.municipality_id = $1 AND f.id = $2"#,
        municipality_id,
        template_id,
        transition_id,
        editable
    )
    .fetch_optional(&mut **tx)
    .await
}

fn answered(values: Option<&Vec<String>>) -> bool {
    values.is_some_and(|v| v.iter().any(|s| !s.trim().is_empty()))
}

/// Labels of the required questions of the transition's template that have no answer yet.
pub async fn missing_required(
    tx: &mut Tx,
    municipality_id: Uuid,
    transition_id: Uuid,
) -> AppResult<Vec<String>> {
    let template_id = sqlx::query_scalar!(
        "SELECT template_id FROM transitions WHERE municipality_id = $1 AND id = $2",
        municipality_id,
        transition_id
    )
    .fetch_optional(&mut **tx)
    .await?
    .ok_or(AppError::NotFound)?;
    let template = forms::load_template(tx, municipality_id, template_id)
        .await?
        .ok_or(AppError::NotFound)?;
    let answers = stored(tx, municipality_id, transition_id).await?;
    Ok(template
        .questions()
        .filter(|q| q.required && !answered(answers.get(&q.id)))
        .map(|q| q.label.clone())
        .collect())
}

/// Refuses moving the form past the sender while required questions are unanswered.
pub async fn check_required(
    tx: &mut Tx,
    municipality_id: Uuid,
    transition_id: Uuid,
    to: Status,
) -> AppResult<()> {
    if !matches!(to, Status::WithParents | Status::Ready) {
        return Ok(());
    }
    let from = sqlx::query_scalar!(
        "SELECT status FROM transitions WHERE municipality_id = $1 AND id = $2",
        municipality_id,
        transition_id
    )
    .fetch_optional(&mut **tx)
    .await?
    .ok_or(AppError::NotFound)?;
    // An illegal move gets the status machine's own refusal, not a list of questions.
    if !Status::parse(&from).is_some_and(|f| f.check_move(to).is_ok()) {
        return Ok(());
    }
    let missing = missing_required(tx, municipality_id, transition_id).await?;
    if missing.is_empty() {
        return Ok(());
    }
    Err(AppError::Conflict(format!(
        "Overleveringen kan ikke flyttes til «{}», før disse obligatoriske spørgsmål er besvaret: {}.",
        to.label(),
        missing
            .iter()
            .map(|l| format!("«{l}»"))
            .collect::<Vec<_>>()
            .join(", ")
    )))
}

// ---------------------------------------------------------------------------------------------
// The page

// The views borrow from the template, the stored answers and the errors: a form page has
// dozens of questions and long answers, and copying them was a good part of its time.

#[derive(Clone)]
pub struct OptionView<'a> {
    pub value: &'a str,
    pub label: &'a str,
    pub selected: bool,
}

pub struct QuestionView<'a> {
    pub name: String,
    /// "textarea", "radios", "select", "checkboxes" or "date".
    pub input: &'static str,
    pub label: &'a str,
    pub hint: Cow<'a, str>,
    pub required: bool,
    pub value: &'a str,
    pub options: Vec<OptionView<'a>>,
    pub error: &'a str,
    /// Deficit wording found in a free-text answer (advice only, see `crate::wording`).
    pub wording: Vec<crate::wording::Hit>,
}

pub struct SectionView<'a> {
    pub title: &'a str,
    pub description: &'a str,
    pub questions: Vec<QuestionView<'a>>,
}

pub struct ErrorItem {
    pub field: String,
    pub message: String,
}

#[derive(Template)]
#[template(path = "transitions/form.html")]
pub struct FormPage<'a> {
    pub layout: Layout,
    pub id: Uuid,
    pub child_name: String,
    pub template_title: String,
    pub intro: &'a str,
    pub status: &'static str,
    pub editable: bool,
    pub version: i32,
    pub progress: String,
    pub conflict: String,
    pub errors: Vec<ErrorItem>,
    pub sections: Vec<SectionView<'a>>,
    /// The municipality's wording list as JSON, for the live hints of `static/app.js`.
    pub wording_json: String,
    /// How many answers have wording hints.
    pub wording_answers: usize,
}

struct PageInput<'a> {
    id: Uuid,
    child_name: String,
    status: &'a str,
    version: i32,
    template: &'a forms::Template,
    values: &'a HashMap<Uuid, Vec<String>>,
    errors: &'a HashMap<Uuid, String>,
    conflict: String,
    phrases: &'a [crate::wording::Phrase],
}

/// The values of a question not answered.
static NO_VALUES: Vec<String> = Vec::new();

fn page<'a>(ctx: &Ctx, p: PageInput<'a>) -> FormPage<'a> {
    let mut total = 0;
    let mut done = 0;
    let mut missing = 0;
    let mut errors = Vec::new();
    let mut wording_answers = 0;
    // The hints are advice for writing: a form that can no longer be changed gets none.
    let editable = editable(p.status);
    let phrases = if editable { p.phrases } else { &[] };
    let matcher = crate::wording::Matcher::new(phrases);
    let sections = p
        .template
        .sections
        .iter()
        .map(|s| SectionView {
            title: &s.title,
            description: &s.description,
            questions: s
                .questions
                .iter()
                .map(|q| {
                    let values = p.values.get(&q.id).unwrap_or(&NO_VALUES);
                    total += 1;
                    if answered(Some(values)) {
                        done += 1;
                    } else if q.required {
                        missing += 1;
                    }
                    let name = field_name(q.id);
                    let error = p.errors.get(&q.id).map(String::as_str).unwrap_or_default();
                    if !error.is_empty() {
                        errors.push(ErrorItem {
                            field: name.clone(),
                            message: format!("{}: {}", q.label, error),
                        });
                    }
                    let hint = match (q.sensitive, q.help_text.is_empty()) {
                        (false, _) => Cow::Borrowed(q.help_text.as_str()),
                        (true, true) => Cow::Borrowed(SENSITIVE_NOTE),
                        (true, false) => Cow::Owned(format!("{} {SENSITIVE_NOTE}", q.help_text)),
                    };
                    let choices = q.choices();
                    let input = match q.kind {
                        QuestionKind::FreeText => "textarea",
                        QuestionKind::Date => "date",
                        QuestionKind::MultiChoice => "checkboxes",
                        QuestionKind::SingleChoice if choices.len() > MAX_RADIOS => "select",
                        _ => "radios",
                    };
                    let wording = if q.kind == QuestionKind::FreeText {
                        matcher.find(values.first().map(String::as_str).unwrap_or(""))
                    } else {
                        Vec::new()
                    };
                    if !wording.is_empty() {
                        wording_answers += 1;
                    }
                    QuestionView {
                        wording,
                        name,
                        input,
                        label: &q.label,
                        hint,
                        required: q.required,
                        value: values.first().map(String::as_str).unwrap_or_default(),
                        options: choices
                            .into_iter()
                            .map(|(value, label)| OptionView {
                                selected: values.iter().any(|v| v == value),
                                value,
                                label,
                            })
                            .collect(),
                        error,
                    }
                })
                .collect(),
        })
        .collect();
    let mut progress = format!("{done} af {total} spørgsmål besvaret");
    if missing > 0 {
        progress.push_str(&format!(
            "; {missing} obligatorisk{} mangler",
            if missing == 1 { "t" } else { "e" }
        ));
    }
    FormPage {
        layout: ctx.layout(
            &format!("Overleveringsskema – {}", p.child_name),
            handlers::NAV,
        ),
        id: p.id,
        child_name: p.child_name,
        template_title: format!("{} (version {})", p.template.title, p.template.version),
        intro: &p.template.intro,
        status: Status::parse(p.status)
            .map(Status::label)
            .unwrap_or("Ukendt"),
        editable,
        version: p.version,
        progress,
        conflict: p.conflict,
        errors,
        sections,
        wording_json: serde_json::to_string(phrases).unwrap_or_else(|_| "[]".into()),
        wording_answers,
    }
}

/// The transition if the user may fill its form: visible (else 404) and on the sending side
/// (else 403; the receiver reads the handover elsewhere, filtered by consent).
async fn fillable(
    ctx: &mut Ctx,
    access: &Access,
    id: Uuid,
) -> AppResult<super::queries::Transition> {
    let (t, acts) = handlers::visible(ctx, access, id).await?;
    if !acts {
        return Err(AppError::Forbidden);
    }
    Ok(t)
}

pub async fn show(mut ctx: Ctx, Path(id): Path<Uuid>) -> AppResult<Response> {
    let access = Access::check(&ctx, Permission::EditChildren)?;
    let m = access.municipality_id;
    let t = fillable(&mut ctx, &access, id).await?;
    // the version the handover was written on, never the newest template
    let data = form_data(&mut ctx.tx, m, t.template_id, id, editable(&t.status))
        .await?
        .ok_or(AppError::NotFound)?;
    let row = forms::TemplateRow {
        id: data.id,
        transition_kind: data.transition_kind,
        version: data.version,
        title: data.title,
        intro: data.intro,
        status: data.status,
        created_at: data.created_at,
        published_at: data.published_at,
    };
    let template = forms::with_sections(&mut ctx.tx, m, row).await?;
    let values = raw_values(
        data.questions
            .into_iter()
            .zip(data.values)
            .zip(data.options.0)
            .map(|((question_id, value), values)| StoredAnswer {
                question_id,
                value,
                values,
            })
            .collect(),
    );
    let phrases: Vec<Phrase> = data
        .phrases
        .into_iter()
        .zip(data.suggestions)
        .map(|(phrase, suggestion)| Phrase { phrase, suggestion })
        .collect();
    let no_errors = HashMap::new();
    let page = page(
        &ctx,
        PageInput {
            id,
            child_name: t.child_name.clone(),
            status: &t.status,
            version: t.version,
            template: &template,
            values: &values,
            errors: &no_errors,
            conflict: String::new(),
            phrases: &phrases,
        },
    );
    ctx.audit(Entry::new("view_form", "transition", Some(id)).child(t.child_id))
        .await?;
    ctx.commit().await?;
    Ok(web::render(&page)?.into_response())
}

/// A checked answer, as stored.
enum Answer {
    Empty,
    Value(String),
    Values(Vec<String>),
}

fn validate(q: &forms::Question, raw: &[String]) -> Result<Answer, String> {
    let given: Vec<&str> = raw
        .iter()
        .map(|s| s.as_str())
        .filter(|s| !s.trim().is_empty())
        .collect();
    if given.is_empty() {
        return Ok(Answer::Empty);
    }
    if q.kind != QuestionKind::MultiChoice && given.len() > 1 {
        return Err("Vælg kun ét svar.".into());
    }
    match q.kind {
        QuestionKind::FreeText => {
            if given[0].chars().count() > MAX_TEXT {
                Err(format!("Svaret må højst være {MAX_TEXT} tegn."))
            } else {
                Ok(Answer::Value(given[0].to_string()))
            }
        }
        QuestionKind::Date => parse_date(given[0])
            .map(|d| Answer::Value(iso_date(d)))
            .ok_or_else(|| "Skriv en gyldig dato, fx 2027-08-01.".to_string()),
        QuestionKind::MultiChoice => {
            let mut chosen: Vec<String> = Vec::new();
            for v in given {
                if !q.options.iter().any(|o| o == v) {
                    return Err("Vælg blandt de viste muligheder.".into());
                }
                if !chosen.iter().any(|c| c == v) {
                    chosen.push(v.to_string());
                }
            }
            Ok(Answer::Values(chosen))
        }
        _ => {
            if q.choices().iter().any(|(value, _)| *value == given[0]) {
                Ok(Answer::Value(given[0].to_string()))
            } else {
                Err("Vælg et af de viste svar.".into())
            }
        }
    }
}

fn is_fetch(headers: &HeaderMap) -> bool {
    headers
        .get("x-requested-with")
        .is_some_and(|v| v.as_bytes() == b"fetch")
}

pub async fn save(
    mut ctx: Ctx,
    Path(id): Path<Uuid>,
    headers: HeaderMap,
    req: Request,
) -> AppResult<Response> {
    let access = Access::check(&ctx, Permission::EditChildren)?;
    let m = access.municipality_id;
    // Foreign and out-of-scope ids are refused before the body is even parsed.
    let t = fillable(&mut ctx, &access, id).await?;
    let Form(pairs) = Form::<Vec<(String, String)>>::from_request(req, &()).await?;
    let fetch = is_fetch(&headers);
    let version = pairs
        .iter()
        .find(|(k, _)| k == "version")
        .and_then(|(_, v)| v.trim().parse::<i32>().ok())
        .ok_or_else(|| {
            AppError::BadRequest(
                "Formularen manglede sin version. Genindlæs siden og prøv igen.".into(),
            )
        })?;
    // Locks the row: a concurrent save or status change waits and then sees the new version.
    let row = sqlx::query!(
        "SELECT status, version, template_id, child_id FROM transitions
         WHERE municipality_id = $1 AND id = $2 FOR UPDATE",
        m,
        id
    )
    .fetch_optional(&mut *ctx.tx)
    .await?
    .ok_or(AppError::NotFound)?;
    if !editable(&row.status) {
        return Err(AppError::Conflict(format!(
            "En overlevering med status «{}» kan ikke længere udfyldes.",
            Status::parse(&row.status)
                .map(Status::label)
                .unwrap_or("Ukendt")
        )));
    }
    let template = forms::load_template(&mut ctx.tx, m, row.template_id)
        .await?
        .ok_or(AppError::NotFound)?;
    let mut posted: HashMap<Uuid, Vec<String>> = HashMap::new();
    for (k, v) in pairs {
        if k == "_csrf" || k == "version" {
            continue;
        }
        let q = k
            .strip_prefix("q_")
            .and_then(|s| s.parse::<Uuid>().ok())
            .filter(|q| template.questions().any(|x| x.id == *q))
            .ok_or_else(|| {
                AppError::BadRequest(
                    "Formularen indeholdt et ukendt spørgsmål. Genindlæs siden og prøv igen."
                        .into(),
                )
            })?;
        posted.entry(q).or_default().push(v);
    }
    let mut errors = HashMap::new();
    let mut checked = Vec::new();
    for q in template.questions() {
        match validate(q, posted.get(&q.id).map(Vec::as_slice).unwrap_or(&[])) {
            Ok(a) => checked.push((q.id, a)),
            Err(e) => {
                errors.insert(q.id, e);
            }
        }
    }
    let conflict = row.version != version;
    if !errors.is_empty() || conflict {
        let status = if conflict {
            StatusCode::CONFLICT
        } else {
            StatusCode::UNPROCESSABLE_ENTITY
        };
        if fetch {
            return Ok(status.into_response());
        }
        let phrases = crate::wording::phrases(&mut ctx.tx, m).await?;
        let page = page(
            &ctx,
            PageInput {
                id,
                child_name: t.child_name.clone(),
                status: &row.status,
                // keeps the version the user started from, so a resubmit can't overwrite either
                version,
                template: &template,
                values: &posted,
                errors: &errors,
                conflict: if conflict {
                    CONFLICT.into()
                } else {
                    String::new()
                },
                phrases: &phrases,
            },
        );
        return web::render_with_errors(status, &page);
    }
    let new_version = sqlx::query_scalar!(
        "UPDATE transitions SET version = version + 1, updated_at = now()
         WHERE municipality_id = $1 AND id = $2 AND version = $3 RETURNING version",
        m,
        id,
        version
    )
    .fetch_optional(&mut *ctx.tx)
    .await?
    .ok_or_else(|| AppError::Conflict(CONFLICT.into()))?;
    let user = ctx.user.id;
    for (question, answer) in checked {
        let (value, values) = match answer {
            Answer::Empty => {
                sqlx::query!(
                    "DELETE FROM answers
                     WHERE municipality_id = $1 AND transition_id = $2 AND question_id = $3",
                    m,
                    id,
                    question
                )
                .execute(&mut *ctx.tx)
                .await?;
                continue;
            }
            Answer::Value(v) => (Some(v), Vec::new()),
            Answer::Values(v) => (None, v),
        };
        // Unchanged answers keep who wrote them and when.
        sqlx::query!(
            r#"INSERT INTO answers (municipality_id, transition_id, question_id, template_id,
                                  value, "values", updated_by)
             VALUES ($1, $2, $3, $4, $5, $6, $7)
             ON CONFLICT (municipality_id, transition_id, question_id) DO UPDATE
                SET value = EXCLUDED.value, "values" = EXCLUDED."values",
                    updated_at = now(), updated_by = EXCLUDED.updated_by
                WHERE answers.value IS DISTINCT FROM EXCLUDED.value
                   OR answers."values" IS DISTINCT FROM EXCLUDED."values""#,
            m,
            id,
            question,
            row.template_id,
            value,
            &values,
            user
        )
        .execute(&mut *ctx.tx)
        .await?;
    }
    ctx.audit(
        Entry::new("answers_saved", "transition", Some(id))
            .child(row.child_id)
            .details(json!({ "version": new_version })),
    )
    .await?;
    ctx.commit().await?;
    if fetch {
        let mut r = StatusCode::NO_CONTENT.into_response();
        r.headers_mut()
            .insert("x-version", HeaderValue::from(new_version));
        return Ok(r);
    }
    Ok(web::redirect_with_flash(
        &form_path(id),
        Flash::success("Kladden er gemt."),
    ))
}

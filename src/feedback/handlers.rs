//! The pages: the receiver's worklist, the feedback form, and the sender's view.

use std::collections::HashMap;

use askama::Template;
use axum::{
    extract::{FromRequest, Request},
    response::{IntoResponse, Response},
};
use serde_json::json;
use time::{Date, OffsetDateTime};
use uuid::Uuid;

use crate::{
    audit::Entry,
    auth::{Ctx, Permission},
    children::{domain::format_date, Access},
    db::Tx,
    forms::{self, kinds::theme_label, QuestionKind},
    transitions::{
        queries::{self as tq, Transition},
        status::{transition_status, Status},
    },
    web::{self, AppError, AppResult, Flash, Form, Layout, Path, SelectOption},
};

pub const NAV: &str = "/feedback";
/// Longest "what was missing" text, in characters (also a CHECK in the database).
const MAX_MISSING: usize = 4000;

pub fn form_path(id: Uuid) -> String {
    format!("/feedback/{id}")
}

fn rating_name(q: Uuid) -> String {
    format!("rating_{q}")
}

const USEFULNESS: [(&str, &str); 5] = [
    ("1", "1 – slet ikke brugbar"),
    ("2", "2 – kun lidt brugbar"),
    ("3", "3 – nogenlunde brugbar"),
    ("4", "4 – brugbar"),
    ("5", "5 – meget brugbar"),
];

const COMPLETENESS: [(&str, &str); 5] = [
    ("1", "1 – meget mangelfuld"),
    ("2", "2 – mangelfuld"),
    ("3", "3 – nogenlunde dækkende"),
    ("4", "4 – dækkende"),
    ("5", "5 – fuldt dækkende"),
];

/// The outcome facts: (field name, question).
const FACTS: [(&str, &str); 3] = [
    (
        "special_support",
        "Er barnet startet med særlig støtte (fx specialpædagogisk bistand)?",
    ),
    ("deferred_start", "Er barnets skolestart blevet udsat?"),
    ("ppr_referral", "Er barnet blevet henvist til PPR?"),
];

fn yes_no(b: Option<bool>) -> &'static str {
    match b {
        Some(true) => "Ja",
        Some(false) => "Nej",
        None => "–",
    }
}

fn options(list: &[(&str, &str)], selected: &str) -> Vec<SelectOption> {
    list.iter()
        .map(|(v, l)| SelectOption::new(*v, *l, *v == selected))
        .collect()
}

fn yes_no_options(selected: &str) -> Vec<SelectOption> {
    options(&[("yes", "Ja"), ("no", "Nej")], selected)
}

fn of_five(list: &[(&str, &str)], v: Option<i16>) -> String {
    v.and_then(|v| list.iter().find(|(k, _)| *k == v.to_string()))
        .map(|(_, l)| l.to_string())
        .unwrap_or_else(|| "–".into())
}

/// The questions feedback compares: the sender's themed scale questions of the template version
/// the handover was written on, in form order.
fn themed(template: &forms::Template) -> Vec<&forms::Question> {
    template
        .questions()
        .filter(|q| {
            q.theme.is_some()
                && matches!(q.kind, QuestionKind::Scale1To4 | QuestionKind::TrafficLight)
        })
        .collect()
}

/// The label of a stored scale value, e.g. "3 – klarer det for det meste selv".
fn value_label(q: &forms::Question, value: Option<&String>) -> Option<String> {
    let v = value?;
    Some(
        q.kind
            .scale()
            .iter()
            .find(|(k, _)| k == v)
            .map(|(_, l)| l.to_string())
            .unwrap_or_else(|| v.clone()),
    )
}

fn theme_of(q: &forms::Question) -> String {
    q.theme
        .as_deref()
        .map(|k| theme_label(k).unwrap_or(k).to_string())
        .unwrap_or_default()
}

// ---------------------------------------------------------------------------------------------
// Queries

struct RequestRow {
    id: Uuid,
    transition_id: Uuid,
    round: i16,
    due_on: Date,
    answered_at: Option<OffsetDateTime>,
    answered_by_name: Option<String>,
    usefulness: Option<i16>,
    completeness: Option<i16>,
    missing: Option<String>,
    special_support: Option<bool>,
    deferred_start: Option<bool>,
    ppr_referral: Option<bool>,
}

async fn find_request(tx: &mut Tx, m: Uuid, id: Uuid) -> Result<Option<RequestRow>, sqlx::Error> {
    sqlx::query_as!(
        RequestRow,
        r#"SELECT r.id, r.transition_id, r.round, r.due_on, r.answered_at,
                  u.name AS "answered_by_name?", r.usefulness, r.completeness, r.missing,
                  r.special_support, r.deferred_start, r.ppr_referral
           FROM feedback_requests r
           LEFT JOIN users u ON u.municipality_id = r.municipality_id AND u.id = r.answered_by
           WHERE r.municipality_id = $1 AND r.id = $2"#,
        m,
        id
    )
    .fetch_optional(&mut **tx)
    .await
}

async fn requests_of(
    tx: &mut Tx,
    m: Uuid,
    transition: Uuid,
) -> Result<Vec<RequestRow>, sqlx::Error> {
    sqlx::query_as!(
        RequestRow,
        r#"SELECT r.id, r.transition_id, r.round, r.due_on, r.answered_at,
                  u.name AS "answered_by_name?", r.usefulness, r.completeness, r.missing,
                  r.special_support, r.deferred_start, r.ppr_referral
           FROM feedback_requests r
           LEFT JOIN users u ON u.municipality_id = r.municipality_id AND u.id = r.answered_by
           WHERE r.municipality_id = $1 AND r.transition_id = $2
           ORDER BY r.round"#,
        m,
        transition
    )
    .fetch_all(&mut **tx)
    .await
}

async fn ratings(
    tx: &mut Tx,
    m: Uuid,
    request: Uuid,
) -> Result<HashMap<Uuid, String>, sqlx::Error> {
    let rows = sqlx::query!(
        "SELECT question_id, value FROM feedback_ratings WHERE municipality_id = $1 AND request_id = $2",
        m,
        request
    )
    .fetch_all(&mut **tx)
    .await?;
    Ok(rows.into_iter().map(|r| (r.question_id, r.value)).collect())
}

/// The sender's own answers (the sending side reads its whole handover).
async fn sender_answers(
    tx: &mut Tx,
    m: Uuid,
    transition: Uuid,
) -> Result<HashMap<Uuid, String>, sqlx::Error> {
    let rows = sqlx::query!(
        r#"SELECT question_id, value AS "value!" FROM answers
           WHERE municipality_id = $1 AND transition_id = $2 AND value IS NOT NULL"#,
        m,
        transition
    )
    .fetch_all(&mut **tx)
    .await?;
    Ok(rows.into_iter().map(|r| (r.question_id, r.value)).collect())
}

/// The sender's answers as the receiver may read them: visible to the receiver, and sensitive
/// ones only when the parents' consent released them (the `receiver_answers` view).
async fn released_answers(
    tx: &mut Tx,
    m: Uuid,
    transition: Uuid,
) -> Result<HashMap<Uuid, String>, sqlx::Error> {
    let rows = sqlx::query!(
        r#"SELECT question_id AS "question_id!", value AS "value!" FROM receiver_answers
           WHERE municipality_id = $1 AND transition_id = $2 AND value IS NOT NULL"#,
        m,
        transition
    )
    .fetch_all(&mut **tx)
    .await?;
    Ok(rows.into_iter().map(|r| (r.question_id, r.value)).collect())
}

async fn template_of(tx: &mut Tx, m: Uuid, transition: Uuid) -> AppResult<forms::Template> {
    let template_id = sqlx::query_scalar!(
        "SELECT template_id FROM transitions WHERE municipality_id = $1 AND id = $2",
        m,
        transition
    )
    .fetch_optional(&mut **tx)
    .await?
    .ok_or(AppError::NotFound)?;
    forms::load_template(tx, m, template_id)
        .await?
        .ok_or(AppError::NotFound)
}

/// The request and its transition if the user may answer it: the transition visible (else
/// 404, also for unknown ids and other municipalities) and the user on the receiving side:
/// a leader or staff member of the receiving institution, or an administrator (else 403).
async fn answerable(
    ctx: &mut Ctx,
    access: &Access,
    id: Uuid,
) -> AppResult<(RequestRow, Transition)> {
    let m = access.municipality_id;
    let r = find_request(&mut ctx.tx, m, id)
        .await?
        .ok_or(AppError::NotFound)?;
    let t = tq::find(&mut ctx.tx, m, &access.scope, r.transition_id)
        .await?
        .ok_or(AppError::NotFound)?;
    if !access.manages(t.receiving_institution_id) {
        return Err(AppError::Forbidden);
    }
    Ok((r, t))
}

// ---------------------------------------------------------------------------------------------
// The receiver's worklist

pub struct ListRow {
    pub href: String,
    pub child: String,
    pub sending: String,
    pub receiving: String,
    pub planned_date: String,
    pub round: i16,
    pub due_on: String,
    pub overdue: bool,
}

#[derive(Template)]
#[template(path = "feedback/list.html")]
pub struct ListPage {
    pub layout: Layout,
    pub rows: Vec<ListRow>,
    pub all: bool,
}

pub async fn list(mut ctx: Ctx) -> AppResult<Response> {
    let access = Access::check(&ctx, Permission::ViewChildren)?;
    let m = access.municipality_id;
    let (all, ids) = access.scope.as_params();
    let today = ctx.today;
    let rows = sqlx::query!(
        r#"SELECT r.id, r.round, r.due_on, t.planned_date,
                  c.first_name || ' ' || c.last_name AS "child!", s.name AS sending, i.name AS receiving
           FROM feedback_requests r
           JOIN transitions t ON t.municipality_id = r.municipality_id AND t.id = r.transition_id
           JOIN children c ON c.municipality_id = t.municipality_id AND c.id = t.child_id
           JOIN institutions s ON s.municipality_id = t.municipality_id AND s.id = t.sending_institution_id
           JOIN institutions i ON i.municipality_id = t.municipality_id AND i.id = t.receiving_institution_id
           WHERE r.municipality_id = $1 AND r.answered_at IS NULL
             AND t.status IN ('feedback_requested', 'feedback_given')
             AND ($2 OR t.receiving_institution_id = ANY($3))
           ORDER BY r.due_on, c.first_name, c.last_name, r.id
           LIMIT 1000"#,
        m,
        all,
        &ids[..]
    )
    .fetch_all(&mut *ctx.tx)
    .await?;
    ctx.audit(Entry::new("list", "feedback_request", None).details(json!({ "shown": rows.len() })))
        .await?;
    let page = ListPage {
        layout: ctx.layout("Tilbagemeldinger", NAV),
        rows: rows
            .into_iter()
            .map(|r| ListRow {
                href: form_path(r.id),
                child: r.child,
                sending: r.sending,
                receiving: r.receiving,
                planned_date: format_date(r.planned_date),
                round: r.round,
                due_on: format_date(r.due_on),
                overdue: r.due_on < today,
            })
            .collect(),
        all,
    };
    ctx.commit().await?;
    Ok(web::render(&page)?.into_response())
}

// ---------------------------------------------------------------------------------------------
// The form

pub struct ErrorItem {
    pub field: String,
    pub message: String,
}

pub struct RatingView {
    pub name: String,
    /// "Theme: question".
    pub legend: String,
    pub options: Vec<SelectOption>,
    pub error: String,
}

/// One themed question after answering: the sender's and the receiver's rating side by side.
pub struct CompareRow {
    pub theme: String,
    pub question: String,
    pub sender: String,
    pub receiver: String,
}

pub struct FactView {
    pub name: &'static str,
    pub legend: &'static str,
    pub options: Vec<SelectOption>,
    pub error: String,
    pub answer: &'static str,
}

/// A round's answers, as both the receiver (after answering) and the sender see them.
pub struct AnsweredView {
    pub answered_at: String,
    pub answered_by: String,
    pub rows: Vec<CompareRow>,
    pub usefulness: String,
    pub completeness: String,
    pub missing: String,
    pub facts: Vec<FactView>,
}

#[derive(Template)]
#[template(path = "feedback/form.html")]
pub struct FormPage {
    pub layout: Layout,
    pub id: Uuid,
    pub child_name: String,
    pub sending: String,
    pub receiving: String,
    pub planned_date: String,
    pub round: i16,
    pub due_on: String,
    pub overdue: bool,
    pub answered: Option<AnsweredView>,
    pub errors: Vec<ErrorItem>,
    pub ratings: Vec<RatingView>,
    pub usefulness: Vec<SelectOption>,
    pub usefulness_error: String,
    pub completeness: Vec<SelectOption>,
    pub completeness_error: String,
    pub missing: String,
    pub missing_error: String,
    pub facts: Vec<FactView>,
}

/// The receiver's raw input, kept when the form is shown again.
#[derive(Default)]
struct Input {
    ratings: HashMap<Uuid, String>,
    usefulness: String,
    completeness: String,
    missing: String,
    facts: HashMap<&'static str, String>,
}

fn answered_view(
    r: &RequestRow,
    questions: &[&forms::Question],
    sender: &HashMap<Uuid, String>,
    receiver: &HashMap<Uuid, String>,
    hidden_sender: &str,
) -> AnsweredView {
    AnsweredView {
        answered_at: r
            .answered_at
            .map(|a| format_date(a.date()))
            .unwrap_or_default(),
        answered_by: r.answered_by_name.clone().unwrap_or_else(|| "–".into()),
        rows: questions
            .iter()
            .map(|q| CompareRow {
                theme: theme_of(q),
                question: q.label.clone(),
                sender: value_label(q, sender.get(&q.id)).unwrap_or_else(|| hidden_sender.into()),
                receiver: value_label(q, receiver.get(&q.id))
                    .unwrap_or_else(|| "Ikke vurderet".into()),
            })
            .collect(),
        usefulness: of_five(&USEFULNESS, r.usefulness),
        completeness: of_five(&COMPLETENESS, r.completeness),
        missing: r.missing.clone().unwrap_or_default(),
        facts: FACTS
            .iter()
            .map(|(name, legend)| FactView {
                name,
                legend,
                options: Vec::new(),
                error: String::new(),
                answer: yes_no(match *name {
                    "special_support" => r.special_support,
                    "deferred_start" => r.deferred_start,
                    _ => r.ppr_referral,
                }),
            })
            .collect(),
    }
}

struct PageInput<'a> {
    r: &'a RequestRow,
    t: &'a Transition,
    today: Date,
    questions: &'a [&'a forms::Question],
    answered: Option<AnsweredView>,
    input: Input,
    errors: HashMap<String, String>,
}

fn page(ctx: &Ctx, p: PageInput<'_>) -> FormPage {
    let err = |name: &str| p.errors.get(name).cloned().unwrap_or_default();
    // The summary lists the errors in the order of the form.
    let mut order: Vec<(String, String)> = p
        .questions
        .iter()
        .map(|q| (rating_name(q.id), q.label.clone()))
        .collect();
    order.push((
        "usefulness".into(),
        "Hvor brugbar var overleveringen".into(),
    ));
    order.push((
        "completeness".into(),
        "Hvor dækkende var overleveringen".into(),
    ));
    order.push(("missing".into(), "Hvad manglede".into()));
    order.extend(FACTS.iter().map(|(n, l)| (n.to_string(), l.to_string())));
    let errors = order
        .into_iter()
        .filter_map(|(field, label)| {
            p.errors.get(&field).map(|e| ErrorItem {
                message: format!("{label}: {e}"),
                field,
            })
        })
        .collect();
    FormPage {
        layout: ctx.layout(&format!("Tilbagemelding – {}", p.t.child_name), NAV),
        id: p.r.id,
        child_name: p.t.child_name.clone(),
        sending: p.t.sending_name.clone(),
        receiving: p.t.receiving_name.clone(),
        planned_date: format_date(p.t.planned_date),
        round: p.r.round,
        due_on: format_date(p.r.due_on),
        overdue: p.r.answered_at.is_none() && p.r.due_on < p.today,
        answered: p.answered,
        errors,
        ratings: p
            .questions
            .iter()
            .map(|q| {
                let selected = p.input.ratings.get(&q.id).map(String::as_str).unwrap_or("");
                RatingView {
                    name: rating_name(q.id),
                    legend: format!("{}: {}", theme_of(q), q.label),
                    options: options(q.kind.scale(), selected),
                    error: err(&rating_name(q.id)),
                }
            })
            .collect(),
        usefulness: options(&USEFULNESS, &p.input.usefulness),
        usefulness_error: err("usefulness"),
        completeness: options(&COMPLETENESS, &p.input.completeness),
        completeness_error: err("completeness"),
        missing: p.input.missing.clone(),
        missing_error: err("missing"),
        facts: FACTS
            .iter()
            .map(|(name, legend)| FactView {
                name,
                legend,
                options: yes_no_options(p.input.facts.get(name).map(String::as_str).unwrap_or("")),
                error: err(name),
                answer: "",
            })
            .collect(),
    }
}

pub async fn form(mut ctx: Ctx, Path(id): Path<Uuid>) -> AppResult<Response> {
    let access = Access::check(&ctx, Permission::ViewChildren)?;
    let m = access.municipality_id;
    let (r, t) = answerable(&mut ctx, &access, id).await?;
    let today = ctx.today;
    let template = template_of(&mut ctx.tx, m, t.id).await?;
    let questions = themed(&template);
    // The sender's ratings are read only once the receiver has answered (no anchoring).
    let answered = if r.answered_at.is_some() {
        let sender = released_answers(&mut ctx.tx, m, t.id).await?;
        let receiver = ratings(&mut ctx.tx, m, r.id).await?;
        Some(answered_view(
            &r,
            &questions,
            &sender,
            &receiver,
            "Ikke delt med jer",
        ))
    } else {
        None
    };
    let page = page(
        &ctx,
        PageInput {
            r: &r,
            t: &t,
            today,
            questions: &questions,
            answered,
            input: Input::default(),
            errors: HashMap::new(),
        },
    );
    ctx.audit(Entry::new("view", "feedback_request", Some(id)).child(t.child_id))
        .await?;
    ctx.commit().await?;
    Ok(web::render(&page)?.into_response())
}

const ALREADY: &str = "Tilbagemeldingen er allerede givet og kan ikke ændres. Åbn tilbagemeldingen igen for at se svarene.";

pub async fn submit(mut ctx: Ctx, Path(id): Path<Uuid>, req: Request) -> AppResult<Response> {
    let access = Access::check(&ctx, Permission::ViewChildren)?;
    let m = access.municipality_id;
    // Foreign ids and the wrong side are refused before the body is even parsed.
    let (r, t) = answerable(&mut ctx, &access, id).await?;
    let Form(pairs) = Form::<Vec<(String, String)>>::from_request(req, &()).await?;
    // The transition's row first, as a status change takes it: a close or cancel at the same
    // moment is seen in the status below, and a new responsible in the version the status move
    // expects. Then the request's: of two answers sent at once, the second sees the first. Both
    // once the body is in, so a slow sender holds neither.
    let (status, version) = crate::transitions::under_lock(&mut ctx.tx, m, t.id).await?;
    let answered = sqlx::query_scalar!(
        "SELECT answered_at IS NOT NULL AS \"answered!\" FROM feedback_requests
         WHERE municipality_id = $1 AND id = $2 FOR UPDATE",
        m,
        id
    )
    .fetch_one(&mut *ctx.tx)
    .await?;
    if answered {
        return Err(AppError::Conflict(ALREADY.into()));
    }
    if !matches!(status, Status::FeedbackRequested | Status::FeedbackGiven) {
        return Err(AppError::Conflict(format!(
            "Overleveringen har status «{}», så der kan ikke gives tilbagemelding på den.",
            status.label()
        )));
    }
    let template = template_of(&mut ctx.tx, m, t.id).await?;
    let questions = themed(&template);
    let mut input = Input::default();
    for (k, v) in pairs {
        match k.as_str() {
            "_csrf" => {}
            "usefulness" => input.usefulness = v,
            "completeness" => input.completeness = v,
            "missing" => input.missing = v,
            other => {
                if let Some((name, _)) = FACTS.iter().find(|(n, _)| *n == other) {
                    input.facts.insert(name, v);
                    continue;
                }
                let q = other
                    .strip_prefix("rating_")
                    .and_then(|s| s.parse::<Uuid>().ok())
                    .filter(|q| questions.iter().any(|x| x.id == *q))
                    .ok_or_else(|| {
                        AppError::BadRequest(
                            "Formularen indeholdt et ukendt felt. Genindlæs siden og prøv igen."
                                .into(),
                        )
                    })?;
                input.ratings.insert(q, v);
            }
        }
    }
    let mut errors: HashMap<String, String> = HashMap::new();
    let mut chosen: Vec<(Uuid, String)> = Vec::new();
    for q in &questions {
        let v = input.ratings.get(&q.id).map(|s| s.trim()).unwrap_or("");
        if v.is_empty() {
            continue;
        }
        if q.kind.scale().iter().any(|(k, _)| *k == v) {
            chosen.push((q.id, v.to_string()));
        } else {
            errors.insert(rating_name(q.id), "Vælg et af de viste svar.".into());
        }
    }
    let mut score = |field: &str, raw: &str, what: &str| -> Option<i16> {
        match raw.trim() {
            "" => {
                errors.insert(
                    field.into(),
                    format!("Vælg, hvor {what} overleveringen var."),
                );
                None
            }
            v => match v.parse::<i16>() {
                Ok(n) if (1..=5).contains(&n) => Some(n),
                _ => {
                    errors.insert(field.into(), "Vælg et tal fra 1 til 5.".into());
                    None
                }
            },
        }
    };
    let usefulness = score("usefulness", &input.usefulness, "brugbar");
    let completeness = score("completeness", &input.completeness, "dækkende");
    let missing = input.missing.trim().to_string();
    if missing.chars().count() > MAX_MISSING {
        errors.insert(
            "missing".into(),
            format!("Teksten må højst være {MAX_MISSING} tegn."),
        );
    }
    let mut facts: HashMap<&str, bool> = HashMap::new();
    for (name, _) in FACTS {
        match input.facts.get(name).map(|s| s.trim()).unwrap_or("") {
            "yes" => {
                facts.insert(name, true);
            }
            "no" => {
                facts.insert(name, false);
            }
            "" => {
                errors.insert(name.into(), "Svar ja eller nej.".into());
            }
            _ => {
                errors.insert(name.into(), "Vælg ja eller nej.".into());
            }
        }
    }
    let (Some(usefulness), Some(completeness), true) =
        (usefulness, completeness, errors.is_empty())
    else {
        let today = ctx.today;
        let page = page(
            &ctx,
            PageInput {
                r: &r,
                t: &t,
                today,
                questions: &questions,
                answered: None,
                input,
                errors,
            },
        );
        return web::render_invalid(&page);
    };
    let updated = sqlx::query!(
        "UPDATE feedback_requests
         SET answered_at = now(), answered_by = $3, usefulness = $4, completeness = $5,
             missing = $6, special_support = $7, deferred_start = $8, ppr_referral = $9
         WHERE municipality_id = $1 AND id = $2 AND answered_at IS NULL",
        m,
        id,
        ctx.user.id,
        usefulness,
        completeness,
        (!missing.is_empty()).then_some(missing.as_str()),
        facts["special_support"],
        facts["deferred_start"],
        facts["ppr_referral"]
    )
    .execute(&mut *ctx.tx)
    .await?;
    if updated.rows_affected() != 1 {
        return Err(AppError::Conflict(ALREADY.into()));
    }
    for (question, value) in &chosen {
        sqlx::query!(
            "INSERT INTO feedback_ratings (municipality_id, request_id, question_id, value)
             VALUES ($1, $2, $3, $4)",
            m,
            id,
            question,
            value
        )
        .execute(&mut *ctx.tx)
        .await?;
    }
    // Round 1 closes the loop; a second round (or a loop a sender marked as given by hand)
    // leaves the status where it is (see the module comment).
    if status == Status::FeedbackRequested {
        let actor = ctx.actor();
        transition_status(
            &mut ctx.tx,
            &actor,
            m,
            t.id,
            version,
            Status::FeedbackGiven,
            None,
        )
        .await?;
    }
    ctx.audit(
        Entry::new("answer", "feedback_request", Some(id))
            .child(t.child_id)
            .details(json!({
                "round": r.round,
                "ratings": chosen.len(),
                "usefulness": usefulness,
                "completeness": completeness,
            })),
    )
    .await?;
    ctx.commit().await?;
    Ok(web::redirect_with_flash(
        &form_path(id),
        Flash::success(format!(
            "Tak! Tilbagemeldingen er sendt til {}.",
            t.sending_name
        )),
    ))
}

// ---------------------------------------------------------------------------------------------
// The sender's view

pub struct RoundView {
    pub round: i16,
    pub due_on: String,
    pub overdue: bool,
    pub answered: Option<AnsweredView>,
}

#[derive(Template)]
#[template(path = "feedback/sender.html")]
pub struct SenderPage {
    pub layout: Layout,
    pub id: Uuid,
    pub child_name: String,
    pub receiving: String,
    pub planned_date: String,
    pub status: &'static str,
    pub rounds: Vec<RoundView>,
}

pub async fn sender_view(mut ctx: Ctx, Path(id): Path<Uuid>) -> AppResult<Response> {
    let access = Access::check(&ctx, Permission::ViewChildren)?;
    let m = access.municipality_id;
    let t = tq::find(&mut ctx.tx, m, &access.scope, id)
        .await?
        .ok_or(AppError::NotFound)?;
    if !access.manages(t.sending_institution_id) {
        return Err(AppError::Forbidden);
    }
    let today = ctx.today;
    let template = template_of(&mut ctx.tx, m, id).await?;
    let questions = themed(&template);
    let sender = sender_answers(&mut ctx.tx, m, id).await?;
    let mut rounds = Vec::new();
    for r in requests_of(&mut ctx.tx, m, id).await? {
        let answered = if r.answered_at.is_some() {
            let receiver = ratings(&mut ctx.tx, m, r.id).await?;
            Some(answered_view(
                &r,
                &questions,
                &sender,
                &receiver,
                "Ikke besvaret af jer",
            ))
        } else {
            None
        };
        rounds.push(RoundView {
            round: r.round,
            due_on: format_date(r.due_on),
            overdue: r.answered_at.is_none() && r.due_on < today,
            answered,
        });
    }
    ctx.audit(Entry::new("view_feedback", "transition", Some(id)).child(t.child_id))
        .await?;
    let page = SenderPage {
        layout: ctx.layout(
            &format!("Tilbagemelding på {}", t.child_name),
            crate::transitions::handlers::NAV,
        ),
        id,
        child_name: t.child_name,
        receiving: t.receiving_name,
        planned_date: format_date(t.planned_date),
        status: Status::parse(&t.status)
            .map(Status::label)
            .unwrap_or("Ukendt"),
        rounds,
    };
    ctx.commit().await?;
    Ok(web::render(&page)?.into_response())
}

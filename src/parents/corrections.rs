//! Correction requests: a guardian, through their link, asks the sending institution to correct
//! a section of the handover; the sender's staff answer (corrected or not, with a reply the
//! guardian reads on their page) and then edit the form as usual, or add an amendment once the
//! handover is sent (`transitions::amendments`).
//!
//! Who may answer: the sending institution's leaders and staff and administrators (like every
//! action on the transition, `staff::acting`); the receiver's staff get 403, anybody else 404.
//! The request mail to the sender names no child, only where to log in.

use askama::Template;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::json;
use uuid::Uuid;

use super::{Overview, LOCAL_TZ};
use crate::{
    auth::Ctx,
    config::Config,
    db::Tx,
    mail,
    transitions::status::Status,
    web::{
        self, form::multiline_text, AppError, AppResult, FieldErrors, Flash, Form, Layout, Path,
    },
};

const NAV: &str = "/transitions";
const MAX_ANSWER: usize = 4_000;
pub const REQUEST_SUBJECT: &str = "En forælder beder om en rettelse";
pub const ANSWER_SUBJECT: &str = "Svar på din anmodning om rettelse";

pub fn path(id: Uuid) -> String {
    format!("/transitions/{id}/corrections")
}

pub struct Request {
    pub id: Uuid,
    pub guardian_name: String,
    pub section_title: String,
    pub body: String,
    pub created_at: String,
    /// "open", "resolved" or "declined".
    pub status: String,
    pub answer: Option<String>,
    pub answered_by: Option<String>,
    pub answered_at: Option<String>,
}

/// The transition's requests (only `guardian`'s when given), open ones first, then newest first.
pub async fn list(
    tx: &mut Tx,
    m: Uuid,
    transition_id: Uuid,
    guardian: Option<Uuid>,
) -> Result<Vec<Request>, sqlx::Error> {
    sqlx::query_as!(
        Request,
        r#"SELECT c.id, g.name AS guardian_name, s.title AS section_title, c.body,
                  to_char(c.created_at AT TIME ZONE $3, 'DD-MM-YYYY HH24:MI') AS "created_at!",
                  c.status, c.answer, u.name AS "answered_by?",
                  to_char(c.answered_at AT TIME ZONE $3, 'DD-MM-YYYY HH24:MI') AS answered_at
           FROM correction_requests c
           JOIN guardians g ON g.municipality_id = c.municipality_id AND g.id = c.guardian_id
           JOIN template_sections s ON s.municipality_id = c.municipality_id AND s.id = c.section_id
           LEFT JOIN users u ON u.municipality_id = c.municipality_id AND u.id = c.answered_by
           WHERE c.municipality_id = $1 AND c.transition_id = $2
             AND ($4::uuid IS NULL OR c.guardian_id = $4)
           ORDER BY c.status <> 'open', c.created_at DESC, c.id"#,
        m,
        transition_id,
        LOCAL_TZ,
        guardian
    )
    .fetch_all(&mut **tx)
    .await
}

/// How many of the guardian's requests on the transition are open, and whether one of them
/// already asks `body` about `section_id` (the same request sent twice).
pub async fn open_of_guardian(
    tx: &mut Tx,
    m: Uuid,
    transition_id: Uuid,
    guardian_id: Uuid,
    section_id: Option<Uuid>,
    body: &str,
) -> Result<(i64, bool), sqlx::Error> {
    let row = sqlx::query!(
        r#"SELECT count(*) AS "n!",
                  coalesce(bool_or(section_id = $4 AND body = $5), false) AS "same!"
           FROM correction_requests
           WHERE municipality_id = $1 AND transition_id = $2 AND guardian_id = $3 AND status = 'open'"#,
        m,
        transition_id,
        guardian_id,
        section_id,
        body
    )
    .fetch_one(&mut **tx)
    .await?;
    Ok((row.n, row.same))
}

pub struct NewRequest<'a> {
    pub guardian_id: Uuid,
    pub link_id: Uuid,
    pub section_id: Uuid,
    pub body: &'a str,
}

/// Stores a request and tells the sender: the responsible staff member, else the sending
/// institution's leaders. The caller has checked the section belongs to the page and audits.
pub async fn insert(
    tx: &mut Tx,
    config: &Config,
    t: &Overview,
    m: Uuid,
    r: NewRequest<'_>,
) -> Result<Uuid, sqlx::Error> {
    let id = sqlx::query_scalar!(
        "INSERT INTO correction_requests (municipality_id, transition_id, guardian_id, link_id,
                                          section_id, body)
         VALUES ($1, $2, $3, $4, $5, $6) RETURNING id",
        m,
        t.id,
        r.guardian_id,
        r.link_id,
        r.section_id,
        r.body
    )
    .fetch_one(&mut **tx)
    .await?;
    // The responsible, while active and still working at the sending institution; else its
    // leaders (a request must reach somebody who can answer it).
    let recipients = sqlx::query_scalar!(
        r#"WITH t AS (SELECT sending_institution_id, responsible_user_id FROM transitions
                      WHERE municipality_id = $1 AND id = $2),
                answering AS (
                    SELECT u.id, u.email, ra.role FROM t
                    JOIN role_assignments ra ON ra.municipality_id = $1
                     AND ra.institution_id = t.sending_institution_id
                     AND ra.role IN ('staff', 'institution_leader')
                    JOIN users u ON u.municipality_id = $1 AND u.id = ra.user_id AND u.is_active),
                responsible AS (
                    SELECT a.email FROM answering a, t WHERE a.id = t.responsible_user_id)
           SELECT email AS "email!" FROM responsible
           UNION
           SELECT email FROM answering
           WHERE role = 'institution_leader' AND NOT EXISTS (SELECT 1 FROM responsible)
           ORDER BY 1"#,
        m,
        t.id
    )
    .fetch_all(&mut **tx)
    .await?;
    let text = format!(
        "En forælder har bedt {} om at rette noget i en overlevering.\n\nLog ind i Overgang og læs anmodningen:\n{}\n",
        t.sending_name,
        mail::link(config, &path(t.id))
    );
    for to in recipients {
        mail::enqueue(tx, Some(m), &to, REQUEST_SUBJECT, &text).await?;
    }
    Ok(id)
}

// ---------------------------------------------------------------------------------------------
// The staff page

pub struct RequestRow {
    pub id: Uuid,
    pub guardian: String,
    pub section: String,
    pub body: String,
    pub at: String,
    pub open: bool,
    pub status: &'static str,
    pub answer: String,
    pub answered: String,
    /// After a failed answer to this request: the messages and what was typed.
    pub decision_error: String,
    pub answer_error: String,
    pub draft: String,
    pub decisions: Vec<Choice>,
}

pub struct Choice {
    pub value: &'static str,
    pub label: &'static str,
    pub selected: bool,
}

#[derive(Template)]
#[template(path = "parents/corrections.html")]
pub struct CorrectionsPage {
    pub layout: Layout,
    pub id: Uuid,
    pub child: String,
    pub requests: Vec<RequestRow>,
    /// Where staff correct: the form while it is written, an amendment once sent.
    pub form_editable: bool,
    pub amendable: bool,
}

fn status_label(status: &str) -> &'static str {
    match status {
        "resolved" => "Rettet",
        "declined" => "Ikke rettet",
        _ => "Afventer svar",
    }
}

async fn page(
    ctx: &mut Ctx,
    m: Uuid,
    t: &Overview,
    form: AnswerForm,
    errors: FieldErrors,
) -> AppResult<CorrectionsPage> {
    let requests = list(&mut ctx.tx, m, t.id, None)
        .await?
        .into_iter()
        .map(|r| {
            let failed = form.request.trim() == r.id.to_string();
            RequestRow {
                id: r.id,
                guardian: r.guardian_name,
                section: r.section_title,
                body: r.body,
                at: r.created_at,
                open: r.status == "open",
                status: status_label(&r.status),
                answer: r.answer.unwrap_or_default(),
                answered: match (r.answered_at, r.answered_by) {
                    (Some(at), Some(by)) => format!("{at} af {by}"),
                    (Some(at), None) => at,
                    _ => String::new(),
                },
                decision_error: if failed {
                    errors.msg("decision").to_string()
                } else {
                    String::new()
                },
                answer_error: if failed {
                    errors.msg("answer").to_string()
                } else {
                    String::new()
                },
                draft: if failed {
                    form.answer.clone()
                } else {
                    String::new()
                },
                decisions: [("resolved", "Rettet"), ("declined", "Ikke rettet")]
                    .into_iter()
                    .map(|(value, label)| Choice {
                        value,
                        label,
                        selected: failed && form.decision.trim() == value,
                    })
                    .collect(),
            }
        })
        .collect();
    Ok(CorrectionsPage {
        layout: ctx.layout(
            &format!("Anmodninger om rettelse – {}", t.child_first_name),
            NAV,
        ),
        id: t.id,
        child: t.child_first_name.clone(),
        requests,
        form_editable: matches!(t.status, Status::Draft | Status::WithParents),
        amendable: matches!(
            t.status,
            Status::Sent | Status::Received | Status::FeedbackRequested | Status::FeedbackGiven
        ),
    })
}

pub async fn show(mut ctx: Ctx, Path(id): Path<Uuid>) -> AppResult<Response> {
    let (access, t) = super::staff::acting(&mut ctx, id).await?;
    let m = access.municipality_id;
    let page = page(
        &mut ctx,
        m,
        &t,
        AnswerForm::default(),
        FieldErrors::default(),
    )
    .await?;
    ctx.audit(
        crate::audit::Entry::new("view", "correction_requests", Some(id))
            .child(t.child_id)
            .details(json!({ "requests": page.requests.len() })),
    )
    .await?;
    ctx.commit().await?;
    Ok(web::render(&page)?.into_response())
}

#[derive(Default, Deserialize)]
#[serde(default)]
pub struct AnswerForm {
    pub request: String,
    pub decision: String,
    pub answer: String,
}

pub async fn answer(
    mut ctx: Ctx,
    Path(id): Path<Uuid>,
    Form(f): Form<AnswerForm>,
) -> AppResult<Response> {
    let (access, t) = super::staff::acting(&mut ctx, id).await?;
    let m = access.municipality_id;
    let request: Uuid = f.request.trim().parse().map_err(|_| {
        AppError::BadRequest(
            "Formularen manglede anmodningen. Genindlæs siden og prøv igen.".into(),
        )
    })?;
    let current = sqlx::query!(
        "SELECT c.status, g.email FROM correction_requests c
         JOIN guardians g ON g.municipality_id = c.municipality_id AND g.id = c.guardian_id
         WHERE c.municipality_id = $1 AND c.transition_id = $2 AND c.id = $3
         FOR UPDATE OF c",
        m,
        id,
        request
    )
    .fetch_optional(&mut *ctx.tx)
    .await?
    .ok_or(AppError::NotFound)?;
    if current.status != "open" {
        return Err(AppError::Conflict(
            "Anmodningen er allerede besvaret. Genindlæs siden for at se svaret.".into(),
        ));
    }
    let mut errors = FieldErrors::default();
    let decision = f.decision.trim();
    if !matches!(decision, "resolved" | "declined") {
        errors.add("decision", "Vælg, om oplysningen er rettet eller ej.");
    }
    let text = multiline_text(&mut errors, "answer", &f.answer, "svaret", MAX_ANSWER, true);
    if !errors.is_empty() {
        let page = page(&mut ctx, m, &t, f, errors).await?;
        return web::render_invalid(&page);
    }
    sqlx::query!(
        "UPDATE correction_requests
         SET status = $4, answer = $5, answered_by = $6, answered_at = clock_timestamp()
         WHERE municipality_id = $1 AND transition_id = $2 AND id = $3",
        m,
        id,
        request,
        decision,
        text,
        ctx.user.id
    )
    .execute(&mut *ctx.tx)
    .await?;
    // The guardian reads the answer on their page; the mail only says there is one (the link
    // itself is not stored, so it cannot be repeated here).
    if let Some(email) = current.email.as_deref() {
        let body = format!(
            "{} har svaret på din anmodning om at rette overleveringen om dit barn.\n\nÅbn linket, du har fået fra institutionen, for at læse svaret. Virker linket ikke længere, så kontakt institutionen.\n",
            t.sending_name
        );
        mail::enqueue(&mut ctx.tx, Some(m), email, ANSWER_SUBJECT, &body).await?;
    }
    ctx.audit(crate::audit::Entry::new("answer", "correction_request", Some(request))
            .child(t.child_id)
            .details(json!({ "transition_id": id, "decision": decision, "length": text.chars().count() })),
    )
    .await?;
    ctx.commit().await?;
    mail::wake();
    Ok(web::redirect_with_flash(
        &path(id),
        Flash::success("Svaret er gemt, og forælderen kan læse det på sin side."),
    ))
}

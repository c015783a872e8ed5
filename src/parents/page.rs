//! The parent page behind the link: no account, one guardian, one transition.
//!
//! The token is never logged (the request span that carries the URI is at debug level). Every
//! kind of bad link (unknown, tampered, expired, revoked, for a cancelled or closed transition, a
//! guardian who no longer has custody) and every posted id that does not belong to the link gets
//! the same 404 page, and changes nothing.

use askama::Template;
use axum::{
    extract::State,
    http::StatusCode,
    response::{Html, IntoResponse, Response},
};
use serde::Deserialize;
use serde_json::json;
use uuid::Uuid;

use super::{Decision, Overview};
use crate::{
    audit::{self, Actor, Entry},
    auth::{session::token_hash, Visitor},
    children::domain::{format_date, parse_date},
    db::{self, Scope, Tx},
    forms::{self, QuestionKind},
    state::AppState,
    web::{self, AppError, AppResult, FieldErrors, Flash, Form, Layout, Path},
};

const MAX_PERSPECTIVE: usize = 10_000;

fn layout(visitor: &Visitor, title: &str) -> Layout {
    let mut layout = Layout::anonymous(title, visitor.0.csrf.clone());
    layout.flash = visitor.0.flash.clone();
    layout
}

#[derive(Template)]
#[template(path = "parents/invalid.html")]
pub struct InvalidPage {
    pub layout: Layout,
}

/// The one answer to every bad link or foreign id.
pub fn invalid(visitor: &Visitor) -> AppResult<Response> {
    let page = InvalidPage {
        layout: layout(visitor, "Linket virker ikke"),
    };
    Ok((StatusCode::NOT_FOUND, Html(page.render()?)).into_response())
}

/// Tokens are 32 random bytes in unpadded base64url; anything else cannot be one.
fn plausible(token: &str) -> bool {
    token.len() == 43
        && token
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// A usable link, with its transaction already in the link's municipality scope.
pub struct Link {
    pub tx: Tx,
    pub municipality_id: Uuid,
    pub link_id: Uuid,
    pub guardian_id: Uuid,
    pub guardian_name: String,
    pub transition: Overview,
}

impl Link {
    fn actor(&self, visitor: &Visitor) -> Actor {
        Actor {
            user_id: None,
            role: Some("guardian".into()),
            municipality_id: Some(self.municipality_id),
            client_addr: visitor.0.client_addr,
        }
    }

    fn entry<'a>(&self, action: &'a str, entity: &'a str, id: Option<Uuid>) -> Entry<'a> {
        Entry::new(action, entity, id)
            .child(self.transition.child_id)
            .details(json!({
                "transition_id": self.transition.id,
                "guardian_id": self.guardian_id,
                "link_id": self.link_id,
            }))
    }
}

/// The link behind `token`, if it works: known, unexpired, not revoked, its transition open and
/// past the draft, its guardian still with custody of the child.
pub async fn open(state: &AppState, token: &str) -> AppResult<Option<Link>> {
    if !plausible(token) {
        return Ok(None);
    }
    let mut tx = db::begin(&state.db, Scope::None).await?;
    let found = sqlx::query!(
        r#"SELECT municipality_id AS "municipality_id!", link_id AS "link_id!",
                  transition_id AS "transition_id!", guardian_id AS "guardian_id!",
                  expires_at > now() AS "live!", revoked AS "revoked!"
           FROM parent_link_find($1)"#,
        token_hash(token)
    )
    .fetch_optional(&mut *tx)
    .await?;
    let Some(found) = found.filter(|f| f.live && !f.revoked) else {
        return Ok(None);
    };
    let m = found.municipality_id;
    db::set_scope(&mut tx, Scope::Municipality(m)).await?;
    let Some(transition) = super::overview(&mut tx, m, found.transition_id).await? else {
        return Ok(None);
    };
    if !super::link_usable(transition.status) {
        return Ok(None);
    }
    let guardian = sqlx::query_scalar!(
        "SELECT name FROM guardians
         WHERE municipality_id = $1 AND id = $2 AND child_id = $3 AND has_custody",
        m,
        found.guardian_id,
        transition.child_id
    )
    .fetch_optional(&mut *tx)
    .await?;
    let Some(guardian_name) = guardian else {
        return Ok(None);
    };
    Ok(Some(Link {
        tx,
        municipality_id: m,
        link_id: found.link_id,
        guardian_id: found.guardian_id,
        guardian_name,
        transition,
    }))
}

// ---------------------------------------------------------------------------------------------
// The page

pub struct AnswerView {
    pub label: String,
    pub answer: String,
}

pub struct SectionView {
    pub title: String,
    pub answers: Vec<AnswerView>,
}

pub struct ConsentView {
    pub section_id: Uuid,
    pub title: String,
    /// "", "given", "refused" or "withdrawn".
    pub current: String,
    pub current_label: &'static str,
}

#[derive(Template)]
#[template(path = "parents/page.html")]
pub struct ParentPage {
    pub layout: Layout,
    pub action: String,
    pub guardian_id: Uuid,
    pub guardian_name: String,
    pub child: String,
    pub sending: String,
    pub receiving: String,
    pub sections: Vec<SectionView>,
    pub perspective: String,
    pub perspective_error: String,
    pub editable: bool,
    pub sent: bool,
    pub consents: Vec<ConsentView>,
    pub retention: String,
}

/// "1825 dage (cirka 5 år)".
fn retention_text(days: i32) -> String {
    let years = (days as f64 / 365.0).round() as i32;
    if years >= 1 {
        format!(
            "{days} dage (cirka {years} år) efter, at overgangen er afsluttet. Derefter slettes oplysningerne"
        )
    } else {
        format!("{days} dage efter, at overgangen er afsluttet. Derefter slettes oplysningerne")
    }
}

fn display_answer(kind: QuestionKind, value: Option<&str>, values: &[String]) -> String {
    let value = value.map(str::trim).unwrap_or_default();
    match kind {
        QuestionKind::MultiChoice => values.join(", "),
        QuestionKind::Scale1To4 | QuestionKind::TrafficLight => kind
            .scale()
            .iter()
            .find(|(v, _)| *v == value)
            .map(|(_, l)| l.to_string())
            .unwrap_or_else(|| value.to_string()),
        QuestionKind::Date => parse_date(value)
            .map(format_date)
            .unwrap_or_else(|| value.to_string()),
        _ => value.to_string(),
    }
}

async fn page(link: &mut Link, visitor: &Visitor, token: &str) -> AppResult<ParentPage> {
    let m = link.municipality_id;
    let t = &link.transition;
    let template = forms::load_template(&mut link.tx, m, t.template_id)
        .await?
        .ok_or(AppError::NotFound)?;
    let answers = sqlx::query!(
        r#"SELECT question_id, value, "values" AS "values!" FROM answers
           WHERE municipality_id = $1 AND transition_id = $2"#,
        m,
        t.id
    )
    .fetch_all(&mut *link.tx)
    .await?;
    let sections = template
        .sections
        .iter()
        .map(|s| SectionView {
            title: s.title.clone(),
            answers: s
                .questions
                .iter()
                .filter(|q| q.visible_to_parents)
                .map(|q| {
                    let a = answers.iter().find(|a| a.question_id == q.id);
                    let text = a
                        .map(|a| display_answer(q.kind, a.value.as_deref(), &a.values))
                        .unwrap_or_default();
                    AnswerView {
                        label: q.label.clone(),
                        answer: if text.trim().is_empty() {
                            "Ikke udfyldt".into()
                        } else {
                            text
                        },
                    }
                })
                .collect(),
        })
        .filter(|s| !s.answers.is_empty())
        .collect();
    let perspective = sqlx::query_scalar!(
        "SELECT body FROM parent_perspectives
         WHERE municipality_id = $1 AND transition_id = $2 AND guardian_id = $3",
        m,
        t.id,
        link.guardian_id
    )
    .fetch_optional(&mut *link.tx)
    .await?
    .unwrap_or_default();
    let decisions = super::current_decisions(&mut link.tx, m, t.id).await?;
    let consents = super::sensitive_sections(&mut link.tx, m, t.id)
        .await?
        .into_iter()
        .map(|s| {
            let current = super::current_of(&decisions, link.guardian_id, s.id);
            ConsentView {
                section_id: s.id,
                title: s.title,
                current: current.unwrap_or_default().to_string(),
                current_label: super::decision_label(current),
            }
        })
        .collect();
    Ok(ParentPage {
        layout: layout(
            visitor,
            &format!("Overleveringen om {}", t.child_first_name),
        ),
        action: super::parent_path(token),
        guardian_id: link.guardian_id,
        guardian_name: link.guardian_name.clone(),
        child: t.child_first_name.clone(),
        sending: t.sending_name.clone(),
        receiving: t.receiving_name.clone(),
        sections,
        perspective,
        perspective_error: String::new(),
        editable: super::perspective_editable(t.status),
        sent: super::is_sent(t.status),
        consents,
        retention: retention_text(t.retention_days),
    })
}

pub async fn show(
    State(state): State<AppState>,
    visitor: Visitor,
    Path(token): Path<String>,
) -> AppResult<Response> {
    let Some(mut link) = open(&state, &token).await? else {
        return invalid(&visitor);
    };
    sqlx::query!(
        "UPDATE parent_links SET first_opened_at = coalesce(first_opened_at, now()), last_opened_at = now()
         WHERE municipality_id = $1 AND id = $2",
        link.municipality_id,
        link.link_id
    )
    .execute(&mut *link.tx)
    .await?;
    let page = page(&mut link, &visitor, &token).await?;
    let actor = link.actor(&visitor);
    let entry = link.entry("view", "parent_page", Some(link.transition.id));
    audit::record(&mut link.tx, &actor, entry).await?;
    link.tx.commit().await?;
    Ok(web::render(&page)?.into_response())
}

#[derive(Default, Deserialize)]
#[serde(default)]
pub struct PerspectiveForm {
    pub guardian: String,
    pub perspective: String,
}

/// The posted guardian must be the link's own: anything else is treated like a bad link.
fn same_guardian(link: &Link, posted: &str) -> bool {
    posted.trim().parse::<Uuid>().ok() == Some(link.guardian_id)
}

async fn mark_responded(link: &mut Link) -> Result<(), sqlx::Error> {
    sqlx::query!(
        "UPDATE parent_links SET responded_at = coalesce(responded_at, now())
         WHERE municipality_id = $1 AND id = $2",
        link.municipality_id,
        link.link_id
    )
    .execute(&mut *link.tx)
    .await?;
    Ok(())
}

pub async fn save_perspective(
    State(state): State<AppState>,
    visitor: Visitor,
    Path(token): Path<String>,
    Form(f): Form<PerspectiveForm>,
) -> AppResult<Response> {
    let Some(mut link) = open(&state, &token).await? else {
        return invalid(&visitor);
    };
    if !same_guardian(&link, &f.guardian) {
        return invalid(&visitor);
    }
    if !super::perspective_editable(link.transition.status) {
        return Err(AppError::Conflict(
            "Overleveringen er sendt til modtageren, så dit perspektiv kan ikke længere ændres. Du kan stadig trække et samtykke tilbage på siden."
                .into(),
        ));
    }
    let text = f.perspective.trim().replace("\r\n", "\n");
    if text.chars().count() > MAX_PERSPECTIVE {
        let mut p = page(&mut link, &visitor, &token).await?;
        p.perspective = f.perspective.chars().take(MAX_PERSPECTIVE * 2).collect();
        let mut errors = FieldErrors::default();
        errors.add(
            "perspective",
            format!("Skriv højst {MAX_PERSPECTIVE} tegn. Forkort teksten og prøv igen."),
        );
        p.perspective_error = errors.msg("perspective").to_string();
        return web::render_invalid(&p);
    }
    let (m, t, g) = (link.municipality_id, link.transition.id, link.guardian_id);
    if text.is_empty() {
        sqlx::query!(
            "DELETE FROM parent_perspectives
             WHERE municipality_id = $1 AND transition_id = $2 AND guardian_id = $3",
            m,
            t,
            g
        )
        .execute(&mut *link.tx)
        .await?;
    } else {
        sqlx::query!(
            "INSERT INTO parent_perspectives (municipality_id, transition_id, guardian_id, body)
             VALUES ($1, $2, $3, $4)
             ON CONFLICT (municipality_id, transition_id, guardian_id)
             DO UPDATE SET body = EXCLUDED.body, updated_at = now()",
            m,
            t,
            g,
            text
        )
        .execute(&mut *link.tx)
        .await?;
    }
    mark_responded(&mut link).await?;
    let actor = link.actor(&visitor);
    let mut entry = link.entry("perspective", "parent_perspective", Some(t));
    entry.details["length"] = json!(text.chars().count());
    audit::record(&mut link.tx, &actor, entry).await?;
    link.tx.commit().await?;
    Ok(web::redirect_with_flash(
        &super::parent_path(&token),
        Flash::success(if text.is_empty() {
            "Dit perspektiv er fjernet."
        } else {
            "Tak. Dit perspektiv er gemt."
        }),
    ))
}

#[derive(Default, Deserialize)]
#[serde(default)]
pub struct DecisionForm {
    pub guardian: String,
    pub section: String,
    pub decision: String,
}

pub async fn decide(
    State(state): State<AppState>,
    visitor: Visitor,
    Path(token): Path<String>,
    Form(f): Form<DecisionForm>,
) -> AppResult<Response> {
    let Some(mut link) = open(&state, &token).await? else {
        return invalid(&visitor);
    };
    if !same_guardian(&link, &f.guardian) {
        return invalid(&visitor);
    }
    let (m, t) = (link.municipality_id, link.transition.id);
    let sections = super::sensitive_sections(&mut link.tx, m, t).await?;
    let Some(section) = f
        .section
        .trim()
        .parse::<Uuid>()
        .ok()
        .and_then(|id| sections.iter().find(|s| s.id == id))
    else {
        return invalid(&visitor);
    };
    let Some(decision) = Decision::parse(f.decision.trim()) else {
        return Err(AppError::BadRequest(
            "Vælg, om du giver samtykke eller ej. Gå tilbage og prøv igen.".into(),
        ));
    };
    let decisions = super::current_decisions(&mut link.tx, m, t).await?;
    let current = super::current_of(&decisions, link.guardian_id, section.id);
    if decision == Decision::Withdrawn && current != Some("given") {
        return Err(AppError::Conflict(
            "Der er ikke et samtykke at trække tilbage for dette afsnit.".into(),
        ));
    }
    let message = match decision {
        Decision::Given => format!("Tak. Du har givet samtykke til «{}».", section.title),
        Decision::Refused => format!("Du har sagt nej til at give «{}» videre.", section.title),
        Decision::Withdrawn => format!(
            "Dit samtykke til «{}» er trukket tilbage. {} kan ikke se afsnittet.",
            section.title, link.transition.receiving_name
        ),
    };
    // Pressing the same button twice records nothing new.
    if current != Some(decision.as_str()) {
        let actor = link.actor(&visitor);
        super::record_decision(
            &mut link.tx,
            &actor,
            &state.config,
            &link.transition,
            m,
            super::NewDecision {
                guardian_id: link.guardian_id,
                section_id: section.id,
                decision,
                recorded_by: None,
                note: None,
            },
        )
        .await?;
        mark_responded(&mut link).await?;
    }
    link.tx.commit().await?;
    crate::mail::wake();
    Ok(web::redirect_with_flash(
        &format!("{}#samtykke", super::parent_path(&token)),
        Flash::success(message),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_well_formed_tokens_are_looked_up() {
        assert!(plausible(&crate::auth::session::random_token()));
        assert!(!plausible("kort"));
        assert!(!plausible(&format!("{}=", "a".repeat(42))));
    }

    #[test]
    fn answers_are_shown_in_words() {
        assert_eq!(
            display_answer(QuestionKind::TrafficLight, Some("green"), &[]),
            "Grøn – trives og udvikler sig godt"
        );
        assert_eq!(
            display_answer(QuestionKind::Date, Some("2027-01-02"), &[]),
            "02-01-2027"
        );
        assert_eq!(
            display_answer(QuestionKind::MultiChoice, None, &["a".into(), "b".into()]),
            "a, b"
        );
        assert!(retention_text(1825).contains("cirka 5 år"));
    }
}

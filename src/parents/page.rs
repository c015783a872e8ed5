//! The parent page behind the link: no account, one guardian, one transition.
//!
//! The token is never logged (the request span that carries the URI is at debug level). Every
//! kind of bad link (unknown, tampered, expired, revoked, for a cancelled or closed transition, a
//! guardian who no longer has custody) and every posted id that does not belong to the link gets
//! the same 404 page, and changes nothing.

use askama::Template;
use axum::{
    extract::{FromRequestParts, State},
    http::{request::Parts, HeaderMap, StatusCode, Uri},
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
    i18n::{self, Tr},
    state::AppState,
    web::{self, layout::LayoutI18n, AppError, AppResult, Flash, Form, Layout, Path},
};

const MAX_PERSPECTIVE: usize = 10_000;
/// A correction request: what is wrong, in a few sentences.
pub const MAX_CORRECTION: usize = 2_000;
/// Open requests one guardian may have waiting on one transition.
const MAX_OPEN_CORRECTIONS: i64 = 10;

/// The language of a parents' page: `?lang=`, the cookie, `Accept-Language`, else Danish.
pub struct Lang {
    pub tr: Tr,
    langs: Vec<i18n::LangLink>,
    /// Chosen through `?lang=` on this request: remember it.
    remember: bool,
    secure: bool,
}

impl FromRequestParts<AppState> for Lang {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, AppError> {
        let (code, remember) = i18n::negotiate(&state.i18n, parts.uri.query(), &parts.headers);
        Ok(Lang {
            tr: state.i18n.tr(&code),
            langs: i18n::lang_links(&state.i18n, &code),
            remember,
            secure: state.config.secure_cookies,
        })
    }
}

impl Lang {
    /// Sets the language cookie when the visitor just chose a language.
    fn finish(&self, mut response: Response) -> Response {
        if self.remember {
            web::set_cookie(
                &mut response,
                i18n::lang_cookie(self.tr.lang(), self.secure),
            );
        }
        response
    }

    fn layout(&self, visitor: &Visitor, tr: &Tr, title: &str) -> Layout {
        let mut layout = Layout::anonymous(title, visitor.0.csrf.clone());
        layout.flash = visitor.0.flash.clone();
        layout.i18n = Some(LayoutI18n {
            tr: tr.clone(),
            langs: self.langs.clone(),
        });
        layout
    }
}

#[derive(Template)]
#[template(path = "parents/invalid.html")]
pub struct InvalidPage {
    pub layout: Layout,
    pub t: Tr,
}

/// The one answer to every bad link or foreign id.
pub fn invalid(visitor: &Visitor, lang: &Lang) -> AppResult<Response> {
    let t = lang.tr.clone().var("days", super::LINK_VALID_DAYS);
    let page = InvalidPage {
        layout: lang.layout(visitor, &t, &t.t("invalid.title")),
        t,
    };
    Ok(lang.finish((StatusCode::NOT_FOUND, Html(page.render()?)).into_response()))
}

#[derive(Template)]
#[template(path = "parents/error.html")]
pub struct ProblemPage {
    pub layout: Layout,
    pub t: Tr,
    pub status: u16,
    pub heading: String,
    pub message: String,
    /// Back to the page ("" when the link itself is not known to work).
    pub back: String,
}

/// A refusal on a parents' page, in the page's language.
fn problem(
    visitor: &Visitor,
    lang: &Lang,
    status: StatusCode,
    heading_key: &str,
    message: String,
    back: String,
) -> AppResult<Response> {
    let t = lang.tr.clone();
    let heading = t.t(heading_key);
    let page = ProblemPage {
        layout: lang.layout(visitor, &t, &heading),
        t,
        status: status.as_u16(),
        heading,
        message,
        back,
    };
    Ok(lang.finish((status, Html(page.render()?)).into_response()))
}

/// A request the session layer refused before any handler ran (CSRF check, body too large,
/// not a form, a NUL in the address), answered in the visitor's language when it was for a
/// parents' page.
pub fn refusal(state: &AppState, headers: &HeaderMap, uri: &Uri, err: AppError) -> Response {
    let (code, _) = i18n::negotiate(&state.i18n, uri.query(), headers);
    let tr = state.i18n.tr(&code);
    let (status, heading, message) = match err {
        AppError::Csrf => (StatusCode::FORBIDDEN, "error.csrf", tr.t("error.csrf_text")),
        AppError::PayloadTooLarge => (
            StatusCode::PAYLOAD_TOO_LARGE,
            "error.too_large",
            tr.t("error.too_large_text"),
        ),
        AppError::UnsupportedMediaType => (
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "error.bad_request",
            tr.t("error.bad_form"),
        ),
        AppError::TooManyRequests(_) => (
            StatusCode::TOO_MANY_REQUESTS,
            "error.busy",
            tr.t("error.busy_text"),
        ),
        AppError::BadRequest(m) => (
            StatusCode::BAD_REQUEST,
            "error.bad_request",
            tr.t(if m == web::BAD_QUERY {
                "error.bad_query"
            } else {
                "error.bad_form"
            }),
        ),
        other => return other.into_response(),
    };
    // "/foraelder/{token}/consent" → back to "/foraelder/{token}"
    let back = uri.path().split('/').take(3).collect::<Vec<_>>().join("/");
    let heading = tr.t(heading);
    let mut layout = Layout::anonymous(&heading, String::new());
    layout.i18n = Some(LayoutI18n {
        tr: tr.clone(),
        langs: i18n::lang_links(&state.i18n, &code),
    });
    let page = ProblemPage {
        layout,
        t: tr,
        status: status.as_u16(),
        heading,
        message,
        back,
    };
    match page.render() {
        Ok(html) => (status, Html(html)).into_response(),
        Err(e) => AppError::from(e).into_response(),
    }
}

/// A form the extractor refused (not a form, too large, malformed), in the page's language.
fn form_problem(
    visitor: &Visitor,
    lang: &Lang,
    err: AppError,
    back: String,
) -> AppResult<Response> {
    match err {
        AppError::PayloadTooLarge => problem(
            visitor,
            lang,
            StatusCode::PAYLOAD_TOO_LARGE,
            "error.too_large",
            lang.tr.t("error.too_large_text"),
            back,
        ),
        AppError::UnsupportedMediaType => problem(
            visitor,
            lang,
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "error.bad_request",
            lang.tr.t("error.bad_form"),
            back,
        ),
        _ => problem(
            visitor,
            lang,
            StatusCode::BAD_REQUEST,
            "error.bad_request",
            lang.tr.t("error.bad_form"),
            back,
        ),
    }
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
    /// The answer is in the page's language (a scale value or "not filled in"), not the staff's
    /// Danish.
    pub translated: bool,
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
    pub current_label: String,
}

pub struct SectionChoice {
    pub value: String,
    pub label: String,
    pub selected: bool,
}

/// One of the guardian's own correction requests.
pub struct RequestView {
    pub section: String,
    pub at: String,
    pub body: String,
    /// "open", "resolved" or "declined".
    pub status: String,
    pub answer: String,
    pub answered_at: String,
}

#[derive(Template)]
#[template(path = "parents/page.html")]
pub struct ParentPage {
    pub layout: Layout,
    /// The page's messages, with child, guardian, sending and receiving filled in.
    pub t: Tr,
    pub action: String,
    pub guardian_id: Uuid,
    pub sections: Vec<SectionView>,
    /// What the sender added after sending: the guardians see it as the receiver does.
    pub amendments: Vec<crate::transitions::amendments::AmendmentView>,
    pub perspective: String,
    pub perspective_error: String,
    pub editable: bool,
    pub sent: bool,
    pub consents: Vec<ConsentView>,
    pub retention: String,
    pub correction_sections: Vec<SectionChoice>,
    pub correction: String,
    pub correction_error: String,
    pub correction_section_error: String,
    pub requests: Vec<RequestView>,
    pub max_perspective: usize,
    pub max_correction: usize,
}

/// "1825 dage (cirka 5 år) …".
fn retention_text(t: &Tr, days: i32) -> String {
    let years = (days as f64 / 365.0).round() as i32;
    if years >= 1 {
        t.with2("retention.years", &("days", days), &("years", years))
    } else {
        t.with("retention.days", "days", days)
    }
}

fn display_answer(t: &Tr, kind: QuestionKind, value: Option<&str>, values: &[String]) -> String {
    let value = value.map(str::trim).unwrap_or_default();
    match kind {
        QuestionKind::MultiChoice => values.join(", "),
        QuestionKind::Scale1To4 | QuestionKind::TrafficLight => {
            if kind.scale().iter().any(|(v, _)| *v == value) {
                t.t(&format!("scale.{value}"))
            } else {
                value.to_string()
            }
        }
        QuestionKind::Date => parse_date(value)
            .map(format_date)
            .unwrap_or_else(|| value.to_string()),
        _ => value.to_string(),
    }
}

fn decision_label(t: &Tr, current: Option<&str>) -> String {
    match current.and_then(Decision::parse) {
        Some(d) => t.t(&format!("decision.{}", d.as_str())),
        None => t.t("decision.none"),
    }
}

/// The page's translator: the page's names fill the placeholders of every message.
fn page_tr(lang: &Lang, link: &Link) -> Tr {
    let t = &link.transition;
    lang.tr
        .clone()
        .var("child", &t.child_first_name)
        .var("guardian", &link.guardian_name)
        .var("sending", &t.sending_name)
        .var("receiving", &t.receiving_name)
}

/// The sections a parent sees (those with a question shown to parents): what they may ask to
/// have corrected.
async fn visible_sections(link: &mut Link) -> AppResult<Vec<forms::Section>> {
    let m = link.municipality_id;
    let t = &link.transition;
    let template = forms::load_template(&mut link.tx, m, t.template_id)
        .await?
        .ok_or(AppError::NotFound)?;
    Ok(template
        .sections
        .iter()
        .filter(|s| s.questions.iter().any(|q| q.visible_to_parents))
        .cloned()
        .collect())
}

async fn page(
    link: &mut Link,
    visitor: &Visitor,
    lang: &Lang,
    token: &str,
) -> AppResult<ParentPage> {
    let tr = page_tr(lang, link);
    let m = link.municipality_id;
    let transition_id = link.transition.id;
    let answers = sqlx::query!(
        r#"SELECT question_id, value, "values" AS "values!" FROM answers
           WHERE municipality_id = $1 AND transition_id = $2"#,
        m,
        transition_id
    )
    .fetch_all(&mut *link.tx)
    .await?;
    let visible = visible_sections(link).await?;
    let correction_sections = visible
        .iter()
        .map(|s| SectionChoice {
            value: s.id.to_string(),
            label: s.title.clone(),
            selected: false,
        })
        .collect();
    let sections = visible
        .into_iter()
        .map(|s| SectionView {
            title: s.title.clone(),
            answers: s
                .questions
                .iter()
                .filter(|q| q.visible_to_parents)
                .map(|q| {
                    let a = answers.iter().find(|a| a.question_id == q.id);
                    let text = a
                        .map(|a| display_answer(&tr, q.kind, a.value.as_deref(), &a.values))
                        .unwrap_or_default();
                    let value = a
                        .and_then(|a| a.value.as_deref())
                        .unwrap_or_default()
                        .trim();
                    let empty = text.trim().is_empty();
                    AnswerView {
                        label: q.label.clone(),
                        translated: empty
                            || (matches!(
                                q.kind,
                                QuestionKind::Scale1To4 | QuestionKind::TrafficLight
                            ) && q.kind.scale().iter().any(|(v, _)| *v == value)),
                        answer: if empty {
                            tr.t("handover.not_filled")
                        } else {
                            text
                        },
                    }
                })
                .collect(),
        })
        .collect();
    let perspective = sqlx::query_scalar!(
        "SELECT body FROM parent_perspectives
         WHERE municipality_id = $1 AND transition_id = $2 AND guardian_id = $3",
        m,
        transition_id,
        link.guardian_id
    )
    .fetch_optional(&mut *link.tx)
    .await?
    .unwrap_or_default();
    let decisions = super::current_decisions(&mut link.tx, m, transition_id).await?;
    let consents = super::sensitive_sections(&mut link.tx, m, transition_id)
        .await?
        .into_iter()
        .map(|s| {
            let current = super::current_of(&decisions, link.guardian_id, s.id);
            ConsentView {
                section_id: s.id,
                title: s.title,
                current: current.unwrap_or_default().to_string(),
                current_label: decision_label(&tr, current),
            }
        })
        .collect();
    let requests = super::corrections::list(&mut link.tx, m, transition_id, Some(link.guardian_id))
        .await?
        .into_iter()
        .map(|r| RequestView {
            section: r.section_title,
            at: r.created_at,
            body: r.body,
            status: r.status,
            answer: r.answer.unwrap_or_default(),
            answered_at: r.answered_at.unwrap_or_default(),
        })
        .collect();
    let sent = super::is_sent(link.transition.status);
    let amendments = if sent {
        crate::transitions::amendments::list(&mut link.tx, m, transition_id, None).await?
    } else {
        Vec::new()
    };
    let t = &link.transition;
    Ok(ParentPage {
        layout: lang.layout(visitor, &tr, &tr.t("page.title")),
        action: super::parent_path(token),
        guardian_id: link.guardian_id,
        sections,
        amendments,
        perspective,
        perspective_error: String::new(),
        editable: super::perspective_editable(t.status),
        sent,
        consents,
        retention: retention_text(&tr, t.retention_days),
        correction_sections,
        correction: String::new(),
        correction_error: String::new(),
        correction_section_error: String::new(),
        requests,
        max_perspective: MAX_PERSPECTIVE,
        max_correction: MAX_CORRECTION,
        t: tr,
    })
}

pub async fn show(
    State(state): State<AppState>,
    visitor: Visitor,
    lang: Lang,
    Path(token): Path<String>,
) -> AppResult<Response> {
    let Some(mut link) = open(&state, &token).await? else {
        return invalid(&visitor, &lang);
    };
    sqlx::query!(
        "UPDATE parent_links SET first_opened_at = coalesce(first_opened_at, now()), last_opened_at = now()
         WHERE municipality_id = $1 AND id = $2",
        link.municipality_id,
        link.link_id
    )
    .execute(&mut *link.tx)
    .await?;
    let page = page(&mut link, &visitor, &lang, &token).await?;
    let actor = link.actor(&visitor);
    let entry = link.entry("view", "parent_page", Some(link.transition.id));
    audit::record(&mut link.tx, &actor, entry).await?;
    link.tx.commit().await?;
    Ok(lang.finish(web::render(&page)?.into_response()))
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

/// A form posted from the page: it names the guardian it was shown to.
trait GuardianForm {
    fn guardian(&self) -> &str;
}

impl GuardianForm for PerspectiveForm {
    fn guardian(&self) -> &str {
        &self.guardian
    }
}

impl GuardianForm for DecisionForm {
    fn guardian(&self) -> &str {
        &self.guardian
    }
}

impl GuardianForm for CorrectionForm {
    fn guardian(&self) -> &str {
        &self.guardian
    }
}

/// What every post to the page starts with: the link behind `token` (else the bad-link answer),
/// the form the extractor accepted (else the form problem, in the page's language) and the
/// link's own guardian in it (else the bad-link answer). Gives the open link, the page's path and
/// the form, or the answer to send as it is.
async fn posted<F: GuardianForm>(
    state: &AppState,
    visitor: &Visitor,
    lang: &Lang,
    token: &str,
    form: Result<Form<F>, AppError>,
) -> AppResult<Result<(Link, String, F), Response>> {
    let Some(mut link) = open(state, token).await? else {
        return invalid(visitor, lang).map(Err);
    };
    let back = super::parent_path(token);
    let f = match form {
        Ok(Form(f)) => f,
        Err(e) => return form_problem(visitor, lang, e, back).map(Err),
    };
    if !same_guardian(&link, f.guardian()) {
        return invalid(visitor, lang).map(Err);
    }
    if !hold(&mut link).await? {
        return invalid(visitor, lang).map(Err);
    }
    Ok(Ok((link, back, f)))
}

/// For a change through the link: takes the transition's row, then the link's (the order in
/// which staff's changes take them), and checks again what `open` read before it held either.
/// A revoke, or a status change such as sending the handover, committed meanwhile is seen
/// here: the link must still work and the status still allow it, and `link.transition.status`
/// is the status as it is now, for the handler's own checks.
async fn hold(link: &mut Link) -> Result<bool, sqlx::Error> {
    let (m, t) = (link.municipality_id, link.transition.id);
    let Some((status, _)) = crate::transitions::queries::lock(&mut link.tx, m, t).await? else {
        return Ok(false);
    };
    link.transition.status = status;
    let live = super::lock_live_link(&mut link.tx, m, link.link_id).await?;
    Ok(live && super::link_usable(status))
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

/// Line breaks and tabs are text; other control characters are not.
fn has_control(text: &str) -> bool {
    text.chars()
        .any(|c| c.is_control() && c != '\n' && c != '\t')
}

pub async fn save_perspective(
    State(state): State<AppState>,
    visitor: Visitor,
    lang: Lang,
    Path(token): Path<String>,
    form: Result<Form<PerspectiveForm>, AppError>,
) -> AppResult<Response> {
    let (mut link, back, f) = match posted(&state, &visitor, &lang, &token, form).await? {
        Ok(p) => p,
        Err(answer) => return Ok(answer),
    };
    if !super::perspective_editable(link.transition.status) {
        return problem(
            &visitor,
            &lang,
            StatusCode::CONFLICT,
            "error.conflict",
            lang.tr.t("perspective.not_editable"),
            back,
        );
    }
    let text = f.perspective.trim().replace("\r\n", "\n");
    if text.chars().count() > MAX_PERSPECTIVE || has_control(&text) {
        let mut p = page(&mut link, &visitor, &lang, &token).await?;
        p.perspective = f.perspective.chars().take(MAX_PERSPECTIVE * 2).collect();
        p.perspective_error = p.t.with("perspective.too_long", "max", MAX_PERSPECTIVE);
        return Ok(lang.finish(web::render_invalid(&p)?));
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
        &back,
        Flash::success(lang.tr.t(if text.is_empty() {
            "perspective.removed"
        } else {
            "perspective.saved"
        })),
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
    lang: Lang,
    Path(token): Path<String>,
    form: Result<Form<DecisionForm>, AppError>,
) -> AppResult<Response> {
    let (mut link, back, f) = match posted(&state, &visitor, &lang, &token, form).await? {
        Ok(p) => p,
        Err(answer) => return Ok(answer),
    };
    let (m, t) = (link.municipality_id, link.transition.id);
    let sections = super::sensitive_sections(&mut link.tx, m, t).await?;
    let Some(section) = f
        .section
        .trim()
        .parse::<Uuid>()
        .ok()
        .and_then(|id| sections.iter().find(|s| s.id == id))
    else {
        return invalid(&visitor, &lang);
    };
    let tr = page_tr(&lang, &link).var("section", &section.title);
    let Some(decision) = Decision::parse(f.decision.trim()) else {
        return problem(
            &visitor,
            &lang,
            StatusCode::BAD_REQUEST,
            "error.bad_request",
            tr.t("consent.choose"),
            back,
        );
    };
    // under the transition's lock (`posted`)
    let decisions = super::current_decisions(&mut link.tx, m, t).await?;
    let current = super::current_of(&decisions, link.guardian_id, section.id);
    if decision == Decision::Withdrawn && current != Some("given") {
        return problem(
            &visitor,
            &lang,
            StatusCode::CONFLICT,
            "error.conflict",
            tr.t("consent.nothing_to_withdraw"),
            back,
        );
    }
    let message = tr.t(match decision {
        Decision::Given => "consent.given",
        Decision::Refused => "consent.refused",
        Decision::Withdrawn => "consent.withdrawn",
    });
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
        &format!("{back}#samtykke"),
        Flash::success(message),
    ))
}

#[derive(Default, Deserialize)]
#[serde(default)]
pub struct CorrectionForm {
    pub guardian: String,
    pub section: String,
    pub correction: String,
}

/// A guardian asks the sender to correct a section of the handover.
pub async fn request_correction(
    State(state): State<AppState>,
    visitor: Visitor,
    lang: Lang,
    Path(token): Path<String>,
    form: Result<Form<CorrectionForm>, AppError>,
) -> AppResult<Response> {
    let (mut link, back, f) = match posted(&state, &visitor, &lang, &token, form).await? {
        Ok(p) => p,
        Err(answer) => return Ok(answer),
    };
    let sections = visible_sections(&mut link).await?;
    let raw_section = f.section.trim();
    let section = if raw_section.is_empty() {
        None
    } else {
        // A section not on this page is a foreign id: the bad-link answer.
        match raw_section
            .parse::<Uuid>()
            .ok()
            .and_then(|id| sections.iter().find(|s| s.id == id))
        {
            Some(s) => Some((s.id, s.title.clone())),
            None => return invalid(&visitor, &lang),
        }
    };
    let text = f.correction.trim().replace("\r\n", "\n");
    let (m, t, g) = (link.municipality_id, link.transition.id, link.guardian_id);
    let (open_now, sent_before) = super::corrections::open_of_guardian(
        &mut link.tx,
        m,
        t,
        g,
        section.as_ref().map(|s| s.0),
        &text,
    )
    .await?;
    let tr = page_tr(&lang, &link);
    let mut body_error = String::new();
    if text.is_empty() {
        body_error = tr.t("corrections.empty");
    } else if text.chars().count() > MAX_CORRECTION || has_control(&text) {
        body_error = tr.with("corrections.too_long", "max", MAX_CORRECTION);
    } else if open_now >= MAX_OPEN_CORRECTIONS && !sent_before {
        body_error = tr.with("corrections.too_many", "max", MAX_OPEN_CORRECTIONS);
    }
    let section_error = if section.is_none() {
        tr.t("corrections.pick_section")
    } else {
        String::new()
    };
    let Some((section_id, section_title)) = section.filter(|_| body_error.is_empty()) else {
        let mut p = page(&mut link, &visitor, &lang, &token).await?;
        p.correction = f.correction.chars().take(MAX_CORRECTION * 2).collect();
        p.correction_error = body_error;
        p.correction_section_error = section_error;
        for c in p.correction_sections.iter_mut() {
            c.selected = c.value == raw_section;
        }
        return Ok(lang.finish(web::render_invalid(&p)?));
    };
    let sent = Flash::success(tr.t("corrections.sent"));
    // The same request again (a double click) is not a second request.
    if sent_before {
        return Ok(web::redirect_with_flash(&format!("{back}#rettelser"), sent));
    }
    let id = super::corrections::insert(
        &mut link.tx,
        &state.config,
        &link.transition,
        m,
        super::corrections::NewRequest {
            guardian_id: g,
            link_id: link.link_id,
            section_id,
            body: &text,
        },
    )
    .await?;
    mark_responded(&mut link).await?;
    let actor = link.actor(&visitor);
    let mut entry = link.entry("request_correction", "correction_request", Some(id));
    entry.details["section_id"] = json!(section_id);
    entry.details["section"] = json!(section_title);
    entry.details["length"] = json!(text.chars().count());
    audit::record(&mut link.tx, &actor, entry).await?;
    link.tx.commit().await?;
    crate::mail::wake();
    Ok(web::redirect_with_flash(&format!("{back}#rettelser"), sent))
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
    fn answers_are_shown_in_words_of_the_page_language() {
        let c = i18n::Catalogues::load(&i18n::default_dir()).unwrap();
        let da = c.tr("da");
        assert_eq!(
            display_answer(&da, QuestionKind::TrafficLight, Some("green"), &[]),
            "Grøn – trives og udvikler sig godt"
        );
        assert_eq!(
            display_answer(&c.tr("en"), QuestionKind::Scale1To4, Some("4"), &[]),
            "4 – manages really well"
        );
        assert_eq!(
            display_answer(&da, QuestionKind::Date, Some("2027-01-02"), &[]),
            "02-01-2027"
        );
        assert_eq!(
            display_answer(
                &da,
                QuestionKind::MultiChoice,
                None,
                &["a".into(), "b".into()]
            ),
            "a, b"
        );
        assert!(retention_text(&da, 1825).contains("cirka 5 år"));
        assert!(retention_text(&c.tr("en"), 1825).contains("about 5 years"));
        assert_eq!(decision_label(&c.tr("en"), Some("given")), "Consent given");
    }
}

//! The parents' page of a transition for staff: per guardian the links (sent, opened, responded,
//! expired, revoked), the perspective, the current decision per sensitive section and the whole
//! consent ledger; a fresh link shown once (for an Aula message), revoking links, and recording a
//! decision after a conversation.
//!
//! Who may: the sending institution's leaders and staff and administrators act (like the rest of
//! the transition); the receiving institution's staff see only the parents' perspectives, and
//! only once the handover is sent; anybody else gets 404 for the id.

use askama::Template;
use axum::{
    extract::State,
    response::{IntoResponse, Response},
};
use serde::Deserialize;
use serde_json::json;
use uuid::Uuid;

use super::{Decision, Overview};
use crate::{
    auth::{Ctx, Permission},
    children::Access,
    state::AppState,
    transitions::queries,
    web::{self, AppError, AppResult, FieldErrors, Flash, Form, Layout, Path},
};

const NAV: &str = "/transitions";
const MAX_NOTE: usize = 2000;

fn path(id: Uuid) -> String {
    format!("/transitions/{id}/parents")
}

/// The transition (404 when not visible) and whether the user acts for its sender.
async fn visible(ctx: &mut Ctx, access: &Access, id: Uuid) -> AppResult<(Overview, bool)> {
    let t = queries::find(&mut ctx.tx, access.municipality_id, &access.scope, id)
        .await?
        .ok_or(AppError::NotFound)?;
    let acts = access.manages(t.sending_institution_id);
    let o = super::overview(&mut ctx.tx, access.municipality_id, id)
        .await?
        .ok_or(AppError::NotFound)?;
    Ok((o, acts))
}

/// Only the sender's staff act here.
pub(super) async fn acting(ctx: &mut Ctx, id: Uuid) -> AppResult<(Access, Overview)> {
    let access = Access::check(ctx, Permission::EditChildren)?;
    let (t, acts) = visible(ctx, &access, id).await?;
    if !acts {
        return Err(AppError::Forbidden);
    }
    Ok((access, t))
}

pub struct LinkView {
    pub id: Uuid,
    pub how: &'static str,
    pub created: String,
    pub state: &'static str,
    pub opened: String,
    pub responded: String,
    pub live: bool,
}

pub struct DecisionView {
    pub section: String,
    pub label: &'static str,
}

pub struct GuardianView {
    pub id: Uuid,
    pub name: String,
    pub email: String,
    pub responded: bool,
    pub links: Vec<LinkView>,
    pub perspective: String,
    pub decisions: Vec<DecisionView>,
}

pub struct HistoryView {
    pub at: String,
    pub guardian: String,
    pub section: String,
    pub decision: &'static str,
    pub how: String,
    pub note: String,
}

pub struct PerspectiveView {
    pub guardian: String,
    pub body: String,
    pub updated_at: String,
}

pub struct Choice {
    pub value: String,
    pub label: String,
    pub selected: bool,
}

#[derive(Template)]
#[template(path = "parents/staff.html")]
pub struct StaffPage {
    pub layout: Layout,
    pub id: Uuid,
    pub child: String,
    pub receiving: String,
    pub status: &'static str,
    /// The sender's view: everything and the actions. Else the receiver's: perspectives only.
    pub acts: bool,
    pub may_link: bool,
    pub may_decide: bool,
    pub guardians: Vec<GuardianView>,
    pub perspectives: Vec<PerspectiveView>,
    pub history: Vec<HistoryView>,
    pub sections: Vec<Choice>,
    pub decisions: Vec<Choice>,
    /// A link just created, shown this once.
    pub new_link: Option<(String, String)>,
    pub form: RecordForm,
    pub errors: FieldErrors,
}

fn link_view(l: &super::LinkRow) -> LinkView {
    let state = if l.revoked_at.is_some() {
        "Tilbagekaldt"
    } else if l.expired {
        "Udløbet"
    } else if l.responded_at.is_some() {
        "Besvaret"
    } else if l.first_opened_at.is_some() {
        "Åbnet"
    } else {
        "Ikke åbnet endnu"
    };
    LinkView {
        id: l.id,
        how: match l.delivery.as_str() {
            "email" => "Sendt på e-mail",
            "reminder" => "Påmindelse på e-mail",
            _ => "Vist til medarbejder (fx til Aula)",
        },
        created: match &l.created_by {
            Some(by) => format!("{} af {by}", l.created_at),
            None => l.created_at.clone(),
        },
        state,
        opened: l.first_opened_at.clone().unwrap_or_else(|| "–".into()),
        responded: l.responded_at.clone().unwrap_or_else(|| "–".into()),
        live: l.revoked_at.is_none() && !l.expired,
    }
}

async fn page(
    ctx: &mut Ctx,
    m: Uuid,
    t: &Overview,
    acts: bool,
    form: RecordForm,
    errors: FieldErrors,
) -> AppResult<StaffPage> {
    let perspectives = super::perspectives(&mut ctx.tx, m, t.id).await?;
    let mut page = StaffPage {
        layout: ctx.layout(&format!("Forældre – {}", t.child_first_name), NAV),
        id: t.id,
        child: t.child_first_name.clone(),
        receiving: t.receiving_name.clone(),
        status: t.status.label(),
        acts,
        may_link: acts && super::link_usable(t.status),
        may_decide: acts && t.status.is_open(),
        guardians: Vec::new(),
        perspectives: perspectives
            .iter()
            .map(|p| PerspectiveView {
                guardian: p.guardian_name.clone(),
                body: p.body.clone(),
                updated_at: p.updated_at.clone(),
            })
            .collect(),
        history: Vec::new(),
        sections: Vec::new(),
        decisions: Vec::new(),
        new_link: None,
        form,
        errors,
    };
    if !acts {
        return Ok(page);
    }
    let guardians = super::custody_guardians(&mut ctx.tx, m, t.id).await?;
    let links = super::links_of(&mut ctx.tx, m, t.id).await?;
    let sections = super::sensitive_sections(&mut ctx.tx, m, t.id).await?;
    let decisions = super::current_decisions(&mut ctx.tx, m, t.id).await?;
    let history = super::history(&mut ctx.tx, m, t.id).await?;
    page.guardians = guardians
        .iter()
        .map(|g| {
            let links: Vec<LinkView> = links
                .iter()
                .filter(|l| l.guardian_id == g.id)
                .map(link_view)
                .collect();
            let perspective = perspectives
                .iter()
                .find(|p| p.guardian_id == g.id)
                .map(|p| p.body.clone())
                .unwrap_or_default();
            let responded = links.iter().any(|l| l.responded != "–")
                || !perspective.is_empty()
                || history.iter().any(|h| h.guardian_id == Some(g.id));
            GuardianView {
                id: g.id,
                name: g.name.clone(),
                email: g.email.clone().unwrap_or_default(),
                responded,
                links,
                perspective,
                decisions: sections
                    .iter()
                    .map(|s| DecisionView {
                        section: s.title.clone(),
                        label: super::decision_label(super::current_of(&decisions, g.id, s.id)),
                    })
                    .collect(),
            }
        })
        .collect();
    page.history = history
        .into_iter()
        .map(|h| HistoryView {
            at: h.recorded_at,
            guardian: h.guardian_name.unwrap_or_else(|| "(slettet værge)".into()),
            section: h.section_title,
            decision: super::decision_label(Some(&h.decision)),
            how: match (h.method.as_str(), h.recorded_by) {
                ("link", _) => "Via forældrelinket".into(),
                (_, Some(by)) => format!("Registreret af {by} efter samtale"),
                _ => "Registreret af en medarbejder efter samtale".into(),
            },
            note: h.note.unwrap_or_default(),
        })
        .collect();
    page.sections = sections
        .iter()
        .map(|s| Choice {
            value: s.id.to_string(),
            label: s.title.clone(),
            selected: s.id.to_string() == page.form.section.trim(),
        })
        .collect();
    page.decisions = [Decision::Given, Decision::Refused, Decision::Withdrawn]
        .into_iter()
        .map(|d| Choice {
            value: d.as_str().into(),
            label: d.label().into(),
            selected: d.as_str() == page.form.decision.trim(),
        })
        .collect();
    Ok(page)
}

pub async fn show(mut ctx: Ctx, Path(id): Path<Uuid>) -> AppResult<Response> {
    let access = Access::check(&ctx, Permission::ViewChildren)?;
    let m = access.municipality_id;
    let (t, acts) = visible(&mut ctx, &access, id).await?;
    // The receiver reads the parents' perspectives with the handover, not before.
    if !acts && !super::is_sent(t.status) {
        return Err(AppError::Forbidden);
    }
    let page = page(
        &mut ctx,
        m,
        &t,
        acts,
        RecordForm::default(),
        FieldErrors::default(),
    )
    .await?;
    ctx.audit(
        crate::audit::Entry::new("view", "parent_consent", Some(id))
            .child(t.child_id)
            .details(json!({ "view": if acts { "sender" } else { "receiver" } })),
    )
    .await?;
    ctx.commit().await?;
    Ok(web::render(&page)?.into_response())
}

/// A guardian with custody of the transition's child, from a posted id: missing or malformed is
/// a broken form (400), any other id is not found (404).
async fn posted_guardian(
    ctx: &mut Ctx,
    m: Uuid,
    t: &Overview,
    raw: &str,
) -> AppResult<super::Guardian> {
    let id: Uuid = raw.trim().parse().map_err(|_| {
        AppError::BadRequest("Formularen manglede forælderen. Genindlæs siden og prøv igen.".into())
    })?;
    super::custody_guardians(&mut ctx.tx, m, t.id)
        .await?
        .into_iter()
        .find(|g| g.id == id)
        .ok_or(AppError::NotFound)
}

#[derive(Default, Deserialize)]
#[serde(default)]
pub struct LinkForm {
    pub guardian: String,
}

pub async fn create_link(
    State(state): State<AppState>,
    mut ctx: Ctx,
    Path(id): Path<Uuid>,
    Form(f): Form<LinkForm>,
) -> AppResult<Response> {
    let (access, mut t) = acting(&mut ctx, id).await?;
    let m = access.municipality_id;
    let g = posted_guardian(&mut ctx, m, &t, &f.guardian).await?;
    let me = ctx.user.id;
    // A new link takes back the guardian's earlier ones; under the transition's lock, so that
    // links made at once (a double click) leave one, not one each, and the status is the one
    // a recall or status change at the same moment left.
    let status = crate::transitions::status_under_lock(&mut ctx.tx, m, id).await?;
    t.status = status;
    if !super::link_usable(status) {
        return Err(AppError::Conflict(format!(
            "Der kan ikke laves forældrelinks, mens overleveringen har status «{}».",
            status.label()
        )));
    }
    super::revoke_links(&mut ctx.tx, m, id, g.id, Some(me)).await?;
    let (link_id, token) =
        super::issue_link(&mut ctx.tx, m, id, g.id, "shown", None, Some(me)).await?;
    ctx.audit(
        crate::audit::Entry::new("issue", "parent_link", Some(link_id))
            .child(t.child_id)
            .details(json!({ "transition_id": id, "guardian_id": g.id, "delivery": "shown" })),
    )
    .await?;
    let mut page = page(
        &mut ctx,
        m,
        &t,
        true,
        RecordForm::default(),
        FieldErrors::default(),
    )
    .await?;
    page.new_link = Some((
        g.name.clone(),
        crate::mail::link(&state.config, &super::parent_path(&token)),
    ));
    ctx.commit().await?;
    // Rendered, not redirected: the link is shown this once and stored nowhere.
    Ok(web::render(&page)?.into_response())
}

#[derive(Default, Deserialize)]
#[serde(default)]
pub struct RevokeForm {
    pub link: String,
}

pub async fn revoke_link(
    mut ctx: Ctx,
    Path(id): Path<Uuid>,
    Form(f): Form<RevokeForm>,
) -> AppResult<Response> {
    let (access, t) = acting(&mut ctx, id).await?;
    let m = access.municipality_id;
    let link_id: Uuid = f.link.trim().parse().map_err(|_| {
        AppError::BadRequest("Formularen manglede linket. Genindlæs siden og prøv igen.".into())
    })?;
    let row = sqlx::query!(
        "SELECT guardian_id, revoked_at IS NOT NULL AS \"revoked!\" FROM parent_links
         WHERE municipality_id = $1 AND transition_id = $2 AND id = $3 FOR UPDATE",
        m,
        id,
        link_id
    )
    .fetch_optional(&mut *ctx.tx)
    .await?
    .ok_or(AppError::NotFound)?;
    if row.revoked {
        return Ok(web::redirect_with_flash(
            &path(id),
            Flash::info("Linket var allerede tilbagekaldt."),
        ));
    }
    let me = ctx.user.id;
    sqlx::query!(
        "UPDATE parent_links SET revoked_at = now(), revoked_by = $3
         WHERE municipality_id = $1 AND id = $2",
        m,
        link_id,
        me
    )
    .execute(&mut *ctx.tx)
    .await?;
    ctx.audit(
        crate::audit::Entry::new("revoke", "parent_link", Some(link_id))
            .child(t.child_id)
            .details(json!({ "transition_id": id, "guardian_id": row.guardian_id })),
    )
    .await?;
    ctx.commit().await?;
    Ok(web::redirect_with_flash(
        &path(id),
        Flash::success("Linket er tilbagekaldt og virker ikke længere."),
    ))
}

#[derive(Default, Deserialize)]
#[serde(default)]
pub struct RecordForm {
    pub guardian: String,
    pub section: String,
    pub decision: String,
    pub note: String,
}

pub async fn record(
    State(state): State<AppState>,
    mut ctx: Ctx,
    Path(id): Path<Uuid>,
    Form(f): Form<RecordForm>,
) -> AppResult<Response> {
    let (access, mut t) = acting(&mut ctx, id).await?;
    let m = access.municipality_id;
    let g = posted_guardian(&mut ctx, m, &t, &f.guardian).await?;
    let section_id: Uuid = f.section.trim().parse().map_err(|_| {
        AppError::BadRequest("Formularen manglede afsnittet. Genindlæs siden og prøv igen.".into())
    })?;
    let section = super::sensitive_sections(&mut ctx.tx, m, id)
        .await?
        .into_iter()
        .find(|s| s.id == section_id)
        .ok_or(AppError::NotFound)?;
    // Under the transition's lock: the status is the one a close at the same moment left, and
    // the decisions are those recorded before (the same decision twice records nothing).
    let status = crate::transitions::status_under_lock(&mut ctx.tx, m, id).await?;
    // what follows (the receiver told of a withdrawal once it is sent) goes by this status
    t.status = status;
    if !status.is_open() {
        return Err(AppError::Conflict(format!(
            "En overlevering med status «{}» kan ikke ændres længere.",
            status.label()
        )));
    }
    let mut errors = FieldErrors::default();
    let decision = Decision::parse(f.decision.trim());
    if decision.is_none() {
        errors.add("decision", "Vælg forælderens beslutning.");
    }
    let note = f.note.trim().to_string();
    if note.is_empty() {
        errors.add(
            "note",
            "Skriv kort, hvornår og hvordan forælderen gav sin beslutning, fx «Telefonsamtale 3/11».",
        );
    } else if note.chars().count() > MAX_NOTE {
        errors.add("note", format!("Skriv højst {MAX_NOTE} tegn."));
    }
    let decisions = super::current_decisions(&mut ctx.tx, m, id).await?;
    let current = super::current_of(&decisions, g.id, section.id);
    if decision == Some(Decision::Withdrawn) && current != Some("given") {
        errors.add(
            "decision",
            format!(
                "{} har ikke givet samtykke til «{}», så der er intet at trække tilbage.",
                g.name, section.title
            ),
        );
    }
    let Some(decision) = decision.filter(|_| errors.is_empty()) else {
        let page = page(&mut ctx, m, &t, true, f, errors).await?;
        return web::render_invalid(&page);
    };
    // The decision the ledger already holds (a double click, or the form sent again) records
    // nothing new, as on the parent's own page.
    if current == Some(decision.as_str()) {
        return Ok(web::redirect_with_flash(
            &path(id),
            Flash::success(format!(
                "«{}» for {} var allerede registreret for «{}», så intet nyt er gemt.",
                decision.label(),
                g.name,
                section.title
            )),
        ));
    }
    let actor = ctx.actor();
    let me = ctx.user.id;
    super::record_decision(
        &mut ctx.tx,
        &actor,
        &state.config,
        &t,
        m,
        super::NewDecision {
            guardian_id: g.id,
            section_id: section.id,
            decision,
            recorded_by: Some(me),
            note: Some(&note),
        },
    )
    .await?;
    ctx.commit().await?;
    crate::mail::wake();
    Ok(web::redirect_with_flash(
        &path(id),
        Flash::success(format!(
            "«{}» for {} er registreret for «{}».",
            decision.label(),
            g.name,
            section.title
        )),
    ))
}

//! The pages: worklist, new transition, a transition's overview and its actions.

use askama::Template;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::json;
use time::Date;
use uuid::Uuid;

use super::{queries, status::Status};
use crate::{
    audit::Entry,
    auth::{Ctx, Permission, Role},
    children::{
        self,
        domain::{format_at, format_date, iso_date},
        Access,
    },
    forms::{self, TransitionKind},
    web::{self, AppError, AppResult, FieldErrors, Flash, Form, Layout, Path, Query, SelectOption},
};

pub const NAV: &str = "/transitions";
/// How many days before the planned date a transition not yet sent is marked as due.
const DUE_DAYS: i64 = 14;

pub(super) fn kind_label(kind: &str) -> String {
    TransitionKind::parse(kind)
        .map(|k| k.label().to_string())
        .unwrap_or_else(|| kind.to_string())
}

pub(super) fn status_label(status: &str) -> &'static str {
    Status::parse(status).map(Status::label).unwrap_or("Ukendt")
}

fn path(id: Uuid) -> String {
    format!("/transitions/{id}")
}

/// "Overskredet" when the planned date has passed and the handover is not yet sent; "Snart"
/// within `DUE_DAYS`; else nothing.
fn due_marker(status: &str, planned: Date, today: Date) -> &'static str {
    let unsent = matches!(
        Status::parse(status),
        Some(Status::Draft | Status::WithParents | Status::Ready)
    );
    if !unsent {
        ""
    } else if planned < today {
        "Overskredet"
    } else if (planned - today).whole_days() <= DUE_DAYS {
        "Snart"
    } else {
        ""
    }
}

// ---------------------------------------------------------------------------------------------
// Worklist

pub struct Row {
    pub href: String,
    pub child: String,
    pub receiving: String,
    pub kind: String,
    pub planned_date: String,
    pub status: &'static str,
    pub due: &'static str,
    /// "12 af 41" while the form is being written; empty after.
    pub progress: String,
}

#[derive(Template)]
#[template(path = "transitions/list.html")]
pub struct ListPage {
    pub layout: Layout,
    pub mine: Vec<Row>,
    pub outgoing_heading: String,
    pub outgoing: Option<Vec<Row>>,
    pub may_cohort: bool,
}

fn rows(list: Vec<queries::ListRow>, today: Date) -> Vec<Row> {
    list.into_iter()
        .map(|r| Row {
            href: path(r.id),
            child: r.child_name,
            receiving: r.receiving_name,
            kind: kind_label(&r.kind),
            planned_date: format_date(r.planned_date),
            status: status_label(&r.status),
            due: due_marker(&r.status, r.planned_date, today),
            progress: if matches!(r.status.as_str(), "draft" | "with_parents") {
                format!("{} af {}", r.answered, r.questions)
            } else {
                String::new()
            },
        })
        .collect()
}

#[derive(Default, Deserialize)]
#[serde(default)]
pub struct ListQuery {
    pub institution: String,
    pub year: String,
    pub kind: String,
    pub state: String,
}

impl ListQuery {
    fn is_filtered(&self) -> bool {
        [&self.institution, &self.year, &self.kind, &self.state]
            .iter()
            .any(|s| !s.trim().is_empty())
    }
}

#[derive(Template)]
#[template(path = "transitions/filtered.html")]
pub struct FilteredPage {
    pub layout: Layout,
    pub state: &'static str,
    pub definition: &'static str,
    pub filters: Vec<(&'static str, String)>,
    pub back: String,
    pub rows: Vec<Row>,
}

/// The worklist filtered to the children behind one count of the sender's status page: the
/// same scope (administrators and the sending institutions' leaders, else 403) and the same
/// definitions (`handover_states`).
async fn filtered(mut ctx: Ctx, q: ListQuery) -> AppResult<Response> {
    use super::sender_status::{self as st, State};
    let s = st::senders(&ctx)?;
    let institution = st::institution(&mut ctx.tx, &s, &q.institution).await?;
    let year = st::year(&q.year)?;
    let kind = st::kind(&q.kind)?;
    let state = match q.state.trim() {
        "" => State::All,
        raw => State::parse(raw)
            .ok_or_else(|| AppError::BadRequest("Ukendt tilstand i adressen.".into()))?,
    };
    let list = queries::by_state(
        &mut ctx.tx,
        s.municipality_id,
        s.all,
        &s.led,
        institution.as_ref().map(|i| i.0),
        year,
        kind.map(TransitionKind::as_str),
        state.as_str(),
    )
    .await?;
    let today = ctx.today;
    let mut filters = Vec::new();
    if let Some((_, name)) = &institution {
        filters.push(("Afsender", name.clone()));
    }
    if let Some(y) = year {
        filters.push(("Årgang", y.to_string()));
    }
    if let Some(k) = kind {
        filters.push(("Type", k.label().to_string()));
    }
    let mut back = st::PATH.to_string();
    let mut sep = '?';
    if let Some((id, _)) = &institution {
        back.push_str(&format!("{sep}institution={id}"));
        sep = '&';
    }
    if let Some(y) = year {
        back.push_str(&format!("{sep}year={y}"));
    }
    ctx.audit(Entry::new("view_list", "transitions", None).details(json!({
        "institution": institution.as_ref().map(|i| i.0),
        "year": year,
        "kind": kind.map(TransitionKind::as_str),
        "state": state.as_str(),
        "count": list.len(),
    })))
    .await?;
    let page = FilteredPage {
        layout: ctx.layout(&format!("Overgange – {}", state.label()), NAV),
        state: state.label(),
        definition: state.definition(),
        filters,
        back,
        rows: rows(list, today),
    };
    ctx.commit().await?;
    Ok(web::render(&page)?.into_response())
}

pub async fn list(mut ctx: Ctx, Query(q): Query<ListQuery>) -> AppResult<Response> {
    if q.is_filtered() {
        return filtered(ctx, q).await;
    }
    let access = Access::check(&ctx, Permission::ViewChildren)?;
    let m = access.municipality_id;
    let today = ctx.today;
    let (all, scope) = access.scope.as_params();
    let mine = queries::mine(&mut ctx.tx, m, ctx.user.id, all, &scope).await?;
    let (outgoing_heading, outgoing) = if ctx.user.has_role(Role::MunicipalAdmin) {
        let list = queries::outgoing(&mut ctx.tx, m, true, &[]).await?;
        ("Alle åbne overgange i kommunen".to_string(), Some(list))
    } else {
        let led: Vec<Uuid> = ctx
            .user
            .institutions_with(Role::InstitutionLeader)
            .collect();
        if led.is_empty() {
            (String::new(), None)
        } else {
            let list = queries::outgoing(&mut ctx.tx, m, false, &led).await?;
            ("Åbne overgange fra din institution".to_string(), Some(list))
        }
    };
    // The children's names and where they go: a read of their data like any list's.
    ctx.audit(Entry::new("list", "transition", None).details(json!({
        "mine": mine.len(),
        "outgoing": outgoing.as_ref().map(Vec::len),
    })))
    .await?;
    let page = ListPage {
        layout: ctx.layout("Overgange", NAV),
        mine: rows(mine, today),
        outgoing_heading,
        outgoing: outgoing.map(|l| rows(l, today)),
        may_cohort: ctx.user.has_role(Role::MunicipalAdmin)
            || ctx.user.has_role(Role::InstitutionLeader),
    };
    ctx.commit().await?;
    Ok(web::render(&page)?.into_response())
}

// ---------------------------------------------------------------------------------------------
// New transition

#[derive(Default, Deserialize)]
#[serde(default)]
pub struct NewQuery {
    pub child: String,
}

#[derive(Default, Deserialize)]
#[serde(default)]
pub struct TransitionForm {
    pub child_id: String,
    pub receiving_institution_id: String,
    pub kind: String,
    pub planned_date: String,
    pub responsible_user_id: String,
}

/// The chosen child and where it is sent from.
pub struct ChildView {
    pub id: Uuid,
    pub name: String,
    pub sending: String,
}

#[derive(Template)]
#[template(path = "transitions/new.html")]
pub struct NewPage {
    pub layout: Layout,
    /// `None`: the first step, choosing the child.
    pub child: Option<ChildView>,
    pub children: Vec<SelectOption>,
    pub institutions: Vec<SelectOption>,
    pub kinds: Vec<SelectOption>,
    pub staff: Vec<SelectOption>,
    pub form: TransitionForm,
    pub errors: FieldErrors,
}

fn options(list: &[queries::Choice], selected: &str) -> Vec<SelectOption> {
    list.iter()
        .map(|c| {
            SelectOption::new(
                c.id.to_string(),
                c.name.clone(),
                c.id.to_string() == selected.trim(),
            )
        })
        .collect()
}

/// Everything the second step needs about the child: its sending institution and the choices.
struct Step {
    child: children::queries::Child,
    sending: queries::Choice,
    institutions: Vec<queries::Choice>,
    kinds: Vec<TransitionKind>,
    staff: Vec<queries::Choice>,
}

/// The child (in scope, else 404) and its choices; `Err(page)` when it has no current enrolment
/// the user may send from.
async fn step(ctx: &mut Ctx, access: &Access, child_id: Uuid) -> AppResult<Result<Step, String>> {
    let m = access.municipality_id;
    let child = children::queries::lock_child(&mut ctx.tx, m, &access.scope, child_id)
        .await?
        .ok_or(AppError::NotFound)?;
    let Some(sending) =
        queries::current_institution(&mut ctx.tx, m, &access.scope, child_id).await?
    else {
        return Ok(Err(format!(
            "{} {} er ikke indskrevet i en af dine institutioner i dag, så der er ingen afsender.",
            child.first_name, child.last_name
        )));
    };
    let institutions = queries::active_institutions(&mut ctx.tx, m).await?;
    let kinds = queries::enabled_kinds(&mut ctx.tx, m).await?;
    let staff = queries::staff_of(&mut ctx.tx, m, sending.id).await?;
    Ok(Ok(Step {
        child,
        sending,
        institutions,
        kinds,
        staff,
    }))
}

fn new_page(ctx: &Ctx, s: &Step, form: TransitionForm, errors: FieldErrors) -> NewPage {
    NewPage {
        layout: ctx.layout("Opret overgang", NAV),
        child: Some(ChildView {
            id: s.child.id,
            name: format!("{} {}", s.child.first_name, s.child.last_name),
            sending: s.sending.name.clone(),
        }),
        children: Vec::new(),
        institutions: options(
            &s.institutions
                .iter()
                .filter(|i| i.id != s.sending.id)
                .map(|i| queries::Choice {
                    id: i.id,
                    name: i.name.clone(),
                })
                .collect::<Vec<_>>(),
            &form.receiving_institution_id,
        ),
        kinds: s
            .kinds
            .iter()
            .map(|k| SelectOption::new(k.as_str(), k.label(), k.as_str() == form.kind.trim()))
            .collect(),
        staff: options(&s.staff, &form.responsible_user_id),
        form,
        errors,
    }
}

async fn picker(ctx: &mut Ctx, access: &Access, errors: FieldErrors) -> AppResult<NewPage> {
    let list = queries::child_choices(&mut ctx.tx, access.municipality_id, &access.scope).await?;
    Ok(NewPage {
        layout: ctx.layout("Opret overgang", NAV),
        child: None,
        children: options(&list, ""),
        institutions: Vec::new(),
        kinds: Vec::new(),
        staff: Vec::new(),
        form: TransitionForm::default(),
        errors,
    })
}

pub async fn new_form(mut ctx: Ctx, Query(q): Query<NewQuery>) -> AppResult<Response> {
    let access = Access::check(&ctx, Permission::EditChildren)?;
    if q.child.trim().is_empty() {
        let page = picker(&mut ctx, &access, FieldErrors::default()).await?;
        ctx.audit(Entry::new("list", "child", None).details(json!({
            "view": "transition_picker",
            "shown": page.children.len(),
        })))
        .await?;
        ctx.commit().await?;
        return Ok(web::render(&page)?.into_response());
    }
    let child_id: Uuid = q.child.trim().parse().map_err(|_| AppError::NotFound)?;
    let s = match step(&mut ctx, &access, child_id).await? {
        Ok(s) => s,
        Err(message) => {
            let mut errors = FieldErrors::default();
            errors.add("child", message);
            return web::render_invalid(&picker(&mut ctx, &access, errors).await?);
        }
    };
    let form = TransitionForm {
        child_id: child_id.to_string(),
        // The relay starts with whoever creates it, if they work at the sending institution.
        responsible_user_id: if s.staff.iter().any(|u| u.id == ctx.user.id) {
            ctx.user.id.to_string()
        } else {
            String::new()
        },
        kind: match s.kinds.as_slice() {
            [only] => only.as_str().to_string(),
            _ => String::new(),
        },
        ..Default::default()
    };
    Ok(web::render(&new_page(&ctx, &s, form, FieldErrors::default()))?.into_response())
}

pub async fn create(mut ctx: Ctx, Form(f): Form<TransitionForm>) -> AppResult<Response> {
    let access = Access::check(&ctx, Permission::EditChildren)?;
    let m = access.municipality_id;
    if f.child_id.trim().is_empty() {
        let mut errors = FieldErrors::default();
        errors.add("child", "Vælg barnet.");
        return web::render_invalid(&picker(&mut ctx, &access, errors).await?);
    }
    let child_id: Uuid = f.child_id.trim().parse().map_err(|_| AppError::NotFound)?;
    let s = match step(&mut ctx, &access, child_id).await? {
        Ok(s) => s,
        Err(message) => {
            let mut errors = FieldErrors::default();
            errors.add("child", message);
            return web::render_invalid(&picker(&mut ctx, &access, errors).await?);
        }
    };
    let mut errors = FieldErrors::default();
    let receiving = f
        .receiving_institution_id
        .trim()
        .parse::<Uuid>()
        .ok()
        .filter(|id| s.institutions.iter().any(|i| i.id == *id));
    match receiving {
        None => errors.add(
            "receiving_institution_id",
            "Vælg en aktiv institution i kommunen som modtager.",
        ),
        Some(id) if id == s.sending.id => errors.add(
            "receiving_institution_id",
            "Modtageren skal være en anden institution end afsenderen.",
        ),
        Some(_) => {}
    }
    let kind = TransitionKind::parse(f.kind.trim()).filter(|k| s.kinds.contains(k));
    let template = match kind {
        None => {
            errors.add("kind", "Vælg en overgangstype, som kommunen bruger.");
            None
        }
        Some(k) => {
            let t = forms::published_template(&mut ctx.tx, m, k).await?;
            if t.is_none() {
                errors.add(
                    "kind",
                    format!(
                        "Der er ingen offentliggjort skabelon for «{}». Bed en administrator om at offentliggøre en, før overgangen oprettes.",
                        k.label()
                    ),
                );
            } else if queries::has_open(&mut ctx.tx, m, child_id, k).await? {
                errors.add(
                    "kind",
                    format!(
                        "{} {} har allerede en åben overgang af typen «{}». Fortsæt den, eller annullér den, før der oprettes en ny.",
                        s.child.first_name,
                        s.child.last_name,
                        k.label()
                    ),
                );
            }
            t
        }
    };
    let planned = super::planned_date(&f.planned_date, &mut errors);
    let responsible = match f.responsible_user_id.trim() {
        "" => None,
        raw => match raw
            .parse::<Uuid>()
            .ok()
            .filter(|id| s.staff.iter().any(|u| u.id == *id))
        {
            Some(id) => Some(id),
            None => {
                errors.add(
                    "responsible_user_id",
                    "Vælg en medarbejder fra den afsendende institution.",
                );
                None
            }
        },
    };
    let (Some(receiving), Some(kind), Some(template), Some(planned), true) =
        (receiving, kind, template, planned, errors.is_empty())
    else {
        return web::render_invalid(&new_page(&ctx, &s, f, errors));
    };
    let id = queries::insert(
        &mut ctx.tx,
        m,
        &queries::NewTransition {
            child_id,
            sending_institution_id: s.sending.id,
            receiving_institution_id: receiving,
            kind,
            planned_date: planned,
            template_id: template.id,
            responsible_user_id: responsible,
        },
    )
    .await?;
    let actor = ctx.actor();
    super::status::record_event(&mut ctx.tx, &actor, m, id, None, Status::Draft, None).await?;
    ctx.audit(
        Entry::new("create", "transition", Some(id))
            .child(child_id)
            .details(json!({
                "sending_institution_id": s.sending.id,
                "receiving_institution_id": receiving,
                "kind": kind.as_str(),
                "planned_date": iso_date(planned),
                "template_id": template.id,
            })),
    )
    .await?;
    ctx.commit().await?;
    Ok(web::redirect_with_flash(
        &path(id),
        Flash::success("Overgangen er oprettet."),
    ))
}

// ---------------------------------------------------------------------------------------------
// One transition

pub struct EventView {
    pub at: String,
    pub user: String,
    pub from: &'static str,
    pub to: &'static str,
    pub note: String,
}

pub struct MoveView {
    pub to: &'static str,
    pub label: &'static str,
    pub is_cancel: bool,
}

#[derive(Template)]
#[template(path = "transitions/show.html")]
pub struct ShowPage {
    pub layout: Layout,
    pub id: Uuid,
    pub child_name: String,
    pub child_href: String,
    pub sending: String,
    pub receiving: String,
    pub kind: String,
    pub planned_date: String,
    pub template: String,
    pub responsible: String,
    pub status: &'static str,
    pub version: i32,
    pub events: Vec<EventView>,
    pub moves: Vec<MoveView>,
    pub staff: Option<Vec<SelectOption>>,
    /// Sent to the receiver (so the receiving end's parts apply).
    pub delivered: bool,
    /// Who acknowledged receipt, and when ("" while not acknowledged).
    pub acknowledged: String,
    /// The handover as the receiver reads it (receivers, once sent).
    pub handover: Option<Vec<super::handover::SectionRead>>,
    pub may_acknowledge: bool,
    pub may_print: bool,
    /// Read receipts, for the sending side once sent.
    pub receipts: Option<Vec<super::receiving::ReceiptView>>,
    pub meeting: super::meeting::Summary,
    pub amendments: Option<Vec<super::amendments::AmendmentView>>,
    pub may_amend: bool,
    /// A new amendment that could not be sent: what was typed, and why.
    pub amendment: super::amendments::AmendmentInput,
    pub may_recall: bool,
    /// The sender's view: the link to the parents' correction requests, and how many await an
    /// answer.
    pub show_corrections: bool,
    pub open_corrections: i64,
    /// Transfers to other municipalities (the sending side only).
    pub transfers: crate::transfers::handlers::TransitionTransfers,
}

/// The transition if visible (else 404), and whether the user may act on it: administrators and
/// the sending institution's leaders and staff.
pub(super) async fn visible(
    ctx: &mut Ctx,
    access: &Access,
    id: Uuid,
) -> AppResult<(queries::Transition, bool)> {
    let t = queries::find(&mut ctx.tx, access.municipality_id, &access.scope, id)
        .await?
        .ok_or(AppError::NotFound)?;
    let acts = access.manages(t.sending_institution_id);
    Ok((t, acts))
}

pub async fn show(mut ctx: Ctx, Path(id): Path<Uuid>) -> AppResult<Response> {
    let page = show_page(&mut ctx, id, Default::default()).await?;
    ctx.commit().await?;
    Ok(web::render(&page)?.into_response())
}

/// The transition's page (its view audited in the request's transaction), with `amendment`
/// in the amendment form.
pub(super) async fn show_page(
    ctx: &mut Ctx,
    id: Uuid,
    amendment: super::amendments::AmendmentInput,
) -> AppResult<ShowPage> {
    let access = Access::check(ctx, Permission::ViewChildren)?;
    let m = access.municipality_id;
    let (t, acts) = visible(ctx, &access, id).await?;
    let meeting = super::meeting::keeps(ctx, &t, acts);
    let parts = queries::PageParts {
        corrections: acts,
        transfers: crate::transfers::handlers::visible(&ctx.user, &t),
        meeting,
        today: ctx.today,
    };
    let data = queries::page_data(&mut ctx.tx, m, id, parts).await?;
    let meeting = if meeting {
        super::meeting::summary_of(&t, data.meeting)
    } else {
        super::meeting::Summary::default()
    };
    let events = data.events.0;
    let status = Status::parse(&t.status);
    let moves = if acts {
        status
            .map(Status::allowed_moves)
            .unwrap_or_default()
            .into_iter()
            .filter(|s| sender_may_move_to(*s) && !is_recall(t.status.as_str(), *s))
            .map(|s| MoveView {
                to: s.as_str(),
                label: s.action_label(),
                is_cancel: s == Status::Cancelled,
            })
            .collect()
    } else {
        Vec::new()
    };
    let staff = if ctx.user.leads(t.sending_institution_id) && status.is_some_and(Status::is_open) {
        let list = queries::staff_of(&mut ctx.tx, m, t.sending_institution_id).await?;
        let current = t
            .responsible_user_id
            .map(|u| u.to_string())
            .unwrap_or_default();
        Some(options(&list, &current))
    } else {
        None
    };
    ctx.audit(Entry::new("view", "transition", Some(id)).child(t.child_id))
        .await?;
    let end = super::receiving::for_page(ctx, &t, acts, meeting).await?;
    let transfers = crate::transfers::handlers::for_transition(&ctx.user, &t, data.transfers.0);
    let acknowledged = events
        .iter()
        .rfind(|e| e.to_status == Status::Received.as_str())
        .map(|e| {
            format!(
                "{} af {}",
                format_at(e.at),
                e.user_name.as_deref().unwrap_or("–")
            )
        })
        .unwrap_or_default();
    let page = ShowPage {
        delivered: super::receiving::is_delivered(&t.status),
        acknowledged,
        handover: end.handover,
        may_acknowledge: end.may_acknowledge,
        may_print: end.may_print,
        receipts: end.receipts,
        meeting: end.meeting,
        amendments: end.amendments,
        may_amend: end.may_amend,
        amendment,
        may_recall: end.may_recall,
        show_corrections: acts,
        open_corrections: data.open_corrections,
        transfers,
        layout: ctx.layout(&format!("Overgang – {}", t.child_name), NAV),
        id,
        child_href: children::child_path(t.child_id),
        child_name: t.child_name,
        sending: t.sending_name,
        receiving: t.receiving_name,
        kind: kind_label(&t.kind),
        planned_date: format_date(t.planned_date),
        template: format!("{} (version {})", t.template_title, t.template_version),
        responsible: t.responsible_name.unwrap_or_else(|| "Ikke tildelt".into()),
        status: status_label(&t.status),
        version: t.version,
        events: events
            .into_iter()
            .map(|e| EventView {
                at: format_at(e.at),
                user: e.user_name.unwrap_or_else(|| "–".into()),
                from: e.from_status.as_deref().map(status_label).unwrap_or("–"),
                to: status_label(&e.to_status),
                note: e.note.unwrap_or_default(),
            })
            .collect(),
        moves,
        staff,
    };
    Ok(page)
}

/// Sent → draft is the recall, which has its own rule (nobody at the receiver has opened it)
/// and its own button (`amendments::recall`).
pub(super) fn is_recall(from: &str, to: Status) -> bool {
    from == Status::Sent.as_str() && to == Status::Draft
}

/// Moves the sending side makes on the transition's page. Acknowledging receipt is the
/// receiver's (`receiving::acknowledge`), and the feedback moves belong to the feedback flow.
fn sender_may_move_to(to: Status) -> bool {
    !matches!(
        to,
        Status::Received | Status::FeedbackRequested | Status::FeedbackGiven
    )
}

#[derive(Default, Deserialize)]
#[serde(default)]
pub struct StatusForm {
    pub to: String,
    pub version: String,
    pub note: String,
}

pub async fn change_status(
    axum::extract::State(state): axum::extract::State<crate::AppState>,
    mut ctx: Ctx,
    Path(id): Path<Uuid>,
    Form(f): Form<StatusForm>,
) -> AppResult<Response> {
    let access = Access::check(&ctx, Permission::EditChildren)?;
    let (t, acts) = visible(&mut ctx, &access, id).await?;
    if !acts {
        return Err(AppError::Forbidden);
    }
    let (Some(to), Ok(version)) = (Status::parse(f.to.trim()), f.version.trim().parse::<i32>())
    else {
        return Err(AppError::BadRequest(
            "Formularen manglede den nye status. Gå tilbage, genindlæs siden og prøv igen.".into(),
        ));
    };
    if is_recall(&t.status, to) {
        return Err(AppError::Conflict(
            "En sendt overlevering kaldes tilbage med knappen «Kald overleveringen tilbage» på overgangens side.".into(),
        ));
    }
    if !sender_may_move_to(to) {
        return Err(AppError::Conflict(format!(
            "Afsenderen kan ikke flytte overleveringen til «{}»: det gør modtageren.",
            to.label()
        )));
    }
    let note = f.note.trim();
    if note.chars().count() > 2000 {
        return Err(AppError::BadRequest(
            "Bemærkningen må højst være 2000 tegn.".into(),
        ));
    }
    // The form leaves the sender only when its required questions are answered.
    super::answers::check_required(&mut ctx.tx, access.municipality_id, id, to).await?;
    let actor = ctx.actor();
    super::status::transition_status(
        &mut ctx.tx,
        &actor,
        access.municipality_id,
        id,
        version,
        to,
        (!note.is_empty()).then_some(note),
    )
    .await?;
    let parents_flash = crate::parents::on_status(
        &mut ctx.tx,
        &actor,
        &state.config,
        access.municipality_id,
        id,
        to,
    )
    .await?;
    if to == Status::Cancelled && super::receiving::is_delivered(&t.status) {
        super::receiving::tell_of_cancellation(
            &mut ctx.tx,
            &state.config,
            access.municipality_id,
            t.receiving_institution_id,
            &t.sending_name,
        )
        .await?;
    }
    ctx.commit().await?;
    crate::mail::wake();
    Ok(web::redirect_with_flash(
        &path(id),
        Flash::success(format!("Status er nu «{}».{parents_flash}", to.label())),
    ))
}

#[derive(Default, Deserialize)]
#[serde(default)]
pub struct ReassignForm {
    pub responsible_user_id: String,
}

/// Value of the select's "nobody" option: a deliberate choice, unlike a missing field.
const UNASSIGNED: &str = "none";

pub async fn reassign(
    mut ctx: Ctx,
    Path(id): Path<Uuid>,
    Form(f): Form<ReassignForm>,
) -> AppResult<Response> {
    let access = Access::check(&ctx, Permission::EditChildren)?;
    let m = access.municipality_id;
    let (t, _) = visible(&mut ctx, &access, id).await?;
    if !ctx.user.leads(t.sending_institution_id) {
        return Err(AppError::Forbidden);
    }
    // The status under the transition's lock: a close at the same moment is seen here.
    let status = super::status_under_lock(&mut ctx.tx, m, id).await?;
    if !status.is_open() {
        return Err(AppError::Conflict(format!(
            "En overlevering med status «{}» kan ikke få en ny ansvarlig.",
            status.label()
        )));
    }
    let staff = queries::staff_of(&mut ctx.tx, m, t.sending_institution_id).await?;
    let new = match f.responsible_user_id.trim() {
        UNASSIGNED => None,
        raw => Some(
            raw.parse::<Uuid>()
                .ok()
                .filter(|u| staff.iter().any(|s| s.id == *u))
                .ok_or_else(|| {
                    AppError::BadRequest(
                        "Vælg en medarbejder fra den afsendende institution.".into(),
                    )
                })?,
        ),
    };
    queries::set_responsible(&mut ctx.tx, m, id, new).await?;
    ctx.audit(
        Entry::new("reassign", "transition", Some(id))
            .child(t.child_id)
            .details(json!({ "from": t.responsible_user_id, "to": new })),
    )
    .await?;
    ctx.commit().await?;
    Ok(web::redirect_with_flash(
        &path(id),
        Flash::success("Den ansvarlige er ændret."),
    ))
}

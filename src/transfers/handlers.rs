//! The pages and actions of transfers between municipalities, the package export and import,
//! and the handover received from another municipality.

use std::collections::HashMap;

use askama::Template;
use axum::{
    extract::multipart::{Multipart, MultipartRejection},
    http::header,
    response::{IntoResponse, Response},
};
use serde::Deserialize;
use serde_json::json;
use time::OffsetDateTime;
use uuid::Uuid;

use super::package::{self, Package};
use crate::{
    audit::Entry,
    auth::{ChildScope, Ctx, CurrentUser, Permission},
    children::{
        self,
        domain::{format_at, format_date},
        Access,
    },
    db::Tx,
    forms::TransitionKind,
    transitions::{queries as tq, receiving::works_at},
    web::{self, AppError, AppResult, Flash, Form, Layout, Path, SelectOption},
};

pub const NAV: &str = "/transfers";
const UNKNOWN: &str = "unknown";

fn status_label(status: &str) -> &'static str {
    match status {
        "destination_unknown" => "Ukendt destination",
        "pending" => "Afventer modtagerkommunen",
        "accepted" => "Modtaget af modtagerkommunen",
        "rejected" => "Afvist af modtagerkommunen",
        "closed" => "Lukket",
        _ => "Ukendt",
    }
}

fn kind_label(kind: &str) -> String {
    TransitionKind::parse(kind)
        .map(|k| k.label().to_string())
        .unwrap_or_else(|| kind.to_string())
}

pub struct MunicipalityChoice {
    pub id: Uuid,
    pub code: String,
    pub name: String,
}

/// The platform's other municipalities (through the definer function: a tenant cannot read
/// the municipalities table beyond its own row).
async fn municipalities(tx: &mut Tx) -> Result<Vec<MunicipalityChoice>, sqlx::Error> {
    sqlx::query_as!(
        MunicipalityChoice,
        r#"SELECT id AS "id!", code AS "code!", name AS "name!" FROM transfer_municipalities()"#
    )
    .fetch_all(&mut **tx)
    .await
}

fn municipality_options(list: &[MunicipalityChoice], selected: &str) -> Vec<SelectOption> {
    list.iter()
        .map(|m| {
            SelectOption::new(
                m.id.to_string(),
                format!("{} ({})", m.name, m.code),
                m.id.to_string() == selected.trim(),
            )
        })
        .collect()
}

async fn institution_options(
    tx: &mut Tx,
    m: Uuid,
    selected: &str,
) -> Result<Vec<SelectOption>, sqlx::Error> {
    Ok(tq::active_institutions(tx, m)
        .await?
        .into_iter()
        .map(|i| {
            SelectOption::new(
                i.id.to_string(),
                i.name,
                i.id.to_string() == selected.trim(),
            )
        })
        .collect())
}

/// The active institution of `m` the form names, if it is one.
async fn chosen_institution(tx: &mut Tx, m: Uuid, raw: &str) -> Result<Option<Uuid>, sqlx::Error> {
    let Ok(id) = raw.trim().parse::<Uuid>() else {
        return Ok(None);
    };
    sqlx::query_scalar!(
        "SELECT id FROM institutions WHERE municipality_id = $1 AND id = $2 AND is_active",
        m,
        id
    )
    .fetch_optional(&mut **tx)
    .await
}

/// The transition of the sending side: visible (else 404), the user may start a transfer or
/// export (else 403).
async fn sending_transition(
    ctx: &mut Ctx,
    id: Uuid,
    may: impl Fn(&Ctx, &Access, &tq::Transition) -> bool,
) -> AppResult<(Access, tq::Transition)> {
    let access = Access::check(ctx, Permission::ViewChildren)?;
    let t = tq::find(&mut ctx.tx, access.municipality_id, &access.scope, id)
        .await?
        .ok_or(AppError::NotFound)?;
    if !may(ctx, &access, &t) {
        return Err(AppError::Forbidden);
    }
    Ok((access, t))
}

fn not_exportable() -> AppError {
    AppError::Conflict(
        "Overleveringen kan først gives videre, når den er klar (forældrene har set den) eller sendt."
            .into(),
    )
}

// ---------------------------------------------------------------------------------------------
// Export

/// The package of a handover as a JSON file, for the sending side once it is ready or sent.
pub async fn export_package(mut ctx: Ctx, Path(id): Path<Uuid>) -> AppResult<Response> {
    let (access, t) =
        sending_transition(&mut ctx, id, |_, a, t| a.manages(t.sending_institution_id)).await?;
    if !package::exportable(&t.status) {
        return Err(not_exportable());
    }
    let p = package::build(&mut ctx.tx, access.municipality_id, &t).await?;
    ctx.audit(
        Entry::new("export_package", "transition", Some(id))
            .child(t.child_id)
            .details(json!({ "sections": p.sections.len() })),
    )
    .await?;
    let body = serde_json::to_string_pretty(&p).map_err(|e| AppError::Internal(e.into()))?;
    ctx.commit().await?;
    Ok((
        [
            (
                header::CONTENT_TYPE,
                "application/json; charset=utf-8".to_string(),
            ),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"overlevering-{id}.json\""),
            ),
        ],
        body,
    )
        .into_response())
}

// ---------------------------------------------------------------------------------------------
// The transition's page

pub struct TransferLine {
    pub started: String,
    pub destination: String,
    pub status: &'static str,
    pub note: String,
}

/// What the transition's page shows of transfers: their state (the sender sees accepted or
/// rejected), and whether the user may start one.
pub struct TransitionTransfers {
    pub lines: Vec<TransferLine>,
    pub may_start: bool,
    pub may_export: bool,
}

/// A transfer of the transition, as `transitions::queries::page_data` reads it.
#[derive(Deserialize)]
pub struct TransferRow {
    #[serde(with = "time::serde::rfc3339")]
    pub started_at: OffsetDateTime,
    /// The receiving municipality's name (`None` while it is unknown).
    pub destination: Option<String>,
    pub status: String,
    pub decision_note: Option<String>,
}

/// Whether the user sees the transition's transfers: the municipality's administrators and the
/// sending institution.
pub fn visible(user: &CurrentUser, t: &tq::Transition) -> bool {
    user.child_scope() == ChildScope::Municipality || works_at(user, t.sending_institution_id)
}

/// The transfers part of the transition's page, from the rows read for a user who sees them.
pub fn for_transition(
    user: &CurrentUser,
    t: &tq::Transition,
    rows: Vec<TransferRow>,
) -> TransitionTransfers {
    if !visible(user, t) {
        return TransitionTransfers {
            lines: Vec::new(),
            may_start: false,
            may_export: false,
        };
    }
    let open = rows
        .iter()
        .any(|r| matches!(r.status.as_str(), "pending" | "destination_unknown"));
    let exportable = package::exportable(&t.status);
    TransitionTransfers {
        lines: rows
            .into_iter()
            .map(|r| TransferLine {
                started: format_at(r.started_at),
                destination: r.destination.unwrap_or_else(|| "Ukendt".into()),
                status: status_label(&r.status),
                note: r.decision_note.unwrap_or_default(),
            })
            .collect(),
        may_start: user.leads(t.sending_institution_id) && exportable && !open,
        may_export: exportable,
    }
}

// ---------------------------------------------------------------------------------------------
// Starting a transfer

#[derive(Default, Deserialize)]
#[serde(default)]
pub struct StartForm {
    pub destination: String,
}

#[derive(Template)]
#[template(path = "transfers/start.html")]
pub struct StartPage {
    pub layout: Layout,
    pub id: Uuid,
    pub child_name: String,
    pub sending: String,
    pub kind: String,
    pub planned_date: String,
    pub options: Vec<SelectOption>,
    pub unknown_selected: bool,
    pub error: String,
    pub sections: Vec<String>,
    pub perspectives: usize,
    pub amendments: usize,
}

async fn open_transfer(tx: &mut Tx, m: Uuid, transition: Uuid) -> Result<bool, sqlx::Error> {
    sqlx::query_scalar!(
        r#"SELECT EXISTS (SELECT 1 FROM transfers WHERE municipality_id = $1 AND transition_id = $2
                          AND status IN ('pending', 'destination_unknown')) AS "open!""#,
        m,
        transition
    )
    .fetch_one(&mut **tx)
    .await
}

/// The transition a transfer may start from: the user leads the sending institution (or
/// administers the municipality), the handover is ready or sent, no transfer is open.
async fn startable(ctx: &mut Ctx, id: Uuid) -> AppResult<(Uuid, tq::Transition)> {
    let (access, t) =
        sending_transition(ctx, id, |c, _, t| c.user.leads(t.sending_institution_id)).await?;
    if !package::exportable(&t.status) {
        return Err(not_exportable());
    }
    if open_transfer(&mut ctx.tx, access.municipality_id, id).await? {
        return Err(AppError::Conflict(
            "Der er allerede en flytning i gang for denne overgang.".into(),
        ));
    }
    Ok((access.municipality_id, t))
}

async fn start_page(
    ctx: &mut Ctx,
    m: Uuid,
    t: &tq::Transition,
    selected: &str,
    error: String,
) -> AppResult<StartPage> {
    let list = municipalities(&mut ctx.tx).await?;
    let p = package::build(&mut ctx.tx, m, t).await?;
    ctx.audit(Entry::new("view_transfer_package", "transition", Some(t.id)).child(t.child_id))
        .await?;
    Ok(StartPage {
        layout: ctx.layout(
            &format!("Flyt til anden kommune – {}", t.child_name),
            "/transitions",
        ),
        id: t.id,
        child_name: t.child_name.clone(),
        sending: t.sending_name.clone(),
        kind: kind_label(&t.kind),
        planned_date: format_date(t.planned_date),
        options: municipality_options(&list, selected),
        unknown_selected: selected == UNKNOWN,
        error,
        sections: p.sections.into_iter().map(|s| s.title).collect(),
        perspectives: p.parents_perspective.len(),
        amendments: p.amendments.len(),
    })
}

pub async fn start_form(mut ctx: Ctx, Path(id): Path<Uuid>) -> AppResult<Response> {
    let (m, t) = startable(&mut ctx, id).await?;
    let page = start_page(&mut ctx, m, &t, "", String::new()).await?;
    ctx.commit().await?;
    Ok(web::render(&page)?.into_response())
}

pub async fn start(
    mut ctx: Ctx,
    Path(id): Path<Uuid>,
    Form(f): Form<StartForm>,
) -> AppResult<Response> {
    let (m, t) = startable(&mut ctx, id).await?;
    let raw = f.destination.trim();
    let list = municipalities(&mut ctx.tx).await?;
    let destination = if raw == UNKNOWN {
        Ok(None)
    } else {
        raw.parse::<Uuid>()
            .ok()
            .and_then(|d| list.iter().find(|x| x.id == d))
            .map(Some)
            .ok_or(())
    };
    let Ok(destination) = destination else {
        let page = start_page(
            &mut ctx,
            m,
            &t,
            raw,
            "Vælg den kommune, barnet flytter til, eller «Ukendt destination».".into(),
        )
        .await?;
        ctx.commit().await?;
        return web::render_invalid(&page);
    };
    // Under the transition's lock, as a cancel or a recall takes it: one committed while this
    // request read the page is seen here, and one that comes after sees this transfer and
    // closes it (migration 35).
    let status = crate::transitions::status_under_lock(&mut ctx.tx, m, t.id).await?;
    if !package::exportable(status.as_str()) {
        return Err(not_exportable());
    }
    let p = package::build(&mut ctx.tx, m, &t).await?;
    let first_name = p.child.first_name.clone();
    let birth = sqlx::query_scalar!(
        "SELECT birth_date FROM children WHERE municipality_id = $1 AND id = $2",
        m,
        t.child_id
    )
    .fetch_one(&mut *ctx.tx)
    .await?;
    let transfer = sqlx::query_scalar!(
        "INSERT INTO transfers (municipality_id, transition_id, child_id, receiving_municipality_id,
                                status, package, child_first_name, child_birth_date, started_by)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING id",
        m,
        t.id,
        t.child_id,
        destination.map(|d| d.id),
        if destination.is_some() {
            "pending"
        } else {
            "destination_unknown"
        },
        p.to_json()?,
        first_name,
        birth,
        ctx.user.id
    )
    .fetch_one(&mut *ctx.tx)
    .await?;
    ctx.audit(
        Entry::new("start_transfer", "transfer", Some(transfer))
            .child(t.child_id)
            .details(json!({
                "transition_id": t.id,
                "receiving_municipality": destination.map(|d| format!("{} {}", d.code, d.name)),
                "sections": p.sections.len(),
            })),
    )
    .await?;
    ctx.commit().await?;
    let message = match destination {
        Some(d) => format!(
            "Flytningen er sendt til {}. Deres administrator kan se, når den er modtaget.",
            d.name
        ),
        None => "Flytningen venter på en destination hos kommunens administrator.".to_string(),
    };
    Ok(web::redirect_with_flash(
        &format!("/transitions/{id}"),
        Flash::success(message),
    ))
}

// ---------------------------------------------------------------------------------------------
// The administrator's overview

pub struct IncomingView {
    pub id: Uuid,
    pub sending: String,
    pub started: String,
    pub first_name: String,
    pub birth_date: String,
}

pub struct UnknownView {
    pub id: Uuid,
    pub child: String,
    pub transition_href: String,
    pub started: String,
}

pub struct OutgoingView {
    pub child: String,
    pub transition_href: String,
    pub destination: String,
    pub started: String,
    pub status: &'static str,
    pub note: String,
}

pub struct ReceivedView {
    pub href: String,
    pub child: String,
    pub sending: String,
    pub institution: String,
    pub received: String,
    pub source: &'static str,
}

#[derive(Template)]
#[template(path = "transfers/overview.html")]
pub struct OverviewPage {
    pub layout: Layout,
    pub incoming: Vec<IncomingView>,
    pub institutions: Vec<SelectOption>,
    pub unknown: Vec<UnknownView>,
    pub municipalities: Vec<SelectOption>,
    pub outgoing: Vec<OutgoingView>,
    pub received: Vec<ReceivedView>,
}

struct PendingRow {
    id: Uuid,
    sending_code: String,
    sending_name: String,
    started_at: OffsetDateTime,
    child_first_name: String,
    child_birth_date: time::Date,
}

async fn pending_incoming(tx: &mut Tx) -> Result<Vec<PendingRow>, sqlx::Error> {
    sqlx::query_as!(
        PendingRow,
        r#"SELECT id AS "id!", sending_code AS "sending_code!", sending_name AS "sending_name!",
                  started_at AS "started_at!", child_first_name AS "child_first_name!",
                  child_birth_date AS "child_birth_date!"
           FROM transfer_incoming()"#
    )
    .fetch_all(&mut **tx)
    .await
}

fn source_label(source: &str) -> &'static str {
    if source == "import" {
        "Importeret fil"
    } else {
        "Flytning"
    }
}

pub async fn overview(mut ctx: Ctx) -> AppResult<Response> {
    ctx.user.require(Permission::AdministerMunicipality)?;
    let m = ctx.user.municipality()?;
    let incoming = pending_incoming(&mut ctx.tx).await?;
    let institutions = institution_options(&mut ctx.tx, m, "").await?;
    let list = municipalities(&mut ctx.tx).await?;
    let names: HashMap<Uuid, String> = list.iter().map(|x| (x.id, x.name.clone())).collect();
    let own = sqlx::query!(
        r#"SELECT x.id, x.transition_id, c.first_name || ' ' || c.last_name AS "child!",
                  x.receiving_municipality_id, x.status, x.started_at, x.decision_note
           FROM transfers x
           JOIN children c ON c.municipality_id = x.municipality_id AND c.id = x.child_id
           WHERE x.municipality_id = $1
           ORDER BY x.started_at DESC, x.id
           LIMIT 500"#,
        m
    )
    .fetch_all(&mut *ctx.tx)
    .await?;
    let received = sqlx::query!(
        r#"SELECT h.id, c.first_name || ' ' || c.last_name AS "child!", h.sending_municipality_name,
                  i.name AS institution, h.received_at, h.source
           FROM incoming_handovers h
           JOIN children c ON c.municipality_id = h.municipality_id AND c.id = h.child_id
           JOIN institutions i ON i.municipality_id = h.municipality_id AND i.id = h.receiving_institution_id
           WHERE h.municipality_id = $1
           ORDER BY h.received_at DESC, h.id
           LIMIT 200"#,
        m
    )
    .fetch_all(&mut *ctx.tx)
    .await?;
    ctx.audit(Entry::new("list", "transfer", None).details(json!({
        "incoming": incoming.len(),
        "own": own.len(),
        "received": received.len(),
    })))
    .await?;
    let (unknown, outgoing): (Vec<_>, Vec<_>) = own
        .into_iter()
        .partition(|r| r.status == "destination_unknown");
    let page = OverviewPage {
        layout: ctx.layout("Flytninger mellem kommuner", NAV),
        incoming: incoming
            .into_iter()
            .map(|r| IncomingView {
                id: r.id,
                sending: format!("{} ({})", r.sending_name, r.sending_code),
                started: format_at(r.started_at),
                first_name: r.child_first_name,
                birth_date: format_date(r.child_birth_date),
            })
            .collect(),
        institutions,
        unknown: unknown
            .into_iter()
            .map(|r| UnknownView {
                id: r.id,
                child: r.child,
                transition_href: format!("/transitions/{}", r.transition_id),
                started: format_at(r.started_at),
            })
            .collect(),
        municipalities: municipality_options(&list, ""),
        outgoing: outgoing
            .into_iter()
            .map(|r| OutgoingView {
                child: r.child,
                transition_href: format!("/transitions/{}", r.transition_id),
                destination: r
                    .receiving_municipality_id
                    .and_then(|id| names.get(&id).cloned())
                    .unwrap_or_else(|| "Ukendt".into()),
                started: format_at(r.started_at),
                status: status_label(&r.status),
                note: r.decision_note.unwrap_or_default(),
            })
            .collect(),
        received: received
            .into_iter()
            .map(|r| ReceivedView {
                href: format!("/transfers/received/{}", r.id),
                child: r.child,
                sending: r.sending_municipality_name,
                institution: r.institution,
                received: format_at(r.received_at),
                source: source_label(&r.source),
            })
            .collect(),
    };
    ctx.commit().await?;
    Ok(web::render(&page)?.into_response())
}

// ---------------------------------------------------------------------------------------------
// The receiver's decision

#[derive(Default, Deserialize)]
#[serde(default)]
pub struct AcceptForm {
    pub receiving_institution_id: String,
}

#[derive(Default, Deserialize)]
#[serde(default)]
pub struct ReasonForm {
    pub reason: String,
}

/// A pending transfer addressed to the administrator's municipality (else 404).
async fn addressed_to_me(ctx: &mut Ctx, id: Uuid) -> AppResult<Uuid> {
    ctx.user.require(Permission::AdministerMunicipality)?;
    let m = ctx.user.municipality()?;
    if !pending_incoming(&mut ctx.tx)
        .await?
        .iter()
        .any(|r| r.id == id)
    {
        return Err(AppError::NotFound);
    }
    Ok(m)
}

struct Decided {
    package: Option<serde_json::Value>,
    sending_code: String,
    sending_name: String,
    withheld_sections: i32,
}

async fn decide(tx: &mut Tx, id: Uuid, accept: bool, note: Option<&str>) -> AppResult<Decided> {
    sqlx::query_as!(
        Decided,
        r#"SELECT package, sending_code AS "sending_code!", sending_name AS "sending_name!",
                  withheld_sections AS "withheld_sections!"
           FROM transfer_decide($1, $2, $3)"#,
        id,
        accept,
        note
    )
    .fetch_optional(&mut **tx)
    .await?
    // decided by somebody else in the meantime
    .ok_or(AppError::NotFound)
}

pub async fn accept(
    mut ctx: Ctx,
    Path(id): Path<Uuid>,
    Form(f): Form<AcceptForm>,
) -> AppResult<Response> {
    let m = addressed_to_me(&mut ctx, id).await?;
    let Some(institution) = chosen_institution(&mut ctx.tx, m, &f.receiving_institution_id).await?
    else {
        return Err(AppError::BadRequest(
            "Vælg den institution, der skal modtage barnet.".into(),
        ));
    };
    let d = decide(&mut ctx.tx, id, true, None).await?;
    let p = Package::from_json(d.package.ok_or(AppError::NotFound)?)?;
    ctx.audit(
        Entry::new("accept_transfer", "transfer", Some(id)).details(json!({
            "sending_municipality": format!("{} {}", d.sending_code, d.sending_name),
            "withheld_sections": d.withheld_sections,
        })),
    )
    .await?;
    let incoming = receive(
        &mut ctx,
        m,
        &p,
        institution,
        Some(id),
        &d.sending_code,
        &d.sending_name,
    )
    .await?;
    ctx.commit().await?;
    Ok(web::redirect_with_flash(
        &format!("/transfers/received/{incoming}"),
        Flash::success(
            "Flytningen er modtaget. Den modtagende institution kan nu læse overleveringen.",
        ),
    ))
}

pub async fn reject(
    mut ctx: Ctx,
    Path(id): Path<Uuid>,
    Form(f): Form<ReasonForm>,
) -> AppResult<Response> {
    addressed_to_me(&mut ctx, id).await?;
    let reason = f.reason.trim();
    if reason.chars().count() > 2000 {
        return Err(AppError::BadRequest(
            "Begrundelsen må højst være 2000 tegn.".into(),
        ));
    }
    let d = decide(&mut ctx.tx, id, false, Some(reason)).await?;
    ctx.audit(
        Entry::new("reject_transfer", "transfer", Some(id)).details(json!({
            "sending_municipality": format!("{} {}", d.sending_code, d.sending_name),
        })),
    )
    .await?;
    ctx.commit().await?;
    Ok(web::redirect_with_flash(
        NAV,
        Flash::success("Flytningen er afvist. Afsenderkommunen kan se det."),
    ))
}

/// Copies a package into the receiving municipality: the child (matched by first name, last
/// name and birth date when exactly one child matches, else created), an enrolment at the
/// receiving institution from the planned date (unless one is open there), and the incoming
/// handover. Returns the incoming handover's id.
async fn receive(
    ctx: &mut Ctx,
    m: Uuid,
    p: &Package,
    institution: Uuid,
    transfer: Option<Uuid>,
    sending_code: &str,
    sending_name: &str,
) -> AppResult<Uuid> {
    let bad = || AppError::BadRequest("Pakken har en ugyldig dato.".into());
    let birth = package::parse_iso_date(&p.child.birth_date).ok_or_else(bad)?;
    let planned = package::parse_iso_date(&p.transition.planned_date).ok_or_else(bad)?;
    let matches = sqlx::query_scalar!(
        "SELECT id FROM children
         WHERE municipality_id = $1 AND lower(first_name) = lower($2) AND lower(last_name) = lower($3)
           AND birth_date = $4
         LIMIT 2",
        m,
        p.child.first_name,
        p.child.last_name,
        birth
    )
    .fetch_all(&mut *ctx.tx)
    .await?;
    let (child, matched) = if matches.len() == 1 {
        (matches[0], true)
    } else {
        let id = sqlx::query_scalar!(
            "INSERT INTO children (municipality_id, first_name, last_name, birth_date)
             VALUES ($1, $2, $3, $4) RETURNING id",
            m,
            p.child.first_name,
            p.child.last_name,
            birth
        )
        .fetch_one(&mut *ctx.tx)
        .await?;
        (id, false)
    };
    sqlx::query!(
        "INSERT INTO enrolments (municipality_id, child_id, institution_id, starts_on)
         SELECT $1, $2, $3, $4
         WHERE NOT EXISTS (SELECT 1 FROM enrolments e
                           WHERE e.municipality_id = $1 AND e.child_id = $2 AND e.institution_id = $3
                             AND (e.ends_on IS NULL OR e.ends_on >= $4))",
        m,
        child,
        institution,
        planned
    )
    .execute(&mut *ctx.tx)
    .await?;
    let id = sqlx::query_scalar!(
        "INSERT INTO incoming_handovers (municipality_id, child_id, receiving_institution_id, source,
                                         transfer_id, sending_municipality_code, sending_municipality_name,
                                         matched_existing, package, received_by)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) RETURNING id",
        m,
        child,
        institution,
        if transfer.is_some() {
            "transfer"
        } else {
            "import"
        },
        transfer,
        sending_code,
        sending_name,
        matched,
        p.to_json()?,
        ctx.user.id
    )
    .fetch_one(&mut *ctx.tx)
    .await?;
    ctx.audit(
        Entry::new("receive_handover", "incoming_handover", Some(id))
            .child(child)
            .details(json!({
                "sending_municipality": format!("{sending_code} {sending_name}"),
                "receiving_institution_id": institution,
                "matched_existing_child": matched,
                "sections": p.sections.len(),
            })),
    )
    .await?;
    Ok(id)
}

// ---------------------------------------------------------------------------------------------
// The sender's queue of unknown destinations

/// An open transfer with an unknown destination of the administrator's municipality (else 404).
async fn unknown_destination(ctx: &mut Ctx, id: Uuid) -> AppResult<(Uuid, Uuid, Uuid)> {
    ctx.user.require(Permission::AdministerMunicipality)?;
    let m = ctx.user.municipality()?;
    let row = sqlx::query!(
        "SELECT transition_id, child_id FROM transfers
         WHERE municipality_id = $1 AND id = $2 AND status = 'destination_unknown' FOR UPDATE",
        m,
        id
    )
    .fetch_optional(&mut *ctx.tx)
    .await?
    .ok_or(AppError::NotFound)?;
    Ok((m, row.transition_id, row.child_id))
}

#[derive(Default, Deserialize)]
#[serde(default)]
pub struct DestinationForm {
    pub municipality_id: String,
}

pub async fn set_destination(
    mut ctx: Ctx,
    Path(id): Path<Uuid>,
    Form(f): Form<DestinationForm>,
) -> AppResult<Response> {
    let (m, transition, child) = unknown_destination(&mut ctx, id).await?;
    let list = municipalities(&mut ctx.tx).await?;
    let Some(destination) = f
        .municipality_id
        .trim()
        .parse::<Uuid>()
        .ok()
        .and_then(|d| list.iter().find(|x| x.id == d))
    else {
        return Err(AppError::BadRequest(
            "Vælg den kommune, barnet er flyttet til.".into(),
        ));
    };
    let t = tq::find(&mut ctx.tx, m, &ChildScope::Municipality, transition)
        .await?
        .ok_or(AppError::NotFound)?;
    if !package::exportable(&t.status) {
        return Err(not_exportable());
    }
    // built anew: consent and amendments may have changed while the destination was unknown
    let p = package::build(&mut ctx.tx, m, &t).await?;
    sqlx::query!(
        "UPDATE transfers SET receiving_municipality_id = $3, status = 'pending', package = $4
         WHERE municipality_id = $1 AND id = $2",
        m,
        id,
        destination.id,
        p.to_json()?
    )
    .execute(&mut *ctx.tx)
    .await?;
    ctx.audit(
        Entry::new("set_transfer_destination", "transfer", Some(id))
            .child(child)
            .details(json!({
                "receiving_municipality": format!("{} {}", destination.code, destination.name),
            })),
    )
    .await?;
    ctx.commit().await?;
    Ok(web::redirect_with_flash(
        NAV,
        Flash::success(format!("Flytningen er sendt til {}.", destination.name)),
    ))
}

pub async fn close(
    mut ctx: Ctx,
    Path(id): Path<Uuid>,
    Form(f): Form<ReasonForm>,
) -> AppResult<Response> {
    let (m, _, child) = unknown_destination(&mut ctx, id).await?;
    let reason = f.reason.trim();
    let n = reason.chars().count();
    if n == 0 || n > 2000 {
        return Err(AppError::BadRequest(
            "Skriv en begrundelse (højst 2000 tegn) for at lukke flytningen.".into(),
        ));
    }
    sqlx::query!(
        "UPDATE transfers SET status = 'closed', package = NULL, decided_at = now(), decision_note = $3
         WHERE municipality_id = $1 AND id = $2",
        m,
        id,
        reason
    )
    .execute(&mut *ctx.tx)
    .await?;
    ctx.audit(Entry::new("close_transfer", "transfer", Some(id)).child(child))
        .await?;
    ctx.commit().await?;
    Ok(web::redirect_with_flash(
        NAV,
        Flash::success("Flytningen er lukket."),
    ))
}

// ---------------------------------------------------------------------------------------------
// A handover received from another municipality

#[derive(Template)]
#[template(path = "transfers/incoming.html")]
pub struct IncomingPage {
    pub layout: Layout,
    pub child_name: String,
    pub child_href: String,
    pub birth_date: String,
    pub sending: String,
    pub institution: String,
    pub kind: String,
    pub planned_date: String,
    pub template: String,
    pub received: String,
    pub source: &'static str,
    pub matched: bool,
    pub package: Package,
}

/// Readable by the receiving institution's leaders and staff, and the administrators.
pub async fn show_incoming(mut ctx: Ctx, Path(id): Path<Uuid>) -> AppResult<Response> {
    let access = Access::check(&ctx, Permission::ViewChildren)?;
    let m = access.municipality_id;
    let row = sqlx::query!(
        "SELECT h.child_id, h.receiving_institution_id, i.name AS institution, h.package,
                h.received_at, h.source, h.matched_existing, h.sending_municipality_code,
                h.sending_municipality_name
         FROM incoming_handovers h
         JOIN institutions i ON i.municipality_id = h.municipality_id AND i.id = h.receiving_institution_id
         WHERE h.municipality_id = $1 AND h.id = $2",
        m,
        id
    )
    .fetch_optional(&mut *ctx.tx)
    .await?
    .ok_or(AppError::NotFound)?;
    if access.scope != ChildScope::Municipality
        && !works_at(&ctx.user, row.receiving_institution_id)
    {
        return Err(AppError::NotFound);
    }
    let p = Package::from_json(row.package)?;
    ctx.audit(
        Entry::new("read_incoming_handover", "incoming_handover", Some(id)).child(row.child_id),
    )
    .await?;
    let date = |s: &str| {
        package::parse_iso_date(s)
            .map(format_date)
            .unwrap_or_else(|| s.to_string())
    };
    let page = IncomingPage {
        layout: ctx.layout(
            &format!(
                "Overlevering fra {} – {} {}",
                row.sending_municipality_name, p.child.first_name, p.child.last_name
            ),
            "/inbox",
        ),
        child_name: format!("{} {}", p.child.first_name, p.child.last_name),
        child_href: children::child_path(row.child_id),
        birth_date: date(&p.child.birth_date),
        sending: format!(
            "{}, {} ({})",
            p.sender.institution.name, row.sending_municipality_name, row.sending_municipality_code
        ),
        institution: row.institution,
        kind: kind_label(&p.transition.kind),
        planned_date: date(&p.transition.planned_date),
        template: format!(
            "{} (version {})",
            p.transition.template_title, p.transition.template_version
        ),
        received: format_at(row.received_at),
        source: source_label(&row.source),
        matched: row.matched_existing,
        package: p,
    };
    ctx.commit().await?;
    Ok(web::render(&page)?.into_response())
}

pub struct InboxRow {
    pub href: String,
    pub child: String,
    pub sending: String,
    pub institution: String,
    pub received: String,
}

// ---------------------------------------------------------------------------------------------
// Import of a package file

#[derive(Template)]
#[template(path = "transfers/import.html")]
pub struct ImportPage {
    pub layout: Layout,
    pub institutions: Vec<SelectOption>,
    pub file_error: String,
    pub institution_error: String,
    pub max_kb: usize,
}

async fn import_page(
    ctx: &mut Ctx,
    m: Uuid,
    selected: &str,
    file_error: String,
    institution_error: String,
) -> AppResult<ImportPage> {
    Ok(ImportPage {
        institutions: institution_options(&mut ctx.tx, m, selected).await?,
        layout: ctx.layout("Importér en overleveringspakke", NAV),
        file_error,
        institution_error,
        max_kb: package::MAX_BYTES / 1024,
    })
}

pub async fn import_form(mut ctx: Ctx) -> AppResult<Response> {
    ctx.user.require(Permission::AdministerMunicipality)?;
    let m = ctx.user.municipality()?;
    let page = import_page(&mut ctx, m, "", String::new(), String::new()).await?;
    Ok(web::render(&page)?.into_response())
}

pub async fn import(
    mut ctx: Ctx,
    multipart: Result<Multipart, MultipartRejection>,
) -> AppResult<Response> {
    ctx.user.require(Permission::AdministerMunicipality)?;
    let m = ctx.user.municipality()?;
    let mut multipart = multipart.map_err(|_| {
        AppError::BadRequest("Vælg en overleveringspakke (JSON-fil) at importere.".into())
    })?;
    let mut file = None;
    let mut institution_raw = String::new();
    while let Some(field) = multipart
        .next_field()
        .await
        .map_err(|_| AppError::PayloadTooLarge)?
    {
        match field.name() {
            Some("file") => {
                let bytes = field.bytes().await.map_err(|_| AppError::PayloadTooLarge)?;
                if bytes.len() > package::MAX_BYTES {
                    return Err(AppError::PayloadTooLarge);
                }
                file = Some(bytes);
            }
            Some("receiving_institution_id") => {
                institution_raw = field
                    .text()
                    .await
                    .map_err(|_| AppError::BadRequest("Formularen var ugyldig.".into()))?;
            }
            _ => {}
        }
    }
    let Some(bytes) = file.filter(|b| !b.is_empty()) else {
        return Err(AppError::BadRequest(
            "Vælg en overleveringspakke (JSON-fil) at importere.".into(),
        ));
    };
    let institution = chosen_institution(&mut ctx.tx, m, &institution_raw).await?;
    let own = sqlx::query!(
        r#"SELECT code, current_date AS "today!" FROM municipalities WHERE id = $1"#,
        m
    )
    .fetch_one(&mut *ctx.tx)
    .await?;
    let parsed = package::parse(&bytes, own.today).and_then(|p| {
        if p.sender.municipality.code == own.code {
            Err(package::Invalid(
                "Pakken er fra jeres egen kommune; den kan ikke importeres som en overlevering udefra."
                    .into(),
            ))
        } else {
            Ok(p)
        }
    });
    let (p, institution) = match (parsed, institution) {
        (Ok(p), Some(i)) => (p, i),
        (parsed, institution) => {
            let page = import_page(
                &mut ctx,
                m,
                &institution_raw,
                parsed.err().map(|e| e.0).unwrap_or_default(),
                if institution.is_none() {
                    "Vælg den institution, der skal modtage barnet.".into()
                } else {
                    String::new()
                },
            )
            .await?;
            return web::render_invalid(&page);
        }
    };
    let code = p.sender.municipality.code.clone();
    let name = p.sender.municipality.name.clone();
    let id = receive(&mut ctx, m, &p, institution, None, &code, &name).await?;
    ctx.commit().await?;
    Ok(web::redirect_with_flash(
        &format!("/transfers/received/{id}"),
        Flash::success("Overleveringspakken er importeret."),
    ))
}

//! The receiving end: the receiving institution's inbox of incoming handovers by planned date,
//! read receipts (recorded when a receiver opens a sent handover), acknowledgement (the move
//! sent → received, which only the receiving institution's leaders and staff can make), and the
//! print view of a handover for either side.
//!
//! Who is a receiver: a user with a leader or staff role at the transition's receiving
//! institution. Administrators oversee the inbox of every institution but do not acknowledge or
//! leave read receipts in the receiver's name.

use askama::Template;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::json;
use sqlx::types::Json;
use time::OffsetDateTime;
use uuid::Uuid;

use super::{
    amendments::{self, AmendmentView},
    handlers::{self, kind_label, status_label, NAV},
    handover::{self, Audience, SectionRead},
    meeting,
    status::Status,
};
use crate::{
    audit::Entry,
    auth::{Ctx, CurrentUser, Permission, Role},
    children::{
        domain::{format_at, format_date},
        Access,
    },
    db::Tx,
    web::{self, AppError, AppResult, Flash, Form, Layout, Path},
};

pub const INBOX: &str = "/inbox";

/// Statuses in which the handover has reached the receiver.
pub const DELIVERED: [&str; 5] = [
    "sent",
    "received",
    "feedback_requested",
    "feedback_given",
    "closed",
];

pub fn is_delivered(status: &str) -> bool {
    DELIVERED.contains(&status)
}

/// Whether the user works at `institution` as a leader or staff member.
pub fn works_at(user: &CurrentUser, institution: Uuid) -> bool {
    user.institutions_with(Role::InstitutionLeader)
        .chain(user.institutions_with(Role::Staff))
        .any(|i| i == institution)
}

// ---------------------------------------------------------------------------------------------
// Queries

/// A handover sent to the user's institutions, as the inbox lists it.
#[derive(Deserialize)]
struct IncomingRow {
    id: Uuid,
    child_name: String,
    sending_name: String,
    receiving_name: String,
    kind: String,
    /// `DD-MM-YYYY`, as `format_date`.
    planned_date: String,
    status: String,
    read_by_me: bool,
    has_meeting: bool,
}

/// An open meeting agreement with a follow-up date.
#[derive(Deserialize)]
struct FollowUpRow {
    transition_id: Uuid,
    child: String,
    description: String,
    responsible: String,
    /// `DD-MM-YYYY`, as `format_date`.
    follow_up_on: String,
    overdue: bool,
}

/// A handover received from another municipality.
#[derive(Deserialize)]
struct TransferRow {
    id: Uuid,
    child: String,
    sending_municipality_name: String,
    institution: String,
    #[serde(with = "time::serde::rfc3339")]
    received_at: OffsetDateTime,
}

struct InboxData {
    incoming: Json<Vec<IncomingRow>>,
    on_the_way: i64,
    follow_ups: Json<Vec<FollowUpRow>>,
    transfers: Json<Vec<TransferRow>>,
}

/// Everything the inbox shows, in one statement (one round trip, not four), for the
/// institutions (or, with `all`, the whole municipality):
/// - handovers sent to them and not yet closed, by planned date (at most 1000);
/// - how many handovers to them are still being written (so the receiver knows what is coming
///   before it arrives);
/// - open agreements with a follow-up date on handovers from or to them, earliest first;
/// - handovers received from other municipalities, newest first.
///
/// The institutions are one array for every part (with `all`, every institution of the
/// municipality), so each part can use its institution index under a generic plan.
async fn inbox_data(
    tx: &mut Tx,
    municipality_id: Uuid,
    all: bool,
    institutions: &[Uuid],
    user_id: Uuid,
) -> Result<InboxData, sqlx::Error> {
    sqlx::query_as!(
        InboxData,
        r#"WITH mine AS (
               SELECT CASE WHEN $2 THEN ARRAY(SELECT i.id FROM institutions i
                                              WHERE i.municipality_id = $1)
                           ELSE $3::uuid[] END AS ids
           )
           SELECT
             (SELECT coalesce(json_agg(x ORDER BY x.planned_on, x.first_name, x.last_name, x.id), '[]')
              FROM (SELECT t.id, c.first_name, c.last_name, t.planned_date AS planned_on,
                           c.first_name || ' ' || c.last_name AS child_name,
                           s.name AS sending_name, r.name AS receiving_name, t.kind,
                           to_char(t.planned_date, 'DD-MM-YYYY') AS planned_date, t.status,
                           EXISTS (SELECT 1 FROM transition_reads x
                                   WHERE x.municipality_id = t.municipality_id
                                     AND x.transition_id = t.id AND x.user_id = $4) AS read_by_me,
                           EXISTS (SELECT 1 FROM handover_meetings h
                                   WHERE h.municipality_id = t.municipality_id
                                     AND h.transition_id = t.id) AS has_meeting
                    FROM transitions t
                    JOIN children c ON c.municipality_id = t.municipality_id AND c.id = t.child_id
                    JOIN institutions s ON s.municipality_id = t.municipality_id
                                       AND s.id = t.sending_institution_id
                    JOIN institutions r ON r.municipality_id = t.municipality_id
                                       AND r.id = t.receiving_institution_id
                    WHERE t.municipality_id = $1
                      AND t.receiving_institution_id = ANY ((SELECT ids FROM mine)::uuid[])
                      AND t.status IN ('sent', 'received', 'feedback_requested', 'feedback_given')
                    ORDER BY t.planned_date, c.first_name, c.last_name, t.id
                    LIMIT 1000) x) AS "incoming!: Json<Vec<IncomingRow>>",
             (SELECT count(*) FROM transitions t
              WHERE t.municipality_id = $1
                AND t.receiving_institution_id = ANY ((SELECT ids FROM mine)::uuid[])
                AND t.status IN ('draft', 'with_parents', 'ready')) AS "on_the_way!",
             (SELECT coalesce(json_agg(x ORDER BY x.follow_up_date, x.id), '[]')
              FROM (SELECT a.id, a.transition_id, a.description, a.responsible,
                           a.follow_up_on AS follow_up_date,
                           to_char(a.follow_up_on, 'DD-MM-YYYY') AS follow_up_on,
                           a.follow_up_on < current_date AS overdue,
                           c.first_name || ' ' || c.last_name AS child
                    FROM meeting_agreements a
                    JOIN transitions t ON t.municipality_id = a.municipality_id
                                      AND t.id = a.transition_id
                    JOIN children c ON c.municipality_id = t.municipality_id AND c.id = t.child_id
                    WHERE a.municipality_id = $1 AND a.done_at IS NULL
                      AND a.follow_up_on IS NOT NULL
                      AND t.status NOT IN ('closed', 'cancelled')
                      AND (t.sending_institution_id = ANY ((SELECT ids FROM mine)::uuid[])
                           OR t.receiving_institution_id = ANY ((SELECT ids FROM mine)::uuid[]))
                    ORDER BY a.follow_up_on, a.id
                    LIMIT 200) x) AS "follow_ups!: Json<Vec<FollowUpRow>>",
             (SELECT coalesce(json_agg(x ORDER BY x.received_at DESC, x.id), '[]')
              FROM (SELECT h.id, c.first_name || ' ' || c.last_name AS child,
                           h.sending_municipality_name, i.name AS institution, h.received_at
                    FROM incoming_handovers h
                    JOIN children c ON c.municipality_id = h.municipality_id AND c.id = h.child_id
                    JOIN institutions i ON i.municipality_id = h.municipality_id
                                       AND i.id = h.receiving_institution_id
                    WHERE h.municipality_id = $1
                      AND h.receiving_institution_id = ANY ((SELECT ids FROM mine)::uuid[])
                    ORDER BY h.received_at DESC, h.id
                    LIMIT 200) x) AS "transfers!: Json<Vec<TransferRow>>""#,
        municipality_id,
        all,
        institutions,
        user_id
    )
    .fetch_one(&mut **tx)
    .await
}

/// The addresses to tell of a change to a handover the institution has received: its active
/// staff and leaders (not specialists or others who only read what they are shown).
pub async fn receiving_staff(
    tx: &mut Tx,
    municipality_id: Uuid,
    institution_id: Uuid,
) -> Result<Vec<String>, sqlx::Error> {
    sqlx::query_scalar!(
        "SELECT DISTINCT u.email FROM users u
         JOIN role_assignments r ON r.municipality_id = u.municipality_id AND r.user_id = u.id
         WHERE u.municipality_id = $1 AND r.institution_id = $2 AND u.is_active
           AND r.role IN ('staff', 'institution_leader')
         ORDER BY u.email",
        municipality_id,
        institution_id
    )
    .fetch_all(&mut **tx)
    .await
}

pub const CANCELLED_SUBJECT: &str = "En modtaget overlevering er annulleret";

#[derive(Template)]
#[template(path = "mail/handover_cancelled.txt")]
struct CancelledMail<'a> {
    sending: &'a str,
    link: &'a str,
}

/// Tells the receiving institution's staff that a handover it had received was cancelled: it
/// disappears from their inbox, and they may have noted things from it elsewhere. The mail
/// names no child and carries no reason (the sender's note may name the child).
pub async fn tell_of_cancellation(
    tx: &mut Tx,
    config: &crate::config::Config,
    municipality_id: Uuid,
    receiving_institution_id: Uuid,
    sending_name: &str,
) -> AppResult<()> {
    let link = crate::mail::link(config, INBOX);
    let body = CancelledMail {
        sending: sending_name,
        link: &link,
    }
    .render()?;
    for to in receiving_staff(tx, municipality_id, receiving_institution_id).await? {
        crate::mail::enqueue(tx, Some(municipality_id), &to, CANCELLED_SUBJECT, &body).await?;
    }
    Ok(())
}

/// Of `transitions`, those the receiver has seen the key points of: the ones previewed before,
/// and those still delivered now, noted as previewed (their key points are about to be shown
/// without the handover being opened: the class overview). Like `record_read`, a share lock
/// orders a new preview against a concurrent recall, which then sees it; a handover recalled
/// first is left out, and its key points are not shown. One previewed before cannot have been
/// recalled since, so it is neither locked nor written again.
pub async fn record_previews(
    tx: &mut Tx,
    municipality_id: Uuid,
    transitions: &[Uuid],
) -> Result<Vec<Uuid>, sqlx::Error> {
    if transitions.is_empty() {
        return Ok(Vec::new());
    }
    sqlx::query_scalar!(
        r#"WITH fresh AS (
               SELECT t.id FROM transitions t
               WHERE t.municipality_id = $1 AND t.id = ANY ($2) AND t.status = ANY ($3)
                 AND NOT EXISTS (SELECT 1 FROM transition_previews p
                                 WHERE p.municipality_id = $1 AND p.transition_id = t.id)
               ORDER BY t.id
               FOR SHARE OF t),
           noted AS (
               INSERT INTO transition_previews (municipality_id, transition_id)
               SELECT $1, id FROM fresh
               ON CONFLICT DO NOTHING)
           SELECT id AS "id!" FROM fresh
           UNION ALL
           SELECT transition_id FROM transition_previews
           WHERE municipality_id = $1 AND transition_id = ANY ($2)"#,
        municipality_id,
        transitions,
        &DELIVERED[..] as &[&str]
    )
    .fetch_all(&mut **tx)
    .await
}

/// Records that `user_id` opened the handover (the first time, and the latest) if it is still
/// delivered; returns whether it is, and when the user last read it before now. The share lock
/// on the transition orders this against a concurrent recall (`amendments::recall`).
async fn record_read(
    tx: &mut Tx,
    municipality_id: Uuid,
    transition_id: Uuid,
    user_id: Uuid,
) -> Result<(bool, Option<OffsetDateTime>), sqlx::Error> {
    let status = sqlx::query_scalar!(
        "SELECT status FROM transitions WHERE municipality_id = $1 AND id = $2 FOR SHARE",
        municipality_id,
        transition_id
    )
    .fetch_optional(&mut **tx)
    .await?;
    if !status.as_deref().is_some_and(is_delivered) {
        return Ok((false, None));
    }
    let previous = sqlx::query_scalar!(
        "SELECT last_read_at FROM transition_reads
         WHERE municipality_id = $1 AND transition_id = $2 AND user_id = $3",
        municipality_id,
        transition_id,
        user_id
    )
    .fetch_optional(&mut **tx)
    .await?;
    sqlx::query!(
        "INSERT INTO transition_reads (municipality_id, transition_id, user_id)
         VALUES ($1, $2, $3)
         ON CONFLICT (municipality_id, transition_id, user_id) DO UPDATE SET last_read_at = now()",
        municipality_id,
        transition_id,
        user_id
    )
    .execute(&mut **tx)
    .await?;
    Ok((true, previous))
}

pub struct Receipt {
    pub name: String,
    pub first_read_at: OffsetDateTime,
    pub last_read_at: OffsetDateTime,
}

async fn receipts(
    tx: &mut Tx,
    municipality_id: Uuid,
    transition_id: Uuid,
) -> Result<Vec<Receipt>, sqlx::Error> {
    sqlx::query_as!(
        Receipt,
        "SELECT u.name, x.first_read_at, x.last_read_at
         FROM transition_reads x
         JOIN users u ON u.municipality_id = x.municipality_id AND u.id = x.user_id
         WHERE x.municipality_id = $1 AND x.transition_id = $2
         ORDER BY x.first_read_at, u.name",
        municipality_id,
        transition_id
    )
    .fetch_all(&mut **tx)
    .await
}

// ---------------------------------------------------------------------------------------------
// What the transition's page shows of the receiving end

pub struct ReceiptView {
    pub name: String,
    pub first: String,
    pub last: String,
}

/// The receiving end as the transition's page shows it, to the sender or the receiver.
pub struct ReceivingView {
    /// The handover as the receiver reads it (only for receivers once it is sent).
    pub handover: Option<Vec<SectionRead>>,
    pub may_acknowledge: bool,
    /// The sending side always; a receiver once it is sent.
    pub may_print: bool,
    /// Read receipts (for the sender, once sent).
    pub receipts: Option<Vec<ReceiptView>>,
    pub meeting: meeting::Summary,
    /// Amendments after sending (both sides, once sent).
    pub amendments: Option<Vec<AmendmentView>>,
    pub may_amend: bool,
    /// Sent, and nobody at the receiver has opened it yet.
    pub may_recall: bool,
}

/// Loads the receiving end for the transition page, and records the read receipt when a
/// receiver opens a delivered handover (in the page's own transaction, with its audit entry).
/// `meeting` is the meeting part, read with the rest of the page (`queries::page_data`).
pub async fn for_page(
    ctx: &mut Ctx,
    t: &super::queries::Transition,
    acts: bool,
    meeting: meeting::Summary,
) -> AppResult<ReceivingView> {
    let m = ctx.user.municipality()?;
    let receiver = works_at(&ctx.user, t.receiving_institution_id);
    let delivered = is_delivered(&t.status);
    let (handover, seen) = if receiver && delivered {
        let (still, seen) = record_read(&mut ctx.tx, m, t.id, ctx.user.id).await?;
        if still {
            ctx.audit(Entry::new("read_handover", "transition", Some(t.id)).child(t.child_id))
                .await?;
            let read =
                handover::load(&mut ctx.tx, m, t.id, t.template_id, Audience::Receiver).await?;
            (Some(read), seen)
        } else {
            (None, None)
        }
    } else {
        (None, None)
    };
    let amendments = if delivered && (acts || handover.is_some()) {
        Some(amendments::list(&mut ctx.tx, m, t.id, seen).await?)
    } else {
        None
    };
    let may_recall = acts
        && t.status == Status::Sent.as_str()
        && !amendments::opened(&mut ctx.tx, m, t.id).await?;
    let receipts = if acts && delivered {
        Some(
            receipts(&mut ctx.tx, m, t.id)
                .await?
                .into_iter()
                .map(|r| ReceiptView {
                    name: r.name,
                    first: format_at(r.first_read_at),
                    last: format_at(r.last_read_at),
                })
                .collect(),
        )
    } else {
        None
    };
    Ok(ReceivingView {
        handover,
        may_acknowledge: receiver && t.status == Status::Sent.as_str(),
        may_print: acts || (receiver && delivered),
        receipts,
        meeting,
        may_amend: acts && amendments.is_some() && t.status != "closed",
        amendments,
        may_recall,
    })
}

// ---------------------------------------------------------------------------------------------
// The inbox

pub struct InboxView {
    pub href: String,
    pub child: String,
    pub sending: String,
    pub receiving: String,
    pub kind: String,
    pub planned_date: String,
    pub status: &'static str,
    pub unread: bool,
    pub has_meeting: bool,
}

#[derive(Template)]
#[template(path = "transitions/inbox.html")]
pub struct InboxPage {
    pub layout: Layout,
    pub rows: Vec<InboxView>,
    pub on_the_way: i64,
    pub show_receiving: bool,
    pub followups: Vec<meeting::FollowUp>,
    /// Handovers received from other municipalities.
    pub from_elsewhere: Vec<crate::transfers::handlers::InboxRow>,
}

pub async fn inbox(mut ctx: Ctx) -> AppResult<Response> {
    let access = Access::check(&ctx, Permission::ViewChildren)?;
    let m = access.municipality_id;
    // administrators: the whole municipality; leaders and staff: their institutions
    let (all, mine) = access.scope.as_params();
    let data = inbox_data(&mut ctx.tx, m, all, &mine, ctx.user.id).await?;
    ctx.audit(Entry::new("list", "inbox", None).details(json!({
        "incoming": data.incoming.0.len(),
        "follow_ups": data.follow_ups.0.len(),
        "from_elsewhere": data.transfers.0.len(),
    })))
    .await?;
    let page = InboxPage {
        layout: ctx.layout("Indbakke", INBOX),
        rows: data
            .incoming
            .0
            .into_iter()
            .map(|r| InboxView {
                href: format!("/transitions/{}", r.id),
                child: r.child_name,
                sending: r.sending_name,
                receiving: r.receiving_name,
                kind: kind_label(&r.kind),
                planned_date: r.planned_date,
                status: status_label(&r.status),
                unread: !r.read_by_me,
                has_meeting: r.has_meeting,
            })
            .collect(),
        on_the_way: data.on_the_way,
        show_receiving: all || mine.len() > 1,
        followups: data
            .follow_ups
            .0
            .into_iter()
            .map(|a| meeting::FollowUp {
                href: meeting::meeting_path(a.transition_id),
                child: a.child,
                description: a.description,
                responsible: a.responsible,
                follow_up_on: a.follow_up_on,
                overdue: a.overdue,
            })
            .collect(),
        from_elsewhere: data
            .transfers
            .0
            .into_iter()
            .map(|r| crate::transfers::handlers::InboxRow {
                href: format!("/transfers/received/{}", r.id),
                child: r.child,
                sending: r.sending_municipality_name,
                institution: r.institution,
                received: format_at(r.received_at),
            })
            .collect(),
    };
    ctx.commit().await?;
    Ok(web::render(&page)?.into_response())
}

// ---------------------------------------------------------------------------------------------
// Acknowledgement

#[derive(Default, Deserialize)]
#[serde(default)]
pub struct AcknowledgeForm {
    pub version: String,
    pub ack_note: String,
}

pub async fn acknowledge(
    mut ctx: Ctx,
    Path(id): Path<Uuid>,
    Form(f): Form<AcknowledgeForm>,
) -> AppResult<Response> {
    let access = Access::check(&ctx, Permission::ViewChildren)?;
    let (t, _) = handlers::visible(&mut ctx, &access, id).await?;
    if !works_at(&ctx.user, t.receiving_institution_id) {
        return Err(AppError::Forbidden);
    }
    let version: i32 = f.version.trim().parse().map_err(|_| {
        AppError::BadRequest(
            "Formularen manglede overleveringens version. Genindlæs siden og prøv igen.".into(),
        )
    })?;
    let note = f.ack_note.trim();
    if note.chars().count() > 2000 {
        return Err(AppError::BadRequest(
            "Bemærkningen må højst være 2000 tegn.".into(),
        ));
    }
    let actor = ctx.actor();
    super::status::transition_status(
        &mut ctx.tx,
        &actor,
        access.municipality_id,
        id,
        version,
        Status::Received,
        (!note.is_empty()).then_some(note),
    )
    .await?;
    // acknowledging is also reading it
    record_read(&mut ctx.tx, access.municipality_id, id, ctx.user.id).await?;
    ctx.commit().await?;
    Ok(web::redirect_with_flash(
        &format!("/transitions/{id}"),
        Flash::success("Tak. Afsenderen kan nu se, at I har modtaget overleveringen."),
    ))
}

// ---------------------------------------------------------------------------------------------
// Print view

#[derive(Template)]
#[template(path = "transitions/print.html")]
pub struct PrintPage {
    pub layout: Layout,
    pub id: Uuid,
    pub child_name: String,
    pub birth_date: String,
    pub sending: String,
    pub receiving: String,
    pub kind: String,
    pub planned_date: String,
    pub template: String,
    pub status: &'static str,
    pub audience: &'static str,
    pub printed_at: String,
    pub sections: Vec<SectionRead>,
    pub meeting: meeting::Summary,
}

/// The handover for printing (or saving as PDF from the browser): the sender's full copy for
/// the sending side, the receiver's consented view for the receiving side; 403 for a receiver
/// before it is sent.
pub async fn print(mut ctx: Ctx, Path(id): Path<Uuid>) -> AppResult<Response> {
    let access = Access::check(&ctx, Permission::ViewChildren)?;
    let m = access.municipality_id;
    let (t, acts) = handlers::visible(&mut ctx, &access, id).await?;
    let audience = if acts {
        Audience::Sender
    } else if works_at(&ctx.user, t.receiving_institution_id) && is_delivered(&t.status) {
        Audience::Receiver
    } else {
        return Err(AppError::Forbidden);
    };
    // Printing the receiver's copy is reading it: the receipt, as when the page is opened, so
    // that the sender can see it was read and can no longer recall it. Under the transition's
    // share lock, which a recall at the same moment waits for (or, if first, is seen here).
    if audience == Audience::Receiver && !record_read(&mut ctx.tx, m, id, ctx.user.id).await?.0 {
        return Err(AppError::Forbidden);
    }
    let sections = handover::load(&mut ctx.tx, m, id, t.template_id, audience).await?;
    let birth_date = sqlx::query_scalar!(
        "SELECT birth_date FROM children WHERE municipality_id = $1 AND id = $2",
        m,
        t.child_id
    )
    .fetch_one(&mut *ctx.tx)
    .await?;
    let meeting = meeting::summary(&mut ctx, &t, true).await?;
    ctx.audit(
        Entry::new("print", "transition", Some(id))
            .child(t.child_id)
            .details(json!({ "audience": if acts { "sender" } else { "receiver" } })),
    )
    .await?;
    let now = OffsetDateTime::now_utc();
    let page = PrintPage {
        layout: ctx.layout(&format!("Overlevering – {}", t.child_name), NAV),
        id,
        child_name: t.child_name,
        birth_date: format_date(birth_date),
        sending: t.sending_name,
        receiving: t.receiving_name,
        kind: kind_label(&t.kind),
        planned_date: format_date(t.planned_date),
        template: format!("{} (version {})", t.template_title, t.template_version),
        status: status_label(&t.status),
        audience: if acts {
            "Afsenderens eksemplar: alle svar, også dem der kun deles med samtykke."
        } else {
            "Modtagerens eksemplar: det, der er delt med jer."
        },
        printed_at: format_at(now),
        sections,
        meeting,
    };
    ctx.commit().await?;
    Ok(web::render(&page)?.into_response())
}

//! The handover meeting (overleveringsmøde): when and where, who took part, notes, and the
//! agreements made with who follows up and when. The form prepares the meeting; this is its
//! record. Both sides keep it: the sending institution (and administrators) and the receiving
//! institution's leaders and staff; it is read-only once the transition is closed or cancelled.
//! Two people saving the meeting at once meet the version check, never a silent overwrite.

use askama::Template;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::json;
use sqlx::types::Json;
use time::{Date, Time};
use uuid::Uuid;

use super::{
    handlers::{self, NAV},
    queries::Transition,
    receiving::works_at,
    status::Status,
};
use crate::{
    audit::Entry,
    auth::{Ctx, Permission},
    children::{
        domain::{format_date, iso_date, parse_date},
        Access,
    },
    db::Tx,
    web::{
        self,
        form::{multiline_text, required_text},
        AppError, AppResult, FieldErrors, Flash, Form, Layout, Path, SelectOption,
    },
};

const MAX_NOTES: usize = 10_000;

pub(super) fn meeting_path(id: Uuid) -> String {
    format!("/transitions/{id}/meeting")
}

pub struct AgreementView {
    pub id: Uuid,
    pub description: String,
    pub responsible: String,
    pub follow_up_on: String,
    pub done: bool,
    pub overdue: bool,
}

/// The meeting as the transition's page, the meeting page and the print show it.
#[derive(Default)]
pub struct Summary {
    /// Whether the user may see the meeting at all (the two sides).
    pub visible: bool,
    pub may_edit: bool,
    pub exists: bool,
    pub version: i32,
    pub held: String,
    pub place: String,
    pub participants: String,
    pub notes: String,
    pub agreements: Vec<AgreementView>,
    /// Some agreement is not yet followed up.
    pub has_open: bool,
    /// What the sending side wants besides the written handover ("" until it says).
    pub wish: &'static str,
}

/// The sending side's wish for a meeting or an oral handover: (stored value, label).
pub const WISHES: [(&str, &str); 3] = [
    ("meeting", "Vi ønsker et overleveringsmøde"),
    (
        "oral",
        "Vi ønsker en mundtlig overlevering, fx en telefonsamtale",
    ),
    ("none", "Skemaet er nok – intet møde eller samtale"),
];

fn wish_label(value: &str) -> &'static str {
    WISHES
        .iter()
        .find(|(v, _)| *v == value)
        .map(|(_, l)| *l)
        .unwrap_or("")
}

async fn stored_wish(tx: &mut Tx, m: Uuid, transition_id: Uuid) -> Result<String, sqlx::Error> {
    Ok(sqlx::query_scalar!(
        "SELECT wish FROM handover_wishes WHERE municipality_id = $1 AND transition_id = $2",
        m,
        transition_id
    )
    .fetch_optional(&mut **tx)
    .await?
    .unwrap_or_default())
}

struct MeetingRow {
    held_on: Date,
    held_time: Option<Time>,
    place: String,
    participants: String,
    notes: String,
    version: i32,
}

async fn find(
    tx: &mut Tx,
    m: Uuid,
    transition_id: Uuid,
) -> Result<Option<MeetingRow>, sqlx::Error> {
    sqlx::query_as!(
        MeetingRow,
        "SELECT held_on, held_time, place, participants, notes, version FROM handover_meetings
         WHERE municipality_id = $1 AND transition_id = $2",
        m,
        transition_id
    )
    .fetch_optional(&mut **tx)
    .await
}

/// An agreement as `summary` reads it: the dates already in `DD-MM-YYYY`.
#[derive(Deserialize)]
pub struct AgreementRow {
    id: Uuid,
    description: String,
    responsible: String,
    follow_up_on: Option<String>,
    overdue: bool,
    done: bool,
}

/// The meeting (if held), the wish and the agreements of a transition, as
/// `meeting_summary(..)` (migration 28) reads them.
pub struct SummaryRow {
    pub held_on: Option<Date>,
    pub held_time: Option<Time>,
    pub place: Option<String>,
    pub participants: Option<String>,
    pub notes: Option<String>,
    pub version: Option<i32>,
    pub wish: Option<String>,
    pub agreements: Option<Json<Vec<AgreementRow>>>,
}

async fn summary_row(
    tx: &mut Tx,
    m: Uuid,
    transition_id: Uuid,
    today: Date,
) -> Result<SummaryRow, sqlx::Error> {
    sqlx::query_as!(
        SummaryRow,
        r#"SELECT held_on, held_time, place, participants, notes, version, wish,
                  agreements AS "agreements: Json<Vec<AgreementRow>>"
           FROM meeting_summary($1, $2, $3)"#,
        m,
        transition_id,
        today
    )
    .fetch_one(&mut **tx)
    .await
}

fn time_text(t: Time) -> String {
    format!("{:02}:{:02}", t.hour(), t.minute())
}

/// Whether the user keeps the meeting of `t`: the sending side (`acts`) or a receiver.
pub(super) fn keeps(ctx: &Ctx, t: &Transition, acts: bool) -> bool {
    acts || works_at(&ctx.user, t.receiving_institution_id)
}

fn open(t: &Transition) -> bool {
    Status::parse(&t.status).is_some_and(Status::is_open)
}

/// The meeting of `t` for a user who may (`visible`) see it.
pub async fn summary(ctx: &mut Ctx, t: &Transition, visible: bool) -> AppResult<Summary> {
    if !visible {
        return Ok(Summary::default());
    }
    let m = ctx.user.municipality()?;
    let row = summary_row(&mut ctx.tx, m, t.id, ctx.today).await?;
    Ok(summary_of(t, row))
}

/// The summary of `t`'s meeting from its row, for a user who may see it.
pub(super) fn summary_of(t: &Transition, row: SummaryRow) -> Summary {
    let mut s = Summary {
        visible: true,
        may_edit: open(t),
        wish: wish_label(row.wish.as_deref().unwrap_or_default()),
        ..Summary::default()
    };
    if let (Some(held_on), Some(version)) = (row.held_on, row.version) {
        s.exists = true;
        s.version = version;
        s.held = match row.held_time {
            Some(time) => format!("{} kl. {}", format_date(held_on), time_text(time)),
            None => format_date(held_on),
        };
        s.place = row.place.unwrap_or_default();
        s.participants = row.participants.unwrap_or_default();
        s.notes = row.notes.unwrap_or_default();
        s.agreements = row
            .agreements
            .map(|a| a.0)
            .unwrap_or_default()
            .into_iter()
            .map(|a| AgreementView {
                id: a.id,
                description: a.description,
                responsible: a.responsible,
                follow_up_on: a.follow_up_on.unwrap_or_default(),
                overdue: a.overdue,
                done: a.done,
            })
            .collect();
        s.has_open = s.agreements.iter().any(|a| !a.done);
    }
    s
}

/// The transition if the user keeps its meeting (visible, else 404; a side, else 403).
async fn kept(ctx: &mut Ctx, access: &Access, id: Uuid) -> AppResult<Transition> {
    let (t, acts) = handlers::visible(ctx, access, id).await?;
    if !keeps(ctx, &t, acts) {
        return Err(AppError::Forbidden);
    }
    Ok(t)
}

/// As `kept`, and the meeting can still be changed (else 409).
async fn editable(ctx: &mut Ctx, access: &Access, id: Uuid) -> AppResult<Transition> {
    let t = kept(ctx, access, id).await?;
    still_open(ctx, access.municipality_id, id, "Mødet").await?;
    Ok(t)
}

/// Takes the transition's lock, and refuses (409) unless its status, as a close at the same
/// moment left it, is still open: `what` can no longer be changed.
async fn still_open(ctx: &mut Ctx, m: Uuid, id: Uuid, what: &str) -> AppResult<()> {
    let status = super::status_under_lock(&mut ctx.tx, m, id).await?;
    if !status.is_open() {
        return Err(AppError::Conflict(format!(
            "{what} kan ikke ændres, fordi overleveringen har status «{}».",
            status.label()
        )));
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// The meeting page

#[derive(Default, Deserialize)]
#[serde(default)]
pub struct MeetingForm {
    pub version: String,
    pub held_on: String,
    pub held_time: String,
    pub place: String,
    pub participants: String,
    pub notes: String,
}

#[derive(Default, Deserialize)]
#[serde(default)]
pub struct AgreementForm {
    pub description: String,
    pub responsible: String,
    pub follow_up_on: String,
}

#[derive(Template)]
#[template(path = "transitions/meeting.html")]
pub struct MeetingPage {
    pub layout: Layout,
    pub id: Uuid,
    pub child_name: String,
    pub summary: Summary,
    pub form: MeetingForm,
    pub errors: FieldErrors,
    pub agreement: AgreementForm,
    pub agreement_errors: FieldErrors,
    /// The sending side's wish form (while the handover is open).
    pub wishes: Option<Vec<SelectOption>>,
}

async fn page(
    ctx: &mut Ctx,
    t: &Transition,
    form: Option<MeetingForm>,
    errors: FieldErrors,
    agreement: AgreementForm,
    agreement_errors: FieldErrors,
) -> AppResult<MeetingPage> {
    let summary = summary(ctx, t, true).await?;
    let access = Access::check(ctx, Permission::ViewChildren)?;
    let wishes = if access.manages(t.sending_institution_id) && open(t) {
        let current = stored_wish(&mut ctx.tx, access.municipality_id, t.id).await?;
        Some(
            WISHES
                .iter()
                .map(|(v, l)| SelectOption::new(*v, *l, *v == current))
                .collect(),
        )
    } else {
        None
    };
    let form = form.unwrap_or_else(|| {
        let m = &summary;
        MeetingForm {
            version: m.version.to_string(),
            ..MeetingForm::default()
        }
    });
    Ok(MeetingPage {
        layout: ctx.layout(&format!("Overleveringsmøde – {}", t.child_name), NAV),
        id: t.id,
        child_name: t.child_name.clone(),
        summary,
        form,
        errors,
        agreement,
        agreement_errors,
        wishes,
    })
}

#[derive(Default, Deserialize)]
#[serde(default)]
pub struct WishForm {
    pub wish: String,
}

/// The sending side says whether it wants a handover meeting or an oral handover; the
/// receiving teacher sees it in the class overview.
pub async fn save_wish(
    mut ctx: Ctx,
    Path(id): Path<Uuid>,
    Form(f): Form<WishForm>,
) -> AppResult<Response> {
    let access = Access::check(&ctx, Permission::ViewChildren)?;
    let m = access.municipality_id;
    let (t, acts) = handlers::visible(&mut ctx, &access, id).await?;
    if !acts {
        return Err(AppError::Forbidden);
    }
    let Some(&(wish, _)) = WISHES.iter().find(|(v, _)| *v == f.wish.trim()) else {
        return Err(AppError::BadRequest(
            "Vælg, om I ønsker et møde, en mundtlig overlevering eller ingen af delene.".into(),
        ));
    };
    still_open(&mut ctx, m, id, "Ønsket").await?;
    sqlx::query!(
        "INSERT INTO handover_wishes (municipality_id, transition_id, wish, updated_by)
         VALUES ($1, $2, $3, $4)
         ON CONFLICT (municipality_id, transition_id)
         DO UPDATE SET wish = EXCLUDED.wish, updated_by = EXCLUDED.updated_by, updated_at = now()",
        m,
        id,
        wish,
        ctx.user.id
    )
    .execute(&mut *ctx.tx)
    .await?;
    ctx.audit(
        Entry::new("save_handover_wish", "transition", Some(id))
            .child(t.child_id)
            .details(json!({ "wish": wish })),
    )
    .await?;
    ctx.commit().await?;
    Ok(web::redirect_with_flash(
        &meeting_path(id),
        Flash::success("Jeres ønske er gemt. Modtageren kan se det."),
    ))
}

/// The stored meeting as the form's values.
async fn stored_form(ctx: &mut Ctx, t: &Transition) -> AppResult<Option<MeetingForm>> {
    let m = ctx.user.municipality()?;
    Ok(find(&mut ctx.tx, m, t.id).await?.map(|r| MeetingForm {
        version: r.version.to_string(),
        held_on: iso_date(r.held_on),
        held_time: r.held_time.map(time_text).unwrap_or_default(),
        place: r.place,
        participants: r.participants,
        notes: r.notes,
    }))
}

pub async fn show(mut ctx: Ctx, Path(id): Path<Uuid>) -> AppResult<Response> {
    let access = Access::check(&ctx, Permission::ViewChildren)?;
    let t = kept(&mut ctx, &access, id).await?;
    let form = stored_form(&mut ctx, &t).await?;
    let page = page(
        &mut ctx,
        &t,
        form,
        FieldErrors::default(),
        AgreementForm::default(),
        FieldErrors::default(),
    )
    .await?;
    ctx.audit(Entry::new("view_meeting", "transition", Some(id)).child(t.child_id))
        .await?;
    ctx.commit().await?;
    Ok(web::render(&page)?.into_response())
}

fn parse_time(raw: &str) -> Option<Time> {
    let (h, m) = raw.trim().split_once(['.', ':'])?;
    Time::from_hms(h.parse().ok()?, m.parse().ok()?, 0).ok()
}

pub async fn save(
    mut ctx: Ctx,
    Path(id): Path<Uuid>,
    Form(f): Form<MeetingForm>,
) -> AppResult<Response> {
    let access = Access::check(&ctx, Permission::ViewChildren)?;
    let m = access.municipality_id;
    let t = editable(&mut ctx, &access, id).await?;
    let version: i32 = f
        .version
        .trim()
        .parse()
        .ok()
        .filter(|v| *v >= 0)
        .ok_or_else(|| {
            AppError::BadRequest(
                "Formularen manglede mødets version. Genindlæs siden og prøv igen.".into(),
            )
        })?;
    let mut errors = FieldErrors::default();
    let held_on = date_in_range(&f.held_on);
    if held_on.is_none() {
        errors.add(
            "held_on",
            "Skriv mødets dato (en dato mellem 1990 og 2200).",
        );
    }
    let held_time = match f.held_time.trim() {
        "" => None,
        raw => {
            let t = parse_time(raw);
            if t.is_none() {
                errors.add("held_time", "Skriv tidspunktet som tt:mm, fx 14:30.");
            }
            t
        }
    };
    let place = optional_line(&mut errors, "place", &f.place, "stedet", 200);
    let participants = multiline_text(
        &mut errors,
        "participants",
        &f.participants,
        "deltagerne",
        2000,
        true,
    );
    let notes = multiline_text(&mut errors, "notes", &f.notes, "noterne", MAX_NOTES, false);
    let (Some(held_on), true) = (held_on, errors.is_empty()) else {
        let page = page(
            &mut ctx,
            &t,
            Some(f),
            errors,
            AgreementForm::default(),
            FieldErrors::default(),
        )
        .await?;
        return web::render_invalid(&page);
    };
    let saved = if version == 0 {
        sqlx::query!(
            "INSERT INTO handover_meetings (municipality_id, transition_id, held_on, held_time, place,
                                            participants, notes, updated_by)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
             ON CONFLICT (municipality_id, transition_id) DO NOTHING",
            m,
            id,
            held_on,
            held_time,
            place,
            participants,
            notes,
            ctx.user.id
        )
        .execute(&mut *ctx.tx)
        .await?
        .rows_affected()
    } else {
        sqlx::query!(
            "UPDATE handover_meetings
             SET held_on = $4, held_time = $5, place = $6, participants = $7, notes = $8,
                 updated_by = $9, updated_at = now(), version = version + 1
             WHERE municipality_id = $1 AND transition_id = $2 AND version = $3",
            m,
            id,
            version,
            held_on,
            held_time,
            place,
            participants,
            notes,
            ctx.user.id
        )
        .execute(&mut *ctx.tx)
        .await?
        .rows_affected()
    };
    if saved == 0 {
        return Err(AppError::Conflict(
            "Mødet er blevet ændret af en anden, siden du åbnede siden, så dine ændringer er ikke gemt. Kopiér det, du har skrevet, genindlæs siden og prøv igen."
                .into(),
        ));
    }
    ctx.audit(
        Entry::new("save_meeting", "transition", Some(id))
            .child(t.child_id)
            .details(json!({ "held_on": iso_date(held_on) })),
    )
    .await?;
    ctx.commit().await?;
    Ok(web::redirect_with_flash(
        &meeting_path(id),
        Flash::success("Mødet er gemt."),
    ))
}

/// A single-line text that may be left empty.
fn optional_line(
    errors: &mut FieldErrors,
    field: &'static str,
    value: &str,
    label: &str,
    max: usize,
) -> String {
    if value.trim().is_empty() {
        String::new()
    } else {
        required_text(errors, field, value, label, max)
    }
}

/// A meeting's or a follow-up's date, in the years a transition's planned date may have (a
/// four-digit year such as 0000 parses, and was stored as 1 BC).
fn date_in_range(raw: &str) -> Option<time::Date> {
    parse_date(raw).filter(|d| super::PLANNED_YEARS.contains(&d.year()))
}

pub async fn add_agreement(
    mut ctx: Ctx,
    Path(id): Path<Uuid>,
    Form(f): Form<AgreementForm>,
) -> AppResult<Response> {
    let access = Access::check(&ctx, Permission::ViewChildren)?;
    let m = access.municipality_id;
    let t = editable(&mut ctx, &access, id).await?;
    if find(&mut ctx.tx, m, id).await?.is_none() {
        return Err(AppError::Conflict(
            "Registrér mødet, før I skriver aftaler fra det.".into(),
        ));
    }
    let mut errors = FieldErrors::default();
    let description = multiline_text(
        &mut errors,
        "description",
        &f.description,
        "aftalen",
        2000,
        true,
    );
    let responsible = optional_line(
        &mut errors,
        "responsible",
        &f.responsible,
        "hvem der følger op",
        200,
    );
    let follow_up_on = match f.follow_up_on.trim() {
        "" => None,
        raw => {
            let d = date_in_range(raw);
            if d.is_none() {
                errors.add(
                    "follow_up_on",
                    "Skriv opfølgningsdatoen (en dato mellem 1990 og 2200).",
                );
            }
            d
        }
    };
    if !errors.is_empty() {
        let form = stored_form(&mut ctx, &t).await?;
        let page = page(&mut ctx, &t, form, FieldErrors::default(), f, errors).await?;
        return web::render_invalid(&page);
    }
    let added = Flash::success("Aftalen er tilføjet.");
    // Under the transition's lock (`editable`): the same agreement twice (a double click, or
    // the form sent again) is stored once, also when both come at once.
    let Some(agreement) = sqlx::query_scalar!(
        "INSERT INTO meeting_agreements (municipality_id, transition_id, description, responsible,
                                         follow_up_on, created_by)
         SELECT $1, $2, $3, $4, $5, $6
         WHERE NOT EXISTS (SELECT 1 FROM meeting_agreements
                           WHERE municipality_id = $1 AND transition_id = $2 AND description = $3
                             AND responsible IS NOT DISTINCT FROM $4
                             AND follow_up_on IS NOT DISTINCT FROM $5 AND done_at IS NULL)
         RETURNING id",
        m,
        id,
        description,
        responsible,
        follow_up_on,
        ctx.user.id
    )
    .fetch_optional(&mut *ctx.tx)
    .await?
    else {
        return Ok(web::redirect_with_flash(&meeting_path(id), added));
    };
    ctx.audit(
        Entry::new("add_agreement", "transition", Some(id))
            .child(t.child_id)
            .details(json!({ "agreement": agreement })),
    )
    .await?;
    ctx.commit().await?;
    Ok(web::redirect_with_flash(&meeting_path(id), added))
}

pub async fn complete_agreement(
    mut ctx: Ctx,
    Path((id, agreement)): Path<(Uuid, Uuid)>,
) -> AppResult<Response> {
    let access = Access::check(&ctx, Permission::ViewChildren)?;
    let m = access.municipality_id;
    let t = editable(&mut ctx, &access, id).await?;
    let done = sqlx::query!(
        "UPDATE meeting_agreements SET done_at = now()
         WHERE municipality_id = $1 AND transition_id = $2 AND id = $3 AND done_at IS NULL",
        m,
        id,
        agreement
    )
    .execute(&mut *ctx.tx)
    .await?
    .rows_affected();
    if done == 0 {
        return Err(AppError::NotFound);
    }
    ctx.audit(
        Entry::new("complete_agreement", "transition", Some(id))
            .child(t.child_id)
            .details(json!({ "agreement": agreement })),
    )
    .await?;
    ctx.commit().await?;
    Ok(web::redirect_with_flash(
        &meeting_path(id),
        Flash::success("Aftalen er markeret som fulgt op."),
    ))
}

// ---------------------------------------------------------------------------------------------
// Follow-ups for the inbox

pub struct FollowUp {
    pub href: String,
    pub child: String,
    pub description: String,
    pub responsible: String,
    pub follow_up_on: String,
    pub overdue: bool,
}

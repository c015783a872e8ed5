//! After sending: the sender adds dated amendments (what was sent is never rewritten) and the
//! receiver is told and sees what is new since they last read it; a handover nobody at the
//! receiver has opened yet can be recalled (sent → draft) to be corrected.

use axum::response::Response;
use serde::Deserialize;
use serde_json::json;
use time::OffsetDateTime;
use uuid::Uuid;

use super::{handlers, status::Status};
use crate::{
    audit::Entry,
    auth::{Ctx, Permission},
    children::{domain::format_at, Access},
    db::Tx,
    mail,
    web::{self, form::multiline_text, AppError, AppResult, FieldErrors, Flash, Form, Path},
};

/// Statuses in which the receiver has the handover and an amendment can reach them.
const AMENDABLE: [&str; 4] = ["sent", "received", "feedback_requested", "feedback_given"];

pub struct AmendmentView {
    pub at: String,
    pub by: String,
    pub body: String,
    /// Added after the reader last opened the handover.
    pub is_new: bool,
}

/// The amendments of a transition, oldest first; `is_new` for those after `seen` (the reader's
/// previous visit; `None` = never, but then nothing is "new" to a first-time reader either).
pub async fn list(
    tx: &mut Tx,
    m: Uuid,
    transition_id: Uuid,
    seen: Option<OffsetDateTime>,
) -> Result<Vec<AmendmentView>, sqlx::Error> {
    let rows = sqlx::query!(
        r#"SELECT a.body, a.created_at, u.name AS "name?"
           FROM transition_amendments a
           LEFT JOIN users u ON u.municipality_id = a.municipality_id AND u.id = a.created_by
           WHERE a.municipality_id = $1 AND a.transition_id = $2
           ORDER BY a.created_at, a.id"#,
        m,
        transition_id
    )
    .fetch_all(&mut **tx)
    .await?;
    Ok(rows
        .into_iter()
        .map(|r| AmendmentView {
            at: format_at(r.created_at),
            by: r.name.unwrap_or_else(|| "–".into()),
            body: r.body,
            is_new: seen.is_some_and(|s| r.created_at > s),
        })
        .collect())
}

/// Whether anybody at the receiver has opened the handover, or seen its key points in the
/// class overview (`receiving::record_previews`).
pub async fn opened(tx: &mut Tx, m: Uuid, transition_id: Uuid) -> Result<bool, sqlx::Error> {
    sqlx::query_scalar!(
        r#"SELECT EXISTS (SELECT 1 FROM transition_reads
                          WHERE municipality_id = $1 AND transition_id = $2)
               OR EXISTS (SELECT 1 FROM transition_previews
                          WHERE municipality_id = $1 AND transition_id = $2) AS "opened!""#,
        m,
        transition_id
    )
    .fetch_one(&mut **tx)
    .await
}

/// The transition if the user acts for its sending side (visible, else 404; else 403).
async fn sender(ctx: &mut Ctx, id: Uuid) -> AppResult<(Access, super::queries::Transition)> {
    let access = Access::check(ctx, Permission::EditChildren)?;
    let (t, acts) = handlers::visible(ctx, &access, id).await?;
    if !acts {
        return Err(AppError::Forbidden);
    }
    Ok((access, t))
}

/// The amendment form as it comes back after a refusal.
#[derive(Default)]
pub struct AmendmentInput {
    pub text: String,
    pub error: String,
}

#[derive(Default, Deserialize)]
#[serde(default)]
pub struct AmendmentForm {
    pub amendment: String,
}

pub async fn add(
    mut ctx: Ctx,
    Path(id): Path<Uuid>,
    Form(f): Form<AmendmentForm>,
) -> AppResult<Response> {
    let (access, t) = sender(&mut ctx, id).await?;
    let m = access.municipality_id;
    // Under the transition's lock: the status is the one a recall at the same moment left
    // (an amendment never lands on a handover that has become a draft again), and the same
    // text twice (a double click, or the form sent again) is one amendment and one mail to
    // each receiver, also when both come at once.
    let status = super::status_under_lock(&mut ctx.tx, m, id).await?;
    if !AMENDABLE.contains(&status.as_str()) {
        return Err(AppError::Conflict(format!(
            "Der kan kun tilføjes til en overlevering, der er sendt. Denne har status «{}»: ret i skemaet i stedet.",
            status.label()
        )));
    }
    let mut errors = FieldErrors::default();
    let body = multiline_text(
        &mut errors,
        "amendment",
        &f.amendment,
        "tilføjelsen",
        10_000,
        true,
    );
    if let Some(message) = errors.get("amendment") {
        // The page again, with what was typed and why it was not sent; its view is audited.
        let input = AmendmentInput {
            text: f.amendment.clone(),
            error: message.to_string(),
        };
        let page = handlers::show_page(&mut ctx, id, input).await?;
        ctx.commit().await?;
        return web::render_invalid(&page);
    }
    let sent = Flash::success("Tilføjelsen er sendt til modtageren.");
    let Some(amendment) = sqlx::query_scalar!(
        "INSERT INTO transition_amendments (municipality_id, transition_id, body, created_by)
         SELECT $1, $2, $3, $4
         WHERE NOT EXISTS (SELECT 1 FROM transition_amendments
                           WHERE municipality_id = $1 AND transition_id = $2 AND body = $3)
         RETURNING id",
        m,
        id,
        body,
        ctx.user.id
    )
    .fetch_optional(&mut *ctx.tx)
    .await?
    else {
        return Ok(web::redirect_with_flash(
            &format!("/transitions/{id}"),
            sent,
        ));
    };
    // The receiving institution's staff hear of it through the outbox; the mail names no child
    // (it is only a pointer to log in and read).
    let receivers =
        super::receiving::receiving_staff(&mut ctx.tx, m, t.receiving_institution_id).await?;
    let text = format!(
        "{} har tilføjet noget til en overlevering, I har modtaget.\n\nLog ind i Overgang og åbn indbakken for at læse tilføjelsen.\n",
        t.sending_name
    );
    for email in &receivers {
        mail::enqueue(
            &mut ctx.tx,
            Some(m),
            email,
            "Tilføjelse til en overlevering",
            &text,
        )
        .await?;
    }
    ctx.audit(
        Entry::new("amend", "transition", Some(id))
            .child(t.child_id)
            .details(json!({ "amendment": amendment, "notified": receivers.len() })),
    )
    .await?;
    ctx.commit().await?;
    mail::wake();
    Ok(web::redirect_with_flash(
        &format!("/transitions/{id}"),
        sent,
    ))
}

#[derive(Default, Deserialize)]
#[serde(default)]
pub struct RecallForm {
    pub version: String,
}

pub async fn recall(
    mut ctx: Ctx,
    Path(id): Path<Uuid>,
    Form(f): Form<RecallForm>,
) -> AppResult<Response> {
    let (access, _) = sender(&mut ctx, id).await?;
    let m = access.municipality_id;
    let version: i32 = f.version.trim().parse().map_err(|_| {
        AppError::BadRequest(
            "Formularen manglede overleveringens version. Genindlæs siden og prøv igen.".into(),
        )
    })?;
    // Lock first: a receiver opening it at the same moment records the read under a share lock
    // (see `receiving::record_read`), so one of the two waits for the other.
    let status = sqlx::query_scalar!(
        "SELECT status FROM transitions WHERE municipality_id = $1 AND id = $2 FOR UPDATE",
        m,
        id
    )
    .fetch_one(&mut *ctx.tx)
    .await?;
    if status != Status::Sent.as_str() {
        return Err(AppError::Conflict(format!(
            "Kun en sendt overlevering kan kaldes tilbage. Denne har status «{}».",
            handlers::status_label(&status)
        )));
    }
    if opened(&mut ctx.tx, m, id).await? {
        return Err(AppError::Conflict(
            "Overleveringen kan ikke kaldes tilbage, fordi modtageren har åbnet den eller set dens hovedpunkter i klasseoversigten. Tilføj i stedet en tilføjelse."
                .into(),
        ));
    }
    let actor = ctx.actor();
    super::status::transition_status(
        &mut ctx.tx,
        &actor,
        m,
        id,
        version,
        Status::Draft,
        Some("Kaldt tilbage før modtageren åbnede den"),
    )
    .await?;
    ctx.commit().await?;
    Ok(web::redirect_with_flash(
        &format!("/transitions/{id}"),
        Flash::success(
            "Overleveringen er kaldt tilbage og er en kladde igen, så skemaet kan rettes.",
        ),
    ))
}

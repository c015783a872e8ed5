//! Feedback from the receiver back to the sender: requests created automatically a configurable
//! delay after the transition date (`create_due_requests`, run hourly by `spawn`), one reminder
//! mail per unanswered request (`send_reminders`), the receiver's worklist and form
//! (`handlers`), and the sender's view of the feedback on its own children.
//!
//! Who may: leaders and staff of the RECEIVING institution (and administrators) answer; leaders
//! and staff of the SENDING institution (and administrators) read the answers next to what they
//! handed over. The other side gets 403; anybody who cannot see the transition gets 404.
//!
//! Rounds and the status machine: round 1 moves the transition `sent`/`received` →
//! `feedback_requested`, and answering it moves `feedback_requested` → `feedback_given`. The
//! optional round 2 (12 months after the planned date) is created only for transitions in
//! `feedback_given` and does NOT move the status: the machine has one feedback loop
//! (`feedback_given` → `feedback_requested` is illegal, and bending it for a follow-up would let
//! a sender reopen a loop by hand too), so round 2 is a follow-up recorded beside the status,
//! answered while the transition stays `feedback_given`.

pub mod handlers;

use axum::{routing::get, Router};
use serde_json::json;
use sqlx::PgPool;
use time::{Date, Duration};
use tokio::{sync::watch, task::JoinHandle};
use uuid::Uuid;

use crate::{
    audit::{self, Actor, Entry},
    db::{self, Scope},
    mail,
    state::AppState,
    transitions::status::{transition_status, Status},
};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/feedback", get(handlers::list))
        .route("/feedback/{id}", get(handlers::form).post(handlers::submit))
        .route("/transitions/{id}/feedback", get(handlers::sender_view))
}

/// Days the receiver has to answer a request.
pub const ANSWER_DAYS: i64 = 30;
/// When the optional second round is due, in months after the planned date.
pub const SECOND_ROUND_MONTHS: i32 = 12;
/// How often the background task looks for due requests and reminders.
const SWEEP_EVERY: std::time::Duration = std::time::Duration::from_secs(3600);

/// The system as the actor of automatic changes (no user; the audit log says "system").
fn system(municipality_id: Uuid) -> Actor {
    Actor {
        user_id: None,
        role: Some("system".into()),
        municipality_id: Some(municipality_id),
        client_addr: None,
    }
}

/// What one sweep created.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Created {
    pub first_round: usize,
    pub second_round: usize,
}

struct Settings {
    id: Uuid,
    feedback_delay_days: i32,
    feedback_second_round: bool,
    feedback_reminder_days: i32,
}

async fn municipalities(pool: &PgPool) -> Result<Vec<Settings>, sqlx::Error> {
    let mut tx = db::begin(pool, Scope::Platform).await?;
    let list = sqlx::query_as!(
        Settings,
        "SELECT id, feedback_delay_days, feedback_second_round, feedback_reminder_days
         FROM municipalities ORDER BY code"
    )
    .fetch_all(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(list)
}

/// Creates the requests that are due on `today`, per municipality in its own transaction:
/// round 1 for transitions `sent` or `received` whose planned date plus the municipality's
/// `feedback_delay_days` has come (moving them to `feedback_requested`), and for transitions a
/// sender moved to `feedback_requested` by hand without a request (no move, no delay: they asked
/// already); round 2, when the municipality has switched it on, 12 months after the planned date
/// for transitions whose round 1 is answered. Safe to run again and from several servers at once:
/// a request exists at most once per transition and round (unique key, `ON CONFLICT DO NOTHING`).
pub async fn create_due_requests(pool: &PgPool, today: Date) -> anyhow::Result<Created> {
    let mut created = Created::default();
    let due_on = today + Duration::days(ANSWER_DAYS);
    for m in municipalities(pool).await? {
        let actor = system(m.id);
        let mut tx = db::begin(pool, Scope::Municipality(m.id)).await?;
        // Locked, so a concurrent status change waits and the version we pass on stays true.
        let due = sqlx::query!(
            "SELECT t.id, t.child_id, t.status, t.version FROM transitions t
             WHERE t.municipality_id = $1
               AND ((t.status IN ('sent', 'received') AND t.planned_date + $2::int <= $3)
                    OR t.status = 'feedback_requested')
               AND NOT EXISTS (SELECT 1 FROM feedback_requests r
                               WHERE r.municipality_id = t.municipality_id
                                 AND r.transition_id = t.id AND r.round = 1)
             ORDER BY t.planned_date, t.id
             FOR UPDATE OF t",
            m.id,
            m.feedback_delay_days,
            today
        )
        .fetch_all(&mut *tx)
        .await?;
        for t in due {
            let Some(request) = insert_request(&mut tx, m.id, t.id, 1, due_on).await? else {
                continue;
            };
            if t.status != Status::FeedbackRequested.as_str() {
                transition_status(
                    &mut tx,
                    &actor,
                    m.id,
                    t.id,
                    t.version,
                    Status::FeedbackRequested,
                    Some("Anmodning om tilbagemelding oprettet automatisk."),
                )
                .await
                .map_err(|e| anyhow::anyhow!("status of transition {}: {e:?}", t.id))?;
            }
            audit::record(
                &mut tx,
                &actor,
                Entry::new("create", "feedback_request", Some(request))
                    .child(t.child_id)
                    .details(
                        json!({ "round": 1, "transition_id": t.id, "due_on": due_on.to_string() }),
                    ),
            )
            .await?;
            created.first_round += 1;
        }
        if m.feedback_second_round {
            let due = sqlx::query!(
                "SELECT t.id, t.child_id FROM transitions t
                 WHERE t.municipality_id = $1 AND t.status = 'feedback_given'
                   AND (t.planned_date + make_interval(months => $2))::date <= $3
                   AND EXISTS (SELECT 1 FROM feedback_requests r
                               WHERE r.municipality_id = t.municipality_id AND r.transition_id = t.id
                                 AND r.round = 1 AND r.answered_at IS NOT NULL)
                   AND NOT EXISTS (SELECT 1 FROM feedback_requests r
                                   WHERE r.municipality_id = t.municipality_id
                                     AND r.transition_id = t.id AND r.round = 2)
                 ORDER BY t.planned_date, t.id",
                m.id,
                SECOND_ROUND_MONTHS,
                today
            )
            .fetch_all(&mut *tx)
            .await?;
            for t in due {
                let Some(request) = insert_request(&mut tx, m.id, t.id, 2, due_on).await? else {
                    continue;
                };
                audit::record(
                    &mut tx,
                    &actor,
                    Entry::new("create", "feedback_request", Some(request))
                        .child(t.child_id)
                        .details(json!({ "round": 2, "transition_id": t.id, "due_on": due_on.to_string() })),
                )
                .await?;
                created.second_round += 1;
            }
        }
        tx.commit().await?;
    }
    Ok(created)
}

/// The new request's id, or `None` when it exists already (another server got there first).
async fn insert_request(
    tx: &mut db::Tx,
    municipality_id: Uuid,
    transition_id: Uuid,
    round: i16,
    due_on: Date,
) -> Result<Option<Uuid>, sqlx::Error> {
    sqlx::query_scalar!(
        "INSERT INTO feedback_requests (municipality_id, transition_id, round, due_on)
         VALUES ($1, $2, $3, $4)
         ON CONFLICT (municipality_id, transition_id, round) DO NOTHING
         RETURNING id",
        municipality_id,
        transition_id,
        round,
        due_on
    )
    .fetch_optional(&mut **tx)
    .await
}

/// Sends one reminder per request still unanswered `feedback_reminder_days` after it was
/// created: a mail through the outbox to every active leader and staff member of the receiving
/// institution, and `reminded_at` set so it is never sent twice. The mail names no child (mail
/// leaves our hands); the link leads to the form behind the login. Returns the requests reminded.
pub async fn send_reminders(pool: &PgPool, today: Date, base_url: &str) -> anyhow::Result<usize> {
    let mut reminded = 0;
    for m in municipalities(pool).await? {
        let actor = system(m.id);
        let mut tx = db::begin(pool, Scope::Municipality(m.id)).await?;
        let due = sqlx::query!(
            r#"SELECT r.id, r.due_on, t.child_id, t.receiving_institution_id, i.name AS institution
               FROM feedback_requests r
               JOIN transitions t ON t.municipality_id = r.municipality_id AND t.id = r.transition_id
               JOIN institutions i ON i.municipality_id = t.municipality_id AND i.id = t.receiving_institution_id
               WHERE r.municipality_id = $1 AND r.answered_at IS NULL AND r.reminded_at IS NULL
                 AND t.status IN ('feedback_requested', 'feedback_given')
                 AND r.created_at::date + $2::int <= $3
               ORDER BY r.due_on, r.id
               FOR UPDATE OF r SKIP LOCKED"#,
            m.id,
            m.feedback_reminder_days,
            today
        )
        .fetch_all(&mut *tx)
        .await?;
        for r in due {
            let recipients = crate::transitions::receiving::receiving_staff(
                &mut tx,
                m.id,
                r.receiving_institution_id,
            )
            .await?;
            let body = format!(
                "Hej\n\n{} har en anmodning om tilbagemelding på en overlevering, som endnu ikke er besvaret. Svarfristen er {}.\n\nSvar her (kræver login):\n{}{}\n\nAf hensyn til barnet står navnet ikke i denne e-mail.\n\nVenlig hilsen\nOvergang\n",
                r.institution,
                crate::children::domain::format_date(r.due_on),
                base_url.trim_end_matches('/'),
                handlers::form_path(r.id)
            );
            for to in &recipients {
                mail::enqueue(
                    &mut tx,
                    Some(m.id),
                    to,
                    "Påmindelse: en tilbagemelding venter på svar",
                    &body,
                )
                .await?;
            }
            sqlx::query!(
                "UPDATE feedback_requests SET reminded_at = now() WHERE municipality_id = $1 AND id = $2",
                m.id,
                r.id
            )
            .execute(&mut *tx)
            .await?;
            audit::record(
                &mut tx,
                &actor,
                Entry::new("remind", "feedback_request", Some(r.id))
                    .child(r.child_id)
                    .details(json!({ "recipients": recipients.len() })),
            )
            .await?;
            reminded += 1;
        }
        tx.commit().await?;
    }
    Ok(reminded)
}

async fn today(pool: &PgPool) -> Result<Date, sqlx::Error> {
    let mut tx = db::begin(pool, Scope::None).await?;
    let d = crate::children::queries::today(&mut tx).await?;
    tx.commit().await?;
    Ok(d)
}

/// One sweep: due requests, then reminders; wakes the mail task when mail was queued.
pub async fn sweep(pool: &PgPool, base_url: &str) -> anyhow::Result<(Created, usize)> {
    let today = today(pool).await?;
    let created = create_due_requests(pool, today).await?;
    let reminded = send_reminders(pool, today, base_url).await?;
    if reminded > 0 {
        mail::wake();
    }
    Ok((created, reminded))
}

/// Starts the hourly sweep (the first right away); stops on the shutdown signal.
pub fn spawn(
    pool: PgPool,
    base_url: String,
    mut shutdown: watch::Receiver<bool>,
) -> JoinHandle<()> {
    tokio::spawn(async move {
        loop {
            if *shutdown.borrow() {
                break;
            }
            match sweep(&pool, &base_url).await {
                Ok((c, r)) if c != Created::default() || r > 0 => tracing::info!(
                    first_round = c.first_round,
                    second_round = c.second_round,
                    reminded = r,
                    "tilbagemeldinger: anmodninger oprettet og påmindelser sendt"
                ),
                Ok(_) => {}
                Err(e) => tracing::error!(error = %e, "tilbagemeldinger kunne ikke oprettes"),
            }
            tokio::select! {
                _ = tokio::time::sleep(SWEEP_EVERY) => {}
                _ = shutdown.changed() => {}
            }
        }
        tracing::debug!("tilbagemeldings-opgaven stoppet");
    })
}

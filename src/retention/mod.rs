//! Retention: after a municipality's retention period, the personal data of finished
//! transitions is deleted or anonymised, while what the anonymous aggregates read stays.
//!
//! The rules live in one SQL function, `retention_purge` (migration 20261123000012), because
//! the status history and the consent ledger are append-only for the app role; this module
//! decides the cutoff per municipality, calls it in that municipality's tenant scope, and audits
//! each run. It runs daily in the server ([`spawn`]) and on demand (`overgang purge [--dry-run]`).
//! A purge is idempotent: a purged transition carries `purged_at` and is not looked at again.

use std::time::Duration;

use serde::Serialize;
use serde_json::json;
use sqlx::PgPool;
use time::OffsetDateTime;
use tokio::{sync::watch, task::JoinHandle};
use uuid::Uuid;

use crate::{
    audit::{self, Actor, Entry},
    db::{self, Scope},
};

/// How often the server purges.
pub const INTERVAL: Duration = Duration::from_secs(24 * 60 * 60);
/// The first purge after start, so a restart does not compete with the first requests.
pub const FIRST_DELAY: Duration = Duration::from_secs(5 * 60);

/// What one purge run removed (or, in a dry run, would remove) in one municipality.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct PurgeCounts {
    /// Transitions whose personal data was removed (the rows stay, marked `purged_at`).
    pub purged_transitions: i64,
    /// Free-text and date answers deleted.
    pub deleted_answers: i64,
    /// Notes erased from the status history and the consent ledger.
    pub erased_notes: i64,
    /// "What was missing" texts erased from feedback.
    pub erased_feedback_texts: i64,
    pub deleted_guardians: i64,
    pub deleted_enrolments: i64,
    /// Children whose name, CPR number and birth day were removed.
    pub anonymised_children: i64,
    /// Delivered (or given-up) e-mails older than the cutoff.
    pub deleted_mails: i64,
    /// Uploaded files never confirmed, a day after upload (their names and CPR numbers).
    pub deleted_uploads: i64,
}

impl PurgeCounts {
    pub fn is_empty(&self) -> bool {
        *self == PurgeCounts::default()
    }
}

#[derive(Clone, Debug, Serialize)]
pub struct MunicipalityPurge {
    pub municipality_id: Uuid,
    pub code: String,
    pub name: String,
    pub retention_days: i32,
    /// Transitions whose last status change is before this were due.
    #[serde(with = "time::serde::rfc3339")]
    pub cutoff: OffsetDateTime,
    pub counts: PurgeCounts,
}

#[derive(Clone, Debug, Default, Serialize)]
pub struct PurgeReport {
    pub dry_run: bool,
    pub municipalities: Vec<MunicipalityPurge>,
    /// Municipalities that failed (code, error) or were skipped because another process was
    /// purging them at the same moment, and ("-") a failed housekeeping. The others are done
    /// regardless.
    pub failures: Vec<(String, String)>,
    /// Rows of no municipality that nothing can use any more (`housekeeping`).
    pub housekeeping: Housekeeping,
}

/// Sessions past their end or idle for a day, login counters whose window and lock passed a
/// day ago, and account tokens a day past their expiry: client addresses and typed e-mail
/// addresses, kept no longer than they serve.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Housekeeping {
    pub deleted_sessions: i64,
    pub deleted_login_counters: i64,
    pub deleted_tokens: i64,
}

impl PurgeReport {
    pub fn total(&self) -> PurgeCounts {
        let mut t = PurgeCounts::default();
        for m in &self.municipalities {
            let c = &m.counts;
            t.purged_transitions += c.purged_transitions;
            t.deleted_answers += c.deleted_answers;
            t.erased_notes += c.erased_notes;
            t.erased_feedback_texts += c.erased_feedback_texts;
            t.deleted_guardians += c.deleted_guardians;
            t.deleted_enrolments += c.deleted_enrolments;
            t.anonymised_children += c.anonymised_children;
            t.deleted_mails += c.deleted_mails;
            t.deleted_uploads += c.deleted_uploads;
        }
        t
    }
}

struct Municipality {
    id: Uuid,
    code: String,
    name: String,
    retention_days: i32,
}

/// Purges every municipality as of `now` (tests pass a later `now` to make data due). Each
/// municipality is its own transaction; a real run writes one audit entry per municipality with
/// its counts, a dry run changes nothing at all (not even the audit log).
pub async fn purge(
    pool: &PgPool,
    now: OffsetDateTime,
    dry_run: bool,
) -> Result<PurgeReport, sqlx::Error> {
    let mut tx = db::begin(pool, Scope::Platform).await?;
    let municipalities = sqlx::query_as!(
        Municipality,
        "SELECT id, code, name, retention_days FROM municipalities ORDER BY code"
    )
    .fetch_all(&mut *tx)
    .await?;
    tx.commit().await?;

    let mut report = PurgeReport {
        dry_run,
        ..Default::default()
    };
    for m in municipalities {
        match purge_one(pool, &m, now, dry_run).await {
            Ok(Some(done)) => report.municipalities.push(done),
            Ok(None) => report.failures.push((
                m.code.clone(),
                "springet over: en anden proces sletter i kommunen lige nu".into(),
            )),
            Err(e) => {
                tracing::error!(municipality = %m.code, error = %e, "sletning efter opbevaringsperiode mislykkedes");
                report.failures.push((m.code.clone(), e.to_string()));
            }
        }
    }
    match housekeeping(pool, dry_run).await {
        Ok(done) => report.housekeeping = done,
        Err(e) => {
            tracing::error!(error = %e, "oprydning uden for kommunerne mislykkedes");
            report.failures.push(("-".into(), e.to_string()));
        }
    }
    Ok(report)
}

/// Deletes (or, in a dry run, only counts) the rows of no municipality that nothing can use
/// any more (`housekeeping`, migration 32).
async fn housekeeping(pool: &PgPool, dry_run: bool) -> Result<Housekeeping, sqlx::Error> {
    let mut tx = db::begin(pool, Scope::None).await?;
    let done = sqlx::query_as!(
        Housekeeping,
        r#"SELECT deleted_sessions AS "deleted_sessions!",
                  deleted_login_counters AS "deleted_login_counters!",
                  deleted_tokens AS "deleted_tokens!"
           FROM housekeeping()"#
    )
    .fetch_one(&mut *tx)
    .await?;
    if dry_run {
        tx.rollback().await?;
    } else {
        tx.commit().await?;
    }
    Ok(done)
}

async fn purge_one(
    pool: &PgPool,
    m: &Municipality,
    now: OffsetDateTime,
    dry_run: bool,
) -> Result<Option<MunicipalityPurge>, sqlx::Error> {
    let mut tx = db::begin(pool, Scope::Municipality(m.id)).await?;
    // Several servers may run the daily task; one purges a municipality, the others skip it.
    let locked = sqlx::query_scalar!(
        r#"SELECT pg_try_advisory_xact_lock(hashtext('overgang.retention_purge'), hashtext($1::uuid::text)) AS "locked!""#,
        m.id
    )
    .fetch_one(&mut *tx)
    .await?;
    if !locked {
        return Ok(None);
    }
    let cutoff = now - time::Duration::days(i64::from(m.retention_days));
    let counts = sqlx::query_as!(
        PurgeCounts,
        r#"SELECT purged_transitions AS "purged_transitions!", deleted_answers AS "deleted_answers!",
                  erased_notes AS "erased_notes!", erased_feedback_texts AS "erased_feedback_texts!",
                  deleted_guardians AS "deleted_guardians!", deleted_enrolments AS "deleted_enrolments!",
                  anonymised_children AS "anonymised_children!", deleted_mails AS "deleted_mails!",
                  deleted_uploads AS "deleted_uploads!"
           FROM retention_purge($1, $2, $3)"#,
        m.id,
        cutoff,
        dry_run
    )
    .fetch_one(&mut *tx)
    .await?;
    if dry_run {
        tx.rollback().await?;
    } else {
        let actor = Actor {
            user_id: None,
            role: Some("System".into()),
            municipality_id: Some(m.id),
            client_addr: None,
        };
        audit::record(
            &mut tx,
            &actor,
            Entry::new("purge", "municipality", Some(m.id)).details(json!({
                "retention_days": m.retention_days,
                "cutoff": cutoff.format(&time::format_description::well_known::Rfc3339).ok(),
                "counts": counts,
            })),
        )
        .await?;
        tx.commit().await?;
    }
    Ok(Some(MunicipalityPurge {
        municipality_id: m.id,
        code: m.code.clone(),
        name: m.name.clone(),
        retention_days: m.retention_days,
        cutoff,
        counts,
    }))
}

/// The daily purge in the server: first after [`FIRST_DELAY`], then every [`INTERVAL`].
pub fn spawn(pool: PgPool, mut shutdown: watch::Receiver<bool>) -> JoinHandle<()> {
    tokio::spawn(async move {
        let mut wait = FIRST_DELAY;
        loop {
            tokio::select! {
                _ = tokio::time::sleep(wait) => {}
                changed = shutdown.changed() => {
                    // the sender is gone: nobody can stop us any more, so stop now
                    if changed.is_err() {
                        break;
                    }
                }
            }
            if *shutdown.borrow() {
                break;
            }
            match purge(&pool, OffsetDateTime::now_utc(), false).await {
                Ok(report) => {
                    let t = report.total();
                    tracing::info!(
                        transitions = t.purged_transitions,
                        children = t.anonymised_children,
                        failures = report.failures.len(),
                        "sletning efter opbevaringsperiode kørt"
                    );
                }
                Err(e) => {
                    tracing::error!(error = %e, "sletning efter opbevaringsperiode mislykkedes")
                }
            }
            wait = INTERVAL;
        }
        tracing::debug!("daglig sletning stoppet");
    })
}

/// The CLI's text: one line per municipality.
pub fn describe(report: &PurgeReport) -> String {
    let mut out = String::new();
    out.push_str(if report.dry_run {
        "Prøvekørsel: intet er ændret. Dette ville blive slettet eller anonymiseret:\n"
    } else {
        "Slettet eller anonymiseret:\n"
    });
    for m in &report.municipalities {
        let c = &m.counts;
        out.push_str(&format!(
            "  {} {} (opbevaring {} dage): {} overgange, {} fritekst-/datosvar, {} noter, \
             {} tilbagemeldingstekster, {} forældre/værger, {} indskrivninger, {} børn anonymiseret, \
             {} e-mails, {} uploadede filer\n",
            m.code,
            m.name,
            m.retention_days,
            c.purged_transitions,
            c.deleted_answers,
            c.erased_notes,
            c.erased_feedback_texts,
            c.deleted_guardians,
            c.deleted_enrolments,
            c.anonymised_children,
            c.deleted_mails,
            c.deleted_uploads
        ));
    }
    let h = &report.housekeeping;
    out.push_str(&format!(
        "  Uden for kommunerne: {} sessioner, {} login-tællere, {} links til brugerkonti\n",
        h.deleted_sessions, h.deleted_login_counters, h.deleted_tokens
    ));
    for (code, error) in &report.failures {
        out.push_str(&format!("  {code}: FEJL: {error}\n"));
    }
    out
}

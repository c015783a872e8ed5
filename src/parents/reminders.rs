//! One reminder per guardian: a guardian with custody and an e-mail address, with a live link
//! that has waited the municipality's `parent_reminder_days` without any answer from them, gets a
//! fresh link by mail once. Runs hourly in the background (`spawn`); tests call
//! [`send_reminders`] directly.

use std::time::Duration;

use askama::Template;
use serde_json::json;
use sqlx::PgPool;
use tokio::{sync::watch, task::JoinHandle};

use super::LinkMail;
use crate::{
    audit::{self, Actor, Entry},
    config::Config,
    db::{self, Scope},
    mail,
};

pub const INTERVAL: Duration = Duration::from_secs(3600);

/// Sends the due reminders of every municipality; returns how many were queued.
pub async fn send_reminders(pool: &PgPool, config: &Config) -> anyhow::Result<usize> {
    let mut tx = db::begin(pool, Scope::Platform).await?;
    let municipalities = sqlx::query!("SELECT id, parent_reminder_days FROM municipalities")
        .fetch_all(&mut *tx)
        .await?;
    tx.commit().await?;
    let mut sent = 0;
    for m in municipalities {
        let mut tx = db::begin(pool, Scope::Municipality(m.id)).await?;
        // Two servers running the task at once: the second skips this municipality.
        let locked = sqlx::query_scalar!(
            r#"SELECT pg_try_advisory_xact_lock(hashtext('parent_reminders'), hashtext($1::uuid::text)) AS "ok!""#,
            m.id
        )
        .fetch_one(&mut *tx)
        .await?;
        if !locked {
            continue;
        }
        let due = sqlx::query!(
            r#"SELECT t.id AS transition_id, t.child_id, c.first_name, si.name AS sending,
                      ri.name AS receiving, g.id AS guardian_id, g.name AS guardian,
                      g.email AS "email!"
               FROM transitions t
               JOIN children c ON c.municipality_id = t.municipality_id AND c.id = t.child_id
               JOIN institutions si ON si.municipality_id = t.municipality_id AND si.id = t.sending_institution_id
               JOIN institutions ri ON ri.municipality_id = t.municipality_id AND ri.id = t.receiving_institution_id
               JOIN guardians g ON g.municipality_id = t.municipality_id AND g.child_id = t.child_id
               WHERE t.municipality_id = $1 AND t.status IN ('with_parents', 'ready')
                 AND g.has_custody AND g.email IS NOT NULL
                 -- a live link that has waited long enough
                 AND EXISTS (SELECT 1 FROM parent_links l
                             WHERE l.municipality_id = t.municipality_id AND l.transition_id = t.id
                               AND l.guardian_id = g.id AND l.revoked_at IS NULL
                               AND l.expires_at > now())
                 AND (SELECT min(l.created_at) FROM parent_links l
                      WHERE l.municipality_id = t.municipality_id AND l.transition_id = t.id
                        AND l.guardian_id = g.id) <= now() - make_interval(days => $2)
                 -- one reminder only, and none to whoever has answered in any way
                 AND NOT EXISTS (SELECT 1 FROM parent_links l
                                 WHERE l.municipality_id = t.municipality_id AND l.transition_id = t.id
                                   AND l.guardian_id = g.id
                                   AND (l.delivery = 'reminder' OR l.responded_at IS NOT NULL))
                 AND NOT EXISTS (SELECT 1 FROM consent_records r
                                 WHERE r.municipality_id = t.municipality_id AND r.transition_id = t.id
                                   AND r.guardian_id = g.id)
                 AND NOT EXISTS (SELECT 1 FROM parent_perspectives p
                                 WHERE p.municipality_id = t.municipality_id AND p.transition_id = t.id
                                   AND p.guardian_id = g.id)
               ORDER BY t.id, g.id
               LIMIT 500"#,
            m.id,
            m.parent_reminder_days
        )
        .fetch_all(&mut *tx)
        .await?;
        let actor = Actor {
            role: Some("system".into()),
            municipality_id: Some(m.id),
            ..Default::default()
        };
        for r in &due {
            // The old link keeps working too (the guardian may find either mail first).
            let (link_id, token) = super::issue_link(
                &mut tx,
                m.id,
                r.transition_id,
                r.guardian_id,
                "reminder",
                Some(&r.email),
                None,
            )
            .await?;
            let link = mail::link(config, &super::parent_path(&token));
            let body = LinkMail {
                guardian: &r.guardian,
                child: &r.first_name,
                sending: &r.sending,
                receiving: &r.receiving,
                link: &link,
                days: super::LINK_VALID_DAYS,
                reminder: true,
            }
            .render()?;
            mail::enqueue(
                &mut tx,
                Some(m.id),
                &r.email,
                super::REMINDER_SUBJECT,
                &body,
            )
            .await?;
            audit::record(
                &mut tx,
                &actor,
                Entry::new("remind", "parent_link", Some(link_id))
                    .child(r.child_id)
                    .details(
                        json!({ "transition_id": r.transition_id, "guardian_id": r.guardian_id }),
                    ),
            )
            .await?;
        }
        tx.commit().await?;
        sent += due.len();
    }
    if sent > 0 {
        mail::wake();
    }
    Ok(sent)
}

/// The hourly background task, stopped through `shutdown` like the mail delivery task.
pub fn spawn(pool: PgPool, config: Config, mut shutdown: watch::Receiver<bool>) -> JoinHandle<()> {
    tokio::spawn(async move {
        loop {
            if *shutdown.borrow() {
                break;
            }
            match send_reminders(&pool, &config).await {
                Ok(0) => {}
                Ok(n) => tracing::info!(reminders = n, "påmindelser til forældre sendt"),
                Err(e) => tracing::error!(error = %e, "påmindelser til forældre fejlede"),
            }
            tokio::select! {
                _ = tokio::time::sleep(INTERVAL) => {}
                _ = shutdown.changed() => {}
            }
        }
    })
}

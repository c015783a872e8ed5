//! The parents' side of a handover: a single-purpose link per guardian with custody (issued when
//! the form goes to the parents, or by staff for an Aula message), the parent page behind it
//! (what will be handed over, their own perspective, consent per sensitive section), the consent
//! ledger in the staff UI, and reminders.
//!
//! Tokens are 32 random bytes; only their SHA-256 is stored. The lookup of a token happens before
//! the municipality is known, through the narrow definer function `parent_link_find`; everything
//! after it runs in the municipality's scope, so RLS applies. Every kind of bad link gets the same
//! 404 page, so a link reveals nothing.

pub mod corrections;
pub mod page;
pub mod reminders;
pub mod staff;

use askama::Template;
use axum::{routing::get, routing::post, Router};
use serde_json::json;
use time::OffsetDateTime;
use uuid::Uuid;

use crate::{
    audit::{self, Actor, Entry},
    config::Config,
    db::Tx,
    mail,
    state::AppState,
    transitions::status::Status,
};

/// How long a parent link works.
pub const LINK_VALID_DAYS: i32 = 21;
pub(crate) const LOCAL_TZ: &str = "Europe/Copenhagen";
pub const LINK_SUBJECT: &str = "Se og supplér overleveringen om dit barn";
pub const REMINDER_SUBJECT: &str = "Påmindelse: overleveringen om dit barn";
pub const WITHDRAWN_SUBJECT: &str = "Et samtykke er trukket tilbage";

pub fn router() -> Router<AppState> {
    Router::new()
        .route(
            "/foraelder/{token}",
            get(page::show).post(page::save_perspective),
        )
        .route("/foraelder/{token}/consent", post(page::decide))
        .route(
            "/foraelder/{token}/corrections",
            post(page::request_correction),
        )
        .route(
            "/transitions/{id}/corrections",
            get(corrections::show).post(corrections::answer),
        )
        .route("/transitions/{id}/parents", get(staff::show))
        .route("/transitions/{id}/parents/links", post(staff::create_link))
        .route("/transitions/{id}/parents/revoke", post(staff::revoke_link))
        .route("/transitions/{id}/parents/consent", post(staff::record))
}

pub fn parent_path(token: &str) -> String {
    format!("/foraelder/{token}")
}

/// Parent links work from the moment the form goes to the parents until the transition is
/// closed or cancelled.
pub fn link_usable(status: Status) -> bool {
    status.is_open() && status != Status::Draft
}

/// The parents' own perspective can be written until the handover is sent.
pub fn perspective_editable(status: Status) -> bool {
    matches!(status, Status::WithParents | Status::Ready)
}

/// The handover has left the sender: the receiver reads it.
pub fn is_sent(status: Status) -> bool {
    matches!(
        status,
        Status::Sent
            | Status::Received
            | Status::FeedbackRequested
            | Status::FeedbackGiven
            | Status::Closed
    )
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Decision {
    Given,
    Refused,
    Withdrawn,
}

impl Decision {
    pub fn parse(s: &str) -> Option<Decision> {
        match s {
            "given" => Some(Decision::Given),
            "refused" => Some(Decision::Refused),
            "withdrawn" => Some(Decision::Withdrawn),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Decision::Given => "given",
            Decision::Refused => "refused",
            Decision::Withdrawn => "withdrawn",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            Decision::Given => "Samtykke givet",
            Decision::Refused => "Samtykke afvist",
            Decision::Withdrawn => "Samtykke trukket tilbage",
        }
    }
}

pub fn decision_label(s: Option<&str>) -> &'static str {
    s.and_then(Decision::parse)
        .map(Decision::label)
        .unwrap_or("Ingen beslutning endnu")
}

// ---------------------------------------------------------------------------------------------
// What a page needs to know about a transition

pub struct Overview {
    pub id: Uuid,
    pub child_id: Uuid,
    pub child_first_name: String,
    pub sending_institution_id: Uuid,
    pub sending_name: String,
    pub receiving_institution_id: Uuid,
    pub receiving_name: String,
    pub template_id: Uuid,
    pub status: Status,
    pub retention_days: i32,
}

pub async fn overview(
    tx: &mut Tx,
    municipality_id: Uuid,
    transition_id: Uuid,
) -> Result<Option<Overview>, sqlx::Error> {
    let row = sqlx::query!(
        r#"SELECT t.id, t.child_id, c.first_name, t.sending_institution_id, si.name AS sending_name,
                  t.receiving_institution_id, ri.name AS receiving_name, t.template_id, t.status,
                  m.retention_days
           FROM transitions t
           JOIN children c ON c.municipality_id = t.municipality_id AND c.id = t.child_id
           JOIN institutions si ON si.municipality_id = t.municipality_id AND si.id = t.sending_institution_id
           JOIN institutions ri ON ri.municipality_id = t.municipality_id AND ri.id = t.receiving_institution_id
           JOIN municipalities m ON m.id = t.municipality_id
           WHERE t.municipality_id = $1 AND t.id = $2"#,
        municipality_id,
        transition_id
    )
    .fetch_optional(&mut **tx)
    .await?;
    Ok(row.and_then(|r| {
        Some(Overview {
            id: r.id,
            child_id: r.child_id,
            child_first_name: r.first_name,
            sending_institution_id: r.sending_institution_id,
            sending_name: r.sending_name,
            receiving_institution_id: r.receiving_institution_id,
            receiving_name: r.receiving_name,
            template_id: r.template_id,
            status: Status::parse(&r.status)?,
            retention_days: r.retention_days,
        })
    }))
}

pub struct Guardian {
    pub id: Uuid,
    pub name: String,
    pub email: Option<String>,
}

/// The guardians with custody of the transition's child: whose consent counts.
pub async fn custody_guardians(
    tx: &mut Tx,
    municipality_id: Uuid,
    transition_id: Uuid,
) -> Result<Vec<Guardian>, sqlx::Error> {
    sqlx::query_as!(
        Guardian,
        "SELECT g.id, g.name, g.email
         FROM transitions t
         JOIN guardians g ON g.municipality_id = t.municipality_id AND g.child_id = t.child_id
         WHERE t.municipality_id = $1 AND t.id = $2 AND g.has_custody
         ORDER BY g.name, g.id",
        municipality_id,
        transition_id
    )
    .fetch_all(&mut **tx)
    .await
}

pub struct SensitiveSection {
    pub id: Uuid,
    pub title: String,
}

/// The sections of the transition's template version that hold a sensitive question: the
/// receiver sees them only with the consent of every guardian with custody.
pub async fn sensitive_sections(
    tx: &mut Tx,
    municipality_id: Uuid,
    transition_id: Uuid,
) -> Result<Vec<SensitiveSection>, sqlx::Error> {
    sqlx::query_as!(
        SensitiveSection,
        "SELECT s.id, s.title
         FROM transitions t
         JOIN template_sections s ON s.municipality_id = t.municipality_id AND s.template_id = t.template_id
         WHERE t.municipality_id = $1 AND t.id = $2
           AND EXISTS (SELECT 1 FROM template_questions q
                       WHERE q.municipality_id = s.municipality_id AND q.section_id = s.id AND q.sensitive)
         ORDER BY s.position",
        municipality_id,
        transition_id
    )
    .fetch_all(&mut **tx)
    .await
}

/// The latest decision of each (guardian, section) of the transition.
pub async fn current_decisions(
    tx: &mut Tx,
    municipality_id: Uuid,
    transition_id: Uuid,
) -> Result<Vec<(Uuid, Uuid, String)>, sqlx::Error> {
    let rows = sqlx::query!(
        r#"SELECT DISTINCT ON (guardian_id, section_id) guardian_id AS "guardian_id!", section_id, decision
           FROM consent_records
           WHERE municipality_id = $1 AND transition_id = $2 AND guardian_id IS NOT NULL
           ORDER BY guardian_id, section_id, recorded_at DESC, id DESC"#,
        municipality_id,
        transition_id
    )
    .fetch_all(&mut **tx)
    .await?;
    Ok(rows
        .into_iter()
        .map(|r| (r.guardian_id, r.section_id, r.decision))
        .collect())
}

pub fn current_of(
    decisions: &[(Uuid, Uuid, String)],
    guardian: Uuid,
    section: Uuid,
) -> Option<&str> {
    decisions
        .iter()
        .find(|(g, s, _)| *g == guardian && *s == section)
        .map(|(_, _, d)| d.as_str())
}

/// Whether the receiver may read the section now (`consent_released`).
async fn released(
    tx: &mut Tx,
    municipality_id: Uuid,
    transition_id: Uuid,
    section_id: Uuid,
) -> Result<bool, sqlx::Error> {
    sqlx::query_scalar!(
        r#"SELECT consent_released($1, $2, $3) AS "released!""#,
        municipality_id,
        transition_id,
        section_id
    )
    .fetch_one(&mut **tx)
    .await
}

pub struct NewDecision<'a> {
    pub guardian_id: Uuid,
    pub section_id: Uuid,
    pub decision: Decision,
    /// `None`: through the guardian's link; `Some(user)`: recorded by staff.
    pub recorded_by: Option<Uuid>,
    pub note: Option<&'a str>,
}

/// Appends a decision to the ledger, audits it and, when the decision takes a section away from
/// a receiver who could read it, tells the receiving institution's staff. The caller has checked
/// that guardian and section belong to the transition.
pub async fn record_decision(
    tx: &mut Tx,
    actor: &Actor,
    config: &Config,
    t: &Overview,
    municipality_id: Uuid,
    d: NewDecision<'_>,
) -> Result<(), sqlx::Error> {
    let released_before = released(tx, municipality_id, t.id, d.section_id).await?;
    let id = sqlx::query_scalar!(
        "INSERT INTO consent_records (municipality_id, transition_id, guardian_id, section_id, decision,
                                      method, note, recorded_by)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING id",
        municipality_id,
        t.id,
        d.guardian_id,
        d.section_id,
        d.decision.as_str(),
        if d.recorded_by.is_some() { "staff" } else { "link" },
        d.note,
        d.recorded_by
    )
    .fetch_one(&mut **tx)
    .await?;
    audit::record(
        tx,
        actor,
        Entry::new("consent", "consent_record", Some(id))
            .child(t.child_id)
            .details(json!({
                "transition_id": t.id,
                "guardian_id": d.guardian_id,
                "section_id": d.section_id,
                "decision": d.decision.as_str(),
                "method": if d.recorded_by.is_some() { "staff" } else { "link" },
            })),
    )
    .await?;
    // Any decision that takes the section away from a receiver who could read it: a withdrawal,
    // or a refusal after consent was given (by the link, or recorded by staff).
    if released_before
        && is_sent(t.status)
        && !released(tx, municipality_id, t.id, d.section_id).await?
    {
        notify_receiver_of_withdrawal(tx, config, t, municipality_id, d.section_id).await?;
    }
    Ok(())
}

#[derive(Template)]
#[template(path = "mail/consent_withdrawn.txt")]
struct WithdrawnMail<'a> {
    section: &'a str,
    sending: &'a str,
    link: &'a str,
}

async fn notify_receiver_of_withdrawal(
    tx: &mut Tx,
    config: &Config,
    t: &Overview,
    municipality_id: Uuid,
    section_id: Uuid,
) -> Result<(), sqlx::Error> {
    let section = sqlx::query_scalar!(
        "SELECT title FROM template_sections WHERE municipality_id = $1 AND id = $2",
        municipality_id,
        section_id
    )
    .fetch_one(&mut **tx)
    .await?;
    let recipients = crate::transitions::receiving::receiving_staff(
        tx,
        municipality_id,
        t.receiving_institution_id,
    )
    .await?;
    // The mail names no child: the link leads to the transition behind a login.
    let link = mail::link(config, &format!("/transitions/{}", t.id));
    let body = WithdrawnMail {
        section: &section,
        sending: &t.sending_name,
        link: &link,
    }
    .render()
    .map_err(|e| sqlx::Error::Protocol(format!("mail template: {e}")))?;
    for to in recipients {
        mail::enqueue(tx, Some(municipality_id), &to, WITHDRAWN_SUBJECT, &body).await?;
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Links

/// Creates a link for the guardian and returns the plain token; only its hash is stored.
pub async fn issue_link(
    tx: &mut Tx,
    municipality_id: Uuid,
    transition_id: Uuid,
    guardian_id: Uuid,
    delivery: &str,
    sent_to: Option<&str>,
    created_by: Option<Uuid>,
) -> Result<(Uuid, String), sqlx::Error> {
    let token = crate::auth::session::random_token();
    let id = sqlx::query_scalar!(
        "INSERT INTO parent_links (municipality_id, transition_id, guardian_id, token_hash, delivery,
                                   sent_to, created_by, expires_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, now() + make_interval(days => $8)) RETURNING id",
        municipality_id,
        transition_id,
        guardian_id,
        crate::auth::session::token_hash(&token),
        delivery,
        sent_to,
        created_by,
        LINK_VALID_DAYS
    )
    .fetch_one(&mut **tx)
    .await?;
    Ok((id, token))
}

/// Locks the link's row (as a revoke takes it) and tells whether it still works: not revoked,
/// not expired, as committed by the time the lock is held.
pub async fn lock_live_link(
    tx: &mut Tx,
    municipality_id: Uuid,
    link_id: Uuid,
) -> Result<bool, sqlx::Error> {
    Ok(sqlx::query_scalar!(
        r#"SELECT true AS "live!" FROM parent_links
           WHERE municipality_id = $1 AND id = $2 AND revoked_at IS NULL AND expires_at > now()
           FOR NO KEY UPDATE"#,
        municipality_id,
        link_id
    )
    .fetch_optional(&mut **tx)
    .await?
    .is_some())
}

/// Revokes the guardian's live links to the transition (only the newest link works).
pub async fn revoke_links(
    tx: &mut Tx,
    municipality_id: Uuid,
    transition_id: Uuid,
    guardian_id: Uuid,
    by: Option<Uuid>,
) -> Result<u64, sqlx::Error> {
    let done = sqlx::query!(
        "UPDATE parent_links SET revoked_at = now(), revoked_by = $4
         WHERE municipality_id = $1 AND transition_id = $2 AND guardian_id = $3
           AND revoked_at IS NULL AND expires_at > now()",
        municipality_id,
        transition_id,
        guardian_id,
        by
    )
    .execute(&mut **tx)
    .await?;
    Ok(done.rows_affected())
}

/// Revokes the guardian's live links, to any transition: all of them when the guardian's
/// custody ends (`mailed_elsewhere_than` None), or those mailed to another address than
/// `Some(new)` when the address is corrected: whoever holds the old mailbox must not keep the
/// draft and the consent button, while a link staff handed over in person keeps working.
/// Returns how many links were revoked.
pub async fn revoke_guardian_links(
    tx: &mut Tx,
    municipality_id: Uuid,
    guardian_id: Uuid,
    mailed_elsewhere_than: Option<&str>,
    by: Uuid,
) -> Result<u64, sqlx::Error> {
    let done = sqlx::query!(
        "UPDATE parent_links SET revoked_at = now(), revoked_by = $4
         WHERE municipality_id = $1 AND guardian_id = $2
           AND revoked_at IS NULL AND expires_at > now()
           AND ($3::text IS NULL OR (sent_to IS NOT NULL AND lower(sent_to) <> lower($3)))",
        municipality_id,
        guardian_id,
        mailed_elsewhere_than,
        by
    )
    .execute(&mut **tx)
    .await?;
    Ok(done.rows_affected())
}

#[derive(Template)]
#[template(path = "mail/parent_link.txt")]
pub struct LinkMail<'a> {
    pub guardian: &'a str,
    pub child: &'a str,
    pub sending: &'a str,
    pub receiving: &'a str,
    pub link: &'a str,
    pub days: i32,
    pub reminder: bool,
}

/// The form has gone to the parents: every guardian with custody and an e-mail address gets a
/// link by mail. Returns the names of the guardians with custody but no e-mail (staff make a
/// link for them on the parents page).
pub async fn send_links(
    tx: &mut Tx,
    actor: &Actor,
    config: &Config,
    municipality_id: Uuid,
    transition_id: Uuid,
) -> Result<Vec<String>, sqlx::Error> {
    let Some(t) = overview(tx, municipality_id, transition_id).await? else {
        return Ok(Vec::new());
    };
    let mut without_email = Vec::new();
    for g in custody_guardians(tx, municipality_id, transition_id).await? {
        let Some(email) = g.email.as_deref() else {
            without_email.push(g.name);
            continue;
        };
        revoke_links(tx, municipality_id, transition_id, g.id, actor.user_id).await?;
        let (link_id, token) = issue_link(
            tx,
            municipality_id,
            transition_id,
            g.id,
            "email",
            Some(email),
            actor.user_id,
        )
        .await?;
        let link = mail::link(config, &parent_path(&token));
        let body = LinkMail {
            guardian: &g.name,
            child: &t.child_first_name,
            sending: &t.sending_name,
            receiving: &t.receiving_name,
            link: &link,
            days: LINK_VALID_DAYS,
            reminder: false,
        }
        .render()
        .map_err(|e| sqlx::Error::Protocol(format!("mail template: {e}")))?;
        mail::enqueue(tx, Some(municipality_id), email, LINK_SUBJECT, &body).await?;
        audit::record(
            tx,
            actor,
            Entry::new("issue", "parent_link", Some(link_id))
                .child(t.child_id)
                .details(json!({ "transition_id": transition_id, "guardian_id": g.id, "delivery": "email" })),
        )
        .await?;
    }
    Ok(without_email)
}

/// The transition page's hook after a status change: when the form goes to the parents, the
/// links are mailed. Returns a sentence for the flash message ("" when there is nothing to say).
pub async fn on_status(
    tx: &mut Tx,
    actor: &Actor,
    config: &Config,
    municipality_id: Uuid,
    transition_id: Uuid,
    to: Status,
) -> Result<String, sqlx::Error> {
    if to != Status::WithParents {
        return Ok(String::new());
    }
    let without_email = send_links(tx, actor, config, municipality_id, transition_id).await?;
    Ok(if without_email.is_empty() {
        " Forældre med forældremyndighed har fået et link på e-mail.".into()
    } else {
        format!(
            " Uden e-mailadresse: {}. Lav et link til dem under «Forældre og samtykke», og send det fx i Aula.",
            without_email.join(", ")
        )
    })
}

pub struct LinkRow {
    pub id: Uuid,
    pub guardian_id: Uuid,
    pub delivery: String,
    pub created_at: String,
    pub created_by: Option<String>,
    pub expired: bool,
    pub revoked_at: Option<String>,
    pub first_opened_at: Option<String>,
    pub responded_at: Option<String>,
    pub created: OffsetDateTime,
}

pub async fn links_of(
    tx: &mut Tx,
    municipality_id: Uuid,
    transition_id: Uuid,
) -> Result<Vec<LinkRow>, sqlx::Error> {
    sqlx::query_as!(
        LinkRow,
        r#"SELECT l.id, l.guardian_id, l.delivery,
                  to_char(l.created_at AT TIME ZONE $3, 'DD-MM-YYYY HH24:MI') AS "created_at!",
                  u.name AS "created_by?",
                  l.expires_at <= now() AS "expired!",
                  to_char(l.revoked_at AT TIME ZONE $3, 'DD-MM-YYYY HH24:MI') AS revoked_at,
                  to_char(l.first_opened_at AT TIME ZONE $3, 'DD-MM-YYYY HH24:MI') AS first_opened_at,
                  to_char(l.responded_at AT TIME ZONE $3, 'DD-MM-YYYY HH24:MI') AS responded_at,
                  l.created_at AS created
           FROM parent_links l
           LEFT JOIN users u ON u.municipality_id = l.municipality_id AND u.id = l.created_by
           WHERE l.municipality_id = $1 AND l.transition_id = $2
           ORDER BY l.created_at, l.id"#,
        municipality_id,
        transition_id,
        LOCAL_TZ
    )
    .fetch_all(&mut **tx)
    .await
}

pub struct Perspective {
    pub guardian_id: Uuid,
    pub guardian_name: String,
    pub body: String,
    pub updated_at: String,
}

/// The guardians' own perspectives on the child (for the sender's staff, and for the receiver
/// once the handover is sent).
pub async fn perspectives(
    tx: &mut Tx,
    municipality_id: Uuid,
    transition_id: Uuid,
) -> Result<Vec<Perspective>, sqlx::Error> {
    sqlx::query_as!(
        Perspective,
        r#"SELECT p.guardian_id, g.name AS guardian_name, p.body,
                  to_char(p.updated_at AT TIME ZONE $3, 'DD-MM-YYYY HH24:MI') AS "updated_at!"
           FROM parent_perspectives p
           JOIN guardians g ON g.municipality_id = p.municipality_id AND g.id = p.guardian_id
           WHERE p.municipality_id = $1 AND p.transition_id = $2
           ORDER BY g.name, g.id"#,
        municipality_id,
        transition_id,
        LOCAL_TZ
    )
    .fetch_all(&mut **tx)
    .await
}

pub struct HistoryRow {
    pub guardian_id: Option<Uuid>,
    pub guardian_name: Option<String>,
    pub section_title: String,
    pub decision: String,
    pub method: String,
    pub note: Option<String>,
    pub recorded_by: Option<String>,
    pub recorded_at: String,
}

/// The transition's whole consent ledger, oldest first.
pub async fn history(
    tx: &mut Tx,
    municipality_id: Uuid,
    transition_id: Uuid,
) -> Result<Vec<HistoryRow>, sqlx::Error> {
    sqlx::query_as!(
        HistoryRow,
        r#"SELECT c.guardian_id, g.name AS "guardian_name?", s.title AS section_title, c.decision,
                  c.method, c.note, u.name AS "recorded_by?",
                  to_char(c.recorded_at AT TIME ZONE $3, 'DD-MM-YYYY HH24:MI') AS "recorded_at!"
           FROM consent_records c
           JOIN template_sections s ON s.municipality_id = c.municipality_id AND s.id = c.section_id
           LEFT JOIN guardians g ON g.municipality_id = c.municipality_id AND g.id = c.guardian_id
           LEFT JOIN users u ON u.municipality_id = c.municipality_id AND u.id = c.recorded_by
           WHERE c.municipality_id = $1 AND c.transition_id = $2
           ORDER BY c.recorded_at, c.id"#,
        municipality_id,
        transition_id,
        LOCAL_TZ
    )
    .fetch_all(&mut **tx)
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn links_work_from_the_parents_step_until_the_end() {
        assert!(!link_usable(Status::Draft));
        assert!(link_usable(Status::WithParents));
        assert!(link_usable(Status::Sent));
        assert!(!link_usable(Status::Closed));
        assert!(!link_usable(Status::Cancelled));
        assert!(perspective_editable(Status::Ready));
        assert!(!perspective_editable(Status::Sent));
        assert!(is_sent(Status::Received) && !is_sent(Status::Ready));
    }

    #[test]
    fn decisions_round_trip() {
        for d in [Decision::Given, Decision::Refused, Decision::Withdrawn] {
            assert_eq!(Decision::parse(d.as_str()), Some(d));
        }
        assert_eq!(Decision::parse("maybe"), None);
        assert_eq!(decision_label(None), "Ingen beslutning endnu");
    }

    #[test]
    fn link_mail_is_plain_text() {
        let body = LinkMail {
            guardian: "Ib & Co",
            child: "Ida",
            sending: "Børnehaven <Sol>",
            receiving: "Skolen",
            link: "http://h/foraelder/abc",
            days: 21,
            reminder: true,
        }
        .render()
        .unwrap();
        assert!(body.contains("Ib & Co") && body.contains("<Sol>"), "{body}");
        assert!(body.contains("http://h/foraelder/abc") && body.contains("21 dage"));
    }
}

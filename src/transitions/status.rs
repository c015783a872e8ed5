//! The status machine of a transition, as pure code, and the one function every status change
//! goes through (so each change is checked, versioned, recorded as an event and audited in the
//! same transaction).

use serde_json::json;
use uuid::Uuid;

use crate::{
    audit::{Actor, Entry},
    db::Tx,
    web::{AppError, AppResult},
};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Status {
    Draft,
    WithParents,
    Ready,
    Sent,
    Received,
    FeedbackRequested,
    FeedbackGiven,
    Closed,
    Cancelled,
}

impl Status {
    pub const ALL: [Status; 9] = [
        Status::Draft,
        Status::WithParents,
        Status::Ready,
        Status::Sent,
        Status::Received,
        Status::FeedbackRequested,
        Status::FeedbackGiven,
        Status::Closed,
        Status::Cancelled,
    ];

    /// Statuses in which work is still to be done (for worklists and the cohort's skip rule).
    pub const OPEN: [&'static str; 7] = [
        "draft",
        "with_parents",
        "ready",
        "sent",
        "received",
        "feedback_requested",
        "feedback_given",
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Status::Draft => "draft",
            Status::WithParents => "with_parents",
            Status::Ready => "ready",
            Status::Sent => "sent",
            Status::Received => "received",
            Status::FeedbackRequested => "feedback_requested",
            Status::FeedbackGiven => "feedback_given",
            Status::Closed => "closed",
            Status::Cancelled => "cancelled",
        }
    }

    pub fn parse(s: &str) -> Option<Status> {
        Self::ALL.into_iter().find(|k| k.as_str() == s)
    }

    pub fn label(self) -> &'static str {
        match self {
            Status::Draft => "Kladde",
            Status::WithParents => "Hos forældrene",
            Status::Ready => "Klar til afsendelse",
            Status::Sent => "Sendt",
            Status::Received => "Modtaget",
            Status::FeedbackRequested => "Tilbagemelding anmodet",
            Status::FeedbackGiven => "Tilbagemelding givet",
            Status::Closed => "Afsluttet",
            Status::Cancelled => "Annulleret",
        }
    }

    /// Not closed or cancelled: work may still be done on it.
    pub fn is_open(self) -> bool {
        !matches!(self, Status::Closed | Status::Cancelled)
    }

    /// The next step of the normal flow, if any.
    fn next(self) -> Option<Status> {
        match self {
            Status::Draft => Some(Status::WithParents),
            Status::WithParents => Some(Status::Ready),
            Status::Ready => Some(Status::Sent),
            Status::Sent => Some(Status::Received),
            Status::Received => Some(Status::FeedbackRequested),
            Status::FeedbackRequested => Some(Status::FeedbackGiven),
            Status::FeedbackGiven => Some(Status::Closed),
            Status::Closed | Status::Cancelled => None,
        }
    }

    /// The moves allowed from here, in the order the buttons are shown.
    pub fn allowed_moves(self) -> Vec<Status> {
        let mut moves: Vec<Status> = self.next().into_iter().collect();
        // Parents may be skipped, but only as a deliberate choice (its own button).
        if self == Status::Draft {
            moves.push(Status::Ready);
        }
        // Recall: back to the sender, only while nobody at the receiver has opened it (checked
        // by `amendments::recall`, the one place that makes this move). And a receiver who
        // never acknowledged the handover must still be asked for feedback.
        if self == Status::Sent {
            moves.push(Status::Draft);
            moves.push(Status::FeedbackRequested);
        }
        if self.is_open() {
            moves.push(Status::Cancelled);
        }
        moves
    }

    /// Whether `self → to` is a legal move; else the Danish reason.
    pub fn check_move(self, to: Status) -> Result<(), String> {
        if self.allowed_moves().contains(&to) {
            return Ok(());
        }
        Err(if !self.is_open() {
            format!(
                "En overlevering med status «{}» kan ikke ændres længere.",
                self.label()
            )
        } else {
            format!(
                "En overlevering med status «{}» kan ikke flyttes til «{}».",
                self.label(),
                to.label()
            )
        })
    }

    /// The text on the button that makes this move.
    pub fn action_label(self) -> &'static str {
        match self {
            Status::Draft => "Sæt tilbage til kladde",
            Status::WithParents => "Send til forældrene",
            Status::Ready => "Markér som klar",
            Status::Sent => "Send til modtager",
            Status::Received => "Markér som modtaget",
            Status::FeedbackRequested => "Anmod om tilbagemelding",
            Status::FeedbackGiven => "Markér tilbagemelding som givet",
            Status::Closed => "Afslut",
            Status::Cancelled => "Annullér overleveringen",
        }
    }
}

/// Moves transition `id` to `to` if it still has `expected_version` and the move is legal;
/// bumps the version, appends the event and audits it in the caller's transaction. The caller
/// has already decided that `actor` may act on the transition.
pub async fn transition_status(
    tx: &mut Tx,
    actor: &Actor,
    municipality_id: Uuid,
    transition_id: Uuid,
    expected_version: i32,
    to: Status,
    note: Option<&str>,
) -> AppResult<()> {
    // Locks the row so two concurrent moves are judged one after the other.
    let row = sqlx::query!(
        "SELECT status, version, child_id FROM transitions
         WHERE municipality_id = $1 AND id = $2 FOR UPDATE",
        municipality_id,
        transition_id
    )
    .fetch_optional(&mut **tx)
    .await?
    .ok_or(AppError::NotFound)?;
    if row.version != expected_version {
        return Err(AppError::Conflict(
            "Overleveringen er blevet ændret af en anden, siden du åbnede siden. Genindlæs siden og prøv igen."
                .into(),
        ));
    }
    let from = Status::parse(&row.status)
        .ok_or_else(|| AppError::Internal(anyhow::anyhow!("unknown status {}", row.status)))?;
    from.check_move(to).map_err(AppError::Conflict)?;
    sqlx::query!(
        "UPDATE transitions SET status = $3, version = version + 1, updated_at = now()
         WHERE municipality_id = $1 AND id = $2",
        municipality_id,
        transition_id,
        to.as_str()
    )
    .execute(&mut **tx)
    .await?;
    record_event(
        tx,
        actor,
        municipality_id,
        transition_id,
        Some(from),
        to,
        note,
    )
    .await?;
    crate::audit::record(
        tx,
        actor,
        Entry::new("status", "transition", Some(transition_id))
            .child(row.child_id)
            .details(json!({ "from": from.as_str(), "to": to.as_str() })),
    )
    .await?;
    Ok(())
}

/// Appends one event to the transition's history (`from` is `None` for its creation).
pub async fn record_event(
    tx: &mut Tx,
    actor: &Actor,
    municipality_id: Uuid,
    transition_id: Uuid,
    from: Option<Status>,
    to: Status,
    note: Option<&str>,
) -> Result<(), sqlx::Error> {
    sqlx::query!(
        "INSERT INTO transition_events (municipality_id, transition_id, user_id, from_status, to_status, note)
         VALUES ($1, $2, $3, $4, $5, $6)",
        municipality_id,
        transition_id,
        actor.user_id,
        from.map(Status::as_str),
        to.as_str(),
        note
    )
    .execute(&mut **tx)
    .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::Status::{self, *};

    const LEGAL: &[(Status, Status)] = &[
        (Draft, WithParents),
        (Draft, Ready),
        (WithParents, Ready),
        (Ready, Sent),
        (Sent, Draft),
        (Sent, Received),
        (Sent, FeedbackRequested),
        (Received, FeedbackRequested),
        (FeedbackRequested, FeedbackGiven),
        (FeedbackGiven, Closed),
        (Draft, Cancelled),
        (WithParents, Cancelled),
        (Ready, Cancelled),
        (Sent, Cancelled),
        (Received, Cancelled),
        (FeedbackRequested, Cancelled),
        (FeedbackGiven, Cancelled),
    ];

    #[test]
    fn every_pair_is_legal_exactly_when_listed() {
        for from in Status::ALL {
            for to in Status::ALL {
                let legal = LEGAL.contains(&(from, to));
                assert_eq!(
                    from.check_move(to).is_ok(),
                    legal,
                    "{from:?} → {to:?} should be {}",
                    if legal { "legal" } else { "illegal" }
                );
            }
        }
    }

    #[test]
    fn refusals_are_danish_and_name_the_status() {
        let msg = Sent.check_move(WithParents).unwrap_err();
        assert!(
            msg.starts_with("En overlevering med status «Sendt» kan ikke"),
            "{msg}"
        );
        let msg = Closed.check_move(Cancelled).unwrap_err();
        assert!(msg.contains("«Afsluttet» kan ikke ændres"), "{msg}");
        let msg = Cancelled.check_move(Draft).unwrap_err();
        assert!(msg.contains("«Annulleret»"), "{msg}");
    }

    #[test]
    fn closed_and_cancelled_are_final() {
        assert!(Closed.allowed_moves().is_empty());
        assert!(Cancelled.allowed_moves().is_empty());
        assert!(!Closed.is_open() && !Cancelled.is_open());
    }

    #[test]
    fn stored_values_round_trip() {
        for s in Status::ALL {
            assert_eq!(Status::parse(s.as_str()), Some(s));
        }
        assert_eq!(Status::parse("bogus"), None);
        let open: Vec<&str> = Status::ALL
            .into_iter()
            .filter(|s| s.is_open())
            .map(Status::as_str)
            .collect();
        assert_eq!(open, Status::OPEN);
    }
}

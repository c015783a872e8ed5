//! The audit log: who did what to which record, written in the same transaction as the change.
//! Administrators search and export it (`page`).

pub mod page;
pub mod reads;

pub use reads::{ReadEntry, Writer};

use std::net::IpAddr;

use axum::{routing::get, Router};

use serde_json::Value;
use uuid::Uuid;

use crate::{db::Tx, state::AppState};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/audit", get(page::list))
        .route("/audit/search", axum::routing::post(page::search_post))
        .route("/audit.csv", get(page::csv))
}

#[derive(Clone, Debug, Default)]
pub struct Actor {
    pub user_id: Option<Uuid>,
    pub role: Option<String>,
    pub municipality_id: Option<Uuid>,
    pub client_addr: Option<IpAddr>,
}

pub struct Entry<'a> {
    pub action: &'a str,
    pub entity_type: &'a str,
    pub entity_id: Option<Uuid>,
    pub child_id: Option<Uuid>,
    pub details: Value,
}

impl<'a> Entry<'a> {
    pub fn new(action: &'a str, entity_type: &'a str, entity_id: Option<Uuid>) -> Self {
        Entry {
            action,
            entity_type,
            entity_id,
            child_id: None,
            details: Value::Object(Default::default()),
        }
    }

    pub fn details(mut self, details: Value) -> Self {
        self.details = details;
        self
    }

    pub fn child(mut self, child_id: Uuid) -> Self {
        self.child_id = Some(child_id);
        self
    }
}

pub async fn record(tx: &mut Tx, actor: &Actor, entry: Entry<'_>) -> Result<(), sqlx::Error> {
    sqlx::query!(
        "INSERT INTO audit_log (municipality_id, user_id, role, action, entity_type, entity_id, child_id,
                                client_addr, details)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
        actor.municipality_id,
        actor.user_id,
        actor.role,
        entry.action,
        entry.entity_type,
        entry.entity_id,
        entry.child_id,
        actor.client_addr.map(sqlx::types::ipnetwork::IpNetwork::from),
        entry.details,
    )
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// One entry per child for a bulk change (an import of thousands of children), in one statement.
pub async fn record_children(
    tx: &mut Tx,
    actor: &Actor,
    action: &str,
    child_ids: &[Uuid],
) -> Result<(), sqlx::Error> {
    sqlx::query!(
        "INSERT INTO audit_log (municipality_id, user_id, role, action, entity_type, entity_id, child_id, client_addr)
         SELECT $1, $2, $3, $4, 'child', c, c, $5 FROM UNNEST($6::uuid[]) AS c",
        actor.municipality_id,
        actor.user_id,
        actor.role,
        action,
        actor.client_addr.map(sqlx::types::ipnetwork::IpNetwork::from),
        child_ids
    )
    .execute(&mut **tx)
    .await?;
    Ok(())
}

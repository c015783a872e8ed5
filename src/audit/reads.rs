//! The audit entries of page views, written in groups.
//!
//! A change is audited in its own transaction (`audit::record`). A page view only reads, and
//! writing its entry in the view's transaction cost every page an insert of its own under load.
//! Instead the page hands its entries to the `Writer` when it finishes (`Ctx::commit`) and waits
//! until they are committed before it answers: no page is shown without its entry, as before,
//! and every request that arrives while a group is being written joins the next group, which is
//! written in one statement per municipality (each under that municipality's scope).

use std::sync::Arc;

use serde_json::Value;
use sqlx::{types::ipnetwork::IpNetwork, PgPool};
use tokio::sync::{mpsc, oneshot, Mutex};
use uuid::Uuid;

use super::{Actor, Entry};

/// Most entries in one group; more wait for the next.
const MAX_GROUP: usize = 512;
/// Groups written at the same time: while one waits for the database the next can form.
const WRITERS: usize = 2;

/// One audit entry of a read, owned so it can wait for the writer.
#[derive(Clone, Debug)]
pub struct ReadEntry {
    municipality_id: Option<Uuid>,
    user_id: Option<Uuid>,
    role: Option<String>,
    action: String,
    entity_type: String,
    entity_id: Option<Uuid>,
    child_id: Option<Uuid>,
    client_addr: Option<IpNetwork>,
    details: Value,
}

impl ReadEntry {
    pub fn new(actor: &Actor, entry: Entry<'_>) -> Self {
        ReadEntry {
            municipality_id: actor.municipality_id,
            user_id: actor.user_id,
            role: actor.role.clone(),
            action: entry.action.to_string(),
            entity_type: entry.entity_type.to_string(),
            entity_id: entry.entity_id,
            child_id: entry.child_id,
            client_addr: actor.client_addr.map(IpNetwork::from),
            details: entry.details,
        }
    }
}

/// Entries of one municipality (`None`: the platform) and who waits for them.
struct Job {
    municipality_id: Option<Uuid>,
    entries: Vec<ReadEntry>,
    done: oneshot::Sender<Result<(), String>>,
}

/// Hands read entries to the writing task; cheap to clone.
#[derive(Clone)]
pub struct Writer {
    jobs: mpsc::UnboundedSender<Job>,
}

impl Writer {
    /// Starts the writing tasks on the current Tokio runtime; they end when the last `Writer`
    /// is dropped.
    pub fn start(pool: &PgPool) -> Self {
        // connections of its own: behind the requests in the pool's queue, a group would wait
        // as long as the slowest of them
        let pool = crate::db::app_pool_beside(pool, WRITERS as u32);
        let (jobs, queue) = mpsc::unbounded_channel::<Job>();
        let queue = Arc::new(Mutex::new(queue));
        for _ in 0..WRITERS {
            let (pool, queue) = (pool.clone(), queue.clone());
            tokio::spawn(async move {
                while let Some(group) = next_group(&queue).await {
                    write_group(&pool, group).await;
                }
            });
        }
        Writer { jobs }
    }

    /// Writes `entries` and returns once they are committed (or could not be).
    pub async fn write(&self, entries: Vec<ReadEntry>) -> anyhow::Result<()> {
        let stopped = || anyhow::anyhow!("the audit writer has stopped");
        let mut waits = Vec::new();
        for (municipality_id, entries) in by_municipality(entries, |e| e.municipality_id) {
            let (done, wait) = oneshot::channel();
            self.jobs
                .send(Job {
                    municipality_id,
                    entries,
                    done,
                })
                .map_err(|_| stopped())?;
            waits.push(wait);
        }
        for wait in waits {
            wait.await
                .map_err(|_| stopped())?
                .map_err(|e| anyhow::anyhow!("audit entries not written: {e}"))?;
        }
        Ok(())
    }
}

/// `items` in groups by municipality, in the order each municipality first appears.
fn by_municipality<T>(
    items: Vec<T>,
    key: impl Fn(&T) -> Option<Uuid>,
) -> Vec<(Option<Uuid>, Vec<T>)> {
    let mut groups: Vec<(Option<Uuid>, Vec<T>)> = Vec::new();
    for item in items {
        let k = key(&item);
        match groups.iter_mut().find(|(m, _)| *m == k) {
            Some((_, list)) => list.push(item),
            None => groups.push((k, vec![item])),
        }
    }
    groups
}

/// The next group: the first job waiting and whatever else has arrived meanwhile. `None` when
/// every `Writer` is gone.
async fn next_group(queue: &Mutex<mpsc::UnboundedReceiver<Job>>) -> Option<Vec<Job>> {
    let mut queue = queue.lock().await;
    let first = queue.recv().await?;
    let mut size = first.entries.len();
    let mut group = vec![first];
    while size < MAX_GROUP {
        match queue.try_recv() {
            Ok(job) => {
                size += job.entries.len();
                group.push(job);
            }
            Err(_) => break,
        }
    }
    Some(group)
}

/// Per municipality one call of `audit_reads`, which sets that municipality's scope and
/// inserts its entries in one implicit transaction (one round trip); every job learns the
/// outcome of its own municipality's call. A read's entry need not wait for the disk (see
/// `db::begin_read`); the function commits the same way.
async fn write_group(pool: &PgPool, group: Vec<Job>) {
    for (municipality_id, jobs) in by_municipality(group, |j| j.municipality_id) {
        let list: Vec<&ReadEntry> = jobs.iter().flat_map(|j| &j.entries).collect();
        let result = insert(pool, municipality_id, &list)
            .await
            .map_err(|e| e.to_string());
        if let Err(e) = &result {
            tracing::error!("audit entries of page views not written: {e}");
        }
        for job in jobs {
            let _ = job.done.send(result.clone());
        }
    }
}

async fn insert(
    pool: &PgPool,
    municipality_id: Option<Uuid>,
    list: &[&ReadEntry],
) -> Result<(), sqlx::Error> {
    let column = |f: fn(&ReadEntry) -> Option<Uuid>| list.iter().map(|e| f(e)).collect();
    let user_ids: Vec<Option<Uuid>> = column(|e| e.user_id);
    let entity_ids: Vec<Option<Uuid>> = column(|e| e.entity_id);
    let child_ids: Vec<Option<Uuid>> = column(|e| e.child_id);
    let roles: Vec<Option<String>> = list.iter().map(|e| e.role.clone()).collect();
    let actions: Vec<String> = list.iter().map(|e| e.action.clone()).collect();
    let types: Vec<String> = list.iter().map(|e| e.entity_type.clone()).collect();
    let addrs: Vec<Option<IpNetwork>> = list.iter().map(|e| e.client_addr).collect();
    let details: Vec<Value> = list.iter().map(|e| e.details.clone()).collect();
    sqlx::query!(
        "SELECT audit_reads($1, $2, $3, $4, $5, $6, $7, $8, $9)",
        municipality_id,
        &user_ids as &[Option<Uuid>],
        &roles as &[Option<String>],
        &actions,
        &types,
        &entity_ids as &[Option<Uuid>],
        &child_ids as &[Option<Uuid>],
        &addrs as &[Option<IpNetwork>],
        &details,
    )
    .execute(pool)
    .await?;
    Ok(())
}

//! Database access: connection set-up, migrations, and tenant-scoped transactions.

pub mod embedded;
#[doc(hidden)]
pub mod testing;

use std::{str::FromStr, time::Duration};

use sqlx::{
    postgres::{PgConnectOptions, PgPoolOptions},
    ConnectOptions, Connection, Executor, PgConnection, PgPool, Postgres, Transaction,
};
use uuid::Uuid;

pub type Tx = Transaction<'static, Postgres>;

pub static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations");

/// The role the application's queries run as: owns no tables, cannot bypass row-level security.
pub const APP_ROLE: &str = "overgang_app";

pub fn parse_url(url: &str) -> Result<PgConnectOptions, sqlx::Error> {
    PgConnectOptions::from_str(url)
}

fn quiet(options: PgConnectOptions) -> PgConnectOptions {
    options
        .log_statements(tracing::log::LevelFilter::Trace)
        .log_slow_statements(tracing::log::LevelFilter::Warn, Duration::from_millis(500))
}

/// Creates `options`' database if it does not exist (connecting to the `postgres` database).
pub async fn ensure_database(options: &PgConnectOptions) -> Result<(), sqlx::Error> {
    let name = options.get_database().unwrap_or("overgang").to_string();
    let mut conn = PgConnection::connect_with(&quiet(options.clone().database("postgres"))).await?;
    let exists: bool =
        sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)")
            .bind(&name)
            .fetch_one(&mut conn)
            .await?;
    if !exists {
        conn.execute(format!("CREATE DATABASE \"{}\"", name.replace('"', "\"\"")).as_str())
            .await?;
    }
    conn.close().await
}

/// Applies pending migrations as the connecting (owner) role.
pub async fn migrate(options: &PgConnectOptions) -> anyhow::Result<()> {
    let mut conn = PgConnection::connect_with(&quiet(options.clone())).await?;
    MIGRATOR.run(&mut conn).await?;
    conn.close().await?;
    Ok(())
}

/// The application pool: every connection switches to the unprivileged role first.
pub async fn app_pool(
    options: &PgConnectOptions,
    max_connections: u32,
) -> Result<PgPool, sqlx::Error> {
    PgPoolOptions::new()
        .max_connections(max_connections)
        .acquire_timeout(Duration::from_secs(10))
        .after_connect(|conn, _meta| {
            Box::pin(async move {
                conn.execute(format!("SET ROLE {APP_ROLE}").as_str())
                    .await?;
                Ok(())
            })
        })
        .connect_with(quiet(options.clone()))
        .await
}

/// Which rows a transaction may see.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Scope {
    /// One municipality's data.
    Municipality(Uuid),
    /// The platform operator: the list of municipalities and platform users, no tenant data.
    Platform,
    /// Neither (sessions, login throttling, definer functions).
    None,
}

/// Begins a transaction whose row-level security context is `scope` (transaction-local, so a
/// pooled connection never carries one request's tenant into the next). The scope travels with
/// `BEGIN` in one round trip.
pub async fn begin(pool: &PgPool, scope: Scope) -> Result<Tx, sqlx::Error> {
    pool.begin_with(begin_statement(scope, true)).await
}

/// Like `begin`, for a page view: its commit does not wait for the WAL to reach the disk
/// (`synchronous_commit = off`). What such a transaction writes (the audit entry of a read, a
/// read receipt) is never torn or reordered; only a crash of PostgreSQL or the machine within
/// a fraction of a second after the commit can lose it. Saves keep the durable `begin`.
pub async fn begin_read(pool: &PgPool, scope: Scope) -> Result<Tx, sqlx::Error> {
    pool.begin_with(begin_statement(scope, false)).await
}

fn begin_statement(scope: Scope, durable: bool) -> String {
    let (municipality, platform) = match scope {
        // A Uuid prints as hex digits and dashes only: safe inside a literal.
        Scope::Municipality(id) => (id.to_string(), ""),
        Scope::Platform => (String::new(), "on"),
        Scope::None => (String::new(), ""),
    };
    format!(
        "BEGIN; SELECT set_config('app.municipality_id', '{municipality}', true), \
         set_config('app.platform', '{platform}', true){}",
        if durable {
            ""
        } else {
            "; SET LOCAL synchronous_commit TO off"
        }
    )
}

pub async fn set_scope(tx: &mut Tx, scope: Scope) -> Result<(), sqlx::Error> {
    let (municipality, platform) = match scope {
        Scope::Municipality(id) => (id.to_string(), ""),
        Scope::Platform => (String::new(), "on"),
        Scope::None => (String::new(), ""),
    };
    sqlx::query(
        "SELECT set_config('app.municipality_id', $1, true), set_config('app.platform', $2, true)",
    )
    .bind(municipality)
    .bind(platform)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

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

/// What a transaction may take an advisory lock on (`lock`): changes that check what exists and
/// then add to it, where there is no row yet to lock. The two-key locks are apart from the
/// one-key lock sqlx takes for migrations.
#[derive(Clone, Copy, Debug)]
pub enum Lock {
    /// A user's unused tokens (`users::queries::revoke_tokens`), keyed by the user's id.
    UserTokens = 1,
    /// A municipality's open transitions of one kind (a cohort skips the children that have
    /// one), keyed by municipality and kind.
    OpenTransitions = 2,
    /// A municipality's administrators (a change that takes one's rights away checks that its
    /// actor still is one), keyed by the municipality's id.
    Administrators = 3,
}

/// Waits for any other transaction holding `lock` on `key` to end, and holds it to the end of
/// this one, so the next such change sees what this one wrote. Keys are hashed: two that share
/// a hash only wait for each other.
pub async fn lock(tx: &mut Tx, lock: Lock, key: &str) -> Result<(), sqlx::Error> {
    sqlx::query!(
        r#"SELECT 1 AS "one!" FROM pg_advisory_xact_lock($1, hashtext($2))"#,
        lock as i32,
        key
    )
    .fetch_one(&mut **tx)
    .await?;
    Ok(())
}

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

/// The time zone of the app's connections: `current_date` and `now()::date` in its queries are
/// the Danish date, whatever the server's own setting.
pub const TIME_ZONE: &str = "Europe/Copenhagen";

/// How the app's prepared statements are planned: once per connection, for any parameters.
/// PostgreSQL's default plans the first five executions for their parameters and then keeps
/// doing so whenever a generic plan looks dearer; with the tenant parameter and the row-level
/// security conditions most of our statements were re-planned on every execution, which was
/// half of the database's work on a page (perf, Dec 2026). The statements are written for
/// generic plans (no `$x IS NULL OR …` where an index matters).
pub const PLAN_CACHE_MODE: &str = "force_generic_plan";

/// What the planner takes a page read out of order to cost, against one read in order (1.0).
/// PostgreSQL's default, 4, is for spinning disks. The app's data is read from memory or SSD,
/// where it is about as cheap; with 4 the generic plans hashed whole tables (children, users) to
/// join a few rows. With 1.1 every main page's statement ran 5 to 20 % faster (`EXPLAIN
/// ANALYZE` on the bench data, Dec 2026).
pub const RANDOM_PAGE_COST: &str = "1.1";

/// What every connection of the app runs first (`APP_ROLE`, `TIME_ZONE`, `PLAN_CACHE_MODE`,
/// `RANDOM_PAGE_COST`).
const CONNECTION_SETUP: &str = "SET ROLE overgang_app; SET TimeZone TO 'Europe/Copenhagen'; \
                                SET plan_cache_mode TO force_generic_plan; \
                                SET random_page_cost TO 1.1";

/// The application pool: every connection switches to the unprivileged role first, works in
/// Danish time (`TIME_ZONE`) and plans its statements once (`PLAN_CACHE_MODE`), for memory or
/// SSD (`RANDOM_PAGE_COST`).
pub async fn app_pool(
    options: &PgConnectOptions,
    max_connections: u32,
) -> Result<PgPool, sqlx::Error> {
    app_pool_options(max_connections)
        .connect_with(quiet(options.clone()))
        .await
}

/// Like `app_pool`, with the options of `pool` (already set up by `app_pool`), connecting on
/// first use: for a task that must not wait behind the requests for a connection.
pub fn app_pool_beside(pool: &PgPool, max_connections: u32) -> PgPool {
    app_pool_options(max_connections).connect_lazy_with((*pool.connect_options()).clone())
}

/// A connection back in the pool within this long is handed out again without a ping.
///
/// sqlx pings every connection it takes from the pool by default: one more round trip per
/// request (and per group of audit entries), with a wake-up of the app and of the database
/// for each. A connection used that recently answered moments ago; one idle for longer (the
/// database may have restarted meanwhile) is pinged as before, and replaced if it fails.
pub const PING_AFTER_IDLE: Duration = Duration::from_secs(5);

fn app_pool_options(max_connections: u32) -> PgPoolOptions {
    PgPoolOptions::new()
        .max_connections(max_connections)
        .acquire_timeout(Duration::from_secs(10))
        .test_before_acquire(false)
        .before_acquire(|conn, meta| {
            Box::pin(async move {
                if meta.idle_for >= PING_AFTER_IDLE {
                    conn.ping().await?;
                }
                Ok(true)
            })
        })
        .after_connect(|conn, _meta| {
            Box::pin(async move {
                // one round trip; sqlx itself asks for UTC when it connects
                conn.execute(sqlx::raw_sql(CONNECTION_SETUP)).await?;
                Ok(())
            })
        })
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

impl Scope {
    /// The values of `app.municipality_id` and `app.platform` for this scope.
    fn settings(self) -> (String, &'static str) {
        match self {
            Scope::Municipality(id) => (id.to_string(), ""),
            Scope::Platform => (String::new(), "on"),
            Scope::None => (String::new(), ""),
        }
    }
}

/// Begins a transaction whose row-level security context is `scope` (transaction-local, so a
/// pooled connection never carries one request's tenant into the next). The scope travels with
/// `BEGIN` in one round trip.
pub async fn begin(pool: &PgPool, scope: Scope) -> Result<Tx, sqlx::Error> {
    pool.begin_with(begin_statement("", scope, true)).await
}

/// Like `begin`, for a page view: its commit does not wait for the WAL to reach the disk
/// (`synchronous_commit = off`). What such a transaction writes (the audit entry of a read, a
/// read receipt) is never torn or reordered; only a crash of PostgreSQL or the machine within
/// a fraction of a second after the commit can lose it. Saves keep the durable `begin`.
pub async fn begin_read(pool: &PgPool, scope: Scope) -> Result<Tx, sqlx::Error> {
    pool.begin_with(begin_statement("", scope, false)).await
}

/// Like `begin` (`durable`) or `begin_read`, with `check` evaluated first in the same round
/// trip: an expression that fails unless the transaction may start
/// (`SessionData::check_expression`). When it fails, PostgreSQL skips the rest and rolls back,
/// and the connection goes back to the pool idle.
pub async fn begin_checked(
    pool: &PgPool,
    check: &str,
    scope: Scope,
    durable: bool,
) -> Result<Tx, sqlx::Error> {
    pool.begin_with(begin_statement(check, scope, durable))
        .await
}

/// One `SELECT` of the check, the scope and (for a read) the commit mode, then `BEGIN`: two
/// statements for PostgreSQL to parse and plan instead of four. Statements of a simple query
/// before its `BEGIN` belong to the transaction it starts (PostgreSQL's "multiple statements
/// in a simple query"), so the transaction-local settings hold in it, and a failed check
/// leaves no transaction open.
fn begin_statement(check: &str, scope: Scope, durable: bool) -> String {
    // A Uuid prints as hex digits and dashes only: safe inside a literal.
    let (municipality, platform) = scope.settings();
    format!(
        "SELECT {check}set_config('app.municipality_id', '{municipality}', true), \
         set_config('app.platform', '{platform}', true){}; BEGIN",
        if durable {
            ""
        } else {
            ", set_config('synchronous_commit', 'off', true)"
        }
    )
}

pub async fn set_scope(tx: &mut Tx, scope: Scope) -> Result<(), sqlx::Error> {
    let (municipality, platform) = scope.settings();
    sqlx::query(
        "SELECT set_config('app.municipality_id', $1, true), set_config('app.platform', $2, true)",
    )
    .bind(municipality)
    .bind(platform)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn connection_setup_names_the_role_zone_and_plan_settings() {
        for part in [APP_ROLE, TIME_ZONE, PLAN_CACHE_MODE, RANDOM_PAGE_COST] {
            assert!(CONNECTION_SETUP.contains(part), "{part}");
        }
    }
}

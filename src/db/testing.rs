//! Test support: a throwaway PostgreSQL (or the server in `DATABASE_URL`) and a fresh, migrated
//! database per test, cloned from a template that is migrated once per test process.

use std::{
    path::PathBuf,
    sync::{
        atomic::{AtomicU32, Ordering},
        OnceLock,
    },
};

use sqlx::{postgres::PgConnectOptions, Connection, Executor, PgConnection};

use super::embedded::{EmbeddedPostgres, Options};

struct Server {
    admin: PgConnectOptions,
    template: String,
    _embedded: Option<EmbeddedPostgres>,
}

static SERVER: OnceLock<Server> = OnceLock::new();
static COUNTER: AtomicU32 = AtomicU32::new(0);

const PREFIX: &str = "ovtest";

fn server() -> &'static Server {
    SERVER.get_or_init(|| {
        // Runs outside the caller's runtime: tests are async, set-up blocks.
        std::thread::spawn(init)
            .join()
            .unwrap_or_else(|_| panic!("test database set-up failed"))
    })
}

fn init() -> Server {
    let pid = std::process::id();
    let (admin, embedded) = match std::env::var("DATABASE_URL").ok().filter(|u| !u.is_empty()) {
        Some(url) => (
            super::parse_url(&url)
                .expect("DATABASE_URL")
                .database("postgres"),
            None,
        ),
        None => {
            let base = std::env::temp_dir();
            remove_stale_clusters(&base);
            let pg = EmbeddedPostgres::start(&Options {
                root: base.join(format!("{PREFIX}-{pid}")),
                throwaway: true,
            })
            .unwrap_or_else(|e| panic!("could not start a throwaway PostgreSQL: {e}"));
            (pg.connect_options("postgres"), Some(pg))
        }
    };
    let template = format!("{PREFIX}_{pid}_template");
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let mut conn = PgConnection::connect_with(&admin)
            .await
            .expect("connect to test server");
        drop_stale_databases(&mut conn).await;
        conn.execute(format!("DROP DATABASE IF EXISTS {template}").as_str())
            .await
            .unwrap();
        conn.execute(format!("CREATE DATABASE {template}").as_str())
            .await
            .unwrap();
        conn.close().await.ok();
        super::migrate(&admin.clone().database(&template))
            .await
            .expect("migrate template");
    });
    Server {
        admin,
        template,
        _embedded: embedded,
    }
}

fn pid_alive(pid: u32) -> bool {
    PathBuf::from(format!("/proc/{pid}")).exists()
}

fn remove_stale_clusters(base: &std::path::Path) {
    let Ok(entries) = std::fs::read_dir(base) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().to_string();
        if let Some(pid) = name
            .strip_prefix(&format!("{PREFIX}-"))
            .and_then(|p| p.parse().ok())
        {
            if !pid_alive(pid) {
                let _ = std::fs::remove_dir_all(entry.path());
            }
        }
    }
}

async fn drop_stale_databases(conn: &mut PgConnection) {
    let names: Vec<String> =
        sqlx::query_scalar("SELECT datname FROM pg_database WHERE datname LIKE $1")
            .bind(format!("{PREFIX}\\_%"))
            .fetch_all(&mut *conn)
            .await
            .unwrap_or_default();
    for name in names {
        let pid = name.split('_').nth(1).and_then(|p| p.parse().ok());
        if pid.is_some_and(|p| !pid_alive(p)) {
            let _ = conn
                .execute(format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)").as_str())
                .await;
        }
    }
}

/// A fresh migrated database; returns owner connect options for it. Dropped when the test
/// process ends (the throwaway cluster goes, or the next run clears databases of dead runs).
pub async fn fresh_database() -> PgConnectOptions {
    let server = server();
    let name = format!(
        "{PREFIX}_{}_{}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::SeqCst)
    );
    let mut conn = PgConnection::connect_with(&server.admin)
        .await
        .expect("connect to test server");
    conn.execute(format!("CREATE DATABASE {name} TEMPLATE {}", server.template).as_str())
        .await
        .expect("create test database");
    conn.close().await.ok();
    server.admin.clone().database(&name)
}

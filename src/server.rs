//! The commands: serve, migrate, seed-demo, seed-synthetic, purge.

use std::path::PathBuf;

use anyhow::Context;
use sqlx::postgres::PgConnectOptions;
use tokio::net::TcpListener;

use crate::{
    config::Config,
    db::{
        self,
        embedded::{EmbeddedPostgres, Options},
    },
    feedback, mail, retention, seed,
    state::AppState,
};

/// The database the app uses, and our own server when we run one.
pub struct Database {
    pub owner: PgConnectOptions,
    pub embedded: Option<EmbeddedPostgres>,
}

impl Database {
    /// Connects (starting the embedded cluster when no DATABASE_URL is set) and migrates.
    pub async fn open(config: &Config) -> anyhow::Result<Self> {
        let (owner, embedded) = match &config.database_url {
            Some(url) => (
                db::parse_url(url).context("DATABASE_URL er ikke en gyldig PostgreSQL-adresse")?,
                None,
            ),
            None => {
                let options = Options {
                    root: config.data_dir.clone(),
                    throwaway: false,
                };
                let pg = tokio::task::spawn_blocking(move || EmbeddedPostgres::start(&options))
                    .await??;
                let owner = pg.connect_options("overgang");
                db::ensure_database(&owner)
                    .await
                    .context("kunne ikke oprette databasen")?;
                (owner, Some(pg))
            }
        };
        db::migrate(&owner).await.context("migrering mislykkedes")?;
        Ok(Database { owner, embedded })
    }

    pub fn fresh(&self) -> bool {
        self.embedded.as_ref().is_some_and(|pg| pg.fresh)
    }
}

pub fn init_tracing(config: &Config) {
    let _ = tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::new(&config.log_filter))
        .with_target(false)
        .try_init();
}

pub async fn migrate(config: Config) -> anyhow::Result<()> {
    let database = Database::open(&config).await?;
    println!("Databasen er migreret til nyeste version.");
    drop(database);
    Ok(())
}

pub async fn seed_demo(config: Config) -> anyhow::Result<()> {
    let database = Database::open(&config).await?;
    let pool = db::app_pool(&database.owner, 2).await?;
    let created = seed::seed_demo(&pool).await?;
    seed::demo_feedback_example(&pool).await?;
    println!(
        "{}",
        if created {
            "Demodata er oprettet."
        } else {
            "Demodata fandtes allerede."
        }
    );
    print_logins();
    pool.close().await;
    Ok(())
}

pub async fn purge(config: Config, dry_run: bool) -> anyhow::Result<()> {
    let database = Database::open(&config).await?;
    let pool = db::app_pool(&database.owner, 2).await?;
    let report = retention::purge(&pool, time::OffsetDateTime::now_utc(), dry_run).await?;
    print!("{}", retention::describe(&report));
    pool.close().await;
    if !report.failures.is_empty() {
        anyhow::bail!(
            "sletningen mislykkedes for {} kommune(r)",
            report.failures.len()
        );
    }
    Ok(())
}

/// Synthetic national-scale data (see `synthetic`), written through the owner connection.
pub async fn seed_synthetic(
    config: Config,
    options: crate::synthetic::Options,
) -> anyhow::Result<()> {
    let database = Database::open(&config).await?;
    crate::synthetic::run(&database.owner, &options).await?;
    drop(database);
    Ok(())
}

fn print_logins() {
    println!(
        "\nDemo-logins (adgangskode for alle: {}):",
        seed::DEMO_PASSWORD
    );
    for (email, what) in seed::demo_logins() {
        println!("  {email:<36} {what}");
    }
}

pub fn static_dir() -> PathBuf {
    let here = PathBuf::from("static");
    if here.is_dir() {
        here
    } else {
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("static")
    }
}

pub async fn serve(config: Config) -> anyhow::Result<()> {
    let database = Database::open(&config).await?;
    let pool = db::app_pool(&database.owner, config.db_connections).await?;
    tracing::info!(
        "højst {} forbindelser til PostgreSQL (OVERGANG_DB_CONNECTIONS)",
        config.db_connections
    );
    if config.seed_demo_on_first_start && database.fresh() {
        seed::seed_demo(&pool)
            .await
            .context("demodata kunne ikke oprettes")?;
        seed::demo_feedback_example(&pool)
            .await
            .context("demo-tilbagemeldingen kunne ikke oprettes")?;
    }
    let listener = TcpListener::bind(config.addr)
        .await
        .with_context(|| format!("kan ikke lytte på {}", config.addr))?;
    let addr = listener.local_addr()?;
    println!("Overgang kører på http://{addr}");
    if database.embedded.is_some() {
        println!("Egen PostgreSQL i {}", config.data_dir.display());
    }
    if seed::demo_present(&pool).await? {
        print_logins();
    }
    let mailer = mail::Mailer::from_config(&config)?;
    if config.smtp.is_none() {
        tracing::warn!(
            "OVERGANG_SMTP_URL er ikke sat: e-mails skrives i loggen i stedet for at blive sendt"
        );
    }
    let (stop_mail, mail_stopped) = tokio::sync::watch::channel(false);
    let feedback_task =
        feedback::spawn(pool.clone(), config.base_url.clone(), mail_stopped.clone());
    let mut mail_task = mail::spawn(pool.clone(), mailer, mail_stopped.clone());
    let purge_task = retention::spawn(pool.clone(), mail_stopped);
    let reminder_task =
        crate::parents::reminders::spawn(pool.clone(), config.clone(), stop_mail.subscribe());
    let state = AppState::new(pool.clone(), config).context("sprogfilerne kunne ikke læses")?;
    let app = crate::router(state);
    crate::web::serve::serve(
        listener,
        app,
        crate::web::serve::HEADER_TIMEOUT,
        shutdown_signal(),
    )
    .await;
    tracing::info!("stopper");
    // Requests are done, so nothing queues mail any more; let a delivery in progress finish,
    // but do not let a hanging SMTP server hold up the shutdown.
    let _ = stop_mail.send(true);
    // A purge in progress is one transaction per municipality: stopping it midway rolls back.
    purge_task.abort();
    reminder_task.abort();
    // A sweep in progress is one transaction per municipality; it may finish or be dropped.
    if tokio::time::timeout(std::time::Duration::from_secs(5), feedback_task)
        .await
        .is_err()
    {
        tracing::warn!("tilbagemeldings-opgaven nåede ikke at stoppe");
    }
    if tokio::time::timeout(std::time::Duration::from_secs(10), &mut mail_task)
        .await
        .is_err()
    {
        mail_task.abort();
        tracing::warn!(
            "e-mail-afsendelsen nåede ikke at stoppe; ikke afsendte e-mails sendes ved næste start"
        );
    }
    pool.close().await;
    if let Some(pg) = database.embedded {
        tokio::task::spawn_blocking(move || pg.stop()).await?;
    }
    Ok(())
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    tokio::select! { _ = ctrl_c => {}, _ = terminate => {} }
    tracing::info!("signal modtaget; afslutter igangværende forespørgsler");
}

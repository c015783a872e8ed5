//! What every handler can reach.

use std::sync::Arc;

use sqlx::PgPool;

use crate::{config::Config, i18n::Catalogues};

#[derive(Clone)]
pub struct AppState {
    pub db: PgPool,
    pub config: Arc<Config>,
    /// The parents' pages' message catalogues, read once at start.
    pub i18n: Arc<Catalogues>,
    /// Writes the audit entries of page views in groups (`audit::reads`).
    pub audit: crate::audit::Writer,
    /// The sessions' users between requests (`auth::session::SessionCache`).
    pub sessions: crate::auth::session::SessionCache,
    /// Bounds the password hashing of logins and password changes (`auth::password::Gate`).
    pub passwords: Arc<crate::auth::password::Gate>,
    /// Bounds the form bodies held at once (`web::budget`).
    pub forms: Arc<crate::web::budget::FormBudget>,
}

impl AppState {
    /// Reads the catalogues from `config.locales_dir`; a missing or broken one is an error at
    /// start, not a page full of keys later. Starts the audit writer, so it needs a Tokio
    /// runtime.
    pub fn new(db: PgPool, config: Config) -> Result<Self, crate::i18n::LoadError> {
        let i18n = Catalogues::load(&config.locales_dir)?;
        Ok(AppState {
            audit: crate::audit::Writer::start(&db),
            sessions: Default::default(),
            passwords: Arc::new(crate::auth::password::Gate::for_machine()),
            forms: Default::default(),
            db,
            config: Arc::new(config),
            i18n: Arc::new(i18n),
        })
    }
}

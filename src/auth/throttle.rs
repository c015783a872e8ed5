//! Login throttling and lockout, per e-mail address and per client address.

use std::net::IpAddr;

use sqlx::PgPool;
use time::OffsetDateTime;

pub struct Limit {
    pub max_failures: i32,
    pub window_secs: f64,
    pub lock_secs: f64,
}

/// Five wrong passwords for one address lock it for 15 minutes.
pub const PER_EMAIL: Limit = Limit {
    max_failures: 5,
    window_secs: 900.0,
    lock_secs: 900.0,
};
/// A client guessing across many addresses is stopped too.
pub const PER_CLIENT: Limit = Limit {
    max_failures: 50,
    window_secs: 900.0,
    lock_secs: 900.0,
};

pub fn keys(email: &str, client: Option<IpAddr>) -> Vec<(String, &'static Limit)> {
    let mut keys = vec![(format!("email:{}", email.trim().to_lowercase()), &PER_EMAIL)];
    if let Some(ip) = client {
        keys.push((format!("client:{ip}"), &PER_CLIENT));
    }
    keys
}

/// The latest lock still in force for any of the keys.
pub async fn locked_until(
    pool: &PgPool,
    keys: &[(String, &Limit)],
) -> Result<Option<OffsetDateTime>, sqlx::Error> {
    let names: Vec<String> = keys.iter().map(|(k, _)| k.clone()).collect();
    sqlx::query_scalar!(
        "SELECT max(locked_until) FROM login_throttle WHERE key = ANY($1) AND locked_until > now()",
        &names
    )
    .fetch_one(pool)
    .await
}

pub async fn record_failure(pool: &PgPool, keys: &[(String, &Limit)]) -> Result<(), sqlx::Error> {
    for (key, limit) in keys {
        sqlx::query!(
            r#"INSERT INTO login_throttle AS t (key, failures, window_start) VALUES ($1, 1, now())
               ON CONFLICT (key) DO UPDATE SET
                 failures = CASE WHEN t.window_start < now() - make_interval(secs => $2) THEN 1 ELSE t.failures + 1 END,
                 window_start = CASE WHEN t.window_start < now() - make_interval(secs => $2) THEN now() ELSE t.window_start END,
                 locked_until = CASE
                   WHEN t.window_start >= now() - make_interval(secs => $2) AND t.failures + 1 >= $3
                   THEN now() + make_interval(secs => $4) ELSE t.locked_until END"#,
            key,
            limit.window_secs,
            limit.max_failures,
            limit.lock_secs,
        )
        .execute(pool)
        .await?;
    }
    Ok(())
}

/// A successful login clears the account's counter (not the client's: one right password
/// should not reset a client that guesses across many accounts).
pub async fn record_success(pool: &PgPool, email: &str) -> Result<(), sqlx::Error> {
    sqlx::query!(
        "DELETE FROM login_throttle WHERE key = $1",
        format!("email:{}", email.trim().to_lowercase())
    )
    .execute(pool)
    .await?;
    Ok(())
}

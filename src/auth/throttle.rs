//! Login throttling and lockout, per e-mail address and per client address.

use std::net::IpAddr;

use sqlx::PgPool;
use time::OffsetDateTime;

pub struct Limit {
    pub max_failures: i32,
    pub window_secs: f64,
    pub lock_secs: f64,
    /// Counted for every attempt, before its check (and given back when the check finds the
    /// password right), rather than for each failure after it. See `attempt`.
    pub every_attempt: bool,
}

/// Five wrong passwords for one address lock it for 15 minutes.
pub const PER_EMAIL: Limit = Limit {
    max_failures: 5,
    window_secs: 900.0,
    lock_secs: 900.0,
    every_attempt: true,
};
/// A client guessing across many addresses is stopped too. Only its failures count: many
/// people signing in at once from one address (a school's network) are no attack.
pub const PER_CLIENT: Limit = Limit {
    max_failures: 50,
    window_secs: 900.0,
    lock_secs: 900.0,
    every_attempt: false,
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

/// Counts an attempt before its password is checked (or its mail is sent), on the keys whose
/// limit counts every attempt, and says whether it may go ahead: not while a key is locked
/// (then nothing is counted), and not when this count went past a limit (that attempt counts,
/// and locks the key).
///
/// Counting first, in the statement that decides, is what makes such a limit hold for attempts
/// sent at once. Counting after the check, as before, let every attempt in flight pass the
/// lock before the first failure was counted: 40 wrong passwords for one address posted at
/// once were all checked, against a limit of five. A right password clears the count
/// (`succeeded`), and an attempt whose check never ran gives it back (`not_checked`).
pub async fn attempt(pool: &PgPool, keys: &[(String, &Limit)]) -> Result<bool, sqlx::Error> {
    if locked_until(pool, keys).await?.is_some() {
        return Ok(false);
    }
    let mut allowed = true;
    for (key, limit) in keys.iter().filter(|(_, l)| l.every_attempt) {
        allowed &= count(pool, key, limit).await? <= limit.max_failures;
    }
    Ok(allowed)
}

/// A wrong password: counted on the keys that count failures only (the others counted the
/// attempt already).
pub async fn failed(pool: &PgPool, keys: &[(String, &Limit)]) -> Result<(), sqlx::Error> {
    for (key, limit) in keys.iter().filter(|(_, l)| !l.every_attempt) {
        count(pool, key, limit).await?;
    }
    Ok(())
}

/// A right password clears the counts of every attempt (the account's). The client's count of
/// failures stays: one right password should not reset a client guessing across many accounts.
pub async fn succeeded(pool: &PgPool, keys: &[(String, &Limit)]) -> Result<(), sqlx::Error> {
    for (key, _) in keys.iter().filter(|(_, l)| l.every_attempt) {
        clear(pool, key).await?;
    }
    Ok(())
}

/// Gives back what `attempt` counted for an attempt whose password was never checked (the
/// checks were all busy): it was no attempt. A lock that count set is lifted with it.
pub async fn not_checked(pool: &PgPool, keys: &[(String, &Limit)]) -> Result<(), sqlx::Error> {
    for (key, limit) in keys.iter().filter(|(_, l)| l.every_attempt) {
        sqlx::query!(
            "DELETE FROM login_throttle WHERE key = $1 AND failures <= 1",
            key
        )
        .execute(pool)
        .await?;
        sqlx::query!(
            "UPDATE login_throttle
             SET failures = failures - 1,
                 locked_until = CASE WHEN failures - 1 < $2 THEN NULL ELSE locked_until END
             WHERE key = $1",
            key,
            limit.max_failures
        )
        .execute(pool)
        .await?;
    }
    Ok(())
}

/// One more on `key` within its window (a new window starts at one), locking it when that
/// reaches the limit. Returns the count.
async fn count(pool: &PgPool, key: &str, limit: &Limit) -> Result<i32, sqlx::Error> {
    sqlx::query_scalar!(
        r#"INSERT INTO login_throttle AS t (key, failures, window_start) VALUES ($1, 1, now())
           ON CONFLICT (key) DO UPDATE SET
             failures = CASE WHEN t.window_start < now() - make_interval(secs => $2) THEN 1 ELSE t.failures + 1 END,
             window_start = CASE WHEN t.window_start < now() - make_interval(secs => $2) THEN now() ELSE t.window_start END,
             locked_until = CASE
               WHEN t.window_start >= now() - make_interval(secs => $2) AND t.failures + 1 >= $3
               THEN now() + make_interval(secs => $4) ELSE t.locked_until END
           RETURNING failures"#,
        key,
        limit.window_secs,
        limit.max_failures,
        limit.lock_secs,
    )
    .fetch_one(pool)
    .await
}

async fn clear(pool: &PgPool, key: &str) -> Result<(), sqlx::Error> {
    sqlx::query!("DELETE FROM login_throttle WHERE key = $1", key)
        .execute(pool)
        .await?;
    Ok(())
}

/// Clears the account's counter and lock (a password set through a mailed link: whoever proves
/// the mailbox may log in again at once).
pub async fn clear_account(pool: &PgPool, email: &str) -> Result<(), sqlx::Error> {
    clear(pool, &format!("email:{}", email.trim().to_lowercase())).await
}

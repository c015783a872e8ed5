//! The user-administration queries. Tenant queries name the municipality explicitly, although
//! row-level security would hide other municipalities' rows anyway.

use serde::Deserialize;
use sqlx::types::Json;
use uuid::Uuid;

use crate::{auth::Role, db::Tx};

/// Danish local time for "last login" and similar; the database runs in UTC.
const LOCAL_TZ: &str = "Europe/Copenhagen";

#[derive(Clone, Debug, Deserialize)]
pub struct RoleRow {
    pub id: Uuid,
    pub role: Role,
    pub institution_id: Option<Uuid>,
    pub institution_name: Option<String>,
}

pub struct UserRow {
    pub id: Uuid,
    pub name: String,
    pub email: String,
    pub is_active: bool,
    /// Invited, but has not chosen a password yet.
    pub pending: bool,
    pub last_login: Option<String>,
    pub created: String,
    pub roles: Json<Vec<RoleRow>>,
}

pub struct ListFilter {
    /// `None` = the whole municipality; `Some(ids)` = users with a role at one of these.
    pub within: Option<Vec<Uuid>>,
    pub institution: Option<Uuid>,
    pub role: Option<Role>,
    /// "active", "invited", "inactive" or anything else for all.
    pub status: String,
    /// Free text matched against name and e-mail.
    pub text: Option<String>,
    pub limit: i64,
}

/// `%` and `_` typed by the user are literal characters, not wildcards.
fn like_pattern(text: &str) -> String {
    let escaped = text
        .replace('\\', "\\\\")
        .replace('%', "\\%")
        .replace('_', "\\_");
    format!("%{escaped}%")
}

pub async fn list(
    tx: &mut Tx,
    municipality_id: Uuid,
    f: &ListFilter,
) -> Result<Vec<UserRow>, sqlx::Error> {
    let (everyone, within) = match &f.within {
        None => (true, Vec::new()),
        Some(ids) => (false, ids.clone()),
    };
    sqlx::query_as!(
        UserRow,
        r#"SELECT u.id, u.name, u.email, u.is_active, (u.password_hash IS NULL) AS "pending!",
                  to_char(u.last_login_at AT TIME ZONE $9, 'DD-MM-YYYY HH24:MI') AS last_login,
                  to_char(u.created_at AT TIME ZONE $9, 'DD-MM-YYYY') AS "created!",
                  coalesce(json_agg(json_build_object('id', r.id, 'role', r.role,
                                                      'institution_id', r.institution_id,
                                                      'institution_name', i.name)
                                    ORDER BY r.role, i.name) FILTER (WHERE r.id IS NOT NULL), '[]')
                    AS "roles!: Json<Vec<RoleRow>>"
           FROM users u
           LEFT JOIN role_assignments r ON r.municipality_id = u.municipality_id AND r.user_id = u.id
           LEFT JOIN institutions i ON i.municipality_id = r.municipality_id AND i.id = r.institution_id
           WHERE u.municipality_id = $1
             AND ($2 OR EXISTS (SELECT 1 FROM role_assignments s
                                WHERE s.municipality_id = u.municipality_id AND s.user_id = u.id
                                  AND s.institution_id = ANY($3)))
             AND (($4::uuid IS NULL AND $5::text IS NULL)
                  OR EXISTS (SELECT 1 FROM role_assignments x
                             WHERE x.municipality_id = u.municipality_id AND x.user_id = u.id
                               AND ($4::uuid IS NULL OR x.institution_id = $4)
                               AND ($5::text IS NULL OR x.role = $5)))
             AND CASE $6
                   WHEN 'active' THEN u.is_active AND u.password_hash IS NOT NULL
                   WHEN 'invited' THEN u.is_active AND u.password_hash IS NULL
                   WHEN 'inactive' THEN NOT u.is_active
                   ELSE true END
             AND ($7::text IS NULL OR u.name ILIKE $7 OR u.email ILIKE $7)
           GROUP BY u.id
           ORDER BY lower(u.name), u.email
           LIMIT $8"#,
        municipality_id,
        everyone,
        &within,
        f.institution,
        f.role.map(Role::as_str),
        f.status,
        f.text.as_deref().map(like_pattern),
        f.limit,
        LOCAL_TZ,
    )
    .fetch_all(&mut **tx)
    .await
}

pub async fn find(
    tx: &mut Tx,
    municipality_id: Uuid,
    user_id: Uuid,
) -> Result<Option<UserRow>, sqlx::Error> {
    sqlx::query_as!(
        UserRow,
        r#"SELECT u.id, u.name, u.email, u.is_active, (u.password_hash IS NULL) AS "pending!",
                  to_char(u.last_login_at AT TIME ZONE $3, 'DD-MM-YYYY HH24:MI') AS last_login,
                  to_char(u.created_at AT TIME ZONE $3, 'DD-MM-YYYY') AS "created!",
                  coalesce(json_agg(json_build_object('id', r.id, 'role', r.role,
                                                      'institution_id', r.institution_id,
                                                      'institution_name', i.name)
                                    ORDER BY r.role, i.name) FILTER (WHERE r.id IS NOT NULL), '[]')
                    AS "roles!: Json<Vec<RoleRow>>"
           FROM users u
           LEFT JOIN role_assignments r ON r.municipality_id = u.municipality_id AND r.user_id = u.id
           LEFT JOIN institutions i ON i.municipality_id = r.municipality_id AND i.id = r.institution_id
           WHERE u.municipality_id = $1 AND u.id = $2
           GROUP BY u.id"#,
        municipality_id,
        user_id,
        LOCAL_TZ,
    )
    .fetch_optional(&mut **tx)
    .await
}

pub struct Institution {
    pub id: Uuid,
    pub name: String,
}

/// Active institutions, optionally only some (a leader's own).
pub async fn institutions(
    tx: &mut Tx,
    municipality_id: Uuid,
    only: Option<&[Uuid]>,
) -> Result<Vec<Institution>, sqlx::Error> {
    let ids = only.map(<[Uuid]>::to_vec);
    sqlx::query_as!(
        Institution,
        "SELECT id, name FROM institutions
         WHERE municipality_id = $1 AND is_active AND ($2::uuid[] IS NULL OR id = ANY($2))
         ORDER BY name",
        municipality_id,
        ids.as_deref()
    )
    .fetch_all(&mut **tx)
    .await
}

/// When the open invitation (if any) expires.
pub async fn open_invitation_expiry(
    tx: &mut Tx,
    user_id: Uuid,
) -> Result<Option<String>, sqlx::Error> {
    sqlx::query_scalar!(
        "SELECT to_char(max(expires_at) AT TIME ZONE $2, 'DD-MM-YYYY HH24:MI') FROM user_tokens
         WHERE user_id = $1 AND purpose = 'invite' AND used_at IS NULL AND expires_at > now()",
        user_id,
        LOCAL_TZ
    )
    .fetch_one(&mut **tx)
    .await
}

pub async fn insert_user(
    tx: &mut Tx,
    municipality_id: Uuid,
    email: &str,
    name: &str,
) -> Result<Uuid, sqlx::Error> {
    sqlx::query_scalar!(
        "INSERT INTO users (municipality_id, email, name) VALUES ($1, $2, $3) RETURNING id",
        municipality_id,
        email,
        name
    )
    .fetch_one(&mut **tx)
    .await
}

pub async fn insert_role(
    tx: &mut Tx,
    municipality_id: Uuid,
    user_id: Uuid,
    role: Role,
    institution_id: Option<Uuid>,
) -> Result<Uuid, sqlx::Error> {
    sqlx::query_scalar!(
        "INSERT INTO role_assignments (municipality_id, user_id, role, institution_id)
         VALUES ($1, $2, $3, $4) RETURNING id",
        municipality_id,
        user_id,
        role.as_str(),
        institution_id
    )
    .fetch_one(&mut **tx)
    .await
}

pub async fn delete_role(
    tx: &mut Tx,
    municipality_id: Uuid,
    user_id: Uuid,
    assignment_id: Uuid,
) -> Result<bool, sqlx::Error> {
    let done = sqlx::query!(
        "DELETE FROM role_assignments WHERE municipality_id = $1 AND user_id = $2 AND id = $3",
        municipality_id,
        user_id,
        assignment_id
    )
    .execute(&mut **tx)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Whether `user` is still an active administrator of the municipality, read under its
/// administrators lock (`db::Lock::Administrators`), so that two changes that each take an
/// administrator away are made one after the other and the second sees the first.
pub async fn still_administrator(
    tx: &mut Tx,
    municipality_id: Uuid,
    user_id: Uuid,
) -> Result<bool, sqlx::Error> {
    crate::db::lock(
        tx,
        crate::db::Lock::Administrators,
        &municipality_id.to_string(),
    )
    .await?;
    sqlx::query_scalar!(
        r#"SELECT EXISTS (SELECT 1 FROM users u
                          JOIN role_assignments r
                            ON r.municipality_id = u.municipality_id AND r.user_id = u.id
                          WHERE u.municipality_id = $1 AND u.id = $2 AND u.is_active
                            AND r.role = 'municipal_admin') AS "still!""#,
        municipality_id,
        user_id
    )
    .fetch_one(&mut **tx)
    .await
}

/// (De)activates the account; `by_admin` marks a deactivation only an administrator may undo
/// (cleared on reactivation), also of an account a leader had deactivated already. False: it
/// already was so.
pub async fn set_active(
    tx: &mut Tx,
    municipality_id: Uuid,
    user_id: Uuid,
    active: bool,
    by_admin: bool,
) -> Result<bool, sqlx::Error> {
    let done = sqlx::query!(
        "UPDATE users SET is_active = $3, deactivated_by_admin = (NOT $3 AND $4)
         WHERE municipality_id = $1 AND id = $2
           AND (is_active <> $3 OR (NOT $3 AND $4 AND NOT deactivated_by_admin))",
        municipality_id,
        user_id,
        active,
        by_admin
    )
    .execute(&mut **tx)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Whether an administrator deactivated the account (and only one may reactivate it); locks
/// the row, so a deactivation at the same moment is seen.
pub async fn deactivated_by_admin(
    tx: &mut Tx,
    municipality_id: Uuid,
    user_id: Uuid,
) -> Result<bool, sqlx::Error> {
    sqlx::query_scalar!(
        "SELECT deactivated_by_admin FROM users WHERE municipality_id = $1 AND id = $2 FOR UPDATE",
        municipality_id,
        user_id
    )
    .fetch_one(&mut **tx)
    .await
}

// Sessions and tokens are not tenant tables (they are read before the tenant is known), so they
// are keyed by user id alone. These run inside the caller's transaction, so ending sessions
// commits or rolls back together with the change that requires it.

/// Ends every session of the user, or every one but `keep`.
pub async fn end_sessions(
    tx: &mut Tx,
    user_id: Uuid,
    keep: Option<&[u8]>,
) -> Result<u64, sqlx::Error> {
    let done = sqlx::query!(
        "DELETE FROM sessions WHERE user_id = $1 AND ($2::bytea IS NULL OR id <> $2)",
        user_id,
        keep
    )
    .execute(&mut **tx)
    .await?;
    Ok(done.rows_affected())
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Purpose {
    Invite,
    Reset,
}

impl Purpose {
    pub fn as_str(self) -> &'static str {
        match self {
            Purpose::Invite => "invite",
            Purpose::Reset => "reset",
        }
    }
}

/// Creates a one-time token and returns it; only its hash is stored.
pub async fn issue_token(
    tx: &mut Tx,
    user_id: Uuid,
    municipality_id: Option<Uuid>,
    purpose: Purpose,
    valid_secs: f64,
) -> Result<String, sqlx::Error> {
    // Expired links are deleted by the daily purge (`housekeeping`).
    let token = crate::auth::session::random_token();
    sqlx::query!(
        "INSERT INTO user_tokens (id, user_id, municipality_id, purpose, expires_at)
         VALUES ($1, $2, $3, $4, now() + make_interval(secs => $5))",
        crate::auth::session::token_hash(&token),
        user_id,
        municipality_id,
        purpose.as_str(),
        valid_secs
    )
    .execute(&mut **tx)
    .await?;
    Ok(token)
}

/// Withdraws the user's unused tokens (of one purpose, or all), so only the newest link works
/// and no old link outlives a password change or a deactivation. First it waits for any other
/// transaction changing this user's tokens to end (a lock held to the end of the transaction,
/// on the user's id, whatever the caller's scope may see): two resets asked at once each
/// withdrew the tokens there were and each issued one, so two links worked.
pub async fn revoke_tokens(
    tx: &mut Tx,
    user_id: Uuid,
    purpose: Option<Purpose>,
) -> Result<(), sqlx::Error> {
    crate::db::lock(tx, crate::db::Lock::UserTokens, &user_id.to_string()).await?;
    sqlx::query!(
        "DELETE FROM user_tokens WHERE user_id = $1 AND used_at IS NULL AND ($2::text IS NULL OR purpose = $2)",
        user_id,
        purpose.map(Purpose::as_str)
    )
    .execute(&mut **tx)
    .await?;
    Ok(())
}

pub struct TokenOwner {
    pub user_id: Uuid,
    pub municipality_id: Option<Uuid>,
}

/// The owner of a usable token (unused, unexpired, right purpose), without using it up.
pub async fn peek_token(
    tx: &mut Tx,
    token: &str,
    purpose: Purpose,
) -> Result<Option<TokenOwner>, sqlx::Error> {
    sqlx::query_as!(
        TokenOwner,
        "SELECT user_id, municipality_id FROM user_tokens
         WHERE id = $1 AND purpose = $2 AND used_at IS NULL AND expires_at > now()",
        crate::auth::session::token_hash(token),
        purpose.as_str()
    )
    .fetch_optional(&mut **tx)
    .await
}

/// Uses a token up. The row lock makes this atomic: of two simultaneous submissions of the same
/// link, the second finds it used.
pub async fn take_token(
    tx: &mut Tx,
    token: &str,
    purpose: Purpose,
) -> Result<Option<TokenOwner>, sqlx::Error> {
    sqlx::query_as!(
        TokenOwner,
        "UPDATE user_tokens SET used_at = now()
         WHERE id = $1 AND purpose = $2 AND used_at IS NULL AND expires_at > now()
         RETURNING user_id, municipality_id",
        crate::auth::session::token_hash(token),
        purpose.as_str()
    )
    .fetch_optional(&mut **tx)
    .await
}

pub struct AccountRow {
    pub name: String,
    pub email: String,
    pub is_active: bool,
    pub password_hash: Option<String>,
}

/// A user by id within the transaction's tenant (or among platform users when
/// `municipality_id` is `None`).
pub async fn account(
    tx: &mut Tx,
    municipality_id: Option<Uuid>,
    user_id: Uuid,
) -> Result<Option<AccountRow>, sqlx::Error> {
    sqlx::query_as!(
        AccountRow,
        "SELECT name, email, is_active, password_hash FROM users
         WHERE municipality_id IS NOT DISTINCT FROM $1 AND id = $2",
        municipality_id,
        user_id
    )
    .fetch_optional(&mut **tx)
    .await
}

pub async fn set_password(
    tx: &mut Tx,
    municipality_id: Option<Uuid>,
    user_id: Uuid,
    hash: &str,
) -> Result<bool, sqlx::Error> {
    let done = sqlx::query!(
        "UPDATE users SET password_hash = $3
         WHERE municipality_id IS NOT DISTINCT FROM $1 AND id = $2 AND is_active",
        municipality_id,
        user_id,
        hash
    )
    .execute(&mut **tx)
    .await?;
    Ok(done.rows_affected() == 1)
}

#[cfg(test)]
mod tests {
    use super::like_pattern;

    #[test]
    fn like_patterns_are_literal() {
        assert_eq!(like_pattern("a%b_c\\"), "%a\\%b\\_c\\\\%");
    }
}

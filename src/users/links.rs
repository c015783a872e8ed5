//! The pages behind e-mailed links, for visitors who are not logged in: accepting an invitation,
//! asking for a password reset, and choosing a new password.
//!
//! The token in the URL is a one-time secret. Only its hash is stored; it is never logged (the
//! request trace span that carries the URI is at debug level). Every kind of bad link (unknown,
//! expired, used, or for a deactivated user) gets the same page, so a link reveals nothing.

use std::net::IpAddr;

use askama::Template;
use axum::{
    extract::State,
    http::StatusCode,
    response::{Html, IntoResponse, Response},
};
use serde::Deserialize;
use serde_json::json;

use super::{
    queries::{self, AccountRow, Purpose, TokenOwner},
    ResetMail, RESET_SUBJECT, RESET_VALID_SECS,
};
use crate::{
    audit::{self, Actor, Entry},
    auth::{password, throttle, throttle::Limit, Visitor},
    db::{self, Scope},
    mail,
    state::AppState,
    web::{self, form, AppResult, FieldErrors, Flash, Form, Layout, Path},
};

/// At most three reset mails per address and hour, so the form cannot flood a mailbox…
static RESET_PER_EMAIL: Limit = Limit {
    max_failures: 3,
    window_secs: 3600.0,
    lock_secs: 3600.0,
    every_attempt: true,
};
/// …and one client cannot spray many addresses either.
static RESET_PER_CLIENT: Limit = Limit {
    max_failures: 20,
    window_secs: 3600.0,
    lock_secs: 3600.0,
    every_attempt: true,
};

/// The one answer to every reset request, whether the address exists or not.
pub const RESET_ANSWER: &str = "Hvis adressen findes i Overgang, har vi sendt en e-mail med et link til at vælge en ny adgangskode. Linket virker i 1 time. Kommer der ingen e-mail, så tjek dit spamfilter, eller kontakt din leder eller kommunens administrator.";

fn reset_keys(email: &str, client: Option<IpAddr>) -> Vec<(String, &'static Limit)> {
    let mut keys = vec![(format!("reset-email:{email}"), &RESET_PER_EMAIL)];
    if let Some(ip) = client {
        keys.push((format!("reset-client:{ip}"), &RESET_PER_CLIENT));
    }
    keys
}

fn scope_of(municipality_id: Option<uuid::Uuid>) -> Scope {
    municipality_id
        .map(Scope::Municipality)
        .unwrap_or(Scope::Platform)
}

fn layout(visitor: &Visitor, title: &str) -> Layout {
    let mut layout = Layout::anonymous(title, visitor.0.csrf.clone());
    layout.flash = visitor.0.flash.clone();
    layout
}

#[derive(Template)]
#[template(path = "account/link_invalid.html")]
pub struct LinkInvalidPage {
    pub layout: Layout,
}

fn link_invalid(visitor: &Visitor) -> AppResult<Response> {
    let page = LinkInvalidPage {
        layout: layout(visitor, "Linket virker ikke"),
    };
    Ok((StatusCode::NOT_FOUND, Html(page.render()?)).into_response())
}

/// Tokens are 32 random bytes in unpadded base64url; anything else cannot be one.
fn plausible(token: &str) -> bool {
    token.len() == 43
        && token
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// The user a usable link belongs to, without using the link up.
async fn link_owner(
    state: &AppState,
    token: &str,
    purpose: Purpose,
) -> AppResult<Option<(TokenOwner, AccountRow)>> {
    if !plausible(token) {
        return Ok(None);
    }
    let mut tx = db::begin(&state.db, Scope::None).await?;
    let Some(owner) = queries::peek_token(&mut tx, token, purpose).await? else {
        return Ok(None);
    };
    db::set_scope(&mut tx, scope_of(owner.municipality_id)).await?;
    let account = queries::account(&mut tx, owner.municipality_id, owner.user_id)
        .await?
        .filter(|a| a.is_active)
        // An invitation is for choosing the first password, not for replacing one.
        .filter(|a| purpose != Purpose::Invite || a.password_hash.is_none());
    Ok(account.map(|a| (owner, a)))
}

#[derive(Template)]
#[template(path = "account/set_password.html")]
pub struct SetPasswordPage {
    pub layout: Layout,
    pub heading: &'static str,
    pub intro: String,
    pub action: String,
    pub email: String,
    pub errors: FieldErrors,
}

fn set_password_page(
    visitor: &Visitor,
    purpose: Purpose,
    token: &str,
    account: &AccountRow,
    errors: FieldErrors,
) -> SetPasswordPage {
    let (heading, intro, action) = match purpose {
        Purpose::Invite => (
            "Velkommen til Overgang",
            format!(
                "Hej {}. Vælg den adgangskode, du vil bruge til Overgang. Du logger ind med din e-mailadresse {}.",
                account.name, account.email
            ),
            format!("/invitation/{token}"),
        ),
        Purpose::Reset => (
            "Vælg ny adgangskode",
            format!(
                "Vælg en ny adgangskode til {}. Når den er gemt, bliver du logget ud alle steder, hvor du er logget ind.",
                account.email
            ),
            format!("/password/reset/{token}"),
        ),
    };
    SetPasswordPage {
        layout: layout(visitor, heading),
        heading,
        intro,
        action,
        email: account.email.clone(),
        errors,
    }
}

#[derive(Default, Deserialize)]
#[serde(default)]
pub struct NewPasswordForm {
    pub new_password: String,
    pub new_password_again: String,
}

async fn password_form(
    state: &AppState,
    visitor: &Visitor,
    token: &str,
    purpose: Purpose,
) -> AppResult<Response> {
    let Some((_, account)) = link_owner(state, token, purpose).await? else {
        return link_invalid(visitor);
    };
    let page = set_password_page(visitor, purpose, token, &account, FieldErrors::default());
    Ok(web::render(&page)?.into_response())
}

/// Sets the password through a link, uses the link up, withdraws the user's other links and
/// ends all their sessions, in one transaction.
async fn set_password_via_link(
    state: &AppState,
    visitor: &Visitor,
    token: &str,
    purpose: Purpose,
    f: NewPasswordForm,
) -> AppResult<Response> {
    let Some((_, account)) = link_owner(state, token, purpose).await? else {
        return link_invalid(visitor);
    };
    let mut errors = FieldErrors::default();
    if let Some(msg) = password::weakness(&f.new_password) {
        errors.add("new_password", msg);
    } else if f.new_password != f.new_password_again {
        errors.add("new_password_again", "De to adgangskoder er ikke ens.");
    }
    if !errors.is_empty() {
        return web::render_invalid(&set_password_page(
            visitor, purpose, token, &account, errors,
        ));
    }
    let hash = password::hash(&state.passwords, f.new_password).await?;

    let mut tx = db::begin(&state.db, Scope::None).await?;
    // Checked again while using it up: the link may have been used or withdrawn meanwhile.
    let Some(owner) = queries::take_token(&mut tx, token, purpose).await? else {
        return link_invalid(visitor);
    };
    db::set_scope(&mut tx, scope_of(owner.municipality_id)).await?;
    if !queries::set_password(&mut tx, owner.municipality_id, owner.user_id, &hash).await? {
        // Deactivated in the meantime; dropping the transaction leaves everything as it was.
        return link_invalid(visitor);
    }
    queries::revoke_tokens(&mut tx, owner.user_id, None).await?;
    let ended = queries::end_sessions(&mut tx, owner.user_id, None).await?;
    let actor = Actor {
        user_id: Some(owner.user_id),
        role: None,
        municipality_id: owner.municipality_id,
        client_addr: visitor.0.client_addr,
    };
    let action = match purpose {
        Purpose::Invite => "invite_accept",
        Purpose::Reset => "password_reset",
    };
    audit::record(
        &mut tx,
        &actor,
        Entry::new(action, "user", Some(owner.user_id)).details(json!({ "sessions_ended": ended })),
    )
    .await?;
    tx.commit().await?;
    // Whoever proves the mailbox may log in again at once, even after a lockout.
    throttle::clear_account(&state.db, &account.email).await?;
    let message = match purpose {
        Purpose::Invite => {
            "Din adgangskode er gemt. Log ind med din e-mailadresse og den nye adgangskode."
        }
        Purpose::Reset => "Din nye adgangskode er gemt. Log ind med den.",
    };
    Ok(web::redirect_with_flash("/login", Flash::success(message)))
}

pub async fn invitation_form(
    State(state): State<AppState>,
    visitor: Visitor,
    Path(token): Path<String>,
) -> AppResult<Response> {
    password_form(&state, &visitor, &token, Purpose::Invite).await
}

pub async fn accept_invitation(
    State(state): State<AppState>,
    visitor: Visitor,
    Path(token): Path<String>,
    Form(f): Form<NewPasswordForm>,
) -> AppResult<Response> {
    set_password_via_link(&state, &visitor, &token, Purpose::Invite, f).await
}

pub async fn reset_form(
    State(state): State<AppState>,
    visitor: Visitor,
    Path(token): Path<String>,
) -> AppResult<Response> {
    password_form(&state, &visitor, &token, Purpose::Reset).await
}

pub async fn reset(
    State(state): State<AppState>,
    visitor: Visitor,
    Path(token): Path<String>,
    Form(f): Form<NewPasswordForm>,
) -> AppResult<Response> {
    set_password_via_link(&state, &visitor, &token, Purpose::Reset, f).await
}

// ---------------------------------------------------------------------------------------------
// Forgotten password

#[derive(Template)]
#[template(path = "account/forgot.html")]
pub struct ForgotPage {
    pub layout: Layout,
    pub email: String,
    pub errors: FieldErrors,
}

#[derive(Default, Deserialize)]
#[serde(default)]
pub struct ForgotForm {
    pub email: String,
}

pub async fn forgot_form(visitor: Visitor) -> AppResult<Response> {
    let page = ForgotPage {
        layout: layout(&visitor, "Glemt adgangskode"),
        email: String::new(),
        errors: FieldErrors::default(),
    };
    Ok(web::render(&page)?.into_response())
}

pub async fn forgot(
    State(state): State<AppState>,
    visitor: Visitor,
    Form(f): Form<ForgotForm>,
) -> AppResult<Response> {
    let email = f.email.trim().to_lowercase();
    if !form::valid_email(&email) {
        let mut errors = FieldErrors::default();
        errors.add(
            "email",
            "Skriv den e-mailadresse, du logger ind med, fx navn@kommune.dk.",
        );
        return web::render_invalid(&ForgotPage {
            layout: layout(&visitor, "Glemt adgangskode"),
            email: f.email.trim().chars().take(254).collect(),
            errors,
        });
    }
    let answer = web::redirect_with_flash("/login", Flash::info(RESET_ANSWER));
    let client = visitor.0.client_addr;
    let keys = reset_keys(&email, client);
    // Counted for every address, known or not, so the limit itself reveals nothing.
    if !throttle::attempt(&state.db, &keys).await? {
        return Ok(answer);
    }

    let found = sqlx::query!(
        r#"SELECT id AS "id!", municipality_id, is_active AS "is_active!" FROM auth_find_user($1)"#,
        email
    )
    .fetch_optional(&state.db)
    .await?;
    let Some(user) = found.filter(|u| u.is_active) else {
        return Ok(answer);
    };
    let mut tx = db::begin(&state.db, scope_of(user.municipality_id)).await?;
    // Only the newest link works. The account is read after the user's tokens lock, under
    // which a deactivation withdraws them: one committed meanwhile is seen here.
    queries::revoke_tokens(&mut tx, user.id, Some(Purpose::Reset)).await?;
    let Some(account) = queries::account(&mut tx, user.municipality_id, user.id)
        .await?
        .filter(|a| a.is_active)
    else {
        return Ok(answer);
    };
    let token = queries::issue_token(
        &mut tx,
        user.id,
        user.municipality_id,
        Purpose::Reset,
        RESET_VALID_SECS,
    )
    .await?;
    let link = mail::link(&state.config, &format!("/password/reset/{token}"));
    let body = ResetMail {
        name: &account.name,
        link: &link,
    }
    .render()?;
    mail::enqueue(
        &mut tx,
        user.municipality_id,
        &account.email,
        RESET_SUBJECT,
        &body,
    )
    .await?;
    let actor = Actor {
        municipality_id: user.municipality_id,
        client_addr: client,
        ..Default::default()
    };
    audit::record(
        &mut tx,
        &actor,
        Entry::new("password_reset_request", "user", Some(user.id)),
    )
    .await?;
    tx.commit().await?;
    mail::wake();
    Ok(answer)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_well_formed_tokens_are_looked_up() {
        assert!(plausible(&crate::auth::session::random_token()));
        assert!(!plausible("kort"));
        assert!(!plausible(&"a".repeat(42)));
        assert!(!plausible(&format!("{}=", "a".repeat(42))));
        assert!(!plausible(&"a/".repeat(22)[..43]));
    }
}

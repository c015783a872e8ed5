//! Login and logout.

use askama::Template;
use axum::{
    extract::State,
    http::StatusCode,
    response::{IntoResponse, Redirect, Response},
};
use serde::Deserialize;
use serde_json::json;

use super::{
    password, session, throttle,
    user::{Ctx, Visitor},
};
use crate::{
    audit::{self, Actor, Entry},
    db::{self, Scope},
    state::AppState,
    web::{self, AppResult, Flash, Form, Layout, Query},
};

#[derive(Template)]
#[template(path = "auth/login.html")]
pub struct LoginPage {
    pub layout: Layout,
    pub email: String,
    pub error: Option<String>,
    pub next: String,
}

#[derive(Deserialize)]
pub struct LoginQuery {
    #[serde(default)]
    next: String,
}

fn login_page(visitor: &Visitor, email: String, error: Option<String>, next: String) -> LoginPage {
    let mut layout = Layout::anonymous("Log ind", visitor.0.csrf.clone());
    layout.flash = visitor.0.flash.clone();
    LoginPage {
        layout,
        email,
        error,
        next: if web::safe_next(&next) {
            next
        } else {
            String::new()
        },
    }
}

pub async fn login_form(visitor: Visitor, Query(q): Query<LoginQuery>) -> AppResult<Response> {
    if visitor.0.session.is_some() {
        return Ok(Redirect::to("/").into_response());
    }
    Ok(web::render(&login_page(&visitor, String::new(), None, q.next))?.into_response())
}

#[derive(Deserialize)]
pub struct LoginForm {
    #[serde(default)]
    email: String,
    #[serde(default)]
    password: String,
    #[serde(default)]
    next: String,
}

const WRONG: &str = "Forkert e-mail eller adgangskode.";
const LOCKED: &str =
    "Der har været for mange forsøg på at logge ind. Vent 15 minutter, og prøv igen.";

pub async fn login_submit(
    State(state): State<AppState>,
    visitor: Visitor,
    Form(form): Form<LoginForm>,
) -> AppResult<Response> {
    let email = form.email.trim().to_lowercase();
    let refuse = |status: StatusCode, message: &str| -> AppResult<Response> {
        let page = login_page(
            &visitor,
            email.clone(),
            Some(message.to_string()),
            form.next.clone(),
        );
        web::render_with_errors(status, &page)
    };
    if email.is_empty()
        || form.password.is_empty()
        || email.len() > 254
        || password::too_long(&form.password)
    {
        return refuse(
            StatusCode::UNPROCESSABLE_ENTITY,
            "Skriv både e-mail og adgangskode.",
        );
    }
    let client = visitor.0.client_addr;
    let keys = throttle::keys(&email, client);
    if !throttle::attempt(&state.db, &keys).await? {
        return refuse(StatusCode::TOO_MANY_REQUESTS, LOCKED);
    }

    let found = sqlx::query!(
        r#"SELECT id AS "id!", municipality_id, password_hash, is_active AS "is_active!" FROM auth_find_user($1)"#,
        email
    )
    .fetch_optional(&state.db)
    .await?;
    let attacked = found.as_ref().map(|u| (u.id, u.municipality_id));
    let stored = found
        .as_ref()
        .filter(|u| u.is_active)
        .and_then(|u| u.password_hash.clone());
    // Refused before any check of the password, so it tells nothing and counts as no attempt.
    let Ok(ok) = password::verify(&state.passwords, stored, form.password.clone()).await else {
        throttle::not_checked(&state.db, &keys).await?;
        return refuse(StatusCode::TOO_MANY_REQUESTS, password::BUSY);
    };

    let Some(user) = found.filter(|_| ok) else {
        throttle::failed(&state.db, &keys).await?;
        // Recorded in the account's own municipality, so its administrators can see attacks.
        let municipality_id = attacked.and_then(|(_, m)| m);
        let mut tx = db::begin(
            &state.db,
            municipality_id
                .map(Scope::Municipality)
                .unwrap_or(Scope::None),
        )
        .await?;
        audit::record(
            &mut tx,
            &Actor {
                municipality_id,
                client_addr: client,
                ..Default::default()
            },
            Entry::new("login_failed", "user", attacked.map(|(id, _)| id)),
        )
        .await?;
        tx.commit().await?;
        return refuse(StatusCode::UNPROCESSABLE_ENTITY, WRONG);
    };

    throttle::succeeded(&state.db, &keys).await?;
    if let Some(old) = &visitor.0.session {
        session::delete(&state, &old.id).await?;
    }
    let token = session::create(&state.db, user.id, user.municipality_id, client).await?;
    let scope = user
        .municipality_id
        .map(Scope::Municipality)
        .unwrap_or(Scope::Platform);
    let mut tx = db::begin(&state.db, scope).await?;
    sqlx::query!(
        "UPDATE users SET last_login_at = now() WHERE id = $1",
        user.id
    )
    .execute(&mut *tx)
    .await?;
    let actor = Actor {
        user_id: Some(user.id),
        role: None,
        municipality_id: user.municipality_id,
        client_addr: client,
    };
    audit::record(
        &mut tx,
        &actor,
        Entry::new("login", "session", Some(user.id)),
    )
    .await?;
    tx.commit().await?;

    let target = if web::safe_next(&form.next) {
        form.next.as_str()
    } else {
        "/"
    };
    let mut response = Redirect::to(target).into_response();
    web::set_cookie(
        &mut response,
        session::session_cookie(state.config.secure_cookies, &token),
    );
    Ok(response)
}

/// "Stay signed in" from the warning before the idle limit (static/app.js): the session check
/// that opens the request's transaction counts as activity, so this only answers. Nothing of
/// anybody's data is read, so nothing is audited.
pub async fn keepalive(ctx: Ctx) -> AppResult<axum::http::StatusCode> {
    ctx.commit().await?;
    Ok(axum::http::StatusCode::NO_CONTENT)
}

pub async fn logout(State(state): State<AppState>, mut ctx: Ctx) -> AppResult<Response> {
    let actor = ctx.actor();
    audit::record(
        &mut ctx.tx,
        &actor,
        Entry::new("logout", "session", Some(ctx.user.id)).details(json!({})),
    )
    .await?;
    let session_id = ctx.req.session.as_ref().map(|s| s.id.clone());
    ctx.commit().await?;
    if let Some(id) = session_id {
        session::delete(&state, &id).await?;
    }
    let mut response = web::redirect_with_flash("/login", Flash::info("Du er logget ud."));
    web::set_cookie(
        &mut response,
        session::clear_session_cookie(state.config.secure_cookies),
    );
    Ok(response)
}

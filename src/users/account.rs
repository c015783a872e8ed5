//! The own account: who am I, which roles do I have, and changing the password.

use askama::Template;
use axum::{
    extract::State,
    http::StatusCode,
    response::{IntoResponse, Response},
};
use serde::Deserialize;
use serde_json::json;

use super::{
    describe_role,
    queries::{self, Purpose},
};
use crate::{
    audit::{self, Entry},
    auth::{password, throttle, Ctx},
    state::AppState,
    web::{self, AppError, AppResult, FieldErrors, Flash, Form, Layout},
};

#[derive(Template)]
#[template(path = "account/index.html")]
pub struct AccountPage {
    pub layout: Layout,
    pub name: String,
    pub email: String,
    pub municipality: Option<String>,
    pub roles: Vec<String>,
    pub errors: FieldErrors,
}

fn account_page(ctx: &Ctx, errors: FieldErrors) -> AccountPage {
    let mut roles: Vec<String> = ctx
        .user
        .roles
        .iter()
        .map(|r| describe_role(r.role, r.institution_name.as_deref()))
        .collect();
    if ctx.user.is_platform_operator {
        roles.push("Platformoperatør".into());
    }
    AccountPage {
        layout: ctx.layout("Min konto", "/account"),
        name: ctx.user.name.clone(),
        email: ctx.user.email.clone(),
        municipality: ctx.user.municipality_name.clone(),
        roles,
        errors,
    }
}

pub async fn show(ctx: Ctx) -> AppResult<Response> {
    Ok(web::render(&account_page(&ctx, FieldErrors::default()))?.into_response())
}

#[derive(Default, Deserialize)]
#[serde(default)]
pub struct PasswordForm {
    pub current_password: String,
    pub new_password: String,
    pub new_password_again: String,
}

pub async fn change_password(
    State(state): State<AppState>,
    mut ctx: Ctx,
    Form(f): Form<PasswordForm>,
) -> AppResult<Response> {
    // A wrong current password counts as a failed login: a stolen session must not become a
    // way to guess the password without the login's lockout.
    let keys = throttle::keys(&ctx.user.email, ctx.req.client_addr);
    let mut errors = FieldErrors::default();
    let locked = |ctx: &Ctx, mut errors: FieldErrors| -> AppResult<Response> {
        errors.add(
            "current_password",
            "Der har været for mange forkerte forsøg. Vent 15 minutter, og prøv igen.",
        );
        let page = account_page(ctx, errors);
        web::render_with_errors(StatusCode::TOO_MANY_REQUESTS, &page)
    };
    if throttle::locked_until(&state.db, &keys).await?.is_some() {
        return locked(&ctx, errors);
    }
    if let Some(msg) = password::weakness(&f.new_password) {
        errors.add("new_password", msg);
    } else if f.new_password != f.new_password_again {
        errors.add("new_password_again", "De to nye adgangskoder er ikke ens.");
    } else if f.new_password == f.current_password {
        errors.add(
            "new_password",
            "Den nye adgangskode skal være en anden end den nuværende.",
        );
    }
    if f.current_password.is_empty() {
        errors.add("current_password", "Skriv din nuværende adgangskode.");
    } else {
        let account = queries::account(&mut ctx.tx, ctx.user.municipality_id, ctx.user.id)
            .await?
            .ok_or(AppError::NotFound)?;
        // Counted before the check, like a login (`throttle::attempt`).
        if !throttle::attempt(&state.db, &keys).await? {
            return locked(&ctx, errors);
        }
        let ok = !password::too_long(&f.current_password)
            && match password::verify(
                &state.passwords,
                account.password_hash,
                f.current_password.clone(),
            )
            .await
            {
                Ok(ok) => ok,
                Err(busy) => {
                    throttle::not_checked(&state.db, &keys).await?;
                    return Err(busy.into());
                }
            };
        if ok {
            throttle::succeeded(&state.db, &keys).await?;
        } else {
            throttle::failed(&state.db, &keys).await?;
            errors.add("current_password", "Den nuværende adgangskode er forkert.");
        }
    }
    if !errors.is_empty() {
        return web::render_invalid(&account_page(&ctx, errors));
    }

    let hash = password::hash(&state.passwords, f.new_password).await?;
    if !queries::set_password(&mut ctx.tx, ctx.user.municipality_id, ctx.user.id, &hash).await? {
        return Err(AppError::NotFound);
    }
    // Whoever else holds a session (or a reset link) of this account is out; this browser stays.
    let keep = ctx.req.session.as_ref().map(|s| s.id.clone());
    let ended = queries::end_sessions(&mut ctx.tx, ctx.user.id, keep.as_deref()).await?;
    queries::revoke_tokens(&mut ctx.tx, ctx.user.id, Some(Purpose::Reset)).await?;
    let actor = ctx.actor();
    audit::record(
        &mut ctx.tx,
        &actor,
        Entry::new("password_change", "user", Some(ctx.user.id))
            .details(json!({ "sessions_ended": ended })),
    )
    .await?;
    ctx.commit().await?;
    Ok(web::redirect_with_flash(
        "/account",
        Flash::success(
            "Din adgangskode er skiftet. Er du logget ind andre steder, er du blevet logget ud der.",
        ),
    ))
}

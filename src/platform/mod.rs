//! The platform operator's pages: municipalities (tenants) and their first administrator.

use askama::Template;
use axum::{
    extract::State,
    response::{IntoResponse, Response},
    routing::get,
    Router,
};
use serde::Deserialize;
use serde_json::json;
use uuid::Uuid;

use crate::{
    audit::{self, Entry},
    auth::{password, Ctx, Permission},
    db::{self, Scope},
    state::AppState,
    web::{self, error::constraint_name, form, AppResult, FieldErrors, Flash, Form, Layout},
};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/platform/municipalities", get(list).post(create))
        .route("/platform/municipalities/new", get(new_form))
}

pub struct Row {
    pub code: String,
    pub name: String,
    pub users: i64,
    pub created: String,
}

#[derive(Template)]
#[template(path = "platform/municipalities.html")]
pub struct ListPage {
    pub layout: Layout,
    pub rows: Vec<Row>,
}

#[derive(Default, Deserialize)]
pub struct NewMunicipality {
    #[serde(default)]
    pub code: String,
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub admin_name: String,
    #[serde(default)]
    pub admin_email: String,
    #[serde(default)]
    pub admin_password: String,
}

#[derive(Template)]
#[template(path = "platform/new_municipality.html")]
pub struct NewPage {
    pub layout: Layout,
    pub form: NewMunicipality,
    pub errors: FieldErrors,
}

async fn list(mut ctx: Ctx) -> AppResult<Response> {
    ctx.user.require(Permission::ManageMunicipalities)?;
    let rows = sqlx::query_as!(
        Row,
        r#"SELECT m.code, m.name, to_char(m.created_at, 'DD-MM-YYYY') AS "created!",
                  (SELECT count(*) FROM users u WHERE u.municipality_id = m.id) AS "users!"
           FROM municipalities m ORDER BY m.name"#
    )
    .fetch_all(&mut *ctx.tx)
    .await?;
    let page = ListPage {
        layout: ctx.layout("Kommuner", "/platform/municipalities"),
        rows,
    };
    Ok(web::render(&page)?.into_response())
}

async fn new_form(ctx: Ctx) -> AppResult<Response> {
    ctx.user.require(Permission::ManageMunicipalities)?;
    let page = NewPage {
        layout: ctx.layout("Opret kommune", "/platform/municipalities"),
        form: NewMunicipality::default(),
        errors: FieldErrors::default(),
    };
    Ok(web::render(&page)?.into_response())
}

fn validate(f: &mut NewMunicipality) -> FieldErrors {
    let mut errors = FieldErrors::default();
    f.code = f.code.trim().to_string();
    if !(f.code.len() == 4 && f.code.bytes().all(|b| b.is_ascii_digit())) {
        errors.add("code", "Kommunekoden skal være fire cifre, fx 0630.");
    }
    f.name = form::required_text(&mut errors, "name", &f.name, "kommunens navn", 200);
    f.admin_name = form::required_text(
        &mut errors,
        "admin_name",
        &f.admin_name,
        "administratorens navn",
        200,
    );
    f.admin_email = f.admin_email.trim().to_lowercase();
    if !form::valid_email(&f.admin_email) {
        errors.add(
            "admin_email",
            "Skriv en gyldig e-mailadresse, fx navn@kommune.dk.",
        );
    }
    if let Some(msg) = password::weakness(&f.admin_password) {
        errors.add("admin_password", msg);
    }
    errors
}

async fn create(
    State(state): State<AppState>,
    mut ctx: Ctx,
    Form(mut f): Form<NewMunicipality>,
) -> AppResult<Response> {
    ctx.user.require(Permission::ManageMunicipalities)?;
    let mut errors = validate(&mut f);
    let render_errors = |ctx: &Ctx, mut f: NewMunicipality, errors: FieldErrors| {
        f.admin_password.clear();
        web::render_invalid(&NewPage {
            layout: ctx.layout("Opret kommune", "/platform/municipalities"),
            form: f,
            errors,
        })
    };
    if !errors.is_empty() {
        return render_errors(&ctx, f, errors);
    }
    let hash = password::hash(&state.passwords, f.admin_password.clone()).await?;

    let inserted = sqlx::query_scalar!(
        "INSERT INTO municipalities (code, name) VALUES ($1, $2) RETURNING id",
        f.code,
        f.name
    )
    .fetch_one(&mut *ctx.tx)
    .await;
    let municipality_id: Uuid = match inserted {
        Ok(id) => id,
        Err(e) if constraint_name(&e) == Some("municipalities_code_key") => {
            errors.add("code", "Der findes allerede en kommune med den kode.");
            return render_errors(&ctx, f, errors);
        }
        Err(e) => return Err(e.into()),
    };
    // The administrator and the audit entries belong to the new tenant.
    db::set_scope(&mut ctx.tx, Scope::Municipality(municipality_id)).await?;
    let user = sqlx::query_scalar!(
        "INSERT INTO users (municipality_id, email, name, password_hash) VALUES ($1, $2, $3, $4) RETURNING id",
        municipality_id,
        f.admin_email,
        f.admin_name,
        hash
    )
    .fetch_one(&mut *ctx.tx)
    .await;
    let user_id: Uuid = match user {
        Ok(id) => id,
        Err(e) if constraint_name(&e) == Some("users_email_key") => {
            errors.add(
                "admin_email",
                "Der findes allerede en bruger med den e-mailadresse.",
            );
            return render_errors(&ctx, f, errors);
        }
        Err(e) => return Err(e.into()),
    };
    sqlx::query!(
        "INSERT INTO role_assignments (municipality_id, user_id, role) VALUES ($1, $2, 'municipal_admin')",
        municipality_id,
        user_id
    )
    .execute(&mut *ctx.tx)
    .await?;
    crate::forms::defaults::install(&mut ctx.tx, municipality_id).await?;
    crate::wording::install(&mut ctx.tx, municipality_id).await?;
    let mut actor = ctx.actor();
    actor.municipality_id = Some(municipality_id);
    audit::record(
        &mut ctx.tx,
        &actor,
        Entry::new("create", "municipality", Some(municipality_id))
            .details(json!({"code": f.code, "name": f.name})),
    )
    .await?;
    audit::record(
        &mut ctx.tx,
        &actor,
        Entry::new("create", "user", Some(user_id)).details(json!({"role": "municipal_admin"})),
    )
    .await?;
    ctx.commit().await?;
    Ok(web::redirect_with_flash(
        "/platform/municipalities",
        Flash::success(format!(
            "{} Kommune er oprettet med administratoren {}.",
            f.name, f.admin_email
        )),
    ))
}

//! Administering users: the list, invitations, the user's page with roles, deactivation.

use askama::Template;
use axum::{
    extract::{RawQuery, State},
    response::{IntoResponse, Response},
};
use serde::Deserialize;
use serde_json::json;
use uuid::Uuid;

use super::{
    describe_role, institution_choices,
    queries::{self, Institution, Purpose, RoleRow, UserRow},
    role_choices, validate_role, Choice, InvitationMail, Reach, INVITATION_SUBJECT,
    INVITE_VALID_SECS,
};
use crate::{
    audit::{self, Entry},
    auth::{Ctx, Role},
    mail,
    state::AppState,
    web::{
        self, error::constraint_name, form, AppError, AppResult, FieldErrors, Flash, Form, Layout,
        Path,
    },
};

/// Rows shown at most; the filters narrow a long list down.
const LIST_LIMIT: i64 = 200;

fn status_label(is_active: bool, pending: bool) -> &'static str {
    match (is_active, pending) {
        (false, _) => "Deaktiveret",
        (true, true) => "Inviteret",
        (true, false) => "Aktiv",
    }
}

// ---------------------------------------------------------------------------------------------
// The list

#[derive(Default, Deserialize)]
#[serde(default)]
pub struct ListQuery {
    institution: String,
    role: String,
    status: String,
    q: String,
}

pub struct ListRow {
    pub id: Uuid,
    pub name: String,
    pub email: String,
    pub roles: Vec<String>,
    pub status: &'static str,
    pub last_login: String,
    /// Leaders see colleagues at their institutions but open only their staff.
    pub can_open: bool,
}

#[derive(Template)]
#[template(path = "users/list.html")]
pub struct ListPage {
    pub layout: Layout,
    pub is_admin: bool,
    pub rows: Vec<ListRow>,
    pub institutions: Vec<Choice>,
    pub roles: Vec<Choice>,
    pub statuses: Vec<Choice>,
    pub q: String,
    pub filtered: bool,
    pub truncated: bool,
}

pub async fn list(mut ctx: Ctx, RawQuery(raw): RawQuery) -> AppResult<Response> {
    let reach = Reach::of(&ctx.user)?;
    let municipality_id = ctx.user.municipality()?;
    // A mangled query string means "no filter", not an error page.
    let q: ListQuery = serde_urlencoded::from_str(raw.as_deref().unwrap_or("")).unwrap_or_default();
    let institutions =
        queries::institutions(&mut ctx.tx, municipality_id, reach.institution_filter()).await?;
    let text = q.q.trim().chars().take(100).collect::<String>();
    let filter = queries::ListFilter {
        within: reach.list_within(),
        institution: Uuid::parse_str(q.institution.trim()).ok(),
        role: Role::parse(q.role.trim()),
        status: q.status.trim().to_string(),
        text: (!text.is_empty()).then(|| text.clone()),
        limit: LIST_LIMIT + 1,
    };
    let mut users = queries::list(&mut ctx.tx, municipality_id, &filter).await?;
    let truncated = users.len() as i64 > LIST_LIMIT;
    users.truncate(LIST_LIMIT as usize);
    let rows = users
        .into_iter()
        .map(|u| ListRow {
            can_open: reach.can_open(&u.roles.0),
            roles: u
                .roles
                .0
                .iter()
                .map(|r| describe_role(r.role, r.institution_name.as_deref()))
                .collect(),
            status: status_label(u.is_active, u.pending),
            last_login: u.last_login.unwrap_or_else(|| "Aldrig".into()),
            id: u.id,
            name: u.name,
            email: u.email,
        })
        .collect();
    let statuses = [
        ("active", "Aktive"),
        ("invited", "Inviterede"),
        ("inactive", "Deaktiverede"),
    ]
    .into_iter()
    .map(|(value, label)| Choice {
        value: value.into(),
        label: label.into(),
        selected: q.status.trim() == value,
    })
    .collect();
    let page = ListPage {
        layout: ctx.layout("Brugere", "/users"),
        is_admin: reach.is_municipality(),
        rows,
        institutions: institution_choices(&institutions, q.institution.trim()),
        roles: role_choices(&Role::ALL, q.role.trim()),
        statuses,
        filtered: filter.institution.is_some()
            || filter.role.is_some()
            || !filter.status.is_empty()
            || filter.text.is_some(),
        q: text,
        truncated,
    };
    Ok(web::render(&page)?.into_response())
}

// ---------------------------------------------------------------------------------------------
// Inviting

#[derive(Default, Deserialize)]
#[serde(default)]
pub struct InviteForm {
    pub name: String,
    pub email: String,
    pub role: String,
    pub institution: String,
}

#[derive(Template)]
#[template(path = "users/invite.html")]
pub struct InvitePage {
    pub layout: Layout,
    pub is_admin: bool,
    pub form: InviteForm,
    pub errors: FieldErrors,
    pub roles: Vec<Choice>,
    pub institutions: Vec<Choice>,
    pub has_institutions: bool,
}

fn invite_page(
    ctx: &Ctx,
    reach: &Reach,
    institutions: &[Institution],
    form: InviteForm,
    errors: FieldErrors,
) -> InvitePage {
    InvitePage {
        layout: ctx.layout("Invitér bruger", "/users"),
        is_admin: reach.is_municipality(),
        roles: role_choices(&reach.assignable_roles(), &form.role),
        institutions: institution_choices(institutions, &form.institution),
        has_institutions: !institutions.is_empty(),
        form,
        errors,
    }
}

pub async fn invite_form(mut ctx: Ctx) -> AppResult<Response> {
    let reach = Reach::of(&ctx.user)?;
    let municipality_id = ctx.user.municipality()?;
    let institutions =
        queries::institutions(&mut ctx.tx, municipality_id, reach.institution_filter()).await?;
    let mut form = InviteForm::default();
    if !reach.is_municipality() {
        // A leader can only invite staff; a leader of one institution has nothing to choose.
        form.role = Role::Staff.as_str().into();
        if let [only] = institutions.as_slice() {
            form.institution = only.id.to_string();
        }
    }
    let page = invite_page(&ctx, &reach, &institutions, form, FieldErrors::default());
    Ok(web::render(&page)?.into_response())
}

pub async fn invite(
    State(state): State<AppState>,
    mut ctx: Ctx,
    Form(mut f): Form<InviteForm>,
) -> AppResult<Response> {
    let reach = Reach::of(&ctx.user)?;
    let municipality_id = ctx.user.municipality()?;
    // Loaded before anything is written: a failed insert aborts the transaction, and the form
    // must still be drawn with its choices.
    let institutions =
        queries::institutions(&mut ctx.tx, municipality_id, reach.institution_filter()).await?;
    let mut errors = FieldErrors::default();
    f.name = form::required_text(&mut errors, "name", &f.name, "navnet", 200);
    f.email = f.email.trim().to_lowercase();
    if !form::valid_email(&f.email) {
        errors.add(
            "email",
            "Skriv en gyldig e-mailadresse, fx navn@kommune.dk.",
        );
    }
    let choice = validate_role(&mut errors, &reach, &f.role, &f.institution, &institutions);
    let (role, institution_id) = match choice {
        Some(c) if errors.is_empty() => c,
        _ => return web::render_invalid(&invite_page(&ctx, &reach, &institutions, f, errors)),
    };

    let user_id = match queries::insert_user(&mut ctx.tx, municipality_id, &f.email, &f.name).await
    {
        Ok(id) => id,
        Err(e) if constraint_name(&e) == Some("users_email_key") => {
            errors.add(
                "email",
                "Der findes allerede en bruger med den e-mailadresse.",
            );
            return web::render_invalid(&invite_page(&ctx, &reach, &institutions, f, errors));
        }
        Err(e) => return Err(e.into()),
    };
    let assignment =
        queries::insert_role(&mut ctx.tx, municipality_id, user_id, role, institution_id).await?;
    let institution_name = institution_id
        .and_then(|id| institutions.iter().find(|i| i.id == id))
        .map(|i| i.name.as_str());
    send_invitation(
        &state,
        &mut ctx,
        user_id,
        &f.name,
        &f.email,
        &describe_role(role, institution_name),
    )
    .await?;
    let actor = ctx.actor();
    audit::record(
        &mut ctx.tx,
        &actor,
        Entry::new("invite", "user", Some(user_id)).details(json!({
            "email": f.email,
            "role": role.as_str(),
            "institution_id": institution_id,
            "assignment_id": assignment,
        })),
    )
    .await?;
    ctx.commit().await?;
    mail::wake();
    Ok(web::redirect_with_flash(
        &format!("/users/{user_id}"),
        Flash::success(format!(
            "{} er inviteret. Invitationen er sendt til {}.",
            f.name, f.email
        )),
    ))
}

/// Issues an invitation token and queues the mail with its link, in the caller's transaction.
async fn send_invitation(
    state: &AppState,
    ctx: &mut Ctx,
    user_id: Uuid,
    name: &str,
    email: &str,
    role: &str,
) -> AppResult<()> {
    let municipality_id = ctx.user.municipality()?;
    let token = queries::issue_token(
        &mut ctx.tx,
        user_id,
        Some(municipality_id),
        Purpose::Invite,
        INVITE_VALID_SECS,
    )
    .await?;
    let link = mail::link(&state.config, &format!("/invitation/{token}"));
    let body = InvitationMail {
        name,
        inviter: &ctx.user.name,
        municipality: ctx.user.municipality_name.as_deref().unwrap_or_default(),
        role,
        email,
        link: &link,
    }
    .render()?;
    mail::enqueue(
        &mut ctx.tx,
        Some(municipality_id),
        email,
        INVITATION_SUBJECT,
        &body,
    )
    .await?;
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// One user

pub struct RoleView {
    pub id: Uuid,
    pub label: String,
    pub removable: bool,
}

#[derive(Default, Deserialize)]
#[serde(default)]
pub struct RoleForm {
    pub role: String,
    pub institution: String,
}

#[derive(Template)]
#[template(path = "users/show.html")]
pub struct ShowPage {
    pub layout: Layout,
    pub is_admin: bool,
    pub user: UserRow,
    pub status: &'static str,
    pub is_self: bool,
    pub roles: Vec<RoleView>,
    pub can_manage_account: bool,
    pub invitation_expires: Option<String>,
    pub errors: FieldErrors,
    pub role_choices: Vec<Choice>,
    pub institution_choices: Vec<Choice>,
    pub can_add_role: bool,
}

/// The user `id` if the current user's reach includes them; anyone else is "not found".
async fn target(ctx: &mut Ctx, reach: &Reach, id: Uuid) -> AppResult<UserRow> {
    let municipality_id = ctx.user.municipality()?;
    let user = queries::find(&mut ctx.tx, municipality_id, id)
        .await?
        .ok_or(AppError::NotFound)?;
    if reach.can_open(&user.roles.0) {
        Ok(user)
    } else {
        Err(AppError::NotFound)
    }
}

async fn show_page(
    ctx: &mut Ctx,
    reach: &Reach,
    user: UserRow,
    form: RoleForm,
    errors: FieldErrors,
) -> AppResult<ShowPage> {
    let municipality_id = ctx.user.municipality()?;
    let institutions =
        queries::institutions(&mut ctx.tx, municipality_id, reach.institution_filter()).await?;
    let invitation_expires = if user.pending {
        queries::open_invitation_expiry(&mut ctx.tx, user.id).await?
    } else {
        None
    };
    let is_self = user.id == ctx.user.id;
    let roles = user
        .roles
        .0
        .iter()
        .map(|r| RoleView {
            id: r.id,
            label: describe_role(r.role, r.institution_name.as_deref()),
            removable: reach.can_manage_role(r.role, r.institution_id)
                && !(is_self && r.role == Role::MunicipalAdmin),
        })
        .collect();
    Ok(ShowPage {
        layout: ctx.layout(&user.name, "/users"),
        is_admin: reach.is_municipality(),
        status: status_label(user.is_active, user.pending),
        is_self,
        roles,
        can_manage_account: reach.can_manage_account(&user.roles.0) && !is_self,
        invitation_expires,
        role_choices: role_choices(&reach.assignable_roles(), &form.role),
        institution_choices: institution_choices(&institutions, &form.institution),
        can_add_role: !institutions.is_empty() || reach.is_municipality(),
        errors,
        user,
    })
}

pub async fn show(mut ctx: Ctx, Path(id): Path<Uuid>) -> AppResult<Response> {
    let reach = Reach::of(&ctx.user)?;
    let user = target(&mut ctx, &reach, id).await?;
    let mut form = RoleForm::default();
    if let Reach::Institutions(ids) = &reach {
        form.role = Role::Staff.as_str().into();
        if let [only] = ids.as_slice() {
            form.institution = only.to_string();
        }
    }
    let page = show_page(&mut ctx, &reach, user, form, FieldErrors::default()).await?;
    Ok(web::render(&page)?.into_response())
}

pub async fn add_role(
    mut ctx: Ctx,
    Path(id): Path<Uuid>,
    Form(f): Form<RoleForm>,
) -> AppResult<Response> {
    let reach = Reach::of(&ctx.user)?;
    let municipality_id = ctx.user.municipality()?;
    let user = target(&mut ctx, &reach, id).await?;
    let institutions =
        queries::institutions(&mut ctx.tx, municipality_id, reach.institution_filter()).await?;
    let mut errors = FieldErrors::default();
    let choice = validate_role(&mut errors, &reach, &f.role, &f.institution, &institutions);
    let duplicate = choice.is_some_and(|(role, institution)| {
        user.roles
            .0
            .iter()
            .any(|r| r.role == role && r.institution_id == institution)
    });
    if duplicate {
        errors.add("role", "Brugeren har allerede den rolle.");
    }
    let (role, institution_id) = match choice {
        Some(c) if errors.is_empty() => c,
        _ => {
            let page = show_page(&mut ctx, &reach, user, f, errors).await?;
            return web::render_invalid(&page);
        }
    };
    // An identical request may have got there first: ON CONFLICT turns that into a calm
    // answer instead of a unique violation.
    let assignment = sqlx::query_scalar!(
        "INSERT INTO role_assignments (municipality_id, user_id, role, institution_id)
         VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING RETURNING id",
        municipality_id,
        user.id,
        role.as_str(),
        institution_id
    )
    .fetch_optional(&mut *ctx.tx)
    .await?;
    let Some(assignment) = assignment else {
        return Ok(web::redirect_with_flash(
            &format!("/users/{}", user.id),
            Flash::info("Brugeren har allerede den rolle."),
        ));
    };
    let institution_name = institution_id
        .and_then(|id| institutions.iter().find(|i| i.id == id))
        .map(|i| i.name.as_str());
    let label = describe_role(role, institution_name);
    let actor = ctx.actor();
    audit::record(
        &mut ctx.tx,
        &actor,
        Entry::new("role_add", "user", Some(user.id)).details(json!({
            "role": role.as_str(),
            "institution_id": institution_id,
            "assignment_id": assignment,
        })),
    )
    .await?;
    ctx.commit().await?;
    Ok(web::redirect_with_flash(
        &format!("/users/{}", user.id),
        Flash::success(format!("{} har fået rollen {label}.", user.name)),
    ))
}

pub async fn remove_role(
    mut ctx: Ctx,
    Path((id, assignment)): Path<(Uuid, Uuid)>,
) -> AppResult<Response> {
    let reach = Reach::of(&ctx.user)?;
    let municipality_id = ctx.user.municipality()?;
    let user = target(&mut ctx, &reach, id).await?;
    let role: RoleRow = user
        .roles
        .0
        .iter()
        .find(|r| r.id == assignment)
        .cloned()
        .ok_or(AppError::NotFound)?;
    if !reach.can_manage_role(role.role, role.institution_id) {
        return Err(AppError::NotFound);
    }
    if user.id == ctx.user.id && role.role == Role::MunicipalAdmin {
        return Err(AppError::Conflict(
            "Du kan ikke fjerne din egen administratorrolle. Bed en anden administrator om at gøre det."
                .into(),
        ));
    }
    if role.role == Role::MunicipalAdmin {
        still_administrator(&mut ctx, municipality_id).await?;
    }
    if !queries::delete_role(&mut ctx.tx, municipality_id, user.id, assignment).await? {
        return Err(AppError::NotFound);
    }
    let actor = ctx.actor();
    audit::record(
        &mut ctx.tx,
        &actor,
        Entry::new("role_remove", "user", Some(user.id)).details(json!({
            "role": role.role.as_str(),
            "institution_id": role.institution_id,
            "assignment_id": assignment,
        })),
    )
    .await?;
    ctx.commit().await?;
    let label = describe_role(role.role, role.institution_name.as_deref());
    let remaining: Vec<RoleRow> = user
        .roles
        .0
        .into_iter()
        .filter(|r| r.id != assignment)
        .collect();
    // A leader who took away the last staff role no longer reaches the user.
    let back = if reach.can_open(&remaining) {
        format!("/users/{}", user.id)
    } else {
        "/users".to_string()
    };
    Ok(web::redirect_with_flash(
        &back,
        Flash::success(format!("Rollen {label} er fjernet fra {}.", user.name)),
    ))
}

/// Before a change that takes an administrator's rights away: the actor must still be an
/// administrator. Two who remove each other at the same moment each passed their session's
/// check of their own rights; under the lock, the second sees that the first has taken them
/// away, and is refused. As nobody may take their own rights away, an administrator is left.
async fn still_administrator(ctx: &mut Ctx, m: Uuid) -> AppResult<()> {
    if !queries::still_administrator(&mut ctx.tx, m, ctx.user.id).await? {
        return Err(AppError::Forbidden);
    }
    Ok(())
}

/// The checks shared by deactivate, reactivate and resend.
async fn account_target(ctx: &mut Ctx, id: Uuid) -> AppResult<UserRow> {
    let reach = Reach::of(&ctx.user)?;
    let user = target(ctx, &reach, id).await?;
    if !reach.can_manage_account(&user.roles.0) {
        return Err(AppError::Forbidden);
    }
    Ok(user)
}

pub async fn deactivate(mut ctx: Ctx, Path(id): Path<Uuid>) -> AppResult<Response> {
    let user = account_target(&mut ctx, id).await?;
    let municipality_id = ctx.user.municipality()?;
    if user.id == ctx.user.id {
        return Err(AppError::Conflict(
            "Du kan ikke deaktivere din egen bruger. Bed en anden administrator om at gøre det."
                .into(),
        ));
    }
    if user.roles.0.iter().any(|r| r.role == Role::MunicipalAdmin) {
        still_administrator(&mut ctx, municipality_id).await?;
    }
    let back = format!("/users/{}", user.id);
    let by_admin = Reach::of(&ctx.user)?.is_municipality();
    if !queries::set_active(&mut ctx.tx, municipality_id, user.id, false, by_admin).await? {
        return Ok(web::redirect_with_flash(
            &back,
            Flash::info(format!("{} var allerede deaktiveret.", user.name)),
        ));
    }
    // Logged out everywhere, and no outstanding invitation or reset link works any more.
    let sessions = queries::end_sessions(&mut ctx.tx, user.id, None).await?;
    queries::revoke_tokens(&mut ctx.tx, user.id, None).await?;
    let actor = ctx.actor();
    audit::record(
        &mut ctx.tx,
        &actor,
        Entry::new("deactivate", "user", Some(user.id))
            .details(json!({ "sessions_ended": sessions })),
    )
    .await?;
    ctx.commit().await?;
    Ok(web::redirect_with_flash(
        &back,
        Flash::success(format!(
            "{} er deaktiveret og kan ikke længere logge ind.",
            user.name
        )),
    ))
}

pub async fn reactivate(mut ctx: Ctx, Path(id): Path<Uuid>) -> AppResult<Response> {
    let user = account_target(&mut ctx, id).await?;
    let municipality_id = ctx.user.municipality()?;
    let back = format!("/users/{}", user.id);
    if !Reach::of(&ctx.user)?.is_municipality()
        && queries::deactivated_by_admin(&mut ctx.tx, municipality_id, user.id).await?
    {
        return Err(AppError::Conflict(format!(
            "En administrator har deaktiveret {}. Kun en administrator kan gøre brugeren aktiv igen.",
            user.name
        )));
    }
    if !queries::set_active(&mut ctx.tx, municipality_id, user.id, true, false).await? {
        return Ok(web::redirect_with_flash(
            &back,
            Flash::info(format!("{} var allerede aktiv.", user.name)),
        ));
    }
    let actor = ctx.actor();
    audit::record(
        &mut ctx.tx,
        &actor,
        Entry::new("reactivate", "user", Some(user.id)),
    )
    .await?;
    ctx.commit().await?;
    let message = if user.pending {
        format!(
            "{} er aktiv igen. Send invitationen igen, så brugeren kan vælge en adgangskode.",
            user.name
        )
    } else {
        format!("{} er aktiv igen og kan logge ind.", user.name)
    };
    Ok(web::redirect_with_flash(&back, Flash::success(message)))
}

pub async fn resend_invitation(
    State(state): State<AppState>,
    mut ctx: Ctx,
    Path(id): Path<Uuid>,
) -> AppResult<Response> {
    let user = account_target(&mut ctx, id).await?;
    // Only the newest link works. The account is read after the user's tokens lock, under
    // which a deactivation or a password chosen by the link withdraws them: one committed
    // meanwhile is seen here.
    queries::revoke_tokens(&mut ctx.tx, user.id, Some(Purpose::Invite)).await?;
    let account = queries::account(&mut ctx.tx, Some(ctx.user.municipality()?), user.id)
        .await?
        .ok_or(AppError::NotFound)?;
    if !account.is_active {
        return Err(AppError::Conflict(
            "Brugeren er deaktiveret. Genaktivér brugeren, før du sender invitationen igen.".into(),
        ));
    }
    if account.password_hash.is_some() {
        return Err(AppError::Conflict(
            "Brugeren har allerede valgt en adgangskode. Har brugeren glemt den, kan hun eller han selv bede om en ny på login-siden."
                .into(),
        ));
    }
    let roles = user
        .roles
        .0
        .iter()
        .map(|r| describe_role(r.role, r.institution_name.as_deref()))
        .collect::<Vec<_>>()
        .join(", ");
    let roles = if roles.is_empty() {
        "endnu ingen rolle".to_string()
    } else {
        roles
    };
    send_invitation(&state, &mut ctx, user.id, &user.name, &user.email, &roles).await?;
    let actor = ctx.actor();
    audit::record(
        &mut ctx.tx,
        &actor,
        Entry::new("invite_resend", "user", Some(user.id)),
    )
    .await?;
    ctx.commit().await?;
    mail::wake();
    Ok(web::redirect_with_flash(
        &format!("/users/{}", user.id),
        Flash::success(format!(
            "En ny invitation er sendt til {}. Det tidligere link virker ikke længere.",
            user.email
        )),
    ))
}

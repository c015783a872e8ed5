//! The list of classes, creating a class, placing incoming children and teachers in it, and the
//! leader's delegation of that right to named staff. Every change is one transaction with its
//! audit entry, then POST → redirect → GET.

use askama::Template;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::json;
use uuid::Uuid;

use super::{class_path, school_year_label, Class, ClassAccess, NAV};
use crate::{
    audit::Entry,
    auth::Ctx,
    children::domain::format_date,
    db::Tx,
    transitions::{queries::staff_of, status::Status},
    web::{
        self, form::required_text, AppError, AppResult, FieldErrors, Flash, Form, Layout, Path,
        SelectOption,
    },
};

const MAX_NAME: usize = 40;

pub struct Person {
    pub id: Uuid,
    pub name: String,
}

/// The forms on a class's page for those who arrange it.
pub struct ArrangeForms {
    pub children: Vec<SelectOption>,
    pub teachers: Vec<SelectOption>,
}

pub async fn teachers(tx: &mut Tx, m: Uuid, class_id: Uuid) -> Result<Vec<Person>, sqlx::Error> {
    sqlx::query_as!(
        Person,
        "SELECT u.id, u.name FROM class_teachers k
         JOIN users u ON u.municipality_id = k.municipality_id AND u.id = k.user_id
         WHERE k.municipality_id = $1 AND k.class_id = $2
         ORDER BY u.name, u.id",
        m,
        class_id
    )
    .fetch_all(&mut **tx)
    .await
}

/// Statuses a child can be placed in a class in: every handover on its way or delivered.
const PLACEABLE: [&str; 7] = [
    "draft",
    "with_parents",
    "ready",
    "sent",
    "received",
    "feedback_requested",
    "feedback_given",
];

struct Candidate {
    id: Uuid,
    child_name: String,
    sending_name: String,
    planned_date: time::Date,
    status: String,
    current_class: Option<String>,
}

pub async fn arrange_forms(tx: &mut Tx, m: Uuid, class: &Class) -> AppResult<ArrangeForms> {
    let placeable: Vec<String> = PLACEABLE.iter().map(|s| s.to_string()).collect();
    let candidates = sqlx::query_as!(
        Candidate,
        r#"SELECT t.id, c.first_name || ' ' || c.last_name AS "child_name!", s.name AS sending_name,
                  t.planned_date, t.status, k2.name AS "current_class?"
           FROM transitions t
           JOIN children c ON c.municipality_id = t.municipality_id AND c.id = t.child_id
           JOIN institutions s ON s.municipality_id = t.municipality_id AND s.id = t.sending_institution_id
           LEFT JOIN class_children k ON k.municipality_id = t.municipality_id AND k.transition_id = t.id
           LEFT JOIN school_classes k2 ON k2.municipality_id = k.municipality_id AND k2.id = k.class_id
           WHERE t.municipality_id = $1 AND t.receiving_institution_id = $2
             AND t.status = ANY($3) AND k.class_id IS DISTINCT FROM $4
           ORDER BY (k.class_id IS NOT NULL), c.first_name, c.last_name, t.planned_date, t.id
           LIMIT 1000"#,
        m,
        class.institution_id,
        &placeable,
        class.id
    )
    .fetch_all(&mut **tx)
    .await?;
    let children = candidates
        .into_iter()
        .map(|c| {
            let status = Status::parse(&c.status).map(Status::label).unwrap_or("");
            let mut label = format!(
                "{} – fra {}, {} ({})",
                c.child_name,
                c.sending_name,
                format_date(c.planned_date),
                status.to_lowercase()
            );
            if let Some(other) = c.current_class {
                label.push_str(&format!(" – nu i {other}"));
            }
            SelectOption::new(c.id.to_string(), label, false)
        })
        .collect();
    let current = teachers(tx, m, class.id).await?;
    let teachers = staff_of(tx, m, class.institution_id)
        .await?
        .into_iter()
        .filter(|u| !current.iter().any(|t| t.id == u.id))
        .map(|u| SelectOption::new(u.id.to_string(), u.name, false))
        .collect();
    Ok(ArrangeForms { children, teachers })
}

// ---------------------------------------------------------------------------------------------
// The list

pub struct ClassRow {
    pub id: Uuid,
    pub name: String,
    pub school_year: i32,
    pub institution_name: String,
    pub children: i64,
    pub teachers: String,
    pub teaches: bool,
}

pub struct DelegationView {
    pub institution_id: Uuid,
    pub institution_name: String,
    pub delegates: Vec<Person>,
    pub candidates: Vec<SelectOption>,
}

#[derive(Default, Deserialize)]
#[serde(default)]
pub struct CreateForm {
    pub institution_id: String,
    pub name: String,
    pub school_year: String,
}

#[derive(Template)]
#[template(path = "classes/list.html")]
pub struct ListPage {
    pub layout: Layout,
    pub rows: Vec<ClassRow>,
    pub show_institution: bool,
    /// The create form (for those who arrange classes somewhere).
    pub institutions: Option<Vec<SelectOption>>,
    pub form: CreateForm,
    pub errors: FieldErrors,
    pub delegations: Vec<DelegationView>,
}

impl ListPage {
    pub fn year_label(&self, year: &i32) -> String {
        school_year_label(*year)
    }
}

struct InstitutionChoice {
    id: Uuid,
    name: String,
}

/// Where the user may create classes.
async fn arrangeable(
    tx: &mut Tx,
    access: &ClassAccess,
) -> Result<Vec<InstitutionChoice>, sqlx::Error> {
    sqlx::query_as!(
        InstitutionChoice,
        "SELECT id, name FROM institutions
         WHERE municipality_id = $1 AND is_active AND ($2 OR id = ANY($3))
         ORDER BY name, id",
        access.municipality_id,
        access.all,
        &access.arranges
    )
    .fetch_all(&mut **tx)
    .await
}

async fn list_page(
    ctx: &mut Ctx,
    access: &ClassAccess,
    form: CreateForm,
    errors: FieldErrors,
) -> AppResult<ListPage> {
    let m = access.municipality_id;
    let rows = sqlx::query_as!(
        ClassRow,
        r#"SELECT c.id, c.name, c.school_year, i.name AS institution_name,
                  (SELECT count(*) FROM class_children k
                   JOIN transitions t ON t.municipality_id = k.municipality_id AND t.id = k.transition_id
                   WHERE k.municipality_id = c.municipality_id AND k.class_id = c.id
                     AND t.status <> 'cancelled') AS "children!",
                  coalesce((SELECT string_agg(u.name, ', ' ORDER BY u.name) FROM class_teachers k
                            JOIN users u ON u.municipality_id = k.municipality_id AND u.id = k.user_id
                            WHERE k.municipality_id = c.municipality_id AND k.class_id = c.id), '') AS "teachers!",
                  EXISTS (SELECT 1 FROM class_teachers k
                          WHERE k.municipality_id = c.municipality_id AND k.class_id = c.id
                            AND k.user_id = $5) AS "teaches!"
           FROM school_classes c
           JOIN institutions i ON i.municipality_id = c.municipality_id AND i.id = c.institution_id
           WHERE c.municipality_id = $1
             AND ($2 OR c.institution_id = ANY($3)
                  OR (c.institution_id = ANY($4)
                      AND EXISTS (SELECT 1 FROM class_teachers k
                                  WHERE k.municipality_id = c.municipality_id AND k.class_id = c.id
                                    AND k.user_id = $5)))
           ORDER BY c.school_year DESC, i.name, lower(c.name), c.id
           LIMIT 2000"#,
        m,
        access.all,
        &access.arranges,
        &access.works,
        access.user_id
    )
    .fetch_all(&mut *ctx.tx)
    .await?;
    let institutions = if access.arranges_any() {
        let list = arrangeable(&mut ctx.tx, access).await?;
        Some(
            list.into_iter()
                .map(|i| {
                    let selected = i.id.to_string() == form.institution_id.trim();
                    SelectOption::new(i.id.to_string(), i.name, selected)
                })
                .collect(),
        )
    } else {
        None
    };
    let mut delegations = Vec::new();
    for inst in &access.leads {
        let name = sqlx::query_scalar!(
            "SELECT name FROM institutions WHERE municipality_id = $1 AND id = $2",
            m,
            inst
        )
        .fetch_one(&mut *ctx.tx)
        .await?;
        let delegates = delegates(&mut ctx.tx, m, *inst).await?;
        let candidates = delegable(&mut ctx.tx, m, *inst)
            .await?
            .into_iter()
            .filter(|p| !delegates.iter().any(|d| d.id == p.id))
            .map(|p| SelectOption::new(p.id.to_string(), p.name, false))
            .collect();
        delegations.push(DelegationView {
            institution_id: *inst,
            institution_name: name,
            delegates,
            candidates,
        });
    }
    let show_institution = access.all || access.works.len() > 1;
    let form = if form.school_year.is_empty() && errors.is_empty() {
        CreateForm {
            school_year: default_school_year(&mut ctx.tx).await?.to_string(),
            ..form
        }
    } else {
        form
    };
    Ok(ListPage {
        layout: ctx.layout("Klasser", NAV),
        rows,
        show_institution,
        institutions,
        form,
        errors,
        delegations,
    })
}

/// The school year children handed over now start in: this year's August until it has begun.
/// Records the change, commits it and sends the user back to `to` with a success message.
async fn done(
    mut ctx: Ctx,
    entry: Entry<'_>,
    to: &str,
    message: impl Into<String>,
) -> AppResult<Response> {
    let actor = ctx.actor();
    crate::audit::record(&mut ctx.tx, &actor, entry).await?;
    ctx.commit().await?;
    Ok(web::redirect_with_flash(to, Flash::success(message)))
}

async fn default_school_year(tx: &mut Tx) -> Result<i32, sqlx::Error> {
    let today = crate::children::queries::today(tx).await?;
    Ok(if u8::from(today.month()) >= 8 {
        today.year() + 1
    } else {
        today.year()
    })
}

pub async fn list(mut ctx: Ctx) -> AppResult<Response> {
    let access = ClassAccess::check(&mut ctx).await?;
    let page = list_page(
        &mut ctx,
        &access,
        CreateForm::default(),
        FieldErrors::default(),
    )
    .await?;
    ctx.commit().await?;
    Ok(web::render(&page)?.into_response())
}

pub async fn create(mut ctx: Ctx, Form(f): Form<CreateForm>) -> AppResult<Response> {
    let access = ClassAccess::check(&mut ctx).await?;
    if !access.arranges_any() {
        return Err(AppError::Forbidden);
    }
    let m = access.municipality_id;
    let mut errors = FieldErrors::default();
    let allowed = arrangeable(&mut ctx.tx, &access).await?;
    let institution = f
        .institution_id
        .trim()
        .parse::<Uuid>()
        .ok()
        .filter(|id| allowed.iter().any(|i| i.id == *id));
    if institution.is_none() {
        errors.add("institution_id", "Vælg en af jeres institutioner.");
    }
    let name = required_text(&mut errors, "name", &f.name, "klassens navn", MAX_NAME);
    let year = f
        .school_year
        .trim()
        .parse::<i32>()
        .ok()
        .filter(|y| (2000..=2100).contains(y));
    if year.is_none() {
        errors.add("school_year", "Skriv året, klassen starter, fx 2027.");
    }
    if let (Some(inst), Some(year), true) = (institution, year, errors.is_empty()) {
        // A name already taken that school year (case aside) inserts nothing: also when two
        // create it at the same moment, where a check before the insert would let both through.
        let created = sqlx::query_scalar!(
            "INSERT INTO school_classes (municipality_id, institution_id, school_year, name, created_by)
             VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING RETURNING id",
            m,
            inst,
            year,
            name,
            ctx.user.id
        )
        .fetch_optional(&mut *ctx.tx)
        .await?;
        match created {
            Some(id) => {
                return done(
                    ctx,
                    Entry::new("create_class", "class", Some(id))
                        .details(json!({ "institution_id": inst, "school_year": year })),
                    &class_path(id),
                    format!("Klassen {name} er oprettet."),
                )
                .await;
            }
            None => errors.add(
                "name",
                "Der findes allerede en klasse med det navn i det skoleår.",
            ),
        }
    }
    let page = list_page(&mut ctx, &access, f, errors).await?;
    web::render_invalid(&page)
}

// ---------------------------------------------------------------------------------------------
// Placing children and teachers

/// The class for a change: visible (else 404) and arranged by the user (else 403).
async fn arranged(ctx: &mut Ctx, access: &ClassAccess, id: Uuid) -> AppResult<Class> {
    let class = super::find(&mut ctx.tx, access, id).await?;
    if !access.arranges_at(class.institution_id) {
        return Err(AppError::Forbidden);
    }
    Ok(class)
}

fn form_id(raw: &str, what: &str) -> AppResult<Uuid> {
    let raw = raw.trim();
    if raw.is_empty() {
        return Err(AppError::BadRequest(format!("Vælg {what}.")));
    }
    // a malformed id is answered like an unknown one
    raw.parse().map_err(|_| AppError::NotFound)
}

/// What every change to a class's children or teachers starts with: the user's class access,
/// the class (see `arranged`) and the id the form names (see `form_id`). Gives the
/// municipality, the class and that id.
async fn class_change(
    ctx: &mut Ctx,
    id: Uuid,
    raw: &str,
    what: &str,
) -> AppResult<(Uuid, Class, Uuid)> {
    let access = ClassAccess::check(ctx).await?;
    let class = arranged(ctx, &access, id).await?;
    let picked = form_id(raw, what)?;
    Ok((access.municipality_id, class, picked))
}

#[derive(Default, Deserialize)]
#[serde(default)]
pub struct ChildForm {
    pub transition_id: String,
}

pub async fn place(
    mut ctx: Ctx,
    Path(id): Path<Uuid>,
    Form(f): Form<ChildForm>,
) -> AppResult<Response> {
    let (m, class, transition) = class_change(&mut ctx, id, &f.transition_id, "et barn").await?;
    let placeable: Vec<String> = PLACEABLE.iter().map(|s| s.to_string()).collect();
    let child = sqlx::query!(
        r#"SELECT t.child_id, c.first_name || ' ' || c.last_name AS "name!"
           FROM transitions t JOIN children c ON c.municipality_id = t.municipality_id AND c.id = t.child_id
           WHERE t.municipality_id = $1 AND t.id = $2 AND t.receiving_institution_id = $3
             AND t.status = ANY($4)
           FOR UPDATE OF t"#,
        m,
        transition,
        class.institution_id,
        &placeable
    )
    .fetch_optional(&mut *ctx.tx)
    .await?
    .ok_or(AppError::NotFound)?;
    sqlx::query!(
        "INSERT INTO class_children (municipality_id, transition_id, class_id, assigned_by)
         VALUES ($1, $2, $3, $4)
         ON CONFLICT (municipality_id, transition_id)
         DO UPDATE SET class_id = EXCLUDED.class_id, assigned_by = EXCLUDED.assigned_by,
                       assigned_at = now()",
        m,
        transition,
        id,
        ctx.user.id
    )
    .execute(&mut *ctx.tx)
    .await?;
    done(
        ctx,
        Entry::new("place_in_class", "class", Some(id))
            .child(child.child_id)
            .details(json!({ "transition_id": transition })),
        &class_path(id),
        format!("{} er sat i {}.", child.name, class.name),
    )
    .await
}

pub async fn unplace(
    mut ctx: Ctx,
    Path(id): Path<Uuid>,
    Form(f): Form<ChildForm>,
) -> AppResult<Response> {
    let (m, class, transition) = class_change(&mut ctx, id, &f.transition_id, "et barn").await?;
    let child = sqlx::query_scalar!(
        "DELETE FROM class_children k USING transitions t
         WHERE k.municipality_id = $1 AND k.class_id = $2 AND k.transition_id = $3
           AND t.municipality_id = k.municipality_id AND t.id = k.transition_id
         RETURNING t.child_id AS \"child_id!\"",
        m,
        id,
        transition
    )
    .fetch_optional(&mut *ctx.tx)
    .await?
    .ok_or(AppError::NotFound)?;
    done(
        ctx,
        Entry::new("remove_from_class", "class", Some(id))
            .child(child)
            .details(json!({ "transition_id": transition })),
        &class_path(id),
        format!("Barnet er taget ud af {}.", class.name),
    )
    .await
}

#[derive(Default, Deserialize)]
#[serde(default)]
pub struct UserForm {
    pub user_id: String,
}

pub async fn add_teacher(
    mut ctx: Ctx,
    Path(id): Path<Uuid>,
    Form(f): Form<UserForm>,
) -> AppResult<Response> {
    let (m, class, user) = class_change(&mut ctx, id, &f.user_id, "en medarbejder").await?;
    let staff = staff_of(&mut ctx.tx, m, class.institution_id).await?;
    let person = staff
        .into_iter()
        .find(|u| u.id == user)
        .ok_or(AppError::NotFound)?;
    sqlx::query!(
        "INSERT INTO class_teachers (municipality_id, class_id, user_id, added_by)
         VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING",
        m,
        id,
        user,
        ctx.user.id
    )
    .execute(&mut *ctx.tx)
    .await?;
    done(
        ctx,
        Entry::new("add_class_teacher", "class", Some(id)).details(json!({ "user_id": user })),
        &class_path(id),
        format!("{} er lærer i {}.", person.name, class.name),
    )
    .await
}

pub async fn remove_teacher(
    mut ctx: Ctx,
    Path(id): Path<Uuid>,
    Form(f): Form<UserForm>,
) -> AppResult<Response> {
    let (m, class, user) = class_change(&mut ctx, id, &f.user_id, "en lærer").await?;
    let removed = sqlx::query!(
        "DELETE FROM class_teachers WHERE municipality_id = $1 AND class_id = $2 AND user_id = $3",
        m,
        id,
        user
    )
    .execute(&mut *ctx.tx)
    .await?
    .rows_affected();
    if removed == 0 {
        return Err(AppError::NotFound);
    }
    done(
        ctx,
        Entry::new("remove_class_teacher", "class", Some(id)).details(json!({ "user_id": user })),
        &class_path(id),
        format!("Læreren er taget af {}.", class.name),
    )
    .await
}

// ---------------------------------------------------------------------------------------------
// Delegation

async fn delegates(tx: &mut Tx, m: Uuid, institution: Uuid) -> Result<Vec<Person>, sqlx::Error> {
    sqlx::query_as!(
        Person,
        "SELECT u.id, u.name FROM class_delegates d
         JOIN users u ON u.municipality_id = d.municipality_id AND u.id = d.user_id
         WHERE d.municipality_id = $1 AND d.institution_id = $2
         ORDER BY u.name, u.id",
        m,
        institution
    )
    .fetch_all(&mut **tx)
    .await
}

/// Staff (not leaders: they arrange already) of the institution who may be delegated to.
async fn delegable(tx: &mut Tx, m: Uuid, institution: Uuid) -> Result<Vec<Person>, sqlx::Error> {
    sqlx::query_as!(
        Person,
        "SELECT DISTINCT u.id, u.name FROM users u
         JOIN role_assignments r ON r.municipality_id = u.municipality_id AND r.user_id = u.id
         WHERE u.municipality_id = $1 AND r.institution_id = $2 AND r.role = 'staff' AND u.is_active
         ORDER BY u.name, u.id",
        m,
        institution
    )
    .fetch_all(&mut **tx)
    .await
}

#[derive(Default, Deserialize)]
#[serde(default)]
pub struct DelegateForm {
    pub institution_id: String,
    pub user_id: String,
}

/// The municipality, institution and user of a delegation form, for a user who may delegate
/// there.
async fn delegation(ctx: &mut Ctx, f: &DelegateForm) -> AppResult<(Uuid, Uuid, Uuid)> {
    let access = ClassAccess::check(ctx).await?;
    if !access.all && access.leads.is_empty() {
        return Err(AppError::Forbidden);
    }
    let institution = form_id(&f.institution_id, "en institution")?;
    let user = form_id(&f.user_id, "en medarbejder")?;
    let exists = sqlx::query_scalar!(
        r#"SELECT EXISTS (SELECT 1 FROM institutions WHERE municipality_id = $1 AND id = $2) AS "e!""#,
        access.municipality_id,
        institution
    )
    .fetch_one(&mut *ctx.tx)
    .await?;
    if !exists || !access.delegates_at(institution) {
        return Err(AppError::NotFound);
    }
    Ok((access.municipality_id, institution, user))
}

pub async fn grant(mut ctx: Ctx, Form(f): Form<DelegateForm>) -> AppResult<Response> {
    let (m, institution, user) = delegation(&mut ctx, &f).await?;
    let person = delegable(&mut ctx.tx, m, institution)
        .await?
        .into_iter()
        .find(|p| p.id == user)
        .ok_or(AppError::NotFound)?;
    sqlx::query!(
        "INSERT INTO class_delegates (municipality_id, institution_id, user_id, granted_by)
         VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING",
        m,
        institution,
        user,
        ctx.user.id
    )
    .execute(&mut *ctx.tx)
    .await?;
    done(
        ctx,
        Entry::new("grant_class_delegation", "institution", Some(institution))
            .details(json!({ "user_id": user })),
        NAV,
        format!("{} kan nu sætte børn og lærere i klasser.", person.name),
    )
    .await
}

pub async fn revoke(mut ctx: Ctx, Form(f): Form<DelegateForm>) -> AppResult<Response> {
    let (m, institution, user) = delegation(&mut ctx, &f).await?;
    let removed = sqlx::query!(
        "DELETE FROM class_delegates WHERE municipality_id = $1 AND institution_id = $2 AND user_id = $3",
        m,
        institution,
        user
    )
    .execute(&mut *ctx.tx)
    .await?
    .rows_affected();
    if removed == 0 {
        return Err(AppError::NotFound);
    }
    done(
        ctx,
        Entry::new("revoke_class_delegation", "institution", Some(institution))
            .details(json!({ "user_id": user })),
        NAV,
        "Retten til at sætte børn i klasser er taget tilbage.",
    )
    .await
}

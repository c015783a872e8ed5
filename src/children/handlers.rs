//! The children list, the child's page, and creating, editing and deleting a child.

use askama::Template;
use axum::{
    extract::RawQuery,
    response::{IntoResponse, Redirect, Response},
};
use serde::Deserialize;
use serde_json::json;
use time::Date;
use uuid::Uuid;

use super::{
    child_path,
    domain::{format_date, iso_date, like_escape, looks_like_cpr},
    forms::{self, ChildForm, EnrolmentForm, ValidChild, DUPLICATE_CPR},
    institution_options,
    queries::{self, Reach},
    Access, Choice,
};
use crate::{
    audit::Entry,
    auth::{ChildScope, Ctx, Permission},
    web::{
        self, error::constraint_name, AppError, AppResult, FieldErrors, Flash, Form, Layout, Path,
    },
};

const NAV: &str = "/children";
const SEARCH_MAX: usize = 100;

// ---------------------------------------------------------------------------------------------
// The list

#[derive(Default, Deserialize)]
struct ListQuery {
    #[serde(default)]
    q: String,
    #[serde(default)]
    institution: String,
    #[serde(default)]
    page: String,
}

pub struct ListItem {
    pub href: String,
    pub name: String,
    pub birth_date: String,
    pub placements: Vec<String>,
}

/// A page link of the pagination, or a gap (`…`) when `number` is 0.
pub struct PageLink {
    pub number: i64,
    pub href: String,
    pub current: bool,
}

#[derive(Template)]
#[template(path = "children/list.html")]
pub struct ListPage {
    pub layout: Layout,
    pub intro: String,
    pub q: String,
    pub search_error: String,
    pub institutions: Vec<Choice>,
    pub rows: Vec<ListItem>,
    pub total: i64,
    pub first_shown: i64,
    pub last_shown: i64,
    pub page: i64,
    pub page_count: i64,
    pub pages: Vec<PageLink>,
    pub prev_href: String,
    pub next_href: String,
    pub filtered: bool,
    pub can_create: bool,
}

fn list_href(q: &str, institution: Option<Uuid>, page: i64) -> String {
    let mut params = Vec::new();
    if !q.is_empty() {
        params.push(format!("q={}", web::urlencode(q)));
    }
    if let Some(i) = institution {
        params.push(format!("institution={i}"));
    }
    if page > 1 {
        params.push(format!("page={page}"));
    }
    if params.is_empty() {
        NAV.to_string()
    } else {
        format!("{NAV}?{}", params.join("&"))
    }
}

/// Page numbers to link: the first, the last, and two either side of the current one, with
/// gaps (number 0) between.
fn page_window(page: i64, count: i64) -> Vec<i64> {
    let mut out = Vec::new();
    for n in 1..=count {
        if n == 1 || n == count || (n - page).abs() <= 2 {
            if out.last().is_some_and(|&last| last != 0 && n - last > 1) {
                out.push(0);
            }
            out.push(n);
        }
    }
    out
}

const CPR_SEARCH_REFUSED: &str =
    "Søg på barnets navn. Af hensyn til datasikkerheden kan der ikke søges på CPR-nummer.";

#[derive(Default, Deserialize)]
pub struct SearchForm {
    #[serde(default)]
    q: String,
    #[serde(default)]
    institution: String,
}

/// The search form posts here, so that what is typed reaches the address bar (and with it the
/// browser history and any proxy log) only after this check: a CPR number never does.
pub async fn search(ctx: Ctx, Form(f): Form<SearchForm>) -> AppResult<Response> {
    Access::check(&ctx, Permission::ViewChildren)?;
    let q = f.q.split_whitespace().collect::<Vec<_>>().join(" ");
    if looks_like_cpr(&q) {
        return Ok(web::redirect_with_flash(
            NAV,
            Flash {
                kind: "warning",
                message: CPR_SEARCH_REFUSED.into(),
            },
        ));
    }
    let institution = Uuid::parse_str(f.institution.trim()).ok();
    Ok(Redirect::to(&list_href(&q, institution, 1)).into_response())
}

pub async fn list(mut ctx: Ctx, RawQuery(raw): RawQuery) -> AppResult<Response> {
    let access = Access::check(&ctx, Permission::ViewChildren)?;
    let m = access.municipality_id;
    let query: ListQuery = serde_urlencoded::from_str(raw.as_deref().unwrap_or(""))
        .map_err(|_| AppError::BadRequest("Søgningen kunne ikke forstås. Prøv igen.".into()))?;
    let choices = queries::institution_choices(&mut ctx.tx, m, &access.scope).await?;
    let institution = Uuid::parse_str(query.institution.trim())
        .ok()
        .filter(|id| choices.iter().any(|c| c.id == *id));
    let page = query
        .page
        .trim()
        .parse::<i64>()
        .ok()
        .filter(|p| (1..=1_000_000).contains(p))
        .unwrap_or(1);

    let mut q = query.q.split_whitespace().collect::<Vec<_>>().join(" ");
    let mut search_error = String::new();
    if q.chars().count() > SEARCH_MAX {
        search_error = format!("Søgningen må højst være {SEARCH_MAX} tegn.");
    } else if q.chars().any(char::is_control) {
        search_error = "Søgningen indeholder ugyldige tegn.".into();
    } else if looks_like_cpr(&q) {
        search_error = CPR_SEARCH_REFUSED.into();
    }

    let (rows, total) = if search_error.is_empty() {
        let pattern = (!q.is_empty()).then(|| like_escape(&q));
        let filter = queries::ListFilter {
            pattern: pattern.as_deref(),
            institution,
            page,
        };
        queries::list(&mut ctx.tx, m, &access.scope, &filter).await?
    } else {
        // The refused text is not echoed back, not searched and not audited.
        q.clear();
        (Vec::new(), 0)
    };

    ctx.audit(Entry::new("list", "child", None).details(json!({
        // whether a name was searched, not the name: the log outlives the child's anonymisation
        "name_search": !q.is_empty(),
        "institution_id": institution,
        "page": page,
        "shown": rows.len(),
    })))
    .await?;

    let page_count = ((total + queries::PAGE_SIZE - 1) / queries::PAGE_SIZE).max(1);
    let first_shown = (page - 1) * queries::PAGE_SIZE + 1;
    let items: Vec<ListItem> = rows
        .into_iter()
        .map(|r| ListItem {
            href: child_path(r.id),
            name: format!("{} {}", r.first_name, r.last_name),
            birth_date: format_date(r.birth_date),
            placements: r
                .placements
                .0
                .into_iter()
                .filter(|p| p.current(ctx.today))
                .map(|p| {
                    let mut text = p.institution;
                    if let Some(g) = p.group_name {
                        text = format!("{text}, {g}");
                    }
                    if p.starts_on > ctx.today {
                        text = format!("{text} (fra {})", format_date(p.starts_on));
                    }
                    text
                })
                .collect(),
        })
        .collect();
    let intro = match &access.scope {
        ChildScope::Municipality => "Alle børn i kommunen.".to_string(),
        _ if choices.is_empty() => {
            "Du er ikke tilknyttet en institution, så der er ingen børn at vise.".to_string()
        }
        _ => format!(
            "Børn, der er eller bliver indskrevet i {}.",
            choices
                .iter()
                .map(|c| c.name.as_str())
                .collect::<Vec<_>>()
                .join(" og ")
        ),
    };
    let page_view = ListPage {
        layout: ctx.layout("Børn", NAV),
        intro,
        search_error,
        institutions: institution_options(
            &choices,
            &institution.map(|i| i.to_string()).unwrap_or_default(),
        ),
        last_shown: first_shown + items.len() as i64 - 1,
        first_shown,
        rows: items,
        total,
        page,
        page_count,
        pages: page_window(page, page_count)
            .into_iter()
            .map(|n| PageLink {
                number: n,
                href: list_href(&q, institution, n),
                current: n == page,
            })
            .collect(),
        prev_href: if page > 1 {
            list_href(&q, institution, page - 1)
        } else {
            String::new()
        },
        next_href: if page < page_count {
            list_href(&q, institution, page + 1)
        } else {
            String::new()
        },
        filtered: !q.is_empty() || institution.is_some(),
        q,
        can_create: ctx.user.can(Permission::EditChildren) && !choices.is_empty(),
    };
    let html = web::render(&page_view)?;
    ctx.commit().await?;
    Ok(html.into_response())
}

// ---------------------------------------------------------------------------------------------
// The child's page

pub struct ChildView {
    pub id: Uuid,
    pub name: String,
    pub first_name: String,
    pub last_name: String,
    pub birth_date: String,
    pub cpr_masked: Option<String>,
}

pub struct GuardianView {
    pub edit_href: String,
    pub delete_action: String,
    pub name: String,
    pub relation: String,
    pub email: Option<String>,
    pub phone: Option<String>,
    pub has_custody: bool,
}

pub struct EnrolmentView {
    pub end_href: String,
    pub delete_action: String,
    pub institution: String,
    pub group_name: Option<String>,
    pub starts_on: String,
    pub ends_on: Option<String>,
    pub status: &'static str,
    pub can_end: bool,
    pub can_delete: bool,
}

#[derive(Template)]
#[template(path = "children/show.html")]
pub struct ShowPage {
    pub layout: Layout,
    pub child: ChildView,
    pub guardians: Vec<GuardianView>,
    pub enrolments: Vec<EnrolmentView>,
    pub can_edit: bool,
    /// Links to the child's access log and data export (administrators).
    pub can_audit: bool,
}

fn child_view(c: &queries::Child) -> ChildView {
    ChildView {
        id: c.id,
        name: format!("{} {}", c.first_name, c.last_name),
        first_name: c.first_name.clone(),
        last_name: c.last_name.clone(),
        birth_date: format_date(c.birth_date),
        cpr_masked: c.cpr.as_ref().map(|c| c.masked()),
    }
}

fn enrolment_status(starts_on: Date, ends_on: Option<Date>, today: Date) -> &'static str {
    match ends_on {
        Some(end) if end < today => "Afsluttet",
        _ if starts_on > today => "Kommende",
        _ => "Aktiv",
    }
}

pub async fn show(mut ctx: Ctx, Path(id): Path<Uuid>) -> AppResult<Response> {
    let access = Access::check(&ctx, Permission::ViewChildren)?;
    let m = access.municipality_id;
    let child = queries::find_child(&mut ctx.tx, m, &access.scope, id, Reach::View)
        .await?
        .ok_or(AppError::NotFound)?;
    // Seeing a child through a transition is not a licence to change it.
    let editable = queries::in_scope(&mut ctx.tx, m, &access.scope, id).await?;
    let guardians = queries::guardians(&mut ctx.tx, m, id).await?;
    let enrolments = queries::enrolments(&mut ctx.tx, m, id).await?;
    let today = ctx.today;
    ctx.audit(Entry::new("read", "child", Some(id)).child(id))
        .await?;
    let can_edit = editable && ctx.user.can(Permission::EditChildren);
    let base = child_path(id);
    let page = ShowPage {
        layout: ctx.layout(&format!("{} {}", child.first_name, child.last_name), NAV),
        child: child_view(&child),
        guardians: guardians
            .into_iter()
            .map(|g| GuardianView {
                edit_href: format!("{base}/guardians/{}/edit", g.id),
                delete_action: format!("{base}/guardians/{}/delete", g.id),
                name: g.name,
                relation: g.relation,
                email: g.email,
                phone: g.phone,
                has_custody: g.has_custody,
            })
            .collect(),
        enrolments: enrolments
            .into_iter()
            .map(|e| {
                let manages = can_edit && access.manages(e.institution_id);
                EnrolmentView {
                    end_href: format!("{base}/enrolments/{}/end", e.id),
                    delete_action: format!("{base}/enrolments/{}/delete", e.id),
                    status: enrolment_status(e.starts_on, e.ends_on, today),
                    can_end: manages && !matches!(e.ends_on, Some(end) if end < today),
                    can_delete: manages,
                    institution: e.institution,
                    group_name: e.group_name,
                    starts_on: format_date(e.starts_on),
                    ends_on: e.ends_on.map(format_date),
                }
            })
            .collect(),
        can_edit,
        can_audit: ctx.user.can(Permission::ViewAuditLog),
    };
    let html = web::render(&page)?;
    ctx.commit().await?;
    Ok(html.into_response())
}

// ---------------------------------------------------------------------------------------------
// Create and edit

/// The form view; `form.cpr` is always empty here (the number is never sent back).
pub struct FormView {
    pub first_name: String,
    pub last_name: String,
    pub birth_date: String,
    pub remove_cpr: bool,
    pub group_name: String,
    pub starts_on: String,
}

impl FormView {
    fn from_form(f: &ChildForm) -> FormView {
        FormView {
            first_name: f.first_name.clone(),
            last_name: f.last_name.clone(),
            birth_date: f.birth_date.clone(),
            remove_cpr: f.remove_cpr.is_some(),
            group_name: f.group_name.clone(),
            starts_on: f.starts_on.clone(),
        }
    }
}

#[derive(Template)]
#[template(path = "children/form.html")]
pub struct FormPage {
    pub layout: Layout,
    pub heading: String,
    pub action: String,
    pub cancel_href: String,
    /// Create (with the first enrolment) rather than edit.
    pub is_new: bool,
    pub form: FormView,
    pub errors: FieldErrors,
    pub cpr_hint: String,
    /// Edit: a number is on record (offer to remove it).
    pub has_cpr: bool,
    pub institutions: Vec<Choice>,
    /// Edit: the delete form's action, when the user may delete the child.
    pub delete_action: String,
}

fn cpr_hint(is_new: bool, has_cpr: bool, typed: bool) -> String {
    let base = if is_new {
        "10 cifre, fx DDMMÅÅ-XXXX. Fødselsdatoen udfyldes ud fra CPR-nummeret, hvis du lader den stå tom."
    } else if has_cpr {
        "Der er registreret et CPR-nummer. Udfyld kun for at ændre det."
    } else {
        "10 cifre, fx DDMMÅÅ-XXXX."
    };
    if typed {
        format!("{base} Af hensyn til sikkerheden skal CPR-nummeret skrives igen.")
    } else {
        base.to_string()
    }
}

pub async fn new_form(mut ctx: Ctx) -> AppResult<Response> {
    let access = Access::check(&ctx, Permission::EditChildren)?;
    let choices =
        queries::institution_choices(&mut ctx.tx, access.municipality_id, &access.scope).await?;
    let today = ctx.today;
    // Leaders and staff usually have one institution: pre-select it.
    let preselected = match choices.as_slice() {
        [only] => only.id.to_string(),
        _ => String::new(),
    };
    let page = FormPage {
        layout: ctx.layout("Opret barn", NAV),
        heading: "Opret barn".into(),
        action: NAV.into(),
        cancel_href: NAV.into(),
        is_new: true,
        form: FormView {
            first_name: String::new(),
            last_name: String::new(),
            birth_date: String::new(),
            remove_cpr: false,
            group_name: String::new(),
            starts_on: iso_date(today),
        },
        errors: FieldErrors::default(),
        cpr_hint: cpr_hint(true, false, false),
        has_cpr: false,
        institutions: institution_options(&choices, &preselected),
        delete_action: String::new(),
    };
    Ok(web::render(&page)?.into_response())
}

pub async fn create(mut ctx: Ctx, Form(f): Form<ChildForm>) -> AppResult<Response> {
    let access = Access::check(&ctx, Permission::EditChildren)?;
    let m = access.municipality_id;
    let choices = queries::institution_choices(&mut ctx.tx, m, &access.scope).await?;
    let allowed: Vec<Uuid> = choices.iter().map(|c| c.id).collect();
    let today = ctx.today;
    let mut errors = FieldErrors::default();
    let child = forms::validate_child(&f, today, None, &mut errors);
    let enrolment = forms::validate_enrolment(
        &EnrolmentForm::from_child_form(&f),
        &allowed,
        child.as_ref().map(|c| c.birth_date),
        today,
        &mut errors,
    );
    let invalid = |ctx: &Ctx, errors: FieldErrors| {
        web::render_invalid(&FormPage {
            layout: ctx.layout("Opret barn", NAV),
            heading: "Opret barn".into(),
            action: NAV.into(),
            cancel_href: NAV.into(),
            is_new: true,
            form: FormView::from_form(&f),
            errors,
            cpr_hint: cpr_hint(true, false, !f.cpr.trim().is_empty()),
            has_cpr: false,
            institutions: institution_options(&choices, &f.institution_id),
            delete_action: String::new(),
        })
    };
    let (Some(child), Some(enrolment)) = (child, enrolment) else {
        return invalid(&ctx, errors);
    };

    let inserted = queries::insert_child(
        &mut ctx.tx,
        m,
        &queries::NewChild {
            first_name: child.first_name.as_str(),
            last_name: child.last_name.as_str(),
            birth_date: child.birth_date,
            cpr: child.cpr.as_ref(),
        },
    )
    .await;
    let id = match inserted {
        Ok(id) => id,
        Err(e) if constraint_name(&e) == Some("children_cpr") => {
            errors.add("cpr", DUPLICATE_CPR);
            return invalid(&ctx, errors);
        }
        Err(e) => return Err(e.into()),
    };
    let enrolment_id = queries::insert_enrolment(
        &mut ctx.tx,
        m,
        id,
        &queries::NewEnrolment {
            institution_id: enrolment.institution_id,
            group_name: enrolment.group_name.as_ref().map(|g| g.as_str()),
            starts_on: enrolment.starts_on,
            ends_on: None,
        },
    )
    .await?;
    ctx.audit(
        Entry::new("create", "child", Some(id))
            .child(id)
            .details(json!({"with_cpr": child.cpr.is_some()})),
    )
    .await?;
    if let Some(action) = child.cpr_change.audit_action() {
        ctx.audit(Entry::new(action, "child", Some(id)).child(id))
            .await?;
    }
    ctx.audit(
        Entry::new("create", "enrolment", Some(enrolment_id))
            .child(id)
            .details(json!({
                "institution_id": enrolment.institution_id,
                "starts_on": iso_date(enrolment.starts_on),
            })),
    )
    .await?;
    ctx.commit().await?;
    Ok(web::redirect_with_flash(
        &child_path(id),
        Flash::success("Barnet er oprettet."),
    ))
}

/// Whether the user may delete the child: administrators always; leaders and staff only when
/// they manage every institution whose records deleting the child would remove
/// (`queries::institutions_of`).
async fn may_delete(ctx: &mut Ctx, access: &Access, id: Uuid) -> AppResult<bool> {
    let institutions = queries::institutions_of(&mut ctx.tx, access.municipality_id, id).await?;
    Ok(institutions.iter().all(|i| access.manages(*i)))
}

fn edit_page(
    ctx: &Ctx,
    child: &queries::Child,
    form: FormView,
    errors: FieldErrors,
    typed_cpr: bool,
    can_delete: bool,
) -> FormPage {
    let name = format!("{} {}", child.first_name, child.last_name);
    let has_cpr = child.cpr.is_some();
    FormPage {
        layout: ctx.layout(&format!("Redigér {name}"), NAV),
        heading: format!("Redigér {name}"),
        action: format!("{}/edit", child_path(child.id)),
        cancel_href: child_path(child.id),
        is_new: false,
        form,
        errors,
        cpr_hint: cpr_hint(false, has_cpr, typed_cpr),
        has_cpr,
        institutions: Vec::new(),
        delete_action: if can_delete {
            format!("{}/delete", child_path(child.id))
        } else {
            String::new()
        },
    }
}

pub async fn edit_form(mut ctx: Ctx, Path(id): Path<Uuid>) -> AppResult<Response> {
    let access = Access::check(&ctx, Permission::EditChildren)?;
    let m = access.municipality_id;
    let child = queries::find_child(&mut ctx.tx, m, &access.scope, id, Reach::Edit)
        .await?
        .ok_or(AppError::NotFound)?;
    let can_delete = may_delete(&mut ctx, &access, id).await?;
    ctx.audit(
        Entry::new("read", "child", Some(id))
            .child(id)
            .details(json!({"view": "edit"})),
    )
    .await?;
    let form = FormView {
        first_name: child.first_name.clone(),
        last_name: child.last_name.clone(),
        birth_date: iso_date(child.birth_date),
        remove_cpr: false,
        group_name: String::new(),
        starts_on: String::new(),
    };
    let page = edit_page(
        &ctx,
        &child,
        form,
        FieldErrors::default(),
        false,
        can_delete,
    );
    let html = web::render(&page)?;
    ctx.commit().await?;
    Ok(html.into_response())
}

/// The names of the fields an edit changes (for the audit log; values stay out of it).
fn changed_fields(old: &queries::Child, new: &ValidChild) -> Vec<&'static str> {
    let mut fields = Vec::new();
    if old.first_name != new.first_name.as_str() {
        fields.push("first_name");
    }
    if old.last_name != new.last_name.as_str() {
        fields.push("last_name");
    }
    if old.birth_date != new.birth_date {
        fields.push("birth_date");
    }
    fields
}

pub async fn update(
    mut ctx: Ctx,
    Path(id): Path<Uuid>,
    Form(f): Form<ChildForm>,
) -> AppResult<Response> {
    let access = Access::check(&ctx, Permission::EditChildren)?;
    let m = access.municipality_id;
    let child = queries::lock_child(&mut ctx.tx, m, &access.scope, id)
        .await?
        .ok_or(AppError::NotFound)?;
    let today = ctx.today;
    // Needed by a re-rendered form, and must be read before a failed statement aborts the
    // transaction.
    let can_delete = may_delete(&mut ctx, &access, id).await?;
    let mut errors = FieldErrors::default();
    let valid = forms::validate_child(&f, today, child.cpr.as_ref(), &mut errors);
    let Some(valid) = valid else {
        let typed = !f.cpr.trim().is_empty();
        return web::render_invalid(&edit_page(
            &ctx,
            &child,
            FormView::from_form(&f),
            errors,
            typed,
            can_delete,
        ));
    };
    let fields = changed_fields(&child, &valid);
    if fields.is_empty() && valid.cpr_change.audit_action().is_none() {
        return Ok(web::redirect_with_flash(
            &child_path(id),
            Flash::info("Der var ingen ændringer at gemme."),
        ));
    }
    let updated = queries::update_child(
        &mut ctx.tx,
        m,
        id,
        &queries::NewChild {
            first_name: valid.first_name.as_str(),
            last_name: valid.last_name.as_str(),
            birth_date: valid.birth_date,
            cpr: valid.cpr.as_ref(),
        },
    )
    .await;
    match updated {
        Ok(()) => {}
        Err(e) if constraint_name(&e) == Some("children_cpr") => {
            errors.add("cpr", DUPLICATE_CPR);
            // The failed statement aborted the transaction; the page needs nothing more from it.
            return web::render_invalid(&edit_page(
                &ctx,
                &child,
                FormView::from_form(&f),
                errors,
                true,
                can_delete,
            ));
        }
        Err(e) => return Err(e.into()),
    }
    if !fields.is_empty() {
        ctx.audit(
            Entry::new("update", "child", Some(id))
                .child(id)
                .details(json!({ "fields": fields })),
        )
        .await?;
    }
    if let Some(action) = valid.cpr_change.audit_action() {
        ctx.audit(Entry::new(action, "child", Some(id)).child(id))
            .await?;
    }
    ctx.commit().await?;
    Ok(web::redirect_with_flash(
        &child_path(id),
        Flash::success("Oplysningerne er gemt."),
    ))
}

pub async fn delete(mut ctx: Ctx, Path(id): Path<Uuid>) -> AppResult<Response> {
    let access = Access::check(&ctx, Permission::EditChildren)?;
    let m = access.municipality_id;
    queries::lock_child(&mut ctx.tx, m, &access.scope, id)
        .await?
        .ok_or(AppError::NotFound)?;
    if !may_delete(&mut ctx, &access, id).await? {
        return Ok(web::redirect_with_flash(
            &format!("{}/edit", child_path(id)),
            Flash {
                kind: "warning",
                message: "Barnet er også indskrevet i eller har en overgang til en anden institution, og dens oplysninger ville blive slettet med barnet. Derfor kan kun en administrator slette barnet.".into(),
            },
        ));
    }
    let enrolments = queries::enrolments(&mut ctx.tx, m, id).await?;
    let guardians = queries::guardians(&mut ctx.tx, m, id).await?;
    queries::delete_child(&mut ctx.tx, m, id).await?;
    ctx.audit(
        Entry::new("delete", "child", Some(id))
            .child(id)
            .details(json!({"guardians": guardians.len(), "enrolments": enrolments.len()})),
    )
    .await?;
    ctx.commit().await?;
    Ok(web::redirect_with_flash(
        NAV,
        Flash::success("Barnet og dets oplysninger er slettet."),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::date;

    #[test]
    fn page_windows() {
        assert_eq!(page_window(1, 1), vec![1]);
        assert_eq!(page_window(1, 3), vec![1, 2, 3]);
        assert_eq!(page_window(1, 10), vec![1, 2, 3, 0, 10]);
        assert_eq!(page_window(6, 10), vec![1, 0, 4, 5, 6, 7, 8, 0, 10]);
        assert_eq!(page_window(4, 10), vec![1, 2, 3, 4, 5, 6, 0, 10]);
    }

    #[test]
    fn list_links_keep_the_filter() {
        assert_eq!(list_href("", None, 1), "/children");
        let i = Uuid::nil();
        assert_eq!(
            list_href("Ås & co", Some(i), 2),
            format!("/children?q=%C3%85s%20%26%20co&institution={i}&page=2")
        );
    }

    #[test]
    fn statuses() {
        let today = date!(2026 - 11 - 23);
        let s = |a, b| enrolment_status(a, b, today);
        assert_eq!(s(date!(2024 - 08 - 01), None), "Aktiv");
        assert_eq!(s(date!(2024 - 08 - 01), Some(today)), "Aktiv");
        assert_eq!(
            s(date!(2024 - 08 - 01), Some(date!(2026 - 11 - 22))),
            "Afsluttet"
        );
        assert_eq!(s(date!(2027 - 08 - 01), None), "Kommende");
    }

    #[test]
    fn the_cpr_hint_asks_to_retype() {
        assert!(cpr_hint(false, true, false).contains("Udfyld kun for at ændre"));
        assert!(cpr_hint(true, false, true).contains("skrives igen"));
    }
}

//! A child's guardians: add, edit, remove. Each route first finds the child in the user's
//! scope, then the guardian among that child's guardians, so a foreign id is a 404.

use askama::Template;
use axum::response::{IntoResponse, Response};
use serde_json::json;
use uuid::Uuid;

use super::{
    child_path,
    forms::{self, GuardianForm, ValidGuardian},
    queries::{self, Reach},
    Access,
};
use crate::{
    audit::Entry,
    auth::{Ctx, Permission},
    web::{self, AppError, AppResult, FieldErrors, Flash, Form, Layout, Path},
};

const NAV: &str = "/children";

pub struct GuardianFormView {
    pub name: String,
    pub relation: String,
    pub email: String,
    pub phone: String,
    pub has_custody: bool,
}

impl GuardianFormView {
    fn from_form(f: &GuardianForm) -> Self {
        GuardianFormView {
            name: f.name.clone(),
            relation: f.relation.clone(),
            email: f.email.clone(),
            phone: f.phone.clone(),
            has_custody: f.custody(),
        }
    }
}

#[derive(Template)]
#[template(path = "children/guardian_form.html")]
pub struct GuardianPage {
    pub layout: Layout,
    pub heading: String,
    pub child_name: String,
    pub action: String,
    pub cancel_href: String,
    pub submit: &'static str,
    pub form: GuardianFormView,
    pub errors: FieldErrors,
}

fn page(
    ctx: &Ctx,
    child: &queries::Child,
    guardian: Option<Uuid>,
    form: GuardianFormView,
    errors: FieldErrors,
) -> GuardianPage {
    let child_name = format!("{} {}", child.first_name, child.last_name);
    let base = child_path(child.id);
    let (heading, action, submit) = match guardian {
        None => (
            "Tilføj forælder eller værge",
            format!("{base}/guardians"),
            "Tilføj",
        ),
        Some(gid) => (
            "Redigér forælder eller værge",
            format!("{base}/guardians/{gid}/edit"),
            "Gem",
        ),
    };
    GuardianPage {
        layout: ctx.layout(&format!("{heading} – {child_name}"), NAV),
        heading: heading.into(),
        child_name,
        action,
        cancel_href: base,
        submit,
        form,
        errors,
    }
}

async fn child_in_scope(ctx: &mut Ctx, access: &Access, id: Uuid) -> AppResult<queries::Child> {
    queries::lock_child(&mut ctx.tx, access.municipality_id, &access.scope, id)
        .await?
        .ok_or(AppError::NotFound)
}

pub async fn new_form(mut ctx: Ctx, Path(id): Path<Uuid>) -> AppResult<Response> {
    let access = Access::check(&ctx, Permission::EditChildren)?;
    let child = queries::find_child(
        &mut ctx.tx,
        access.municipality_id,
        &access.scope,
        id,
        Reach::Edit,
    )
    .await?
    .ok_or(AppError::NotFound)?;
    let form = GuardianFormView {
        name: String::new(),
        relation: "Forælder".into(),
        email: String::new(),
        phone: String::new(),
        has_custody: true,
    };
    Ok(web::render(&page(&ctx, &child, None, form, FieldErrors::default()))?.into_response())
}

fn data(g: &ValidGuardian) -> queries::GuardianData<'_> {
    queries::GuardianData {
        name: g.name.as_str(),
        relation: g.relation.as_str(),
        email: g.email.as_ref().map(|e| e.as_str()),
        phone: g.phone.as_ref().map(|p| p.as_str()),
        has_custody: g.has_custody,
    }
}

pub async fn create(
    mut ctx: Ctx,
    Path(id): Path<Uuid>,
    Form(f): Form<GuardianForm>,
) -> AppResult<Response> {
    let access = Access::check(&ctx, Permission::EditChildren)?;
    let child = child_in_scope(&mut ctx, &access, id).await?;
    let mut errors = FieldErrors::default();
    let Some(g) = forms::validate_guardian(&f, &mut errors) else {
        let view = GuardianFormView::from_form(&f);
        return web::render_invalid(&page(&ctx, &child, None, view, errors));
    };
    let new = data(&g);
    if touches_consent(None, Some((new.has_custody, new.email))) {
        consent_may_change(&mut ctx, &access, id).await?;
    }
    let gid = queries::insert_guardian(&mut ctx.tx, access.municipality_id, id, &new).await?;
    ctx.audit(
        Entry::new("create", "guardian", Some(gid))
            .child(id)
            .details(json!({"has_custody": g.has_custody})),
    )
    .await?;
    ctx.commit().await?;
    Ok(web::redirect_with_flash(
        &child_path(id),
        Flash::success("Forælderen er tilføjet."),
    ))
}

pub async fn edit_form(mut ctx: Ctx, Path((id, gid)): Path<(Uuid, Uuid)>) -> AppResult<Response> {
    let access = Access::check(&ctx, Permission::EditChildren)?;
    let m = access.municipality_id;
    let child = queries::find_child(&mut ctx.tx, m, &access.scope, id, Reach::Edit)
        .await?
        .ok_or(AppError::NotFound)?;
    let g = queries::find_guardian(&mut ctx.tx, m, id, gid)
        .await?
        .ok_or(AppError::NotFound)?;
    ctx.audit(
        Entry::new("read", "guardian", Some(gid))
            .child(id)
            .details(json!({"view": "edit"})),
    )
    .await?;
    let form = GuardianFormView {
        name: g.name,
        relation: g.relation,
        email: g.email.unwrap_or_default(),
        phone: g.phone.unwrap_or_default(),
        has_custody: g.has_custody,
    };
    let html = web::render(&page(&ctx, &child, Some(gid), form, FieldErrors::default()))?;
    ctx.commit().await?;
    Ok(html.into_response())
}

/// Whether a change of a guardian touches what a handover's consent rests on: who has custody
/// (consent to a sensitive section needs every custody guardian) and where a custody
/// guardian's link is mailed (the link shows the draft and gives consent). `old` is the
/// guardian before (none: added), `new` after (none: removed).
fn touches_consent(old: Option<(bool, Option<&str>)>, new: Option<(bool, Option<&str>)>) -> bool {
    let custody = |g: Option<(bool, Option<&str>)>| g.is_some_and(|(c, _)| c);
    match (old, new) {
        (Some((true, old_email)), Some((true, new_email))) => !same_email(old_email, new_email),
        _ => custody(old) || custody(new),
    }
}

/// Two e-mail addresses (none counts as empty) are the same, whatever the case.
fn same_email(a: Option<&str>, b: Option<&str>) -> bool {
    a.unwrap_or_default()
        .eq_ignore_ascii_case(b.unwrap_or_default())
}

/// Refuses (409) a change that touches consent (`touches_consent`) unless the user acts for
/// the sending side of every handover of the child whose consent still counts
/// (`queries::consent_senders`). At the receiving end, removing the guardian who refused would
/// show the sensitive section, and a custody guardian's e-mail changed to one's own, or a
/// custody guardian added with it, would bring the parents' link, the draft and the consent
/// button to the receiver.
async fn consent_may_change(ctx: &mut Ctx, access: &Access, child: Uuid) -> AppResult<()> {
    let senders = queries::consent_senders(&mut ctx.tx, access.municipality_id, child).await?;
    if senders.iter().all(|s| access.manages(*s)) {
        return Ok(());
    }
    Err(AppError::Conflict(
        "Forældremyndigheden og forældrenes e-mail afgør samtykket i en overlevering fra en anden institution. Kun den afsendende institution eller en administrator kan ændre dem."
            .into(),
    ))
}

pub async fn update(
    mut ctx: Ctx,
    Path((id, gid)): Path<(Uuid, Uuid)>,
    Form(f): Form<GuardianForm>,
) -> AppResult<Response> {
    let access = Access::check(&ctx, Permission::EditChildren)?;
    let m = access.municipality_id;
    let child = child_in_scope(&mut ctx, &access, id).await?;
    let old = queries::find_guardian(&mut ctx.tx, m, id, gid)
        .await?
        .ok_or(AppError::NotFound)?;
    let mut errors = FieldErrors::default();
    let Some(g) = forms::validate_guardian(&f, &mut errors) else {
        let view = GuardianFormView::from_form(&f);
        return web::render_invalid(&page(&ctx, &child, Some(gid), view, errors));
    };
    let new = data(&g);
    let mut fields = Vec::new();
    if old.name != new.name {
        fields.push("name");
    }
    if old.relation != new.relation {
        fields.push("relation");
    }
    if old.email.as_deref() != new.email {
        fields.push("email");
    }
    if old.phone.as_deref() != new.phone {
        fields.push("phone");
    }
    if old.has_custody != new.has_custody {
        fields.push("has_custody");
    }
    if fields.is_empty() {
        return Ok(web::redirect_with_flash(
            &child_path(id),
            Flash::info("Der var ingen ændringer at gemme."),
        ));
    }
    if touches_consent(
        Some((old.has_custody, old.email.as_deref())),
        Some((new.has_custody, new.email)),
    ) {
        consent_may_change(&mut ctx, &access, id).await?;
    }
    queries::update_guardian(&mut ctx.tx, m, id, gid, &new).await?;
    // A link mailed to the old address (a typo corrected, say) stops working, and so do the
    // links of a guardian whose custody ended.
    let revoked = if old.has_custody && !new.has_custody {
        crate::parents::revoke_guardian_links(&mut ctx.tx, m, gid, None, ctx.user.id).await?
    } else if !same_email(old.email.as_deref(), new.email) {
        let new_email = new.email.unwrap_or_default();
        crate::parents::revoke_guardian_links(&mut ctx.tx, m, gid, Some(new_email), ctx.user.id)
            .await?
    } else {
        0
    };
    ctx.audit(
        Entry::new("update", "guardian", Some(gid))
            .child(id)
            .details(json!({ "fields": fields, "links_revoked": revoked })),
    )
    .await?;
    ctx.commit().await?;
    Ok(web::redirect_with_flash(
        &child_path(id),
        Flash::success(if revoked > 0 {
            "Oplysningerne om forælderen er gemt. Forælderens link er trukket tilbage, fordi e-mailadressen eller forældremyndigheden er ændret: send et nyt fra overgangens side om forældrene."
        } else {
            "Oplysningerne om forælderen er gemt."
        }),
    ))
}

pub async fn delete(mut ctx: Ctx, Path((id, gid)): Path<(Uuid, Uuid)>) -> AppResult<Response> {
    let access = Access::check(&ctx, Permission::EditChildren)?;
    let m = access.municipality_id;
    child_in_scope(&mut ctx, &access, id).await?;
    let g = queries::find_guardian(&mut ctx.tx, m, id, gid)
        .await?
        .ok_or(AppError::NotFound)?;
    if touches_consent(Some((g.has_custody, g.email.as_deref())), None) {
        consent_may_change(&mut ctx, &access, id).await?;
    }
    queries::delete_guardian(&mut ctx.tx, m, id, gid).await?;
    ctx.audit(Entry::new("delete", "guardian", Some(gid)).child(id))
        .await?;
    ctx.commit().await?;
    Ok(web::redirect_with_flash(
        &child_path(id),
        Flash::success("Forælderen er fjernet."),
    ))
}

#[cfg(test)]
mod tests {
    use super::touches_consent;

    #[test]
    fn consent_rests_on_custody_and_the_custody_guardians_email() {
        let (a, b) = (Some("a@example.dk"), Some("b@example.dk"));
        // added or removed: only with custody
        assert!(touches_consent(None, Some((true, a))));
        assert!(!touches_consent(None, Some((false, a))));
        assert!(touches_consent(Some((true, None)), None));
        assert!(!touches_consent(Some((false, a)), None));
        // custody granted or taken away
        assert!(touches_consent(Some((false, a)), Some((true, a))));
        assert!(touches_consent(Some((true, a)), Some((false, a))));
        // a custody guardian's e-mail, but not its spelling
        assert!(touches_consent(Some((true, a)), Some((true, b))));
        assert!(touches_consent(Some((true, None)), Some((true, a))));
        assert!(touches_consent(Some((true, a)), Some((true, None))));
        assert!(!touches_consent(
            Some((true, a)),
            Some((true, Some("A@example.dk")))
        ));
        assert!(!touches_consent(Some((true, a)), Some((true, a))));
        // without custody, the e-mail gets no link
        assert!(!touches_consent(Some((false, a)), Some((false, b))));
    }
}

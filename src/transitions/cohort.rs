//! Creating a whole cohort's transitions at once: "all children born in YEAR enrolled now at
//! these institutions → receiving institution, kind, planned date". Leaders choose among their
//! own institutions, administrators among all (or a cluster's). A preview shows how many will be
//! created and skipped (children with an open transition of the kind already); the confirmation
//! creates them all in one transaction.

use askama::Template;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use uuid::Uuid;

use super::queries;
use crate::{
    auth::{Ctx, Permission, Role},
    children::Access,
    forms::{self, TransitionKind},
    web::{self, AppError, AppResult, FieldErrors, Flash, Form, Layout, SelectOption},
};

#[derive(Clone, Default, Deserialize)]
#[serde(default)]
pub struct CohortForm {
    pub birth_year: String,
    pub institutions: Vec<String>,
    pub cluster: String,
    pub receiving_institution_id: String,
    pub kind: String,
    pub planned_date: String,
    pub responsible_user_id: String,
    pub confirm: String,
}

pub struct Preview {
    pub create: usize,
    pub skipped: usize,
}

#[derive(Template)]
#[template(path = "transitions/cohort.html")]
pub struct CohortPage {
    pub layout: Layout,
    pub form: CohortForm,
    pub institutions: Vec<SelectOption>,
    pub clusters: Option<Vec<SelectOption>>,
    pub receiving: Vec<SelectOption>,
    pub kinds: Vec<SelectOption>,
    pub staff: Vec<SelectOption>,
    pub errors: FieldErrors,
    pub preview: Option<Preview>,
}

/// What the user may choose from; only leaders and administrators may create cohorts.
struct Choices {
    municipality_id: Uuid,
    admin: bool,
    /// The institutions the user may send from.
    sending: Vec<queries::Choice>,
    all: Vec<queries::Choice>,
    clusters: Vec<queries::Choice>,
    kinds: Vec<TransitionKind>,
    staff: Vec<queries::Choice>,
}

async fn choices(ctx: &mut Ctx) -> AppResult<Choices> {
    let access = Access::check(ctx, Permission::EditChildren)?;
    let admin = ctx.user.has_role(Role::MunicipalAdmin);
    let led: Vec<Uuid> = ctx
        .user
        .institutions_with(Role::InstitutionLeader)
        .collect();
    if !admin && led.is_empty() {
        return Err(AppError::Forbidden);
    }
    let m = access.municipality_id;
    let all = queries::active_institutions(&mut ctx.tx, m).await?;
    let sending: Vec<queries::Choice> = all
        .iter()
        .filter(|i| admin || led.contains(&i.id))
        .map(|i| queries::Choice {
            id: i.id,
            name: i.name.clone(),
        })
        .collect();
    let clusters = if admin {
        queries::clusters(&mut ctx.tx, m).await?
    } else {
        Vec::new()
    };
    // A leader hands the relay to someone at their own institutions; an administrator's cohort
    // starts unassigned and the leaders assign it.
    let mut staff = Vec::new();
    if !admin {
        for i in &led {
            for s in queries::staff_of(&mut ctx.tx, m, *i).await? {
                if !staff.iter().any(|x: &queries::Choice| x.id == s.id) {
                    staff.push(s);
                }
            }
        }
        staff.sort_by(|a, b| a.name.cmp(&b.name));
    }
    let kinds = queries::enabled_kinds(&mut ctx.tx, m).await?;
    Ok(Choices {
        municipality_id: m,
        admin,
        sending,
        all,
        clusters,
        kinds,
        staff,
    })
}

fn options(list: &[queries::Choice], selected: &[String]) -> Vec<SelectOption> {
    list.iter()
        .map(|c| {
            let id = c.id.to_string();
            let on = selected.iter().any(|s| s.trim() == id);
            SelectOption::new(id, c.name.clone(), on)
        })
        .collect()
}

fn page(
    ctx: &Ctx,
    c: &Choices,
    form: CohortForm,
    errors: FieldErrors,
    preview: Option<Preview>,
) -> CohortPage {
    CohortPage {
        layout: ctx.layout("Opret overgange for en årgang", super::handlers::NAV),
        institutions: options(&c.sending, &form.institutions),
        clusters: c
            .admin
            .then(|| options(&c.clusters, std::slice::from_ref(&form.cluster))),
        receiving: options(&c.all, std::slice::from_ref(&form.receiving_institution_id)),
        kinds: c
            .kinds
            .iter()
            .map(|k| SelectOption::new(k.as_str(), k.label(), k.as_str() == form.kind.trim()))
            .collect(),
        staff: options(&c.staff, std::slice::from_ref(&form.responsible_user_id)),
        form,
        errors,
        preview,
    }
}

pub async fn form(mut ctx: Ctx) -> AppResult<Response> {
    let c = choices(&mut ctx).await?;
    let form = CohortForm {
        institutions: match c.sending.as_slice() {
            [only] => vec![only.id.to_string()],
            _ => Vec::new(),
        },
        ..Default::default()
    };
    Ok(web::render(&page(&ctx, &c, form, FieldErrors::default(), None))?.into_response())
}

pub async fn create(mut ctx: Ctx, Form(f): Form<CohortForm>) -> AppResult<Response> {
    let c = choices(&mut ctx).await?;
    let m = c.municipality_id;
    let mut errors = FieldErrors::default();
    let this_year = ctx.today.year();
    let year = f
        .birth_year
        .trim()
        .parse::<i32>()
        .ok()
        .filter(|y| (1990..=this_year).contains(y));
    if year.is_none() {
        errors.add("birth_year", "Skriv børnenes fødselsår, fx 2021.");
    }
    let mut institutions: Vec<Uuid> = Vec::new();
    if c.admin && !f.cluster.trim().is_empty() {
        match f
            .cluster
            .trim()
            .parse::<Uuid>()
            .ok()
            .filter(|id| c.clusters.iter().any(|k| k.id == *id))
        {
            Some(id) => {
                institutions = queries::cluster_institutions(&mut ctx.tx, m, id).await?;
                if institutions.is_empty() {
                    errors.add("cluster", "Klyngen har ingen aktive institutioner.");
                }
            }
            None => errors.add("cluster", "Vælg en af kommunens klynger."),
        }
    } else {
        for raw in &f.institutions {
            match raw
                .trim()
                .parse::<Uuid>()
                .ok()
                .filter(|id| c.sending.iter().any(|i| i.id == *id))
            {
                Some(id) if !institutions.contains(&id) => institutions.push(id),
                Some(_) => {}
                None => {
                    errors.add("institutions", "Vælg kun blandt de viste institutioner.");
                    break;
                }
            }
        }
        if institutions.is_empty() && errors.get("institutions").is_none() {
            errors.add(
                "institutions",
                "Vælg mindst én institution, børnene går i nu.",
            );
        }
    }
    let receiving = f
        .receiving_institution_id
        .trim()
        .parse::<Uuid>()
        .ok()
        .filter(|id| c.all.iter().any(|i| i.id == *id));
    if receiving.is_none() {
        errors.add(
            "receiving_institution_id",
            "Vælg en aktiv institution i kommunen som modtager.",
        );
    }
    let kind = TransitionKind::parse(f.kind.trim()).filter(|k| c.kinds.contains(k));
    let template = match kind {
        None => {
            errors.add("kind", "Vælg en overgangstype, som kommunen bruger.");
            None
        }
        Some(k) => {
            let t = forms::published_template(&mut ctx.tx, m, k).await?;
            if t.is_none() {
                errors.add(
                    "kind",
                    format!(
                        "Der er ingen offentliggjort skabelon for «{}». Bed en administrator om at offentliggøre en.",
                        k.label()
                    ),
                );
            }
            t
        }
    };
    let planned = super::planned_date(&f.planned_date, &mut errors);
    let mut responsible = None;
    if !f.responsible_user_id.trim().is_empty() {
        let id = f.responsible_user_id.trim().parse::<Uuid>().ok();
        // The relay holder must work at every chosen institution the children are sent from.
        let mut ok = id.is_some_and(|u| c.staff.iter().any(|s| s.id == u));
        if let (true, Some(u)) = (ok, id) {
            for i in &institutions {
                if !queries::staff_of(&mut ctx.tx, m, *i)
                    .await?
                    .iter()
                    .any(|s| s.id == u)
                {
                    ok = false;
                }
            }
        }
        if ok {
            responsible = id;
        } else {
            errors.add(
                "responsible_user_id",
                "Den ansvarlige skal være medarbejder i alle de valgte institutioner.",
            );
        }
    }
    let (Some(year), Some(receiving), Some(kind), Some(template), Some(planned), true) =
        (year, receiving, kind, template, planned, errors.is_empty())
    else {
        return web::render_invalid(&page(&ctx, &c, f, errors, None));
    };
    if f.confirm == "ja" {
        // Confirmations at once (a double click) one after the other: each creates for the
        // children without an open transition of the kind, as the one before left them.
        queries::lock_open(&mut ctx.tx, m, kind).await?;
    }
    let cohort = queries::cohort(&mut ctx.tx, m, year, &institutions, receiving, kind).await?;
    let (skip, new): (Vec<_>, Vec<_>) = cohort.into_iter().partition(|c| c.has_open);
    if f.confirm != "ja" || new.is_empty() {
        let preview = Preview {
            create: new.len(),
            skipped: skip.len(),
        };
        return Ok(
            web::render(&page(&ctx, &c, f, FieldErrors::default(), Some(preview)))?.into_response(),
        );
    }
    let children: Vec<Uuid> = new.iter().map(|c| c.child_id).collect();
    let sending: Vec<Uuid> = new.iter().map(|c| c.sending_institution_id).collect();
    let actor = ctx.actor();
    let created = queries::insert_cohort(
        &mut ctx.tx,
        &actor,
        m,
        &children,
        &sending,
        receiving,
        kind,
        planned,
        template.id,
        responsible,
    )
    .await?;
    ctx.commit().await?;
    let mut message = if created == 1 {
        "1 overgang er oprettet.".to_string()
    } else {
        format!("{created} overgange er oprettet.")
    };
    match skip.len() {
        0 => {}
        1 => message.push_str(&format!(
            " 1 barn blev sprunget over, fordi det allerede har en åben overgang af typen «{}».",
            kind.label()
        )),
        n => message.push_str(&format!(
            " {n} børn blev sprunget over, fordi de allerede har en åben overgang af typen «{}».",
            kind.label()
        )),
    }
    Ok(web::redirect_with_flash(
        "/transitions",
        Flash::success(message),
    ))
}

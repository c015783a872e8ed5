//! Bulk import from CSV: upload → preview with every problem by line and column → confirm →
//! one transaction. Nothing is imported until the whole file is clean.

mod children;
pub mod csv;
mod institutions;

use askama::Template;
use axum::{
    extract::{multipart::Multipart, DefaultBodyLimit},
    response::{Html, IntoResponse, Response},
    routing::{get, post},
    Router,
};
use serde_json::json;
use uuid::Uuid;

use self::csv::{Problem, Table, MAX_PROBLEMS};
use crate::{
    audit::{self, Actor, Entry},
    auth::{session::MAX_UPLOAD_BYTES, Ctx, Permission},
    db::Tx,
    state::AppState,
    web::{self, AppError, AppResult, Flash, Layout, Path},
};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/import", get(index))
        .route(
            "/import/{kind}",
            post(upload).layer(DefaultBodyLimit::max(MAX_UPLOAD_BYTES)),
        )
        .route("/import/{kind}/eksempel.csv", get(example))
        .route("/import/batch/{id}/confirm", post(confirm))
}

#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Institutions,
    Children,
}

impl Kind {
    fn parse(s: &str) -> Option<Kind> {
        match s {
            "institutions" => Some(Kind::Institutions),
            "children" => Some(Kind::Children),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Institutions => "institutions",
            Kind::Children => "children",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            Kind::Institutions => "institutioner",
            Kind::Children => "børn",
        }
    }

    /// `n` of the kind in words: "1 institution", "2 institutioner", "1 barn", "2 børn".
    pub fn counted(self, n: usize) -> String {
        let word = match (self, n) {
            (Kind::Institutions, 1) => "institution",
            (Kind::Children, 1) => "barn",
            _ => self.label(),
        };
        format!("{n} {word}")
    }

    fn columns(self) -> &'static [(&'static str, &'static str)] {
        match self {
            Kind::Institutions => institutions::COLUMNS,
            Kind::Children => children::COLUMNS,
        }
    }

    fn example(self) -> &'static str {
        match self {
            Kind::Institutions => {
                "navn;type;institutionsnummer;klynge;pilot\nBørnehaven Kastanjen;børnehave;101234;Pilotklynge Bakkeskolen;ja\nNordskolen;skole;;Nordklyngen;nej\n"
            }
            Kind::Children => children::EXAMPLE,
        }
    }
}

pub struct ColumnDoc {
    pub name: &'static str,
    pub meaning: &'static str,
}

pub struct KindDoc {
    pub kind: &'static str,
    pub label: &'static str,
    pub columns: Vec<ColumnDoc>,
}

#[derive(Template)]
#[template(path = "import/index.html")]
pub struct IndexPage {
    pub layout: Layout,
    pub kinds: Vec<KindDoc>,
}

fn available() -> Vec<Kind> {
    vec![Kind::Institutions, Kind::Children]
}

async fn index(ctx: Ctx) -> AppResult<Html<String>> {
    ctx.user.require(Permission::AdministerMunicipality)?;
    let kinds = available()
        .into_iter()
        .map(|k| KindDoc {
            kind: k.as_str(),
            label: k.label(),
            columns: k
                .columns()
                .iter()
                .map(|(name, meaning)| ColumnDoc { name, meaning })
                .collect(),
        })
        .collect();
    web::render(&IndexPage {
        layout: ctx.layout("Import", "/import"),
        kinds,
    })
}

async fn example(ctx: Ctx, Path(kind): Path<String>) -> AppResult<Response> {
    ctx.user.require(Permission::AdministerMunicipality)?;
    let kind = Kind::parse(&kind)
        .filter(|k| available().contains(k))
        .ok_or(AppError::NotFound)?;
    Ok((
        [
            (axum::http::header::CONTENT_TYPE, "text/csv; charset=utf-8"),
            (
                axum::http::header::CONTENT_DISPOSITION,
                "attachment; filename=\"eksempel.csv\"",
            ),
        ],
        // A BOM makes Excel open the file as UTF-8, so æ, ø and å survive.
        format!("\u{feff}{}", kind.example()),
    )
        .into_response())
}

#[derive(Template)]
#[template(path = "import/preview.html")]
pub struct PreviewPage {
    pub layout: Layout,
    pub kind: Kind,
    pub filename: String,
    pub problems: Vec<Problem>,
    pub truncated: bool,
    pub fatal: Option<String>,
    pub batch: Option<Uuid>,
    pub row_count: usize,
    pub notes: Vec<String>,
    pub headers: Vec<&'static str>,
    pub sample: Vec<Vec<String>>,
}

/// The result of checking a file against the municipality's current data.
enum Plan {
    Institutions(institutions::Plan),
    Children(children::Plan),
}

struct Checked {
    plan: Plan,
    problems: Vec<Problem>,
}

async fn check(
    tx: &mut Tx,
    municipality_id: Uuid,
    kind: Kind,
    table: &Table,
) -> AppResult<Checked> {
    match kind {
        Kind::Institutions => {
            let (plan, problems) = institutions::check(tx, municipality_id, table).await?;
            Ok(Checked {
                plan: Plan::Institutions(plan),
                problems,
            })
        }
        Kind::Children => {
            let (plan, problems) = children::check(tx, municipality_id, table).await?;
            Ok(Checked {
                plan: Plan::Children(plan),
                problems,
            })
        }
    }
}

impl Plan {
    fn row_count(&self) -> usize {
        match self {
            Plan::Institutions(p) => p.rows.len(),
            Plan::Children(p) => p.rows.len(),
        }
    }

    fn notes(&self) -> Vec<String> {
        match self {
            Plan::Institutions(p) => p
                .new_clusters
                .iter()
                .map(|c| format!("Klyngen »{c}« oprettes."))
                .collect(),
            Plan::Children(p) => {
                let guardians: usize = p.rows.iter().map(|r| r.guardians.len()).sum();
                let cprs = p.rows.iter().filter(|r| r.cpr.is_some()).count();
                vec![format!(
                    "Der oprettes {} børn med i alt {guardians} forældre og én indskrivning hver; {cprs} har CPR-nummer.",
                    p.rows.len()
                )]
            }
        }
    }

    fn headers(&self) -> Vec<&'static str> {
        match self {
            Plan::Institutions(_) => vec!["Navn", "Type", "Nummer", "Klynge", "Pilot"],
            Plan::Children(_) => vec![
                "Navn",
                "Født",
                "CPR",
                "Institution",
                "Gruppe",
                "Start",
                "Forældre",
            ],
        }
    }

    fn sample(&self) -> Vec<Vec<String>> {
        match self {
            Plan::Institutions(p) => institutions::sample(p),
            Plan::Children(p) => children::sample(p),
        }
    }

    async fn apply(&self, tx: &mut Tx, municipality_id: Uuid, actor: &Actor) -> AppResult<usize> {
        match self {
            Plan::Institutions(p) => institutions::apply(tx, municipality_id, actor, p).await,
            Plan::Children(p) => children::apply(tx, municipality_id, actor, p).await,
        }
    }
}

fn preview(
    ctx: &Ctx,
    kind: Kind,
    filename: String,
    batch: Option<Uuid>,
    checked: Result<Checked, String>,
) -> PreviewPage {
    let mut page = PreviewPage {
        layout: ctx.layout(&format!("Import af {}", kind.label()), "/import"),
        kind,
        filename,
        problems: Vec::new(),
        truncated: false,
        fatal: None,
        batch: None,
        row_count: 0,
        notes: Vec::new(),
        headers: Vec::new(),
        sample: Vec::new(),
    };
    match checked {
        Err(fatal) => page.fatal = Some(fatal),
        Ok(c) if !c.problems.is_empty() => {
            page.truncated = c.problems.len() > MAX_PROBLEMS;
            page.problems = c.problems.into_iter().take(MAX_PROBLEMS).collect();
        }
        Ok(c) if c.plan.row_count() == 0 => {
            page.fatal = Some("Filen indeholder ingen rækker.".into())
        }
        Ok(c) => {
            page.batch = batch;
            page.row_count = c.plan.row_count();
            page.notes = c.plan.notes();
            page.headers = c.plan.headers();
            page.sample = c.plan.sample();
        }
    }
    page
}

async fn upload(
    mut ctx: Ctx,
    Path(kind): Path<String>,
    multipart: Result<Multipart, axum::extract::multipart::MultipartRejection>,
) -> AppResult<Response> {
    ctx.user.require(Permission::AdministerMunicipality)?;
    let municipality_id = ctx.user.municipality()?;
    let kind = Kind::parse(&kind)
        .filter(|k| available().contains(k))
        .ok_or(AppError::NotFound)?;
    let mut multipart =
        multipart.map_err(|_| AppError::BadRequest("Vælg en CSV-fil at uploade.".into()))?;
    let mut file = None;
    while let Some(field) = multipart
        .next_field()
        .await
        .map_err(|_| AppError::BadRequest("Upload mislykkedes. Prøv igen.".into()))?
    {
        if field.name() == Some("file") {
            let filename: String = field
                .file_name()
                .unwrap_or("fil.csv")
                .chars()
                .filter(|c| !c.is_control())
                .take(255)
                .collect();
            let bytes = field.bytes().await.map_err(|_| AppError::PayloadTooLarge)?;
            file = Some((filename, bytes));
        }
    }
    let Some((filename, bytes)) = file.filter(|(_, b)| !b.is_empty()) else {
        return Err(AppError::BadRequest("Vælg en CSV-fil at uploade.".into()));
    };

    // Unconfirmed uploads hold personal data; they do not outlive a day.
    sqlx::query!(
        "DELETE FROM imports WHERE municipality_id = $1 AND imported_at IS NULL AND created_at < now() - interval '1 day'",
        municipality_id
    )
    .execute(&mut *ctx.tx)
    .await?;

    let table = Table::parse(&bytes);
    let (checked, content) = match table {
        Err(fatal) => (Err(fatal), None),
        Ok(table) => {
            let checked = check(&mut ctx.tx, municipality_id, kind, &table).await?;
            // Only a clean file is kept for the confirmation step; the text is valid UTF-8 here.
            let keep = checked.problems.is_empty() && checked.plan.row_count() > 0;
            (
                Ok(checked),
                keep.then(|| String::from_utf8_lossy(&bytes).into_owned()),
            )
        }
    };
    let rows = checked.as_ref().map_or(0, |c| c.plan.row_count());
    let batch = match content {
        Some(content) => {
            let id = sqlx::query_scalar!(
                "INSERT INTO imports (municipality_id, kind, filename, content, row_count, created_by)
                 VALUES ($1, $2, $3, $4, $5, $6) RETURNING id",
                municipality_id,
                kind.as_str(),
                filename,
                content,
                rows as i32,
                ctx.user.id
            )
            .fetch_one(&mut *ctx.tx)
            .await?;
            Some(id)
        }
        None => None,
    };
    // The file holds personal data (names, CPR numbers) whether it is kept or not.
    let problems = checked.as_ref().map_or(0, |c| c.problems.len());
    ctx.audit(Entry::new("upload", "import", batch).details(json!({
        "kind": kind.as_str(),
        "rows": rows,
        "problems": problems,
        "unreadable": checked.is_err(),
        "kept": batch.is_some(),
    })))
    .await?;
    let page = preview(&ctx, kind, filename, batch, checked);
    ctx.commit().await?;
    if page.batch.is_some() {
        Ok(web::render(&page)?.into_response())
    } else {
        web::render_invalid(&page)
    }
}

async fn confirm(mut ctx: Ctx, Path(id): Path<Uuid>) -> AppResult<Response> {
    ctx.user.require(Permission::AdministerMunicipality)?;
    let municipality_id = ctx.user.municipality()?;
    let batch = sqlx::query!(
        r#"SELECT kind, filename, content AS "content!" FROM imports
           WHERE municipality_id = $1 AND id = $2 AND imported_at IS NULL AND content IS NOT NULL
           FOR UPDATE"#,
        municipality_id,
        id
    )
    .fetch_optional(&mut *ctx.tx)
    .await?
    .ok_or(AppError::NotFound)?;
    let kind = Kind::parse(&batch.kind).ok_or(AppError::NotFound)?;
    // The municipality's data may have changed since the preview: check again.
    let table = Table::parse(batch.content.as_bytes()).map_err(AppError::BadRequest)?;
    let checked = check(&mut ctx.tx, municipality_id, kind, &table).await?;
    if !checked.problems.is_empty() {
        let page = preview(&ctx, kind, batch.filename, None, Ok(checked));
        return web::render_invalid(&page);
    }
    let actor = ctx.actor();
    let n = checked
        .plan
        .apply(&mut ctx.tx, municipality_id, &actor)
        .await?;
    sqlx::query!(
        "UPDATE imports SET imported_at = now(), content = NULL WHERE municipality_id = $1 AND id = $2",
        municipality_id,
        id
    )
    .execute(&mut *ctx.tx)
    .await?;
    audit::record(
        &mut ctx.tx,
        &actor,
        Entry::new("import", "import", Some(id)).details(json!({"kind": kind.as_str(), "rows": n})),
    )
    .await?;
    ctx.commit().await?;
    Ok(web::redirect_with_flash(
        "/import",
        Flash::success(format!("{} er importeret.", kind.counted(n))),
    ))
}

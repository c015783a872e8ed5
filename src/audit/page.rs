//! The administrators' audit search (`/audit`) and its CSV export (`/audit.csv`).
//!
//! Filters: a child (by id, from the child's page, or by name), a user, an action and a period.
//! Newest first, paged with a keyset on (at, id) so a page costs the same on the millionth row
//! as on the first (indexes in migration 20261123000012). Every filter combination is its own
//! statement (built below) rather than `$x IS NULL OR …`, whose generic plan could not use the
//! matching index. Reading the log, and exporting it, is itself audited.

use askama::Template;
use axum::{
    extract::RawQuery,
    http::header,
    response::{IntoResponse, Response},
};
use serde::Deserialize;
use serde_json::json;
use sqlx::{Postgres, QueryBuilder};
use time::Date;
use uuid::Uuid;

use crate::{
    audit::Entry,
    auth::{Ctx, Permission},
    children::domain::{iso_date, like_escape, looks_like_cpr},
    db::Tx,
    web::{self, AppError, AppResult, FieldErrors, Layout, SelectOption},
};

const NAV: &str = "/audit";
const CPR_REFUSED: &str =
    "Søg på barnets navn. Af hensyn til datasikkerheden kan der ikke søges på CPR-nummer.";
pub const PAGE_SIZE: i64 = 50;
/// The largest CSV export; a wider search is refused with advice to narrow it.
pub const CSV_MAX_ROWS: i64 = 50_000;
const LOCAL_TZ: &str = "Europe/Copenhagen";

#[derive(Default, Deserialize)]
pub struct RawFilter {
    #[serde(default)]
    child: String,
    #[serde(default)]
    q: String,
    #[serde(default)]
    user: String,
    #[serde(default)]
    action: String,
    #[serde(default)]
    from: String,
    #[serde(default)]
    to: String,
    #[serde(default)]
    before: String,
    #[serde(default)]
    after: String,
}

/// The validated filters.
#[derive(Clone, Debug, Default)]
pub struct Filter {
    pub child: Option<Uuid>,
    /// The child-name search as typed (trimmed); matched LIKE-escaped.
    pub q: String,
    pub user: Option<Uuid>,
    pub action: Option<String>,
    pub from: Option<Date>,
    pub to: Option<Date>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Cursor {
    Newest,
    /// Entries older than entry `id`.
    Before(i64),
    /// Entries newer than entry `id`.
    After(i64),
}

fn parse_date(s: &str) -> Option<Date> {
    let fmt = time::macros::format_description!("[year]-[month]-[day]");
    Date::parse(s.trim(), fmt)
        .ok()
        .or_else(|| crate::children::domain::parse_date(s))
}

fn parse(raw: RawFilter) -> (Filter, Cursor, FieldErrors) {
    let mut errors = FieldErrors::default();
    let mut f = Filter::default();
    let child = raw.child.trim();
    if !child.is_empty() {
        match Uuid::parse_str(child) {
            Ok(id) => f.child = Some(id),
            Err(_) => errors.add("q", "Barnet i filteret findes ikke. Søg på barnets navn."),
        }
    }
    let q = raw.q.split_whitespace().collect::<Vec<_>>().join(" ");
    if q.chars().count() > 100 {
        errors.add("q", "Navnet må højst være 100 tegn.");
    } else if q.chars().any(char::is_control) {
        errors.add("q", "Navnet indeholder ugyldige tegn.");
    } else if looks_like_cpr(&q) {
        // not echoed back, not searched, not audited
        errors.add("q", CPR_REFUSED);
    } else {
        f.q = q;
    }
    let user = raw.user.trim();
    if !user.is_empty() {
        match Uuid::parse_str(user) {
            Ok(id) => f.user = Some(id),
            Err(_) => errors.add("user", "Vælg en bruger fra listen."),
        }
    }
    let action = raw.action.trim();
    if !action.is_empty() {
        if action.len() <= 40 && action.bytes().all(|b| b.is_ascii_lowercase() || b == b'_') {
            f.action = Some(action.to_string());
        } else {
            errors.add("action", "Vælg en handling fra listen.");
        }
    }
    for (field, value, slot) in [
        ("from", raw.from.as_str(), &mut f.from),
        ("to", raw.to.as_str(), &mut f.to),
    ] {
        if value.trim().is_empty() {
            continue;
        }
        match parse_date(value).filter(|d| d.year() >= 2000 && d.year() <= 9998) {
            Some(d) => *slot = Some(d),
            None => errors.add(field, "Skriv en gyldig dato."),
        }
    }
    if let (Some(from), Some(to)) = (f.from, f.to) {
        if from > to {
            errors.add(
                "to",
                "Til-datoen skal være samme dag som eller efter fra-datoen.",
            );
        }
    }
    let cursor = match (raw.before.trim(), raw.after.trim()) {
        ("", "") => Cursor::Newest,
        (b, "") => match b.parse::<i64>() {
            Ok(id) if id > 0 => Cursor::Before(id),
            _ => Cursor::Newest,
        },
        ("", a) => match a.parse::<i64>() {
            Ok(id) if id > 0 => Cursor::After(id),
            _ => Cursor::Newest,
        },
        _ => Cursor::Newest,
    };
    (f, cursor, errors)
}

impl Filter {
    /// The query string of these filters (without a cursor), `&`-joined.
    pub fn query_string(&self) -> String {
        let mut p = Vec::new();
        if let Some(c) = self.child {
            p.push(format!("child={c}"));
        }
        if !self.q.is_empty() {
            p.push(format!("q={}", web::urlencode(&self.q)));
        }
        if let Some(u) = self.user {
            p.push(format!("user={u}"));
        }
        if let Some(a) = &self.action {
            p.push(format!("action={}", web::urlencode(a)));
        }
        if let Some(d) = self.from {
            p.push(format!("from={}", iso_date(d)));
        }
        if let Some(d) = self.to {
            p.push(format!("to={}", iso_date(d)));
        }
        p.join("&")
    }

    fn is_empty(&self) -> bool {
        self.query_string().is_empty()
    }

    fn details(&self) -> serde_json::Value {
        json!({
            "child_id": self.child,
            // whether a name was searched, not the name: the log holds ids, not names
            "name_search": !self.q.is_empty(),
            "user_id": self.user,
            "action": self.action,
            "from": self.from.map(iso_date),
            "to": self.to.map(iso_date),
        })
    }
}

fn href(path: &str, filter: &Filter, cursor: Option<String>) -> String {
    let mut q = filter.query_string();
    if let Some(c) = cursor {
        if !q.is_empty() {
            q.push('&');
        }
        q.push_str(&c);
    }
    if q.is_empty() {
        path.to_string()
    } else {
        format!("{path}?{q}")
    }
}

// ---------------------------------------------------------------------------------------------
// Queries

#[derive(sqlx::FromRow)]
pub struct Row {
    pub id: i64,
    pub at_local: String,
    pub user_id: Option<Uuid>,
    pub user_name: Option<String>,
    pub role: Option<String>,
    pub municipality: Option<String>,
    pub action: String,
    pub entity_type: String,
    pub entity_id: Option<Uuid>,
    pub child_id: Option<Uuid>,
    pub child_name: Option<String>,
    pub client_addr: Option<String>,
    pub details: String,
}

/// The WHERE clause of a search, on `audit_log a`.
fn push_filters(qb: &mut QueryBuilder<'_, Postgres>, municipality_id: Uuid, f: &Filter) {
    qb.push(" WHERE a.municipality_id = ")
        .push_bind(municipality_id);
    if let Some(c) = f.child {
        qb.push(" AND a.child_id = ").push_bind(c);
    }
    if !f.q.is_empty() {
        qb.push(" AND a.child_id IN (SELECT c.id FROM children c WHERE c.municipality_id = ")
            .push_bind(municipality_id)
            .push(" AND lower(c.first_name || ' ' || c.last_name) LIKE '%' || lower(")
            .push_bind(like_escape(&f.q))
            .push(") || '%' ESCAPE '\\')");
    }
    if let Some(u) = f.user {
        qb.push(" AND a.user_id = ").push_bind(u);
    }
    if let Some(a) = &f.action {
        qb.push(" AND a.action = ").push_bind(a.clone());
    }
    if let Some(d) = f.from {
        qb.push(" AND a.at >= (")
            .push_bind(d)
            .push("::date)::timestamp AT TIME ZONE ")
            .push_bind(LOCAL_TZ);
    }
    if let Some(d) = f.to {
        qb.push(" AND a.at < (")
            .push_bind(d)
            .push("::date + 1)::timestamp AT TIME ZONE ")
            .push_bind(LOCAL_TZ);
    }
}

/// Entries matching `f` from `cursor` on, newest first; at most `limit`.
pub async fn search(
    tx: &mut Tx,
    municipality_id: Uuid,
    f: &Filter,
    cursor: Cursor,
    limit: i64,
) -> Result<Vec<Row>, sqlx::Error> {
    let mut qb = QueryBuilder::<Postgres>::new("SELECT a.id, to_char(a.at AT TIME ZONE ");
    qb.push_bind(LOCAL_TZ).push(
        ", 'DD-MM-YYYY HH24:MI:SS') AS at_local,
               a.user_id, u.name AS user_name, a.role, m.name AS municipality, a.action,
               a.entity_type, a.entity_id, a.child_id,
               CASE WHEN c.id IS NOT NULL THEN c.first_name || ' ' || c.last_name END AS child_name,
               host(a.client_addr) AS client_addr, a.details::text AS details
         FROM audit_log a
         LEFT JOIN users u ON u.municipality_id = a.municipality_id AND u.id = a.user_id
         LEFT JOIN municipalities m ON m.id = a.municipality_id
         LEFT JOIN children c ON c.municipality_id = a.municipality_id AND c.id = a.child_id",
    );
    push_filters(&mut qb, municipality_id, f);
    let (op, order) = match cursor {
        Cursor::Newest => ("", "DESC"),
        Cursor::Before(_) => ("<", "DESC"),
        Cursor::After(_) => (">", "ASC"),
    };
    if let Cursor::Before(id) | Cursor::After(id) = cursor {
        // A cursor of another municipality (or none at all) finds no row: an empty page.
        qb.push(" AND (a.at, a.id) ")
            .push(op)
            .push(" (SELECT k.at, k.id FROM audit_log k WHERE k.municipality_id = ")
            .push_bind(municipality_id)
            .push(" AND k.id = ")
            .push_bind(id)
            .push(")");
    }
    qb.push(format!(" ORDER BY a.at {order}, a.id {order} LIMIT "))
        .push_bind(limit);
    let mut rows: Vec<Row> = qb.build_query_as().fetch_all(&mut **tx).await?;
    if matches!(cursor, Cursor::After(_)) {
        rows.reverse();
    }
    Ok(rows)
}

pub struct UserChoice {
    pub id: Uuid,
    pub name: String,
    pub email: String,
}

async fn users(tx: &mut Tx, municipality_id: Uuid) -> Result<Vec<UserChoice>, sqlx::Error> {
    sqlx::query_as!(
        UserChoice,
        "SELECT id, name, email FROM users WHERE municipality_id = $1 ORDER BY lower(name), email",
        municipality_id
    )
    .fetch_all(&mut **tx)
    .await
}

/// The actions present in the municipality's log, read with a skip scan over the action index.
async fn actions(tx: &mut Tx, municipality_id: Uuid) -> Result<Vec<String>, sqlx::Error> {
    sqlx::query_scalar!(
        r#"WITH RECURSIVE a(action) AS (
               (SELECT action FROM audit_log WHERE municipality_id = $1 ORDER BY action LIMIT 1)
               UNION ALL
               SELECT (SELECT l.action FROM audit_log l
                       WHERE l.municipality_id = $1 AND l.action > a.action
                       ORDER BY l.action LIMIT 1)
               FROM a WHERE a.action IS NOT NULL)
           SELECT action AS "action!" FROM a WHERE action IS NOT NULL"#,
        municipality_id
    )
    .fetch_all(&mut **tx)
    .await
}

async fn child_name(
    tx: &mut Tx,
    municipality_id: Uuid,
    child_id: Uuid,
) -> Result<Option<String>, sqlx::Error> {
    sqlx::query_scalar!(
        r#"SELECT first_name || ' ' || last_name AS "name!" FROM children
           WHERE municipality_id = $1 AND id = $2"#,
        municipality_id,
        child_id
    )
    .fetch_optional(&mut **tx)
    .await
}

// ---------------------------------------------------------------------------------------------
// Labels

pub fn action_label(action: &str) -> &str {
    match action {
        "read" => "Læst",
        "list" => "Liste eller søgning",
        "view" => "Vist",
        "view_form" => "Formular vist",
        "create" => "Oprettet",
        "update" => "Ændret",
        "delete" => "Slettet",
        "status" => "Status ændret",
        "reassign" => "Ansvarlig ændret",
        "answers_saved" => "Svar gemt",
        "login" => "Logget ind",
        "logout" => "Logget ud",
        "login_failed" => "Mislykket login",
        "invite" => "Inviteret",
        "invite_resend" => "Invitation sendt igen",
        "role_add" => "Rolle givet",
        "role_remove" => "Rolle fjernet",
        "deactivate" => "Deaktiveret",
        "reactivate" => "Genaktiveret",
        "password_change" => "Adgangskode ændret",
        "password_reset_request" => "Ny adgangskode anmodet",
        "import" | "import_create" => "Importeret",
        "publish" => "Offentliggjort",
        "purge" => "Sletning efter opbevaringsperiode",
        "view_audit" => "Adgangslog vist",
        "export_audit" => "Adgangslog eksporteret",
        "export" => "Indsigt: alle oplysninger eksporteret",
        "request_correction" => "Rettelse anmodet af forælder",
        "answer" => "Besvaret",
        other => other,
    }
}

pub fn entity_label(entity: &str) -> &str {
    match entity {
        "child" => "Barn",
        "guardian" => "Forælder/værge",
        "enrolment" => "Indskrivning",
        "transition" => "Overgang",
        "user" => "Bruger",
        "session" => "Session",
        "institution" => "Institution",
        "cluster" => "Klynge",
        "form_template" => "Skabelon",
        "template_section" => "Skabelonafsnit",
        "template_question" => "Skabelonspørgsmål",
        "municipality" => "Kommune",
        "import" => "Import",
        "audit_log" => "Adgangslog",
        "correction_request" => "Anmodning om rettelse",
        "correction_requests" => "Anmodninger om rettelse",
        other => other,
    }
}

// ---------------------------------------------------------------------------------------------
// The page

pub struct RowView {
    pub at: String,
    pub who: String,
    pub user_href: String,
    pub role: String,
    pub municipality: String,
    pub action: String,
    pub entity: String,
    pub child: String,
    pub child_href: String,
    pub client_addr: String,
}

#[derive(Template)]
#[template(path = "audit/list.html")]
pub struct ListPage {
    pub layout: Layout,
    pub errors: FieldErrors,
    pub child_id: String,
    pub child_label: String,
    pub clear_child_href: String,
    pub q: String,
    pub from: String,
    pub to: String,
    pub users: Vec<SelectOption>,
    pub actions: Vec<SelectOption>,
    pub rows: Vec<RowView>,
    pub newer_href: String,
    pub older_href: String,
    pub newest_href: String,
    pub csv_href: String,
    pub filtered: bool,
}

fn row_view(r: Row, f: &Filter) -> RowView {
    let filter_with = |g: Filter| href(NAV, &g, None);
    RowView {
        at: r.at_local,
        who: r.user_name.clone().unwrap_or_else(|| {
            if r.user_id.is_some() {
                "Slettet bruger".into()
            } else {
                "System".into()
            }
        }),
        user_href: r
            .user_id
            .map(|u| {
                filter_with(Filter {
                    user: Some(u),
                    ..f.clone()
                })
            })
            .unwrap_or_default(),
        role: r.role.unwrap_or_default(),
        municipality: r.municipality.unwrap_or_default(),
        action: action_label(&r.action).to_string(),
        entity: match r.entity_id {
            Some(id) => format!("{} {}", entity_label(&r.entity_type), short_id(id)),
            None => entity_label(&r.entity_type).to_string(),
        },
        child: match (&r.child_name, r.child_id) {
            (Some(n), _) => n.clone(),
            (None, Some(id)) => format!("Slettet barn {}", short_id(id)),
            (None, None) => String::new(),
        },
        child_href: r
            .child_id
            .map(|c| {
                filter_with(Filter {
                    child: Some(c),
                    q: String::new(),
                    ..f.clone()
                })
            })
            .unwrap_or_default(),
        client_addr: r.client_addr.unwrap_or_default(),
    }
}

fn short_id(id: Uuid) -> String {
    id.to_string()[..8].to_string()
}

fn parse_query(raw: Option<&str>) -> AppResult<RawFilter> {
    serde_html_form::from_str(raw.unwrap_or(""))
        .map_err(|_| AppError::BadRequest(web::BAD_QUERY.into()))
}

/// The filter form posts here, so that what is typed reaches the address bar (and with it the
/// browser history and any proxy log) only after this check: a CPR number never does. The
/// filters go on to the page's address as typed; the page checks them.
pub async fn search_post(
    mut ctx: Ctx,
    web::Form(raw): web::Form<RawFilter>,
) -> AppResult<Response> {
    ctx.user.require(Permission::ViewAuditLog)?;
    let m = ctx.user.municipality()?;
    // The user and the child must be the municipality's (a deleted child still has entries).
    let id = |raw: &str| match raw.trim() {
        "" => Ok(None),
        s => Uuid::parse_str(s)
            .map(Some)
            .map_err(|_| AppError::BadRequest("Vælg en bruger eller et barn fra siden.".into())),
    };
    let (user, child) = (id(&raw.user)?, id(&raw.child)?);
    let known = sqlx::query_scalar!(
        r#"SELECT ($2::uuid IS NULL OR EXISTS (SELECT 1 FROM users WHERE municipality_id = $1 AND id = $2))
              AND ($3::uuid IS NULL
                   OR EXISTS (SELECT 1 FROM children WHERE municipality_id = $1 AND id = $3)
                   OR EXISTS (SELECT 1 FROM audit_log WHERE municipality_id = $1 AND child_id = $3))
              AS "known!""#,
        m,
        user,
        child
    )
    .fetch_one(&mut *ctx.tx)
    .await?;
    if !known {
        return Err(AppError::NotFound);
    }
    let q = raw.q.split_whitespace().collect::<Vec<_>>().join(" ");
    let cpr = looks_like_cpr(&q);
    let query = [
        ("child", raw.child.trim()),
        ("q", if cpr { "" } else { q.as_str() }),
        ("user", raw.user.trim()),
        ("action", raw.action.trim()),
        ("from", raw.from.trim()),
        ("to", raw.to.trim()),
    ]
    .iter()
    .filter(|(_, v)| !v.is_empty())
    .map(|(k, v)| format!("{k}={}", web::urlencode(v)))
    .collect::<Vec<_>>()
    .join("&");
    let to = if query.is_empty() {
        NAV.to_string()
    } else {
        format!("{NAV}?{query}")
    };
    Ok(if cpr {
        web::redirect_with_flash(
            &to,
            web::Flash {
                kind: "warning",
                message: CPR_REFUSED.into(),
            },
        )
    } else {
        axum::response::Redirect::to(&to).into_response()
    })
}

pub async fn list(mut ctx: Ctx, RawQuery(raw): RawQuery) -> AppResult<Response> {
    ctx.user.require(Permission::ViewAuditLog)?;
    let m = ctx.user.municipality()?;
    let (f, cursor, errors) = parse(parse_query(raw.as_deref())?);
    let users = users(&mut ctx.tx, m).await?;
    let actions = actions(&mut ctx.tx, m).await?;
    let known_child = match f.child {
        Some(c) => child_name(&mut ctx.tx, m, c).await?,
        None => None,
    };
    let child_label = match (f.child, &known_child) {
        (_, Some(name)) => name.clone(),
        (Some(c), None) => format!("Barn {} (findes ikke eller er slettet)", short_id(c)),
        (None, None) => String::new(),
    };

    let mut rows = Vec::new();
    let (mut newer_href, mut older_href) = (String::new(), String::new());
    if errors.is_empty() {
        let mut found = search(&mut ctx.tx, m, &f, cursor, PAGE_SIZE + 1).await?;
        let more = found.len() as i64 > PAGE_SIZE;
        if more {
            match cursor {
                Cursor::After(_) => {
                    found.remove(0);
                }
                _ => {
                    found.pop();
                }
            }
        }
        let (has_newer, has_older) = match cursor {
            Cursor::Newest => (false, more),
            Cursor::Before(_) => (true, more),
            Cursor::After(_) => (more, true),
        };
        if let (true, Some(first)) = (has_newer, found.first()) {
            newer_href = href(NAV, &f, Some(format!("after={}", first.id)));
        }
        if let (true, Some(last)) = (has_older, found.last()) {
            older_href = href(NAV, &f, Some(format!("before={}", last.id)));
        }
        let shown = found.len();
        let actor = ctx.actor();
        let mut entry = Entry::new("view_audit", "audit_log", None).details(json!({
            "filter": f.details(),
            "cursor": match cursor { Cursor::Newest => None, Cursor::Before(i) => Some(format!("before {i}")), Cursor::After(i) => Some(format!("after {i}")) },
            "shown": shown,
        }));
        // the child's own access log records this read; an unknown id links to no child
        if let (Some(c), Some(_)) = (f.child, &known_child) {
            entry = entry.child(c);
        }
        crate::audit::record(&mut ctx.tx, &actor, entry).await?;
        rows = found.into_iter().map(|r| row_view(r, &f)).collect();
    }

    let page = ListPage {
        layout: ctx.layout("Adgangslog", NAV),
        child_id: f.child.map(|c| c.to_string()).unwrap_or_default(),
        child_label,
        clear_child_href: href(
            NAV,
            &Filter {
                child: None,
                ..f.clone()
            },
            None,
        ),
        q: f.q.clone(),
        from: f.from.map(iso_date).unwrap_or_default(),
        to: f.to.map(iso_date).unwrap_or_default(),
        users: users
            .into_iter()
            .map(|u| {
                SelectOption::new(
                    u.id.to_string(),
                    format!("{} ({})", u.name, u.email),
                    Some(u.id) == f.user,
                )
            })
            .collect(),
        actions: actions
            .into_iter()
            .map(|a| {
                let label = format!("{} ({a})", action_label(&a));
                let selected = f.action.as_deref() == Some(a.as_str());
                SelectOption::new(a, label, selected)
            })
            .collect(),
        rows,
        newest_href: if cursor == Cursor::Newest {
            String::new()
        } else {
            href(NAV, &f, None)
        },
        newer_href,
        older_href,
        csv_href: href("/audit.csv", &f, None),
        filtered: !f.is_empty(),
        errors,
    };
    if !page.errors.is_empty() {
        return web::render_invalid(&page);
    }
    let html = web::render(&page)?;
    ctx.commit().await?;
    Ok(html.into_response())
}

// ---------------------------------------------------------------------------------------------
// CSV

/// A spreadsheet would run a cell starting with one of these as a formula; a leading
/// apostrophe makes it text.
pub fn neutralise(cell: &str) -> String {
    if cell.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        format!("'{cell}")
    } else {
        cell.to_string()
    }
}

pub async fn csv(mut ctx: Ctx, RawQuery(raw): RawQuery) -> AppResult<Response> {
    ctx.user.require(Permission::ViewAuditLog)?;
    let m = ctx.user.municipality()?;
    let (f, _, errors) = parse(parse_query(raw.as_deref())?);
    if let Some(e) = (&errors).into_iter().next() {
        return Err(AppError::BadRequest(e.message.clone()));
    }
    let rows = search(&mut ctx.tx, m, &f, Cursor::Newest, CSV_MAX_ROWS + 1).await?;
    if rows.len() as i64 > CSV_MAX_ROWS {
        return Err(AppError::BadRequest(format!(
            "Udtrækket ville få mere end {CSV_MAX_ROWS} linjer. Afgræns søgningen med en periode, en bruger eller en handling."
        )));
    }
    let mut w = ::csv::WriterBuilder::new()
        .delimiter(b';')
        .quote_style(::csv::QuoteStyle::Necessary)
        .from_writer(Vec::new());
    let io = |e: ::csv::Error| AppError::Internal(e.into());
    w.write_record([
        "Tidspunkt",
        "Bruger",
        "Bruger-id",
        "Rolle",
        "Kommune",
        "Handling",
        "Handlingskode",
        "Type",
        "Id",
        "Barn",
        "Barn-id",
        "Klientadresse",
        "Detaljer",
    ])
    .map_err(io)?;
    let n = rows.len();
    for r in rows {
        let opt = |u: Option<Uuid>| u.map(|u| u.to_string()).unwrap_or_default();
        let cells = [
            r.at_local.clone(),
            r.user_name.clone().unwrap_or_default(),
            opt(r.user_id),
            r.role.clone().unwrap_or_default(),
            r.municipality.clone().unwrap_or_default(),
            action_label(&r.action).to_string(),
            r.action.clone(),
            entity_label(&r.entity_type).to_string(),
            opt(r.entity_id),
            r.child_name.clone().unwrap_or_default(),
            opt(r.child_id),
            r.client_addr.clone().unwrap_or_default(),
            r.details.clone(),
        ];
        w.write_record(cells.iter().map(|c| neutralise(c)))
            .map_err(io)?;
    }
    let body = w
        .into_inner()
        .map_err(|e| AppError::Internal(anyhow::anyhow!("csv: {e}")))?;
    let actor = ctx.actor();
    let mut entry = Entry::new("export_audit", "audit_log", None)
        .details(json!({ "filter": f.details(), "rows": n }));
    if let Some(c) = f.child {
        if child_name(&mut ctx.tx, m, c).await?.is_some() {
            entry = entry.child(c);
        }
    }
    crate::audit::record(&mut ctx.tx, &actor, entry).await?;
    let stamp = ctx.today;
    ctx.commit().await?;
    let mut bytes = "\u{feff}".as_bytes().to_vec();
    bytes.extend_from_slice(&body);
    Ok((
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8".to_string()),
            (
                header::CONTENT_DISPOSITION,
                format!(
                    "attachment; filename=\"adgangslog-{}.csv\"",
                    iso_date(stamp)
                ),
            ),
            (header::CACHE_CONTROL, "no-store".to_string()),
        ],
        bytes,
    )
        .into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formula_cells_are_neutralised() {
        assert_eq!(neutralise("=1+1"), "'=1+1");
        assert_eq!(neutralise("+45"), "'+45");
        assert_eq!(neutralise("-2"), "'-2");
        assert_eq!(neutralise("@SUM(A1)"), "'@SUM(A1)");
        assert_eq!(neutralise("Anna"), "Anna");
        assert_eq!(neutralise(""), "");
    }

    #[test]
    fn bad_filters_are_field_errors() {
        let raw = RawFilter {
            user: "nope".into(),
            from: "31-02-2026".into(),
            action: "DROP TABLE".into(),
            ..Default::default()
        };
        let (_, _, errors) = parse(raw);
        assert!(errors.get("user").is_some());
        assert!(errors.get("from").is_some());
        assert!(errors.get("action").is_some());
        let (f, c, errors) = parse(RawFilter {
            from: "2026-01-01".into(),
            to: "2026-01-31".into(),
            before: "17".into(),
            ..Default::default()
        });
        assert!(errors.is_empty());
        assert_eq!(c, Cursor::Before(17));
        assert_eq!(f.query_string(), "from=2026-01-01&to=2026-01-31");
    }
}

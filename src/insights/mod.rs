//! Insights ("kompasset"): aggregated figures per municipality, cluster and institution, by
//! cohort year and transition kind, with SVG trend charts, CSV export and the yearly report for
//! the cooperation agreement of a school and its feeding institutions.
//!
//! Who sees what (decided in `authorize`, the one place every handler asks):
//! * administrators and analysts (`Permission::ViewInsights` without an institution scope): the
//!   whole municipality, every cluster and institution of it;
//! * institution leaders: the pages of the institutions they lead, and of the clusters those
//!   institutions belong to (as member or as the cluster's school) — the cooperation agreement
//!   is a dialogue between the school and its feeding institutions, and the cluster's figures
//!   are aggregates like the rest. On `/insights` a leader gets links to those pages, not the
//!   municipality's figures;
//! * everyone else: 403. Clusters and institutions of another municipality (or unknown ids):
//!   404.
//!
//! The pages never list a child: every figure is an aggregate, and any group smaller than the
//! municipality's small-number threshold is shown as "færre end N" (page, chart and CSV alike;
//! see `figures`). Analysts have no `ViewChildren` permission, so every child and transition
//! route answers them 403.

pub mod chart;
pub mod figures;

use askama::Template;
use axum::{
    http::header,
    response::{Html, IntoResponse, Response},
    routing::get,
    Router,
};
use serde::Deserialize;
use uuid::Uuid;

pub use figures::{compute, Figure, Figures, Filter, GroupFigures, Scope};

use crate::{
    auth::{Ctx, Permission, Role},
    forms::kinds::TransitionKind,
    state::AppState,
    web::{self, AppError, AppResult, Layout, Path, Query, SelectOption},
};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/insights", get(municipality_page))
        .route("/insights/clusters/{id}", get(cluster_page))
        .route("/insights/institutions/{id}", get(institution_page))
        .route("/insights/clusters/{id}/report", get(report_page))
}

/// Whether the user sees the whole municipality (administrators, analysts) or only what they
/// lead.
fn sees_municipality(ctx: &Ctx) -> bool {
    ctx.user.has_role(Role::MunicipalAdmin) || ctx.user.has_role(Role::Analyst)
}

/// 404 unless the row `sql` (an `EXISTS` on municipality $1 and id $2) finds is there.
async fn found(ctx: &mut Ctx, sql: &'static str, municipality_id: Uuid, id: Uuid) -> AppResult<()> {
    let exists: bool = sqlx::query_scalar(sql)
        .bind(municipality_id)
        .bind(id)
        .fetch_one(&mut *ctx.tx)
        .await?;
    if exists {
        Ok(())
    } else {
        Err(AppError::NotFound)
    }
}

/// The one access decision of the insights pages: 403 without the permission or outside the
/// leader's institutions and clusters, 404 for ids that are not the municipality's.
async fn authorize(ctx: &mut Ctx, scope: &Scope) -> AppResult<Uuid> {
    ctx.user.require(Permission::ViewInsights)?;
    let municipality_id = ctx.user.municipality()?;
    let all = sees_municipality(ctx);
    match scope {
        Scope::Municipality => {
            if !all {
                return Err(AppError::Forbidden);
            }
        }
        Scope::Cluster(id) => {
            found(
                ctx,
                "SELECT EXISTS (SELECT 1 FROM clusters WHERE municipality_id = $1 AND id = $2)",
                municipality_id,
                *id,
            )
            .await?;
            if !all {
                let members =
                    figures::cluster_institutions(&mut ctx.tx, municipality_id, *id).await?;
                if !members.iter().any(|i| led(ctx, *i)) {
                    return Err(AppError::Forbidden);
                }
            }
        }
        Scope::Institution(id) => {
            found(
                ctx,
                "SELECT EXISTS (SELECT 1 FROM institutions WHERE municipality_id = $1 AND id = $2)",
                municipality_id,
                *id,
            )
            .await?;
            if !all && !led(ctx, *id) {
                return Err(AppError::Forbidden);
            }
        }
    }
    Ok(municipality_id)
}

fn led(ctx: &Ctx, institution: Uuid) -> bool {
    ctx.user
        .institutions_with(Role::InstitutionLeader)
        .any(|i| i == institution)
}

#[derive(Default, Deserialize)]
pub struct FilterQuery {
    #[serde(default)]
    pub year: String,
    #[serde(default)]
    pub kind: String,
    #[serde(default)]
    pub format: String,
}

impl FilterQuery {
    fn parse(&self, scope: Scope) -> AppResult<(Filter, bool)> {
        let bad = || AppError::BadRequest("Filteret er ugyldigt.".into());
        let year = match self.year.trim() {
            "" => None,
            y => Some(
                y.parse::<i32>()
                    .ok()
                    .filter(|y| (1990..=2200).contains(y))
                    .ok_or_else(bad)?,
            ),
        };
        let kind = match self.kind.trim() {
            "" => None,
            k => Some(TransitionKind::parse(k).ok_or_else(bad)?),
        };
        let csv = match self.format.as_str() {
            "" | "html" => false,
            "csv" => true,
            _ => return Err(bad()),
        };
        Ok((Filter { scope, year, kind }, csv))
    }
}

fn query_string(filter: &Filter) -> String {
    let mut parts = Vec::new();
    if let Some(y) = filter.year {
        parts.push(format!("year={y}"));
    }
    if let Some(k) = filter.kind {
        parts.push(format!("kind={}", k.as_str()));
    }
    parts.join("&")
}

pub struct Link {
    pub href: String,
    pub label: String,
}

#[derive(Template)]
#[template(path = "insights/page.html")]
pub struct InsightsPage {
    pub layout: Layout,
    pub heading: String,
    pub intro: String,
    pub path: String,
    pub years: Vec<SelectOption>,
    pub kinds: Vec<SelectOption>,
    pub filter_label: String,
    pub figures: Figures,
    pub trend_chart: String,
    pub usefulness_chart: String,
    pub theme_chart: Option<String>,
    pub csv_href: String,
    pub report_href: Option<String>,
    pub breakdown_heading: &'static str,
    pub links_heading: &'static str,
    pub links: Vec<Link>,
}

#[derive(Template)]
#[template(path = "insights/leader.html")]
pub struct LeaderPage {
    pub layout: Layout,
    pub institutions: Vec<Link>,
    pub clusters: Vec<Link>,
}

async fn municipality_page(mut ctx: Ctx, Query(q): Query<FilterQuery>) -> AppResult<Response> {
    ctx.user.require(Permission::ViewInsights)?;
    if !sees_municipality(&ctx) {
        return leader_landing(ctx).await;
    }
    let (filter, csv) = q.parse(Scope::Municipality)?;
    let municipality_id = authorize(&mut ctx, &filter.scope).await?;
    let name: String = sqlx::query_scalar("SELECT name FROM municipalities WHERE id = $1")
        .bind(municipality_id)
        .fetch_one(&mut *ctx.tx)
        .await?;
    let links = sqlx::query_as::<_, (Uuid, String)>(
        "SELECT id, name FROM clusters WHERE municipality_id = $1 ORDER BY name",
    )
    .bind(municipality_id)
    .fetch_all(&mut *ctx.tx)
    .await?
    .into_iter()
    .map(|(id, name)| Link {
        href: format!("/insights/clusters/{id}"),
        label: name,
    })
    .collect();
    let figures = compute(&mut ctx.tx, municipality_id, &filter).await?;
    respond(
        &ctx,
        Content {
            heading: format!("Indsigt: {name} Kommune"),
            intro: "Tal for hele kommunen. Opdelingen er efter den afgivende institutions klynge."
                .into(),
            path: "/insights".into(),
            report_href: None,
            breakdown_heading: "Pr. klynge (afgivende institution)",
            links_heading: "Klynger",
            links,
            csv_name: "indsigt-kommune.csv".into(),
        },
        &filter,
        figures,
        csv,
    )
}

async fn leader_landing(mut ctx: Ctx) -> AppResult<Response> {
    let municipality_id = ctx.user.municipality()?;
    let led: Vec<Uuid> = ctx
        .user
        .institutions_with(Role::InstitutionLeader)
        .collect();
    if led.is_empty() {
        return Err(AppError::Forbidden);
    }
    let institutions = sqlx::query_as::<_, (Uuid, String)>(
        "SELECT id, name FROM institutions WHERE municipality_id = $1 AND id = ANY ($2) ORDER BY name",
    )
    .bind(municipality_id)
    .bind(&led)
    .fetch_all(&mut *ctx.tx)
    .await?
    .into_iter()
    .map(|(id, name)| Link {
        href: format!("/insights/institutions/{id}"),
        label: name,
    })
    .collect();
    let clusters = sqlx::query_as::<_, (Uuid, String)>(
        "SELECT DISTINCT c.id, c.name FROM clusters c
         LEFT JOIN institutions i ON i.municipality_id = c.municipality_id AND i.cluster_id = c.id
         WHERE c.municipality_id = $1 AND (i.id = ANY ($2) OR c.school_id = ANY ($2))
         ORDER BY c.name",
    )
    .bind(municipality_id)
    .bind(&led)
    .fetch_all(&mut *ctx.tx)
    .await?
    .into_iter()
    .map(|(id, name)| Link {
        href: format!("/insights/clusters/{id}"),
        label: name,
    })
    .collect();
    Ok(web::render(&LeaderPage {
        layout: ctx.layout("Indsigt", "/insights"),
        institutions,
        clusters,
    })?
    .into_response())
}

async fn cluster_page(
    mut ctx: Ctx,
    Path(id): Path<Uuid>,
    Query(q): Query<FilterQuery>,
) -> AppResult<Response> {
    let (filter, csv) = q.parse(Scope::Cluster(id))?;
    let municipality_id = authorize(&mut ctx, &filter.scope).await?;
    let name: String =
        sqlx::query_scalar("SELECT name FROM clusters WHERE municipality_id = $1 AND id = $2")
            .bind(municipality_id)
            .bind(id)
            .fetch_one(&mut *ctx.tx)
            .await?;
    let members = figures::cluster_institutions(&mut ctx.tx, municipality_id, id).await?;
    let all = sees_municipality(&ctx);
    let links = sqlx::query_as::<_, (Uuid, String)>(
        "SELECT id, name FROM institutions WHERE municipality_id = $1 AND id = ANY ($2) ORDER BY name",
    )
    .bind(municipality_id)
    .bind(&members)
    .fetch_all(&mut *ctx.tx)
    .await?
    .into_iter()
    .filter(|(i, _)| all || led(&ctx, *i))
    .map(|(i, name)| Link {
        href: format!("/insights/institutions/{i}"),
        label: name,
    })
    .collect();
    let figures = compute(&mut ctx.tx, municipality_id, &filter).await?;
    let report_year = filter
        .year
        .or_else(|| figures.cohorts.last().map(|c| c.year));
    respond(
        &ctx,
        Content {
            heading: format!("Indsigt: {name}"),
            intro: "Overgange fra eller til klyngens skole og institutioner. Opdelingen er efter \
                    den afgivende institution."
                .into(),
            path: format!("/insights/clusters/{id}"),
            report_href: report_year.map(|y| format!("/insights/clusters/{id}/report?year={y}")),
            breakdown_heading: "Pr. afgivende institution",
            links_heading: "Institutioner i klyngen",
            links,
            csv_name: "indsigt-klynge.csv".into(),
        },
        &filter,
        figures,
        csv,
    )
}

async fn institution_page(
    mut ctx: Ctx,
    Path(id): Path<Uuid>,
    Query(q): Query<FilterQuery>,
) -> AppResult<Response> {
    let (filter, csv) = q.parse(Scope::Institution(id))?;
    let municipality_id = authorize(&mut ctx, &filter.scope).await?;
    let name: String =
        sqlx::query_scalar("SELECT name FROM institutions WHERE municipality_id = $1 AND id = $2")
            .bind(municipality_id)
            .bind(id)
            .fetch_one(&mut *ctx.tx)
            .await?;
    let figures = compute(&mut ctx.tx, municipality_id, &filter).await?;
    respond(
        &ctx,
        Content {
            heading: format!("Indsigt: {name}"),
            intro: "Overgange, hvor institutionen er afgivende eller modtagende. Opdelingen er \
                    efter overgangens type."
                .into(),
            path: format!("/insights/institutions/{id}"),
            report_href: None,
            breakdown_heading: "Pr. type overgang",
            links_heading: "",
            links: Vec::new(),
            csv_name: "indsigt-institution.csv".into(),
        },
        &filter,
        figures,
        csv,
    )
}

struct Content {
    heading: String,
    intro: String,
    path: String,
    report_href: Option<String>,
    breakdown_heading: &'static str,
    links_heading: &'static str,
    links: Vec<Link>,
    csv_name: String,
}

fn filter_label(filter: &Filter) -> String {
    format!(
        "{}, {}",
        filter
            .year
            .map(|y| format!("årgang {y}"))
            .unwrap_or_else(|| "alle årgange".into()),
        filter
            .kind
            .map(|k| k.label().to_string())
            .unwrap_or_else(|| "alle typer overgange".into())
    )
}

fn respond(
    ctx: &Ctx,
    content: Content,
    filter: &Filter,
    figures: Figures,
    csv: bool,
) -> AppResult<Response> {
    if csv {
        return Ok(csv_response(&content.csv_name, &to_csv(&figures, filter)));
    }
    let mut years: Vec<i32> = figures.cohorts.iter().map(|c| c.year).collect();
    if let Some(y) = filter.year {
        if !years.contains(&y) {
            years.push(y);
            years.sort();
        }
    }
    let mut year_options = vec![SelectOption::new("", "Alle årgange", filter.year.is_none())];
    year_options.extend(
        years
            .iter()
            .rev()
            .map(|y| SelectOption::new(y.to_string(), y.to_string(), filter.year == Some(*y))),
    );
    let mut kinds = vec![SelectOption::new("", "Alle typer", filter.kind.is_none())];
    kinds.extend(
        TransitionKind::ALL
            .into_iter()
            .map(|k| SelectOption::new(k.as_str(), k.label(), filter.kind == Some(k))),
    );
    let qs = query_string(filter);
    let csv_href = if qs.is_empty() {
        format!("{}?format=csv", content.path)
    } else {
        format!("{}?{qs}&format=csv", content.path)
    };
    let (trend_chart, usefulness_chart) = trend_charts(&figures, filter);
    let theme_chart = theme_chart(&figures);
    web::render(&InsightsPage {
        layout: ctx.layout(&content.heading, "/insights"),
        heading: content.heading,
        intro: content.intro,
        path: content.path,
        years: year_options,
        kinds,
        filter_label: filter_label(filter),
        figures,
        trend_chart,
        usefulness_chart,
        theme_chart,
        csv_href,
        report_href: content.report_href,
        breakdown_heading: content.breakdown_heading,
        links_heading: content.links_heading,
        links: content.links,
    })
    .map(IntoResponse::into_response)
}

/// The cohort trends: shares in one line chart, usefulness in another (its own scale).
fn trend_charts(figures: &Figures, filter: &Filter) -> (String, String) {
    let years: Vec<String> = figures.cohorts.iter().map(|c| c.year.to_string()).collect();
    let series = |label: &str, f: fn(&GroupFigures) -> Figure| chart::Series {
        label: label.to_string(),
        points: figures
            .cohorts
            .iter()
            .map(|c| f(&c.figures).value())
            .collect(),
    };
    let kind = filter
        .kind
        .map(|k| k.label().to_string())
        .unwrap_or_else(|| "alle typer overgange".into());
    let shares = chart::line_chart(
        "trend-shares",
        &format!("Udvikling pr. årgang i procent ({kind})"),
        &format!(
            "Linjediagram over årgangene {}: andel sendt til tiden, samtykkerate, svarprocent \
             for tilbagemeldinger og andel med særlig støtte ved skolestart. Hver linje har sit \
             eget mærke og stregmønster. Årgange med færre end {} i grundlaget er udeladt. \
             Tallene står i tabellen under diagrammet.",
            years.join(", "),
            figures.threshold
        ),
        &years,
        &[
            series("Til tiden", |g| g.on_time),
            series("Samtykke", |g| g.consent),
            series("Svar", |g| g.response),
            series("Særlig støtte", |g| g.special_support),
        ],
        (0.0, 100.0),
        " %",
    );
    let usefulness = chart::line_chart(
        "trend-usefulness",
        &format!("Brugbarhed pr. årgang, gennemsnit 1–5 ({kind})"),
        &format!(
            "Linjediagram over modtagernes gennemsnitlige vurdering af overleveringens \
             brugbarhed på en skala fra 1 til 5 for årgangene {}. Tallene står i tabellen under \
             diagrammet.",
            years.join(", ")
        ),
        &years,
        &[series("Brugbarhed", |g| g.usefulness)],
        (1.0, 5.0),
        "",
    );
    (shares, usefulness)
}

fn theme_chart(figures: &Figures) -> Option<String> {
    if figures.themes.is_empty() {
        return None;
    }
    let labels: Vec<String> = figures.themes.iter().map(|t| t.label.clone()).collect();
    Some(chart::paired_bars(
        "themes",
        "Afgiver og modtager pr. tema, gennemsnit 1–4",
        "Søjlediagram med to søjler pr. tema: afgiverens vurdering (fyldt) og modtagerens \
         vurdering (skraveret) af de samme børn på en fælles skala fra 1 til 4 (trafiklys: rød 1, \
         gul 2,5, grøn 4). Temaer med for få vurderinger er ikke vist. Tallene står i tabellen \
         under diagrammet.",
        &labels,
        &chart::Series {
            label: "Afgiver".into(),
            points: figures.themes.iter().map(|t| t.sender.value()).collect(),
        },
        &chart::Series {
            label: "Modtager".into(),
            points: figures.themes.iter().map(|t| t.receiver.value()).collect(),
        },
        4.0,
    ))
}

/// A CSV field: quoted when needed, and a leading formula character neutralised so a
/// spreadsheet never runs a name as a formula.
fn csv_field(s: &str) -> String {
    let s = if s.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        format!("'{s}")
    } else {
        s.to_string()
    };
    if s.contains([';', '"', '\n', '\r']) || s.starts_with(' ') || s.ends_with(' ') {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s
    }
}

/// Semicolon-separated (what Danish spreadsheets expect), decimal comma, with the same
/// suppression as the page: a suppressed figure is "færre end N" with no numbers.
pub fn to_csv(figures: &Figures, filter: &Filter) -> String {
    let mut out = String::from("Afsnit;Gruppe;Årgang;Mål;Værdi;Tæller;Grundlag\r\n");
    let year = filter.year.map(|y| y.to_string()).unwrap_or_default();
    let mut line = |section: &str, group: &str, year: &str, measure: &str, f: Figure| {
        let (value, part, basis) = match f {
            Figure::Suppressed(t) => (format!("færre end {t}"), String::new(), String::new()),
            Figure::Count(n) => (n.to_string(), String::new(), n.to_string()),
            Figure::Share { part, whole } => (
                format!("{:.1}", f.value().unwrap_or(0.0)).replace('.', ","),
                part.to_string(),
                whole.to_string(),
            ),
            Figure::Mean { n, .. } => (
                format!("{:.2}", f.value().unwrap_or(0.0)).replace('.', ","),
                String::new(),
                n.to_string(),
            ),
        };
        out.push_str(
            &[section, group, year, measure, &value, &part, &basis]
                .iter()
                .map(|s| csv_field(s))
                .collect::<Vec<_>>()
                .join(";"),
        );
        out.push_str("\r\n");
    };
    for (m, f) in figures.total.measures() {
        line("I alt", "", &year, m, f);
    }
    for r in &figures.rows {
        for (m, f) in r.figures.measures() {
            line("Opdeling", &r.label, &year, m, f);
        }
    }
    for c in &figures.cohorts {
        for (m, f) in c.figures.measures() {
            line("Årgange", "", &c.year.to_string(), m, f);
        }
    }
    for t in &figures.themes {
        line(
            "Tema",
            &t.label,
            &year,
            "Antal parvise vurderinger",
            t.pairs,
        );
        line("Tema", &t.label, &year, "Afgiver (1–4)", t.sender);
        line("Tema", &t.label, &year, "Modtager (1–4)", t.receiver);
    }
    out
}

fn csv_response(name: &str, body: &str) -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8".to_string()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"{name}\""),
            ),
        ],
        // A BOM makes Excel open the file as UTF-8, so æ, ø and å survive.
        format!("\u{feff}{body}"),
    )
        .into_response()
}

#[derive(Default, Deserialize)]
pub struct ReportQuery {
    #[serde(default)]
    pub year: String,
}

#[derive(Template)]
#[template(path = "insights/report.html")]
pub struct ReportPage {
    pub layout: Layout,
    pub cluster: String,
    pub school: Option<String>,
    pub year: i32,
    pub years: Vec<SelectOption>,
    pub cluster_id: Uuid,
    pub figures: Figures,
    pub theme_chart: Option<String>,
}

/// The yearly report for the cooperation agreement: the cluster's figures for one cohort year,
/// per feeding institution and per theme, suppressed like the pages. Printable (print CSS).
async fn report_page(
    mut ctx: Ctx,
    Path(id): Path<Uuid>,
    Query(q): Query<ReportQuery>,
) -> AppResult<Html<String>> {
    let scope = Scope::Cluster(id);
    let municipality_id = authorize(&mut ctx, &scope).await?;
    let year = match q.year.trim() {
        "" => None,
        y => Some(
            y.parse::<i32>()
                .ok()
                .filter(|y| (1990..=2200).contains(y))
                .ok_or_else(|| AppError::BadRequest("Året er ugyldigt.".into()))?,
        ),
    };
    let (cluster, school): (String, Option<String>) = sqlx::query_as(
        "SELECT c.name, s.name FROM clusters c
         LEFT JOIN institutions s ON s.municipality_id = c.municipality_id AND s.id = c.school_id
         WHERE c.municipality_id = $1 AND c.id = $2",
    )
    .bind(municipality_id)
    .bind(id)
    .fetch_one(&mut *ctx.tx)
    .await?;
    // The cohort trend ignores the year filter, so one computation also lists the years.
    let mut figures = compute(
        &mut ctx.tx,
        municipality_id,
        &Filter {
            scope: scope.clone(),
            year: Some(year.unwrap_or(0)),
            kind: None,
        },
    )
    .await?;
    let year = match year {
        Some(y) => y,
        None => {
            let latest = figures
                .cohorts
                .last()
                .map(|c| c.year)
                .unwrap_or_else(|| time::OffsetDateTime::now_utc().year());
            figures = compute(
                &mut ctx.tx,
                municipality_id,
                &Filter {
                    scope,
                    year: Some(latest),
                    kind: None,
                },
            )
            .await?;
            latest
        }
    };
    let years = figures
        .cohorts
        .iter()
        .rev()
        .map(|c| SelectOption::new(c.year.to_string(), c.year.to_string(), c.year == year))
        .collect();
    let theme_chart = theme_chart(&figures);
    web::render(&ReportPage {
        layout: ctx.layout(&format!("Årsrapport {year}: {cluster}"), "/insights"),
        cluster,
        school,
        year,
        years,
        cluster_id: id,
        figures,
        theme_chart,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_quotes_and_neutralises_formulas() {
        assert_eq!(csv_field("Solsikken"), "Solsikken");
        assert_eq!(csv_field("a;b"), "\"a;b\"");
        assert_eq!(csv_field("Han sagde \"hej\""), "\"Han sagde \"\"hej\"\"\"");
        assert_eq!(csv_field("=1+1"), "'=1+1");
        assert_eq!(csv_field("3,4"), "3,4");
        assert_eq!(csv_field("a\nb"), "\"a\nb\"");
    }
}

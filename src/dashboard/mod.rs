//! The front page after login: one overview per role, from a few indexed queries.

use askama::Template;
use axum::{routing::get, Router};
use uuid::Uuid;

use crate::{
    auth::{Ctx, Role},
    institutions::kind_label,
    state::AppState,
    web::{self, AppResult, Layout},
};

pub fn router() -> Router<AppState> {
    Router::new().route("/", get(dashboard))
}

pub struct MunicipalityOverview {
    pub name: String,
    pub code: String,
    pub institutions: i64,
    pub pilot_institutions: i64,
    pub users: i64,
    pub clusters: Vec<ClusterRow>,
    pub feedback_delay_days: i32,
    pub retention_days: i32,
    pub small_number_threshold: i32,
}

pub struct ClusterRow {
    pub name: String,
    pub school: Option<String>,
    pub institutions: i64,
}

pub struct InstitutionCard {
    pub id: Uuid,
    pub name: String,
    pub kind: String,
    pub cluster: Option<String>,
    pub colleagues: i64,
    pub role: &'static str,
}

pub struct MunicipalityRow {
    pub code: String,
    pub name: String,
    pub users: i64,
}

#[derive(Template)]
#[template(path = "dashboard/index.html")]
pub struct DashboardPage {
    pub layout: Layout,
    pub heading: String,
    pub intro: String,
    pub municipality: Option<MunicipalityOverview>,
    pub institutions: Vec<InstitutionCard>,
    pub municipalities: Option<Vec<MunicipalityRow>>,
    pub is_specialist: bool,
    pub is_analyst: bool,
}

async fn municipality_overview(
    ctx: &mut Ctx,
    municipality_id: Uuid,
) -> AppResult<MunicipalityOverview> {
    let m = sqlx::query!(
        r#"SELECT m.name, m.code, m.feedback_delay_days, m.retention_days, m.small_number_threshold,
                  (SELECT count(*) FROM institutions i WHERE i.municipality_id = m.id AND i.is_active) AS "institutions!",
                  (SELECT count(*) FROM institutions i WHERE i.municipality_id = m.id AND i.is_active AND i.is_pilot) AS "pilot!",
                  (SELECT count(*) FROM users u WHERE u.municipality_id = m.id AND u.is_active) AS "users!"
           FROM municipalities m WHERE m.id = $1"#,
        municipality_id
    )
    .fetch_one(&mut *ctx.tx)
    .await?;
    let clusters = sqlx::query_as!(
        ClusterRow,
        r#"SELECT c.name, s.name AS "school?",
                  (SELECT count(*) FROM institutions i
                   WHERE i.municipality_id = c.municipality_id AND i.cluster_id = c.id AND i.is_active) AS "institutions!"
           FROM clusters c
           LEFT JOIN institutions s ON s.municipality_id = c.municipality_id AND s.id = c.school_id
           WHERE c.municipality_id = $1 ORDER BY c.name"#,
        municipality_id
    )
    .fetch_all(&mut *ctx.tx)
    .await?;
    Ok(MunicipalityOverview {
        name: m.name,
        code: m.code,
        institutions: m.institutions,
        pilot_institutions: m.pilot,
        users: m.users,
        clusters,
        feedback_delay_days: m.feedback_delay_days,
        retention_days: m.retention_days,
        small_number_threshold: m.small_number_threshold,
    })
}

async fn institution_cards(
    ctx: &mut Ctx,
    municipality_id: Uuid,
) -> AppResult<Vec<InstitutionCard>> {
    let mine: Vec<(Uuid, Role)> = ctx
        .user
        .roles
        .iter()
        .filter(|r| matches!(r.role, Role::InstitutionLeader | Role::Staff))
        .filter_map(|r| Some((r.institution_id?, r.role)))
        .collect();
    let ids: Vec<Uuid> = mine.iter().map(|(id, _)| *id).collect();
    let rows = sqlx::query!(
        r#"SELECT i.id, i.name, i.kind, c.name AS "cluster?",
                  (SELECT count(DISTINCT r.user_id) FROM role_assignments r
                   WHERE r.municipality_id = i.municipality_id AND r.institution_id = i.id) AS "colleagues!"
           FROM institutions i
           LEFT JOIN clusters c ON c.municipality_id = i.municipality_id AND c.id = i.cluster_id
           WHERE i.municipality_id = $1 AND i.id = ANY($2) ORDER BY i.name"#,
        municipality_id,
        &ids
    )
    .fetch_all(&mut *ctx.tx)
    .await?;
    Ok(rows
        .into_iter()
        .map(|r| {
            let role = mine
                .iter()
                .filter(|(id, _)| *id == r.id)
                .map(|(_, role)| *role)
                .min();
            InstitutionCard {
                id: r.id,
                kind: kind_label(&r.kind).to_string(),
                name: r.name,
                cluster: r.cluster,
                colleagues: r.colleagues,
                role: role.map(Role::label).unwrap_or(""),
            }
        })
        .collect())
}

async fn dashboard(mut ctx: Ctx) -> AppResult<axum::response::Html<String>> {
    let user = ctx.user.clone();
    let mut page = DashboardPage {
        layout: ctx.layout("Forside", "/"),
        heading: format!("Velkommen, {}", user.name),
        intro: String::new(),
        municipality: None,
        institutions: Vec::new(),
        municipalities: None,
        is_specialist: user.has_role(Role::Specialist),
        is_analyst: user.has_role(Role::Analyst),
    };
    match user.municipality_id {
        None if user.is_platform_operator => {
            page.intro =
                "Som platformoperatør opretter du kommuner og deres første administrator. \
                          Du har ikke adgang til kommunernes data om børn."
                    .into();
            let rows = sqlx::query_as!(
                MunicipalityRow,
                r#"SELECT m.code, m.name,
                          (SELECT count(*) FROM users u WHERE u.municipality_id = m.id) AS "users!"
                   FROM municipalities m ORDER BY m.name"#
            )
            .fetch_all(&mut *ctx.tx)
            .await?;
            page.municipalities = Some(rows);
        }
        None => return Err(web::AppError::NotFound),
        Some(municipality_id) => {
            if user.has_role(Role::MunicipalAdmin) || user.has_role(Role::Analyst) {
                page.municipality = Some(municipality_overview(&mut ctx, municipality_id).await?);
            }
            page.institutions = institution_cards(&mut ctx, municipality_id).await?;
            page.intro = match user.roles.iter().map(|r| r.role).min() {
                Some(Role::MunicipalAdmin) => {
                    "Du administrerer kommunens institutioner, klynger, brugere og skabeloner."
                }
                Some(Role::InstitutionLeader) => {
                    "Du har overblik over din institutions overleveringer og medarbejdere."
                }
                Some(Role::Staff) => "Her finder du de børn og overleveringer, du arbejder med.",
                Some(Role::Specialist) => {
                    "Du ser kun børn, som en institution udtrykkeligt har delt med dig."
                }
                Some(Role::Analyst) => {
                    "Du ser samlede tal for kommunen – aldrig oplysninger om det enkelte barn."
                }
                None => "Din bruger har endnu ingen rolle. Kontakt kommunens administrator.",
            }
            .into();
        }
    }
    let html = web::render(&page)?;
    ctx.commit().await?;
    Ok(html)
}

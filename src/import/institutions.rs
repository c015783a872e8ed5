//! Importing institutions: name, kind, official number, cluster (created when new), pilot flag.

use std::collections::{HashMap, HashSet};

use serde_json::json;
use uuid::Uuid;

use super::csv::{cell, parse_yes_no, Problem, Table};
use crate::{
    audit::{self, Actor, Entry},
    db::Tx,
    institutions::{edit::valid_number, InstitutionKind},
    web::AppResult,
};

pub const COLUMNS: &[(&str, &str)] = &[
    ("navn", "Institutionens navn (skal udfyldes, må ikke findes i forvejen)"),
    ("type", "dagpleje, vuggestue, børnehave, integreret, skole, sfo, klub, specialtilbud eller ungdomsuddannelse"),
    ("institutionsnummer", "Officielt nummer (frivilligt, unikt)"),
    ("klynge", "Klyngens navn (frivilligt; en ny klynge oprettes)"),
    ("pilot", "ja eller nej (frivilligt; tom = nej)"),
];

pub struct Row {
    pub name: String,
    pub kind: InstitutionKind,
    pub number: Option<String>,
    pub cluster: Option<String>,
    pub is_pilot: bool,
}

pub struct Plan {
    pub rows: Vec<Row>,
    pub new_clusters: Vec<String>,
}

pub async fn check(
    tx: &mut Tx,
    municipality_id: Uuid,
    table: &Table,
) -> AppResult<(Plan, Vec<Problem>)> {
    let mut problems = table.require(&[&["navn"], &["type"]]);
    let [name_c, kind_c, number_c, cluster_c, pilot_c] =
        ["navn", "type", "institutionsnummer", "klynge", "pilot"].map(|c| table.column(&[c]));
    let existing = sqlx::query!(
        "SELECT lower(name) AS \"name!\", institution_number FROM institutions WHERE municipality_id = $1",
        municipality_id
    )
    .fetch_all(&mut **tx)
    .await?;
    let mut names: HashSet<String> = existing.iter().map(|r| r.name.clone()).collect();
    let mut numbers: HashSet<String> = existing
        .iter()
        .filter_map(|r| r.institution_number.clone())
        .collect();
    let clusters: HashMap<String, String> = sqlx::query_scalar!(
        "SELECT name FROM clusters WHERE municipality_id = $1",
        municipality_id
    )
    .fetch_all(&mut **tx)
    .await?
    .into_iter()
    .map(|n| (n.to_lowercase(), n))
    .collect();
    let mut plan = Plan {
        rows: Vec::new(),
        new_clusters: Vec::new(),
    };
    if !problems.is_empty() {
        return Ok((plan, problems));
    }
    for (line, row) in &table.rows {
        let mut problem = |column: &str, reason: String| {
            problems.push(Problem {
                line: *line,
                column: column.into(),
                reason,
            })
        };
        let name = cell(row, name_c).to_string();
        if name.is_empty() || name.chars().count() > 200 {
            problem(
                "navn",
                "Navnet skal udfyldes og må højst være 200 tegn.".into(),
            );
        } else if !names.insert(name.to_lowercase()) {
            problem(
                "navn",
                format!("Der findes allerede en institution, der hedder »{name}«."),
            );
        }
        let kind = InstitutionKind::from_user(cell(row, kind_c));
        if kind.is_none() {
            problem(
                "type",
                format!("»{}« er ikke en kendt institutionstype.", cell(row, kind_c)),
            );
        }
        let number = cell(row, number_c).to_string();
        if !number.is_empty() {
            if !valid_number(&number) {
                problem(
                    "institutionsnummer",
                    "Må kun have bogstaver, cifre og bindestreg (højst 20).".into(),
                );
            } else if !numbers.insert(number.clone()) {
                problem(
                    "institutionsnummer",
                    format!("Nummeret {number} findes allerede."),
                );
            }
        }
        let cluster = cell(row, cluster_c).to_string();
        let cluster = if cluster.is_empty() {
            None
        } else if cluster.chars().count() > 200 {
            problem("klynge", "Klyngens navn må højst være 200 tegn.".into());
            None
        } else if let Some(existing) = clusters.get(&cluster.to_lowercase()) {
            Some(existing.clone())
        } else {
            if !plan
                .new_clusters
                .iter()
                .any(|c| c.to_lowercase() == cluster.to_lowercase())
            {
                plan.new_clusters.push(cluster.clone());
            }
            plan.new_clusters
                .iter()
                .find(|c| c.to_lowercase() == cluster.to_lowercase())
                .cloned()
        };
        let is_pilot = parse_yes_no(cell(row, pilot_c));
        if is_pilot.is_none() {
            problem("pilot", "Skriv ja eller nej.".into());
        }
        if let (Some(kind), Some(is_pilot)) = (kind, is_pilot) {
            plan.rows.push(Row {
                name,
                kind,
                number: (!number.is_empty()).then_some(number),
                cluster,
                is_pilot,
            });
        }
    }
    Ok((plan, problems))
}

pub async fn apply(
    tx: &mut Tx,
    municipality_id: Uuid,
    actor: &Actor,
    plan: &Plan,
) -> AppResult<usize> {
    let mut cluster_ids: HashMap<String, Uuid> = sqlx::query!(
        "SELECT id, name FROM clusters WHERE municipality_id = $1",
        municipality_id
    )
    .fetch_all(&mut **tx)
    .await?
    .into_iter()
    .map(|r| (r.name, r.id))
    .collect();
    for name in &plan.new_clusters {
        let id = sqlx::query_scalar!(
            "INSERT INTO clusters (municipality_id, name) VALUES ($1, $2) RETURNING id",
            municipality_id,
            name
        )
        .fetch_one(&mut **tx)
        .await?;
        audit::record(
            tx,
            actor,
            Entry::new("import_create", "cluster", Some(id)).details(json!({"name": name})),
        )
        .await?;
        cluster_ids.insert(name.clone(), id);
    }
    for r in &plan.rows {
        let cluster_id = r.cluster.as_ref().and_then(|c| cluster_ids.get(c)).copied();
        let id = sqlx::query_scalar!(
            "INSERT INTO institutions (municipality_id, name, kind, institution_number, cluster_id, is_pilot)
             VALUES ($1, $2, $3, $4, $5, $6) RETURNING id",
            municipality_id,
            r.name,
            r.kind.as_str(),
            r.number,
            cluster_id,
            r.is_pilot
        )
        .fetch_one(&mut **tx)
        .await?;
        audit::record(
            tx,
            actor,
            Entry::new("import_create", "institution", Some(id))
                .details(json!({"name": r.name, "kind": r.kind.as_str()})),
        )
        .await?;
    }
    Ok(plan.rows.len())
}

/// The preview's sample: the first rows as the user will see them afterwards.
pub fn sample(plan: &Plan) -> Vec<Vec<String>> {
    plan.rows
        .iter()
        .take(20)
        .map(|r| {
            vec![
                r.name.clone(),
                r.kind.label().to_string(),
                r.number.clone().unwrap_or_default(),
                r.cluster.clone().unwrap_or_default(),
                if r.is_pilot { "ja" } else { "nej" }.to_string(),
            ]
        })
        .collect()
}

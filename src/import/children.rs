//! Importing children with up to two guardians and one enrolment per row. Built for whole
//! municipalities: the checks run in memory against sets loaded once, and the rows go in with a
//! few array (UNNEST) statements, so 50,000 children take seconds.

use std::collections::{HashMap, HashSet};

use time::Date;
use uuid::Uuid;

use super::csv::{cell, parse_yes_no, Problem, Table};
use crate::{
    audit::{self, Actor},
    children::{
        domain::{check_birth_date, format_date, parse_date, Cpr, Email, Line, Phone},
        forms::{check_end, check_start},
    },
    db::Tx,
    web::AppResult,
};

pub const COLUMNS: &[(&str, &str)] = &[
    ("fornavn", "Barnets fornavn(e) (skal udfyldes)"),
    ("efternavn", "Barnets efternavn (skal udfyldes)"),
    (
        "fødselsdato",
        "Fx 14-03-2021 eller 2021-03-14 (kan udelades, hvis CPR-nummeret er udfyldt)",
    ),
    (
        "cpr",
        "DDMMÅÅ-XXXX (frivilligt; skal passe med fødselsdatoen og være unikt)",
    ),
    (
        "institution",
        "Institutionens navn eller institutionsnummer (skal findes og være aktiv)",
    ),
    ("gruppe", "Gruppe eller stue (frivilligt)"),
    ("startdato", "Første dag i institutionen (skal udfyldes)"),
    ("slutdato", "Sidste dag (frivilligt)"),
    (
        "forælder1_navn",
        "Første forælders navn (frivilligt; kolonnerne for forælder 2 hedder forælder2_…)",
    ),
    (
        "forælder1_relation",
        "Fx mor, far, plejeforælder (frivilligt; tom = forælder)",
    ),
    ("forælder1_email", "E-mail (frivilligt)"),
    ("forælder1_telefon", "Telefon (frivilligt)"),
    ("forælder1_forældremyndighed", "ja eller nej (tom = ja)"),
];

pub const EXAMPLE: &str = "fornavn;efternavn;fødselsdato;cpr;institution;gruppe;startdato;slutdato;forælder1_navn;forælder1_relation;forælder1_email;forælder1_telefon;forælder1_forældremyndighed;forælder2_navn;forælder2_relation;forælder2_email;forælder2_telefon;forælder2_forældremyndighed\n\
Alma;Nielsen;14-03-2021;;Børnehaven Solsikken;Myretuen;01-04-2024;;Maria Nielsen;mor;maria@example.dk;12345678;ja;Jonas Nielsen;far;;87654321;ja\n\
Noah;Hansen;;020521-5123;Børnehaven Solsikken;Sommerfuglene;01-06-2024;;Fatima Hansen;mor;;;ja;;;;;\n";

pub struct Guardian {
    pub name: String,
    pub relation: String,
    pub email: Option<String>,
    pub phone: Option<String>,
    pub custody: bool,
}

pub struct Row {
    pub first_name: String,
    pub last_name: String,
    pub birth_date: Date,
    pub cpr: Option<Cpr>,
    pub institution_id: Uuid,
    pub institution: String,
    pub group: Option<String>,
    pub starts_on: Date,
    pub ends_on: Option<Date>,
    pub guardians: Vec<Guardian>,
}

pub struct Plan {
    pub rows: Vec<Row>,
}

/// Both spellings of a column: with æ/ø and in plain ASCII.
fn col(table: &Table, name: &str) -> Option<usize> {
    let ascii = name
        .replace('æ', "ae")
        .replace('ø', "oe")
        .replace('å', "aa");
    table.column(&[name, &ascii])
}

pub async fn check(
    tx: &mut Tx,
    municipality_id: Uuid,
    table: &Table,
) -> AppResult<(Plan, Vec<Problem>)> {
    let mut problems = table.require(&[
        &["fornavn"],
        &["efternavn"],
        &["institution"],
        &["startdato"],
    ]);
    if col(table, "fødselsdato").is_none() && col(table, "cpr").is_none() {
        problems.push(Problem {
            line: 1,
            column: "fødselsdato".into(),
            reason: "Kolonnen »fødselsdato« eller »cpr« skal være der.".into(),
        });
    }
    let mut plan = Plan {
        rows: Vec::with_capacity(table.rows.len()),
    };
    if !problems.is_empty() {
        return Ok((plan, problems));
    }
    let institutions = sqlx::query!(
        "SELECT id, name, institution_number FROM institutions WHERE municipality_id = $1 AND is_active",
        municipality_id
    )
    .fetch_all(&mut **tx)
    .await?;
    let mut by_key: HashMap<String, (Uuid, String)> = HashMap::new();
    for i in &institutions {
        by_key.insert(i.name.to_lowercase(), (i.id, i.name.clone()));
        if let Some(n) = &i.institution_number {
            by_key.insert(n.to_lowercase(), (i.id, i.name.clone()));
        }
    }
    let mut cprs: HashSet<Cpr> = sqlx::query_scalar!(
        r#"SELECT cpr AS "cpr!: Cpr" FROM children WHERE municipality_id = $1 AND cpr IS NOT NULL"#,
        municipality_id
    )
    .fetch_all(&mut **tx)
    .await?
    .into_iter()
    .collect();
    let today = crate::children::queries::today(tx).await?;
    let c = |name: &str| col(table, name);
    let (first_c, last_c, birth_c, cpr_c, inst_c, group_c, start_c, end_c) = (
        c("fornavn"),
        c("efternavn"),
        c("fødselsdato"),
        c("cpr"),
        c("institution"),
        c("gruppe"),
        c("startdato"),
        c("slutdato"),
    );
    let guardian_cols: Vec<[Option<usize>; 5]> = (1..=2)
        .map(|n| {
            ["navn", "relation", "email", "telefon", "forældremyndighed"]
                .map(|f| c(&format!("forælder{n}_{f}")))
        })
        .collect();

    for (line, row) in &table.rows {
        let before = problems.len();
        let mut problem = |column: &str, reason: String| {
            problems.push(Problem {
                line: *line,
                column: column.into(),
                reason,
            })
        };
        let first = Line::parse(cell(row, first_c), 100)
            .map_err(|e| problem("fornavn", e.message("fornavnet")));
        let last = Line::parse(cell(row, last_c), 100)
            .map_err(|e| problem("efternavn", e.message("efternavnet")));
        let cpr = match cell(row, cpr_c) {
            "" => None,
            raw => {
                match Cpr::parse(raw) {
                    Ok(cpr) if cprs.contains(&cpr) => {
                        problem("cpr", "Et andet barn i kommunen (eller i filen) har allerede dette CPR-nummer.".into());
                        None
                    }
                    Ok(cpr) => {
                        cprs.insert(cpr.clone());
                        Some(cpr)
                    }
                    Err(e) => {
                        problem("cpr", e.message().into());
                        None
                    }
                }
            }
        };
        let birth = match (cell(row, birth_c), &cpr) {
            // The date the CPR number gives must lie in the same window as a typed one.
            ("", Some(cpr)) => match check_birth_date(cpr.birth_date(), today) {
                Ok(d) => Some(d),
                Err(msg) => {
                    problem("cpr", format!("CPR-nummerets dato: {msg}"));
                    None
                }
            },
            ("", None) => {
                problem(
                    "fødselsdato",
                    "Udfyld fødselsdatoen (eller CPR-nummeret).".into(),
                );
                None
            }
            (raw, _) => match parse_date(raw).map(|d| check_birth_date(d, today)) {
                None => {
                    problem(
                        "fødselsdato",
                        format!("»{raw}« er ikke en dato. Skriv fx 14-03-2021."),
                    );
                    None
                }
                Some(Err(msg)) => {
                    problem("fødselsdato", msg.into());
                    None
                }
                Some(Ok(d)) => {
                    if cpr.as_ref().is_some_and(|c| c.birth_date() != d) {
                        problem("cpr", "CPR-nummeret passer ikke med fødselsdatoen.".into());
                    }
                    Some(d)
                }
            },
        };
        let institution = match by_key.get(&cell(row, inst_c).to_lowercase()) {
            Some(found) => Some(found.clone()),
            None => {
                problem(
                    "institution",
                    format!(
                        "Institutionen »{}« findes ikke (eller er deaktiveret).",
                        cell(row, inst_c)
                    ),
                );
                None
            }
        };
        let group = Line::parse_optional(cell(row, group_c), 100)
            .map_err(|e| problem("gruppe", e.message("gruppen")))
            .ok()
            .flatten();
        // The window of the enrolment form: from the birth date to three years ahead.
        let start = match parse_date(cell(row, start_c)) {
            None => {
                problem(
                    "startdato",
                    "Udfyld startdatoen som en dato, fx 01-08-2024.".into(),
                );
                None
            }
            Some(d) => check_start(d, birth, today)
                .map_err(|e| problem("startdato", e))
                .ok(),
        };
        let end = match cell(row, end_c) {
            "" => None,
            raw => match parse_date(raw) {
                Some(d) => check_end(d, start, today)
                    .map_err(|e| problem("slutdato", e.into()))
                    .ok(),
                None => {
                    problem("slutdato", format!("»{raw}« er ikke en dato."));
                    None
                }
            },
        };
        let mut guardians = Vec::new();
        for (n, cols) in guardian_cols.iter().enumerate() {
            let [name_c, relation_c, email_c, phone_c, custody_c] = *cols;
            let column = |f: &str| format!("forælder{}_{f}", n + 1);
            let cells = [name_c, relation_c, email_c, phone_c, custody_c].map(|c| cell(row, c));
            if cells.iter().all(|c| c.is_empty()) {
                continue;
            }
            let name = Line::parse(cells[0], 200)
                .map_err(|e| problem(&column("navn"), e.message("navnet")));
            let relation = Line::parse_optional(cells[1], 50)
                .map_err(|e| problem(&column("relation"), e.message("relationen")));
            let email =
                Email::parse_optional(cells[2]).map_err(|e| problem(&column("email"), e.into()));
            let phone =
                Phone::parse_optional(cells[3]).map_err(|e| problem(&column("telefon"), e.into()));
            let custody = if cells[4].is_empty() {
                Some(true)
            } else {
                parse_yes_no(cells[4])
            };
            if custody.is_none() {
                problem(&column("forældremyndighed"), "Skriv ja eller nej.".into());
            }
            if let (Ok(name), Ok(relation), Ok(email), Ok(phone), Some(custody)) =
                (name, relation, email, phone, custody)
            {
                guardians.push(Guardian {
                    name: name.into_string(),
                    relation: relation
                        .map(Line::into_string)
                        .unwrap_or_else(|| "forælder".into()),
                    email: email.map(Email::into_string),
                    phone: phone.map(Phone::into_string),
                    custody,
                });
            }
        }
        if problems.len() > before {
            continue;
        }
        if let (
            Ok(first),
            Ok(last),
            Some(birth),
            Some((institution_id, institution)),
            Some(starts_on),
        ) = (first, last, birth, institution, start)
        {
            plan.rows.push(Row {
                first_name: first.into_string(),
                last_name: last.into_string(),
                birth_date: birth,
                cpr,
                institution_id,
                institution,
                group: group.map(Line::into_string),
                starts_on,
                ends_on: end,
                guardians,
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
    let n = plan.rows.len();
    let ids: Vec<Uuid> = (0..n).map(|_| Uuid::new_v4()).collect();
    let first: Vec<&str> = plan.rows.iter().map(|r| r.first_name.as_str()).collect();
    let last: Vec<&str> = plan.rows.iter().map(|r| r.last_name.as_str()).collect();
    let birth: Vec<Date> = plan.rows.iter().map(|r| r.birth_date).collect();
    let cpr: Vec<Option<Cpr>> = plan.rows.iter().map(|r| r.cpr.clone()).collect();
    sqlx::query(
        "INSERT INTO children (municipality_id, id, first_name, last_name, birth_date, cpr)
         SELECT $1, * FROM UNNEST($2::uuid[], $3::text[], $4::text[], $5::date[], $6::text[])",
    )
    .bind(municipality_id)
    .bind(&ids)
    .bind(&first)
    .bind(&last)
    .bind(&birth)
    .bind(&cpr)
    .execute(&mut **tx)
    .await?;

    let institutions: Vec<Uuid> = plan.rows.iter().map(|r| r.institution_id).collect();
    let groups: Vec<Option<&str>> = plan.rows.iter().map(|r| r.group.as_deref()).collect();
    let starts: Vec<Date> = plan.rows.iter().map(|r| r.starts_on).collect();
    let ends: Vec<Option<Date>> = plan.rows.iter().map(|r| r.ends_on).collect();
    sqlx::query!(
        "INSERT INTO enrolments (municipality_id, child_id, institution_id, group_name, starts_on, ends_on)
         SELECT $1, * FROM UNNEST($2::uuid[], $3::uuid[], $4::text[], $5::date[], $6::date[])",
        municipality_id,
        &ids,
        &institutions,
        &groups as &[Option<&str>],
        &starts,
        &ends as &[Option<Date>]
    )
    .execute(&mut **tx)
    .await?;

    let mut g_child = Vec::new();
    let mut g_name = Vec::new();
    let mut g_relation = Vec::new();
    let mut g_email = Vec::new();
    let mut g_phone = Vec::new();
    let mut g_custody = Vec::new();
    for (row, id) in plan.rows.iter().zip(&ids) {
        for g in &row.guardians {
            g_child.push(*id);
            g_name.push(g.name.as_str());
            g_relation.push(g.relation.as_str());
            g_email.push(g.email.as_deref());
            g_phone.push(g.phone.as_deref());
            g_custody.push(g.custody);
        }
    }
    sqlx::query!(
        "INSERT INTO guardians (municipality_id, child_id, name, relation, email, phone, has_custody)
         SELECT $1, * FROM UNNEST($2::uuid[], $3::text[], $4::text[], $5::text[], $6::text[], $7::bool[])",
        municipality_id,
        &g_child,
        &g_name as &[&str],
        &g_relation as &[&str],
        &g_email as &[Option<&str>],
        &g_phone as &[Option<&str>],
        &g_custody
    )
    .execute(&mut **tx)
    .await?;
    audit::record_children(tx, actor, "import_create", &ids).await?;
    Ok(n)
}

pub fn sample(plan: &Plan) -> Vec<Vec<String>> {
    plan.rows
        .iter()
        .take(20)
        .map(|r| {
            vec![
                format!("{} {}", r.first_name, r.last_name),
                format_date(r.birth_date),
                if r.cpr.is_some() { "ja" } else { "nej" }.to_string(),
                r.institution.clone(),
                r.group.clone().unwrap_or_default(),
                format_date(r.starts_on),
                r.guardians
                    .iter()
                    .map(|g| g.name.as_str())
                    .collect::<Vec<_>>()
                    .join(", "),
            ]
        })
        .collect()
}

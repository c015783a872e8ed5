//! The handover package: one handover as a self-contained JSON document that can travel to
//! another municipality (by transfer inside the platform, or as a file). Documented in
//! docs/handover-package.md, with the JSON Schema in docs/handover-package.schema.json.
//!
//! What goes in is what the receiver of the handover may read (`handover::load` with
//! `Audience::Receiver`), and only whole sections: a section whose sensitive part the guardians
//! have not released is left out entirely. The consent ledger goes along for the sections that
//! are in it. The CPR number stays at home (see the documentation).

use serde::{Deserialize, Serialize};
use time::{format_description::well_known::Rfc3339, OffsetDateTime};
use uuid::Uuid;

use crate::{
    children::domain::iso_date,
    db::Tx,
    forms::TransitionKind,
    transitions::{
        handover::{self, Audience},
        queries::Transition,
    },
    web::{AppError, AppResult},
};

pub const FORMAT: &str = "overgang.handover-package";
pub const VERSION: u32 = 1;
/// The largest package file an administrator may import.
pub const MAX_BYTES: usize = 512 * 1024;

const MAX_SHORT: usize = 200;
const MAX_LABEL: usize = 1000;
const MAX_TEXT: usize = 20_000;

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Package {
    pub format: String,
    pub version: u32,
    /// RFC 3339, UTC.
    pub created_at: String,
    pub sender: Sender,
    pub child: Child,
    pub transition: TransitionInfo,
    pub sections: Vec<Section>,
    pub parents_perspective: Vec<Perspective>,
    pub consent: Vec<ConsentEntry>,
    pub amendments: Vec<Amendment>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Sender {
    pub municipality: Municipality,
    pub institution: Institution,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Municipality {
    /// The 4-digit municipality code.
    pub code: String,
    pub name: String,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Institution {
    pub name: String,
    pub kind: String,
    #[serde(default)]
    pub institution_number: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Child {
    pub first_name: String,
    pub last_name: String,
    /// YYYY-MM-DD.
    pub birth_date: String,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TransitionInfo {
    pub kind: String,
    /// YYYY-MM-DD.
    pub planned_date: String,
    pub template_title: String,
    pub template_version: i32,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Section {
    /// The sender's template section id (what the consent entries refer to).
    pub id: Uuid,
    pub title: String,
    /// Whether the section was shared because the guardians consented.
    pub needs_consent: bool,
    pub items: Vec<Item>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Item {
    pub question: String,
    /// As the reader sees it (choice labels, DD-MM-YYYY dates); empty when unanswered.
    pub answer: String,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Perspective {
    pub guardian: String,
    pub text: String,
    pub updated_at: String,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConsentEntry {
    pub section_id: Uuid,
    pub section_title: String,
    /// None when retention has removed the guardian.
    #[serde(default)]
    pub guardian: Option<String>,
    pub decision: String,
    pub method: String,
    pub recorded_at: String,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Amendment {
    pub at: String,
    #[serde(default)]
    pub by: Option<String>,
    pub text: String,
}

fn rfc3339(at: OffsetDateTime) -> String {
    at.to_offset(time::UtcOffset::UTC)
        .replace_nanosecond(0)
        .ok()
        .and_then(|t| t.format(&Rfc3339).ok())
        .unwrap_or_default()
}

/// Statuses in which a handover is finished enough to leave the municipality: ready (the
/// parents have seen it) or later. Not drafts, not cancelled ones.
pub fn exportable(status: &str) -> bool {
    matches!(
        status,
        "ready" | "sent" | "received" | "feedback_requested" | "feedback_given" | "closed"
    )
}

/// The package of transition `t` of municipality `m`, as its receiver may read it.
pub async fn build(tx: &mut Tx, m: Uuid, t: &Transition) -> AppResult<Package> {
    let municipality = sqlx::query!("SELECT code, name FROM municipalities WHERE id = $1", m)
        .fetch_one(&mut **tx)
        .await?;
    let institution = sqlx::query!(
        "SELECT name, kind, institution_number FROM institutions WHERE municipality_id = $1 AND id = $2",
        m,
        t.sending_institution_id
    )
    .fetch_one(&mut **tx)
    .await?;
    let child = sqlx::query!(
        "SELECT first_name, last_name, birth_date FROM children WHERE municipality_id = $1 AND id = $2",
        m,
        t.child_id
    )
    .fetch_one(&mut **tx)
    .await?;
    let read = handover::load(tx, m, t.id, t.template_id, Audience::Receiver).await?;
    let sections: Vec<Section> = read
        .into_iter()
        .filter(|s| !s.withheld && !s.items.is_empty())
        .map(|s| Section {
            id: s.id,
            title: s.title,
            needs_consent: s.needs_consent,
            items: s
                .items
                .into_iter()
                .map(|i| Item {
                    question: i.label,
                    answer: i.answer,
                })
                .collect(),
        })
        .collect();
    let kept: Vec<Uuid> = sections.iter().map(|s| s.id).collect();
    let perspectives = sqlx::query!(
        "SELECT g.name, p.body, p.updated_at
         FROM parent_perspectives p
         JOIN guardians g ON g.municipality_id = p.municipality_id AND g.id = p.guardian_id
         WHERE p.municipality_id = $1 AND p.transition_id = $2 AND p.body <> ''
         ORDER BY g.name, g.id",
        m,
        t.id
    )
    .fetch_all(&mut **tx)
    .await?;
    let consent = sqlx::query!(
        r#"SELECT c.section_id, s.title, g.name AS "guardian?", c.decision, c.method, c.recorded_at
           FROM consent_records c
           JOIN template_sections s ON s.municipality_id = c.municipality_id AND s.id = c.section_id
           LEFT JOIN guardians g ON g.municipality_id = c.municipality_id AND g.id = c.guardian_id
           WHERE c.municipality_id = $1 AND c.transition_id = $2 AND c.section_id = ANY($3)
           ORDER BY c.recorded_at, c.id"#,
        m,
        t.id,
        &kept[..]
    )
    .fetch_all(&mut **tx)
    .await?;
    let amendments = sqlx::query!(
        r#"SELECT a.body, a.created_at, u.name AS "name?"
           FROM transition_amendments a
           LEFT JOIN users u ON u.municipality_id = a.municipality_id AND u.id = a.created_by
           WHERE a.municipality_id = $1 AND a.transition_id = $2
           ORDER BY a.created_at, a.id"#,
        m,
        t.id
    )
    .fetch_all(&mut **tx)
    .await?;
    let now = sqlx::query_scalar!(r#"SELECT now() AS "now!""#)
        .fetch_one(&mut **tx)
        .await?;
    Ok(Package {
        format: FORMAT.into(),
        version: VERSION,
        created_at: rfc3339(now),
        sender: Sender {
            municipality: Municipality {
                code: municipality.code,
                name: municipality.name,
            },
            institution: Institution {
                name: institution.name,
                kind: institution.kind,
                institution_number: institution.institution_number,
            },
        },
        child: Child {
            first_name: child.first_name,
            last_name: child.last_name,
            birth_date: iso_date(child.birth_date),
        },
        transition: TransitionInfo {
            kind: t.kind.clone(),
            planned_date: iso_date(t.planned_date),
            template_title: t.template_title.clone(),
            template_version: t.template_version,
        },
        sections,
        parents_perspective: perspectives
            .into_iter()
            .map(|p| Perspective {
                guardian: p.name,
                text: p.body,
                updated_at: rfc3339(p.updated_at),
            })
            .collect(),
        consent: consent
            .into_iter()
            .map(|c| ConsentEntry {
                section_id: c.section_id,
                section_title: c.title,
                guardian: c.guardian,
                decision: c.decision,
                method: c.method,
                recorded_at: rfc3339(c.recorded_at),
            })
            .collect(),
        amendments: amendments
            .into_iter()
            .map(|a| Amendment {
                at: rfc3339(a.created_at),
                by: a.name,
                text: a.body,
            })
            .collect(),
    })
}

/// Why an uploaded package was refused, in Danish for the administrator.
#[derive(Debug, PartialEq)]
pub struct Invalid(pub String);

fn invalid<T>(msg: impl Into<String>) -> Result<T, Invalid> {
    Err(Invalid(msg.into()))
}

pub fn parse_iso_date(s: &str) -> Option<time::Date> {
    let format = time::macros::format_description!("[year]-[month]-[day]");
    time::Date::parse(s, &format).ok()
}

fn text(field: &str, value: &str, min: usize, max: usize) -> Result<(), Invalid> {
    let n = value.chars().count();
    if n < min || n > max {
        return invalid(format!(
            "Feltet «{field}» skal have mellem {min} og {max} tegn."
        ));
    }
    Ok(())
}

fn timestamp(field: &str, value: &str) -> Result<(), Invalid> {
    if OffsetDateTime::parse(value, &Rfc3339).is_err() {
        return invalid(format!(
            "Feltet «{field}» er ikke et gyldigt tidspunkt (RFC 3339)."
        ));
    }
    Ok(())
}

/// Parses an uploaded package: JSON, the right format and version (checked first, so an old or
/// foreign file gets a clear message), no unknown fields, every field within its limits.
/// `today` is the Danish date (the database's `current_date`), for the birth date's check.
pub fn parse(bytes: &[u8], today: time::Date) -> Result<Package, Invalid> {
    if bytes.len() > MAX_BYTES {
        return invalid(format!(
            "Filen er for stor (højst {} KB).",
            MAX_BYTES / 1024
        ));
    }
    let value: serde_json::Value = match serde_json::from_slice(bytes) {
        Ok(v) => v,
        Err(_) => return invalid("Filen er ikke gyldig JSON."),
    };
    if value.get("format").and_then(|v| v.as_str()) != Some(FORMAT) {
        return invalid(format!(
            "Filen er ikke en overleveringspakke (feltet «format» skal være «{FORMAT}»)."
        ));
    }
    match value.get("version").and_then(|v| v.as_u64()) {
        Some(v) if v == u64::from(VERSION) => {}
        Some(v) => {
            return invalid(format!(
                "Pakken har version {v}; Overgang kan læse version {VERSION}."
            ))
        }
        None => return invalid("Pakken mangler sit versionsnummer («version»)."),
    }
    let package: Package = match serde_json::from_value(value) {
        Ok(p) => p,
        Err(e) => {
            // serde's message names the field, never the content
            let msg = e.to_string();
            let field = msg.split('`').nth(1).unwrap_or("");
            return invalid(if field.is_empty() {
                "Pakken følger ikke formatet: et felt mangler eller har en forkert type."
                    .to_string()
            } else {
                format!("Pakken følger ikke formatet (feltet «{field}»).")
            });
        }
    };
    package.validate(today)?;
    Ok(package)
}

impl Package {
    pub fn validate(&self, today: time::Date) -> Result<(), Invalid> {
        // PostgreSQL's jsonb cannot hold NUL, and no legitimate text contains one
        if serde_json::to_string(self)
            .map(|s| s.contains("\\u0000"))
            .unwrap_or(true)
        {
            return invalid("Pakken indeholder ugyldige tegn.");
        }
        timestamp("created_at", &self.created_at)?;
        let m = &self.sender.municipality;
        if m.code.len() != 4 || !m.code.chars().all(|c| c.is_ascii_digit()) {
            return invalid("Kommunekoden skal være 4 cifre.");
        }
        text("sender.municipality.name", &m.name, 1, MAX_SHORT)?;
        text(
            "sender.institution.name",
            &self.sender.institution.name,
            1,
            MAX_SHORT,
        )?;
        text(
            "sender.institution.kind",
            &self.sender.institution.kind,
            1,
            50,
        )?;
        if let Some(n) = &self.sender.institution.institution_number {
            text("sender.institution.institution_number", n, 1, 20)?;
        }
        text("child.first_name", &self.child.first_name, 1, 100)?;
        text("child.last_name", &self.child.last_name, 1, 100)?;
        if !parse_iso_date(&self.child.birth_date)
            .is_some_and(|d| crate::children::domain::check_birth_date(d, today).is_ok())
        {
            return invalid(
                "Barnets fødselsdato skal være en dato (ÅÅÅÅ-MM-DD) efter 1990 og ikke i fremtiden.",
            );
        }
        if TransitionKind::parse(&self.transition.kind).is_none() {
            return invalid("Overgangens type kendes ikke.");
        }
        // The format takes a sign and more digits: a year PostgreSQL could not store.
        if !parse_iso_date(&self.transition.planned_date)
            .is_some_and(|d| crate::transitions::PLANNED_YEARS.contains(&d.year()))
        {
            return invalid(
                "Overgangens planlagte dato skal være en dato (ÅÅÅÅ-MM-DD) mellem 1990 og 2200.",
            );
        }
        text(
            "transition.template_title",
            &self.transition.template_title,
            1,
            MAX_SHORT,
        )?;
        if self.sections.len() > 100 {
            return invalid("Pakken har for mange afsnit (højst 100).");
        }
        for s in &self.sections {
            text("sections.title", &s.title, 1, MAX_SHORT)?;
            if s.items.len() > 200 {
                return invalid("Et afsnit har for mange spørgsmål (højst 200).");
            }
            for i in &s.items {
                text("sections.items.question", &i.question, 1, MAX_LABEL)?;
                text("sections.items.answer", &i.answer, 0, MAX_TEXT)?;
            }
        }
        if self.parents_perspective.len() > 20 {
            return invalid("Pakken har for mange forældreperspektiver (højst 20).");
        }
        for p in &self.parents_perspective {
            text("parents_perspective.guardian", &p.guardian, 1, MAX_SHORT)?;
            text("parents_perspective.text", &p.text, 0, MAX_TEXT)?;
            timestamp("parents_perspective.updated_at", &p.updated_at)?;
        }
        if self.consent.len() > 1000 {
            return invalid("Pakken har for mange samtykkeregistreringer (højst 1000).");
        }
        for c in &self.consent {
            text("consent.section_title", &c.section_title, 1, MAX_SHORT)?;
            if let Some(g) = &c.guardian {
                text("consent.guardian", g, 1, MAX_SHORT)?;
            }
            if !matches!(c.decision.as_str(), "given" | "refused" | "withdrawn") {
                return invalid("En samtykkeregistrering har en ukendt beslutning.");
            }
            if !matches!(c.method.as_str(), "link" | "staff") {
                return invalid("En samtykkeregistrering har en ukendt metode.");
            }
            timestamp("consent.recorded_at", &c.recorded_at)?;
        }
        if self.amendments.len() > 200 {
            return invalid("Pakken har for mange tilføjelser (højst 200).");
        }
        for a in &self.amendments {
            timestamp("amendments.at", &a.at)?;
            if let Some(b) = &a.by {
                text("amendments.by", b, 1, MAX_SHORT)?;
            }
            text("amendments.text", &a.text, 1, MAX_TEXT)?;
        }
        Ok(())
    }

    pub fn to_json(&self) -> AppResult<serde_json::Value> {
        serde_json::to_value(self).map_err(|e| AppError::Internal(e.into()))
    }

    pub fn from_json(value: serde_json::Value) -> AppResult<Package> {
        serde_json::from_value(value).map_err(|e| AppError::Internal(e.into()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TODAY: time::Date = time::macros::date!(2026 - 12 - 07);

    fn sample() -> Package {
        Package {
            format: FORMAT.into(),
            version: VERSION,
            created_at: "2026-12-01T10:00:00Z".into(),
            sender: Sender {
                municipality: Municipality {
                    code: "0630".into(),
                    name: "Vejle".into(),
                },
                institution: Institution {
                    name: "Solsikken".into(),
                    kind: "boernehave".into(),
                    institution_number: None,
                },
            },
            child: Child {
                first_name: "Ida".into(),
                last_name: "Hansen".into(),
                birth_date: "2020-05-05".into(),
            },
            transition: TransitionInfo {
                kind: "kindergarten_school".into(),
                planned_date: "2027-08-01".into(),
                template_title: "Børnehave til skole".into(),
                template_version: 1,
            },
            sections: vec![Section {
                id: Uuid::nil(),
                title: "Sprog".into(),
                needs_consent: false,
                items: vec![Item {
                    question: "Hvad taler barnet?".into(),
                    answer: "Dansk".into(),
                }],
            }],
            parents_perspective: vec![],
            consent: vec![],
            amendments: vec![],
        }
    }

    #[test]
    fn parses_its_own_output_and_refuses_the_rest() {
        let p = sample();
        let bytes = serde_json::to_vec(&p).unwrap();
        assert_eq!(parse(&bytes, TODAY), Ok(p.clone()));
        assert!(parse(b"{not json", TODAY).is_err());
        let mut v = serde_json::to_value(&p).unwrap();
        v["version"] = 2.into();
        assert!(parse(&serde_json::to_vec(&v).unwrap(), TODAY)
            .unwrap_err()
            .0
            .contains("version 2"));
        let mut v = serde_json::to_value(&p).unwrap();
        v["child"]["cpr"] = "010101-1234".into();
        assert!(
            parse(&serde_json::to_vec(&v).unwrap(), TODAY).is_err(),
            "unknown field"
        );
        let mut q = p.clone();
        q.child.first_name = "a\0b".into();
        assert!(
            parse(&serde_json::to_vec(&q).unwrap(), TODAY).is_err(),
            "NUL"
        );
        let mut q = p.clone();
        q.child.birth_date = "05-05-2020".into();
        assert!(parse(&serde_json::to_vec(&q).unwrap(), TODAY).is_err());
        for (birth, planned) in [
            ("2999-01-01", "2027-08-01"),
            ("2020-05-05", "-5000-01-01"),
            ("2020-05-05", "+12345-01-01"),
            ("2020-05-05", "1989-12-31"),
        ] {
            let mut q = p.clone();
            q.child.birth_date = birth.into();
            q.transition.planned_date = planned.into();
            assert!(
                parse(&serde_json::to_vec(&q).unwrap(), TODAY).is_err(),
                "{birth} {planned}"
            );
        }
        // the birth date is checked against the day given (the Danish date), not the clock's
        let mut q = p.clone();
        q.child.birth_date = "2026-12-07".into();
        assert!(parse(&serde_json::to_vec(&q).unwrap(), TODAY).is_ok());
        q.child.birth_date = "2026-12-08".into();
        assert!(parse(&serde_json::to_vec(&q).unwrap(), TODAY).is_err());
        let mut q = p;
        q.transition.planned_date = "2200-12-31".into();
        assert!(parse(&serde_json::to_vec(&q).unwrap(), TODAY).is_ok());
        assert!(parse(&vec![b' '; MAX_BYTES + 1], TODAY)
            .unwrap_err()
            .0
            .contains("for stor"));
    }
}

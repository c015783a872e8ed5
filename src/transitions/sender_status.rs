//! The sender's status: for the leader of a sending institution (their institutions) and the
//! municipal administrator (every sending institution, or one), per sending institution and
//! cohort (the year of the planned date, as in insights, and the kind of transition), how many
//! handovers are in each state. Every count links to the worklist filtered to exactly those
//! children (`handlers::list` with `?institution=…&year=…&kind=…&state=…`).
//!
//! The states are defined once, in SQL (`handover_states`, migration 20261201000019), and
//! both the counts and the filtered list select by it, so a count and its list cannot differ.
//! Staff, specialists and analysts are refused (403); an institution id that is not one of
//! the user's (or not the municipality's) is 404.

use askama::Template;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::json;
use uuid::Uuid;

use super::handlers::NAV;
use crate::{
    audit::Entry,
    auth::{Ctx, Permission, Role},
    db::Tx,
    forms::TransitionKind,
    web::{self, AppError, AppResult, Layout, Query, SelectOption},
};

pub const PATH: &str = "/transitions/status";

/// A state of `handover_states`, with its column heading and its definition.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum State {
    All,
    Draft,
    WithParents,
    Ready,
    Sent,
    Read,
    Acknowledged,
    Overdue,
}

impl State {
    pub const ALL: [State; 8] = [
        State::All,
        State::Draft,
        State::WithParents,
        State::Ready,
        State::Sent,
        State::Read,
        State::Acknowledged,
        State::Overdue,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            State::All => "all",
            State::Draft => "draft",
            State::WithParents => "with_parents",
            State::Ready => "ready",
            State::Sent => "sent",
            State::Read => "read",
            State::Acknowledged => "acknowledged",
            State::Overdue => "overdue",
        }
    }

    pub fn parse(s: &str) -> Option<State> {
        Self::ALL.into_iter().find(|k| k.as_str() == s)
    }

    pub fn label(self) -> &'static str {
        match self {
            State::All => "I alt",
            State::Draft => "Kladde",
            State::WithParents => "Hos forældrene",
            State::Ready => "Klar til afsendelse",
            State::Sent => "Sendt",
            State::Read => "Læst af modtager",
            State::Acknowledged => "Kvitteret",
            State::Overdue => "Overskredet",
        }
    }

    /// What the column counts (the same words as the SQL function's comment).
    pub fn definition(self) -> &'static str {
        match self {
            State::All => "Alle overgange, der ikke er annulleret.",
            State::Draft => "Overleveringen er ved at blive skrevet (status «Kladde»).",
            State::WithParents => "Forældrene ser overleveringen og kan give samtykke og skrive deres perspektiv (status «Hos forældrene»).",
            State::Ready => "Skrevet færdig, men endnu ikke sendt (status «Klar til afsendelse»).",
            State::Sent => "Sendt til modtageren: status «Sendt» eller en senere status (modtaget, tilbagemelding, afsluttet).",
            State::Read => "Sendt og åbnet af mindst én person hos modtageren.",
            State::Acknowledged => "Modtageren har kvitteret for modtagelsen (status «Modtaget» er nået). En overlevering, der gik videre til tilbagemelding uden kvittering, tælles ikke med.",
            State::Overdue => "Ikke sendt endnu (kladde, hos forældrene eller klar til afsendelse), og den planlagte overgangsdato er passeret. Kommunen har ingen særskilt frist for afsendelse, så fristen er overgangsdatoen.",
        }
    }
}

/// Whose transitions the user may count and list: administrators all of the municipality's,
/// leaders those sent from the institutions they lead; anybody else is refused.
pub struct Senders {
    pub municipality_id: Uuid,
    pub all: bool,
    pub led: Vec<Uuid>,
}

pub fn senders(ctx: &Ctx) -> AppResult<Senders> {
    ctx.user.require(Permission::ViewChildren)?;
    let municipality_id = ctx.user.municipality()?;
    if ctx.user.has_role(Role::MunicipalAdmin) {
        return Ok(Senders {
            municipality_id,
            all: true,
            led: Vec::new(),
        });
    }
    let led: Vec<Uuid> = ctx
        .user
        .institutions_with(Role::InstitutionLeader)
        .collect();
    if led.is_empty() {
        return Err(AppError::Forbidden);
    }
    Ok(Senders {
        municipality_id,
        all: false,
        led,
    })
}

/// The institution of a filter, if it is one the user may see (else 404; "" is no filter).
pub async fn institution(tx: &mut Tx, s: &Senders, raw: &str) -> AppResult<Option<(Uuid, String)>> {
    let raw = raw.trim();
    if raw.is_empty() {
        return Ok(None);
    }
    let id: Uuid = raw.parse().map_err(|_| AppError::NotFound)?;
    let name = sqlx::query_scalar!(
        "SELECT name FROM institutions WHERE municipality_id = $1 AND id = $2 AND ($3 OR id = ANY($4))",
        s.municipality_id,
        id,
        s.all,
        &s.led[..]
    )
    .fetch_optional(&mut **tx)
    .await?
    .ok_or(AppError::NotFound)?;
    Ok(Some((id, name)))
}

/// A cohort year of a filter ("" is none); anything else is a 400.
pub fn year(raw: &str) -> AppResult<Option<i32>> {
    match raw.trim() {
        "" => Ok(None),
        y => y
            .parse::<i32>()
            .ok()
            .filter(|y| (1900..=2200).contains(y))
            .map(Some)
            .ok_or_else(|| AppError::BadRequest("Årgangen skal være et årstal, fx 2027.".into())),
    }
}

/// A transition kind of a filter ("" is none); an unknown one is a 400.
pub fn kind(raw: &str) -> AppResult<Option<TransitionKind>> {
    match raw.trim() {
        "" => Ok(None),
        k => TransitionKind::parse(k)
            .map(Some)
            .ok_or_else(|| AppError::BadRequest("Ukendt type overgang.".into())),
    }
}

/// The list link behind a count.
pub fn list_href(institution: Uuid, year: i32, kind: &str, state: State) -> String {
    format!(
        "/transitions?institution={institution}&year={year}&kind={kind}&state={}",
        state.as_str()
    )
}

// ---------------------------------------------------------------------------------------------
// Queries

/// The counts of one sending institution's cohort.
pub struct CountRow {
    pub institution_id: Uuid,
    pub institution_name: String,
    pub year: i32,
    pub kind: String,
    pub all: i64,
    pub draft: i64,
    pub with_parents: i64,
    pub ready: i64,
    pub sent: i64,
    pub read: i64,
    pub acknowledged: i64,
    pub overdue: i64,
}

impl CountRow {
    fn count(&self, s: State) -> i64 {
        match s {
            State::All => self.all,
            State::Draft => self.draft,
            State::WithParents => self.with_parents,
            State::Ready => self.ready,
            State::Sent => self.sent,
            State::Read => self.read,
            State::Acknowledged => self.acknowledged,
            State::Overdue => self.overdue,
        }
    }
}

/// Every count in one statement: one row per sending institution, year and kind (the
/// transitions_sending index narrows to the institutions; the read and acknowledgement checks
/// are primary-key and partial-index lookups).
async fn counts(
    tx: &mut Tx,
    s: &Senders,
    institution: Option<Uuid>,
    year: Option<i32>,
) -> Result<Vec<CountRow>, sqlx::Error> {
    sqlx::query_as!(
        CountRow,
        r#"SELECT t.sending_institution_id AS institution_id, i.name AS institution_name,
                  extract(year FROM t.planned_date)::int AS "year!", t.kind,
                  count(*) FILTER (WHERE 'all' = ANY(x.s)) AS "all!",
                  count(*) FILTER (WHERE 'draft' = ANY(x.s)) AS "draft!",
                  count(*) FILTER (WHERE 'with_parents' = ANY(x.s)) AS "with_parents!",
                  count(*) FILTER (WHERE 'ready' = ANY(x.s)) AS "ready!",
                  count(*) FILTER (WHERE 'sent' = ANY(x.s)) AS "sent!",
                  count(*) FILTER (WHERE 'read' = ANY(x.s)) AS "read!",
                  count(*) FILTER (WHERE 'acknowledged' = ANY(x.s)) AS "acknowledged!",
                  count(*) FILTER (WHERE 'overdue' = ANY(x.s)) AS "overdue!"
           FROM transitions t
           JOIN institutions i ON i.municipality_id = t.municipality_id AND i.id = t.sending_institution_id
           CROSS JOIN LATERAL (SELECT handover_states(
               t.status, t.planned_date, current_date,
               EXISTS (SELECT 1 FROM transition_reads r
                       WHERE r.municipality_id = t.municipality_id AND r.transition_id = t.id),
               EXISTS (SELECT 1 FROM transition_events e
                       WHERE e.municipality_id = t.municipality_id AND e.transition_id = t.id
                         AND e.to_status = 'received')) AS s) x
           WHERE t.municipality_id = $1 AND ($2 OR t.sending_institution_id = ANY($3))
             AND ($4::uuid IS NULL OR t.sending_institution_id = $4)
             AND ($5::int IS NULL OR (t.planned_date >= make_date($5, 1, 1)
                                      AND t.planned_date < make_date($5 + 1, 1, 1)))
             AND t.status <> 'cancelled'
           GROUP BY t.sending_institution_id, i.name, 3, t.kind
           ORDER BY i.name, t.sending_institution_id, 3 DESC, t.kind"#,
        s.municipality_id,
        s.all,
        &s.led[..],
        institution,
        year
    )
    .fetch_all(&mut **tx)
    .await
}

/// The institutions to filter by: an administrator's sending institutions (those with a
/// transition), a leader's own.
async fn institution_choices(
    tx: &mut Tx,
    s: &Senders,
) -> Result<Vec<super::queries::Choice>, sqlx::Error> {
    sqlx::query_as!(
        super::queries::Choice,
        "SELECT i.id, i.name FROM institutions i
         WHERE i.municipality_id = $1
           AND (($2 AND EXISTS (SELECT 1 FROM transitions t
                                WHERE t.municipality_id = i.municipality_id
                                  AND t.sending_institution_id = i.id))
                OR i.id = ANY($3))
         ORDER BY i.name, i.id",
        s.municipality_id,
        s.all,
        &s.led[..]
    )
    .fetch_all(&mut **tx)
    .await
}

/// The cohort years with transitions in scope, newest first (an index-only scan).
async fn years(tx: &mut Tx, s: &Senders) -> Result<Vec<i32>, sqlx::Error> {
    sqlx::query_scalar!(
        r#"SELECT DISTINCT extract(year FROM t.planned_date)::int AS "year!"
           FROM transitions t
           WHERE t.municipality_id = $1 AND ($2 OR t.sending_institution_id = ANY($3))
             AND t.status <> 'cancelled'
           ORDER BY 1 DESC"#,
        s.municipality_id,
        s.all,
        &s.led[..]
    )
    .fetch_all(&mut **tx)
    .await
}

// ---------------------------------------------------------------------------------------------
// The page

pub struct Cell {
    pub count: i64,
    pub href: String,
    /// For screen readers: what the linked number is.
    pub what: String,
}

pub struct RowView {
    pub institution: String,
    pub year: i32,
    pub kind: String,
    pub cells: Vec<Cell>,
}

pub struct Definition {
    pub label: &'static str,
    pub text: &'static str,
}

#[derive(Template)]
#[template(path = "transitions/status.html")]
pub struct StatusPage {
    pub layout: Layout,
    pub admin: bool,
    pub institutions: Vec<SelectOption>,
    pub years: Vec<SelectOption>,
    pub headings: Vec<&'static str>,
    pub rows: Vec<RowView>,
    pub definitions: Vec<Definition>,
    pub filter_label: String,
}

#[derive(Default, Deserialize)]
#[serde(default)]
pub struct StatusQuery {
    pub institution: String,
    pub year: String,
}

pub async fn show(mut ctx: Ctx, Query(q): Query<StatusQuery>) -> AppResult<Response> {
    let s = senders(&ctx)?;
    let chosen = institution(&mut ctx.tx, &s, &q.institution).await?;
    let year = year(&q.year)?;
    let mut rows = counts(&mut ctx.tx, &s, chosen.as_ref().map(|c| c.0), year).await?;
    // the kinds in the order children meet them
    rows.sort_by(|a, b| {
        (
            &a.institution_name,
            a.institution_id,
            std::cmp::Reverse(a.year),
        )
            .cmp(&(
                &b.institution_name,
                b.institution_id,
                std::cmp::Reverse(b.year),
            ))
            .then_with(|| kind_position(&a.kind).cmp(&kind_position(&b.kind)))
    });
    let mut institutions = institution_choices(&mut ctx.tx, &s).await?;
    if let Some((id, name)) = &chosen {
        if !institutions.iter().any(|i| i.id == *id) {
            institutions.push(super::queries::Choice {
                id: *id,
                name: name.clone(),
            });
        }
    }
    let years_list = years(&mut ctx.tx, &s).await?;
    let mut year_options = vec![SelectOption::new("", "Alle årgange", year.is_none())];
    year_options.extend(
        years_list
            .iter()
            .map(|y| SelectOption::new(y.to_string(), y.to_string(), Some(*y) == year)),
    );
    let mut institution_options = vec![SelectOption::new(
        "",
        if s.all {
            "Alle afsendende institutioner"
        } else {
            "Alle dine institutioner"
        },
        chosen.is_none(),
    )];
    institution_options.extend(institutions.iter().map(|i| {
        SelectOption::new(
            i.id.to_string(),
            i.name.clone(),
            chosen.as_ref().is_some_and(|c| c.0 == i.id),
        )
    }));
    let filter_label = format!(
        "{}, {}",
        chosen
            .as_ref()
            .map(|c| c.1.clone())
            .unwrap_or_else(|| if s.all {
                "alle afsendende institutioner".into()
            } else {
                "dine institutioner".into()
            }),
        year.map(|y| format!("årgang {y}"))
            .unwrap_or_else(|| "alle årgange".into())
    );
    let views = rows
        .iter()
        .map(|r| {
            let kind = super::handlers::kind_label(&r.kind);
            RowView {
                cells: State::ALL
                    .iter()
                    .map(|st| Cell {
                        count: r.count(*st),
                        href: list_href(r.institution_id, r.year, &r.kind, *st),
                        what: format!(
                            " {}: {}, {}, årgang {}, {}",
                            if r.count(*st) == 1 { "barn" } else { "børn" },
                            st.label(),
                            r.institution_name,
                            r.year,
                            kind
                        ),
                    })
                    .collect(),
                institution: r.institution_name.clone(),
                year: r.year,
                kind,
            }
        })
        .collect();
    ctx.audit(
        Entry::new("view_status", "transitions", None).details(json!({
            "institution": chosen.as_ref().map(|c| c.0),
            "year": year,
        })),
    )
    .await?;
    let page = StatusPage {
        layout: ctx.layout("Status for afsendte overleveringer", NAV),
        admin: s.all,
        institutions: institution_options,
        years: year_options,
        headings: State::ALL.iter().map(|s| s.label()).collect(),
        rows: views,
        definitions: State::ALL
            .iter()
            .map(|s| Definition {
                label: s.label(),
                text: s.definition(),
            })
            .collect(),
        filter_label,
    };
    ctx.commit().await?;
    Ok(web::render(&page)?.into_response())
}

fn kind_position(kind: &str) -> usize {
    TransitionKind::ALL
        .iter()
        .position(|k| k.as_str() == kind)
        .unwrap_or(usize::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn states_round_trip_and_have_words() {
        for s in State::ALL {
            assert_eq!(State::parse(s.as_str()), Some(s));
            assert!(!s.label().is_empty() && !s.definition().is_empty());
        }
        assert_eq!(State::parse("cancelled"), None);
    }

    #[test]
    fn filters_parse_or_refuse() {
        assert_eq!(year("").unwrap(), None);
        assert_eq!(year(" 2027 ").unwrap(), Some(2027));
        assert!(year("20x7").is_err());
        assert!(year("99999").is_err());
        assert_eq!(
            kind("kindergarten_school").unwrap(),
            Some(TransitionKind::KindergartenSchool)
        );
        assert!(kind("rocket").is_err());
    }
}

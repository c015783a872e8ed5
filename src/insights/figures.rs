//! The figures of the insights pages: two queries over the facts added up per sender,
//! receiver, kind and cohort year (`insight_totals`, `insight_theme_totals`), which triggers keep
//! equal to what the live tables say (see migration 20261123000015 for the SQL of every definition below).
//!
//! Definitions (the pages' help text says the same in Danish):
//!
//! * The *cohort year* of a transition is the year of its planned date. Cancelled transitions
//!   count nowhere.
//! * **Sent on time**: of the transitions that are sent (status `sent` or later: one recalled to
//!   be corrected is not, until it is sent again), the share whose latest `sent` event (the
//!   version the receiver has) falls on or before the planned date (Danish local date;
//!   migration 20261207000038).
//! * **Consent rate**: of the sent transitions whose template version has at least one
//!   sensitive section (a section with a sensitive question), the share where, for every
//!   sensitive section, the latest decision in the consent ledger is "given". The ledger keeps
//!   the decisions after retention has removed the guardians, so the figure reads the decisions
//!   only, never the guardians (and `consent_released`, which needs them, is not used).
//! * **Feedback response rate**: answered feedback requests / feedback requests (all rounds).
//! * **Usefulness**: mean of the receiver's usefulness score (1–5) over answered requests.
//! * **Special support at school start**: of the answered first-round requests of
//!   kindergarten → school transitions that say whether the child started with special support,
//!   the share that did.
//! * **Sender vs. receiver per theme**: for every receiver rating of a themed scale question
//!   (1–4 or traffic light), paired with the sender's answer to the same question of the same
//!   transition, the mean of both on one scale: 1–4 as is, red = 1, yellow = 2.5, green = 4.
//!
//! Suppression: a figure whose denominator (transitions, requests, ratings) is smaller than the
//! municipality's `small_number_threshold` is `Figure::Suppressed`, and its numbers never leave
//! this module. Everything is kept as integer counts and sums (ratings in half points), so the
//! figures compare exactly, e.g. before and after the retention purge.
//!
//! Only rows that survive retention are read: transitions, status events, non-free-text answers,
//! consent decisions, feedback numbers and ratings; never children's names or guardians.

use std::collections::BTreeMap;

use sqlx::FromRow;
use uuid::Uuid;

use crate::{
    db::Tx,
    forms::kinds::{theme_label, TransitionKind},
    web::{AppError, AppResult},
};

/// Which transitions a page is about.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Scope {
    Municipality,
    /// Transitions from or to the school of the cluster or one of its institutions.
    Cluster(Uuid),
    /// Transitions from or to the institution.
    Institution(Uuid),
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Filter {
    pub scope: Scope,
    /// Cohort year (year of the planned date); `None` for all years.
    pub year: Option<i32>,
    pub kind: Option<TransitionKind>,
}

/// One figure as a page shows it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Figure {
    /// Fewer than the threshold (the value) behind it.
    Suppressed(i64),
    Count(i64),
    Share {
        part: i64,
        whole: i64,
    },
    /// The mean is `sum / (n * unit)` (ratings are summed in half points, unit 2).
    Mean {
        sum: i64,
        n: i64,
        unit: i64,
    },
}

impl Figure {
    fn count(n: i64, threshold: i64) -> Figure {
        if n < threshold {
            Figure::Suppressed(threshold)
        } else {
            Figure::Count(n)
        }
    }

    fn share(part: i64, whole: i64, threshold: i64) -> Figure {
        if whole < threshold || whole == 0 {
            Figure::Suppressed(threshold)
        } else {
            Figure::Share { part, whole }
        }
    }

    fn mean(sum: i64, n: i64, unit: i64, threshold: i64) -> Figure {
        if n < threshold || n == 0 {
            Figure::Suppressed(threshold)
        } else {
            Figure::Mean { sum, n, unit }
        }
    }

    /// The value on the chart's scale: percent for shares, the mean for means.
    pub fn value(&self) -> Option<f64> {
        match *self {
            Figure::Suppressed(_) => None,
            Figure::Count(n) => Some(n as f64),
            Figure::Share { part, whole } => Some(100.0 * part as f64 / whole as f64),
            Figure::Mean { sum, n, unit } => Some(sum as f64 / (n * unit) as f64),
        }
    }

    pub fn is_suppressed(&self) -> bool {
        matches!(self, Figure::Suppressed(_))
    }

    /// The number behind the figure ("af 40"), for the tables; empty when suppressed.
    pub fn basis(&self) -> String {
        match *self {
            Figure::Share { part, whole } => format!("{part} af {whole}"),
            Figure::Mean { n, .. } => format!("n = {n}"),
            _ => String::new(),
        }
    }
}

/// Danish: "83 %", "3,4", "færre end 5".
impl std::fmt::Display for Figure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match *self {
            Figure::Suppressed(t) => write!(f, "færre end {t}"),
            Figure::Count(n) => write!(f, "{n}"),
            Figure::Share { .. } => write!(f, "{:.0} %", self.value().unwrap_or(0.0)),
            Figure::Mean { .. } => {
                write!(
                    f,
                    "{}",
                    format!("{:.1}", self.value().unwrap_or(0.0)).replace('.', ",")
                )
            }
        }
    }
}

/// The additive counts behind one group's figures.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, FromRow)]
pub struct Counts {
    pub transitions: i64,
    pub sent: i64,
    pub on_time: i64,
    pub consent_whole: i64,
    pub consent_part: i64,
    pub requests: i64,
    pub answered: i64,
    pub usefulness_sum: i64,
    pub support_known: i64,
    pub support_yes: i64,
}

impl Counts {
    fn add(&mut self, o: &Counts) {
        self.transitions += o.transitions;
        self.sent += o.sent;
        self.on_time += o.on_time;
        self.consent_whole += o.consent_whole;
        self.consent_part += o.consent_part;
        self.requests += o.requests;
        self.answered += o.answered;
        self.usefulness_sum += o.usefulness_sum;
        self.support_known += o.support_known;
        self.support_yes += o.support_yes;
    }

    fn figures(&self, t: i64) -> GroupFigures {
        GroupFigures {
            transitions: Figure::count(self.transitions, t),
            on_time: Figure::share(self.on_time, self.sent, t),
            consent: Figure::share(self.consent_part, self.consent_whole, t),
            response: Figure::share(self.answered, self.requests, t),
            usefulness: Figure::mean(self.usefulness_sum, self.answered, 1, t),
            special_support: Figure::share(self.support_yes, self.support_known, t),
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GroupFigures {
    pub transitions: Figure,
    pub on_time: Figure,
    pub consent: Figure,
    pub response: Figure,
    pub usefulness: Figure,
    pub special_support: Figure,
}

impl GroupFigures {
    /// The measures in the order of the tables and the CSV: (Danish label, figure).
    pub fn measures(&self) -> [(&'static str, Figure); 6] {
        [
            ("Overgange", self.transitions),
            ("Sendt til tiden", self.on_time),
            ("Samtykkerate", self.consent),
            ("Svarprocent, tilbagemeldinger", self.response),
            ("Brugbarhed (1–5)", self.usefulness),
            ("Særlig støtte ved skolestart", self.special_support),
        ]
    }
}

/// A row of the breakdown: a cluster (municipality page), a sending institution (cluster page
/// and report) or a transition kind (institution page).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Row {
    pub label: String,
    pub figures: GroupFigures,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Cohort {
    pub year: i32,
    pub figures: GroupFigures,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Theme {
    pub key: String,
    pub label: String,
    pub pairs: Figure,
    pub sender: Figure,
    pub receiver: Figure,
}

/// Everything an insights page (and its CSV) shows.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Figures {
    pub threshold: i64,
    /// The filter's year (or all years) and kind.
    pub total: GroupFigures,
    /// Every cohort year with data, oldest first (kind filter applied, year filter not).
    pub cohorts: Vec<Cohort>,
    pub rows: Vec<Row>,
    pub themes: Vec<Theme>,
}

/// How the breakdown groups transitions.
#[derive(Clone, Copy)]
enum Grouping {
    Cluster,
    Sender,
    Kind,
}

impl Grouping {
    fn as_str(self) -> &'static str {
        match self {
            Grouping::Cluster => "cluster",
            Grouping::Sender => "sender",
            Grouping::Kind => "kind",
        }
    }
}

/// The facts of the transitions in scope, added up per cohort year and breakdown group.
/// Parameters: $1 municipality, $2 all (bool), $3 institution ids, $4 kind or NULL, $5 grouping.
/// `insight_totals` adds up `insight_facts` (one row per transition, computed by
/// `insight_compute_facts` in migration 20261123000015, where the definitions above are
/// written in SQL) per sender, receiver, kind and year; triggers keep both current.
const COUNTS: &str = r#"
SELECT g.year,
       CASE $5 WHEN 'cluster' THEN coalesce(c.name, 'Uden klynge')
               WHEN 'sender' THEN s.name
               ELSE g.kind END AS grp,
       sum(g.transitions)::bigint AS transitions,
       sum(g.sent)::bigint AS sent,
       sum(g.on_time)::bigint AS on_time,
       sum(g.consent_whole)::bigint AS consent_whole,
       sum(g.consent_part)::bigint AS consent_part,
       sum(g.requests)::bigint AS requests,
       sum(g.answered)::bigint AS answered,
       sum(g.usefulness_sum)::bigint AS usefulness_sum,
       sum(g.support_known)::bigint AS support_known,
       sum(g.support_yes)::bigint AS support_yes
FROM insight_totals g
JOIN institutions s ON s.municipality_id = g.municipality_id AND s.id = g.sending_institution_id
LEFT JOIN clusters c ON c.municipality_id = s.municipality_id AND c.id = s.cluster_id
WHERE g.municipality_id = $1
  AND ($2 OR g.sending_institution_id = ANY ($3) OR g.receiving_institution_id = ANY ($3))
  AND ($4::text IS NULL OR g.kind = $4)
GROUP BY 1, 2
HAVING sum(g.transitions) > 0"#;

/// Paired sender/receiver ratings per cohort year and theme, in half points. Parameters as
/// above, $5 the year or NULL.
const THEMES: &str = r#"
SELECT g.year, g.theme,
       sum(g.pairs)::bigint AS pairs,
       sum(g.sender_halves)::bigint AS sender,
       sum(g.receiver_halves)::bigint AS receiver
FROM insight_theme_totals g
WHERE g.municipality_id = $1
  AND ($2 OR g.sending_institution_id = ANY ($3) OR g.receiving_institution_id = ANY ($3))
  AND ($4::text IS NULL OR g.kind = $4)
  AND ($5::int IS NULL OR g.year = $5)
GROUP BY g.year, g.theme
HAVING sum(g.pairs) > 0"#;

#[derive(FromRow)]
struct CountRow {
    year: i32,
    grp: String,
    #[sqlx(flatten)]
    counts: Counts,
}

#[derive(FromRow)]
struct ThemeRow {
    #[allow(dead_code)]
    year: i32,
    theme: String,
    pairs: i64,
    sender: i64,
    receiver: i64,
}

/// The municipality's small-number threshold.
pub async fn threshold(tx: &mut Tx, municipality_id: Uuid) -> AppResult<i64> {
    let t: i32 =
        sqlx::query_scalar("SELECT small_number_threshold FROM municipalities WHERE id = $1")
            .bind(municipality_id)
            .fetch_optional(&mut **tx)
            .await?
            .ok_or(AppError::NotFound)?;
    Ok(i64::from(t))
}

/// The institutions a cluster consists of: its school and its members.
pub async fn cluster_institutions(
    tx: &mut Tx,
    municipality_id: Uuid,
    cluster_id: Uuid,
) -> AppResult<Vec<Uuid>> {
    Ok(sqlx::query_scalar(
        "SELECT id FROM institutions WHERE municipality_id = $1 AND cluster_id = $2
         UNION
         SELECT school_id FROM clusters WHERE municipality_id = $1 AND id = $2 AND school_id IS NOT NULL",
    )
    .bind(municipality_id)
    .bind(cluster_id)
    .fetch_all(&mut **tx)
    .await?)
}

/// Every figure of the page for `filter`. The caller has checked that the user may see the
/// scope; ids of the scope must belong to `municipality_id` (else the figures are empty).
pub async fn compute(tx: &mut Tx, municipality_id: Uuid, filter: &Filter) -> AppResult<Figures> {
    let threshold = threshold(tx, municipality_id).await?;
    // The queries are small; JIT compilation would cost more than it saves.
    sqlx::query("SET LOCAL jit = off")
        .execute(&mut **tx)
        .await?;
    let (all, ids, grouping) = match filter.scope {
        Scope::Municipality => (true, Vec::new(), Grouping::Cluster),
        Scope::Cluster(id) => (
            false,
            cluster_institutions(tx, municipality_id, id).await?,
            Grouping::Sender,
        ),
        Scope::Institution(id) => (false, vec![id], Grouping::Kind),
    };
    let kind = filter.kind.map(|k| k.as_str());
    let rows: Vec<CountRow> = sqlx::query_as(COUNTS)
        .bind(municipality_id)
        .bind(all)
        .bind(&ids)
        .bind(kind)
        .bind(grouping.as_str())
        .fetch_all(&mut **tx)
        .await?;
    let themes: Vec<ThemeRow> = sqlx::query_as(THEMES)
        .bind(municipality_id)
        .bind(all)
        .bind(&ids)
        .bind(kind)
        .bind(filter.year)
        .fetch_all(&mut **tx)
        .await?;

    let mut total = Counts::default();
    let mut by_year: BTreeMap<i32, Counts> = BTreeMap::new();
    let mut by_group: BTreeMap<String, Counts> = BTreeMap::new();
    for r in &rows {
        by_year.entry(r.year).or_default().add(&r.counts);
        if filter.year.is_none() || filter.year == Some(r.year) {
            total.add(&r.counts);
            by_group.entry(r.grp.clone()).or_default().add(&r.counts);
        }
    }
    let mut by_theme: BTreeMap<String, (i64, i64, i64)> = BTreeMap::new();
    for r in &themes {
        let e = by_theme.entry(r.theme.clone()).or_default();
        e.0 += r.pairs;
        e.1 += r.sender;
        e.2 += r.receiver;
    }
    let mut rows: Vec<Row> = by_group
        .into_iter()
        .map(|(grp, c)| Row {
            label: match grouping {
                Grouping::Kind => TransitionKind::parse(&grp)
                    .map(|k| k.label().to_string())
                    .unwrap_or(grp),
                _ => grp,
            },
            figures: c.figures(threshold),
        })
        .collect();
    rows.sort_by(|a, b| a.label.cmp(&b.label));
    // Themes in the curriculum's order (the order of `THEMES`), unknown keys last.
    let order = |k: &str| {
        crate::forms::kinds::THEMES
            .iter()
            .position(|(key, _)| *key == k)
            .unwrap_or(usize::MAX)
    };
    let mut themes: Vec<Theme> = by_theme
        .into_iter()
        .map(|(key, (n, s, r))| Theme {
            label: theme_label(&key).unwrap_or(&key).to_string(),
            pairs: Figure::count(n, threshold),
            sender: Figure::mean(s, n, 2, threshold),
            receiver: Figure::mean(r, n, 2, threshold),
            key,
        })
        .collect();
    themes.sort_by_key(|t| order(&t.key));
    Ok(Figures {
        threshold,
        total: total.figures(threshold),
        cohorts: by_year
            .into_iter()
            .map(|(year, c)| Cohort {
                year,
                figures: c.figures(threshold),
            })
            .collect(),
        rows,
        themes,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suppression_and_display() {
        assert_eq!(Figure::share(1, 4, 5), Figure::Suppressed(5));
        assert_eq!(Figure::share(0, 0, 1), Figure::Suppressed(1));
        assert_eq!(Figure::share(4, 5, 5).to_string(), "80 %");
        assert_eq!(Figure::mean(17, 5, 1, 5).to_string(), "3,4");
        assert_eq!(Figure::mean(13, 3, 2, 2).to_string(), "2,2");
        assert_eq!(Figure::count(4, 5).to_string(), "færre end 5");
        assert_eq!(Figure::count(5, 5).to_string(), "5");
    }
}

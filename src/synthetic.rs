//! `overgang seed-synthetic`: national-scale synthetic data for load tests and the insights
//! benchmark. Every municipality is generated set-based (`INSERT … SELECT generate_series`) in
//! one transaction, so 98 municipalities with 60,000 children a cohort take minutes, not hours.
//!
//! Runs on the owner connection: when that role is a superuser the bulk transaction sets
//! `session_replication_role = replica`, which skips the foreign-key and guard triggers for
//! rows that are consistent by construction (every id comes from the same statement's temp
//! tables, every row carries the municipality's id). The transaction is still scoped to the
//! municipality, so row-level security holds for a non-superuser owner too.
//!
//! Shape: municipalities with codes 9001… (no real municipality code starts with 9, so no clash
//! with the demo's 0630/0336), sizes falling off like Danish municipalities (the largest about a
//! tenth of the country), a cluster per ~50 children a cohort (a school, three kindergartens and
//! an SFO), five cohorts. Each child has a kindergarten → school transition and 60 % also a
//! kindergarten → SFO one; the older cohorts are mostly closed with feedback, the previous
//! year's is in the feedback round, the newest is drafts. Sender answers on the themed scale
//! questions of the published default template, consent decisions for the sensitive sections,
//! feedback requests with usefulness, outcome facts and ratings on the same questions.

use anyhow::Context;
use sqlx::{postgres::PgPoolOptions, Executor, PgPool};
use uuid::Uuid;

use crate::{
    auth::password,
    db::{self, Scope},
};

pub struct Options {
    pub municipalities: u32,
    /// Children per cohort year, over all municipalities.
    pub children: u32,
}

pub const COHORTS: i32 = 5;
const CHILDREN_PER_CLUSTER: i64 = 50;

/// The e-mail of a synthetic municipality's analyst (password: the demo password).
pub fn analyst_email(code: &str) -> String {
    format!("analytiker@syn{code}.overgang.test")
}

/// Children per cohort of municipality `i` (0-based) of `n`: weights 1/(i+1)^0.7, rounded, at
/// least one, summing to `total`.
pub fn sizes(n: u32, total: u32) -> Vec<i64> {
    let weights: Vec<f64> = (0..n).map(|i| 1.0 / f64::from(i + 1).powf(0.7)).collect();
    let sum: f64 = weights.iter().sum();
    let mut out: Vec<i64> = weights
        .iter()
        .map(|w| ((w / sum) * f64::from(total)).floor().max(1.0) as i64)
        .collect();
    // hand the rounding remainder to the largest
    let diff = i64::from(total) - out.iter().sum::<i64>();
    if let Some(first) = out.first_mut() {
        *first = (*first + diff).max(1);
    }
    out
}

pub async fn run(
    owner: &sqlx::postgres::PgConnectOptions,
    options: &Options,
) -> anyhow::Result<()> {
    let pool = PgPoolOptions::new()
        .max_connections(2)
        .connect_with(owner.clone())
        .await?;
    let hash = password::hash(
        &password::Gate::new(1, 0),
        crate::seed::DEMO_PASSWORD.to_string(),
    )
    .await?;
    let superuser: bool =
        sqlx::query_scalar("SELECT rolsuper FROM pg_roles WHERE rolname = current_user")
            .fetch_one(&pool)
            .await?;
    let this_year = time::OffsetDateTime::now_utc().year();
    // the newest cohort starts school next August; four older ones before it
    let first_year = this_year + 1 - (COHORTS - 1);
    let sizes = sizes(options.municipalities, options.children);
    let started = std::time::Instant::now();
    for (i, children) in sizes.iter().enumerate() {
        let code = format!("{:04}", 9001 + i);
        let t = std::time::Instant::now();
        let created = municipality(&pool, &code, i + 1, *children, first_year, &hash, superuser)
            .await
            .with_context(|| format!("kommune {code}"))?;
        if created {
            println!(
                "{code}: {children} børn pr. årgang × {COHORTS} årgange på {:.1} s",
                t.elapsed().as_secs_f64()
            );
        } else {
            println!("{code} findes allerede; springes over");
        }
    }
    sqlx::query("ANALYZE").execute(&pool).await?;
    println!(
        "Syntetiske data oprettet på {:.0} s. Log ind som {} (adgangskode {}).",
        started.elapsed().as_secs_f64(),
        analyst_email("9001"),
        crate::seed::DEMO_PASSWORD
    );
    pool.close().await;
    Ok(())
}

async fn municipality(
    pool: &PgPool,
    code: &str,
    number: usize,
    children: i64,
    first_year: i32,
    hash: &str,
    superuser: bool,
) -> anyhow::Result<bool> {
    let mut tx = db::begin(pool, Scope::Platform).await?;
    let exists: bool =
        sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM municipalities WHERE code = $1)")
            .bind(code)
            .fetch_one(&mut *tx)
            .await?;
    if exists {
        return Ok(false);
    }
    let mid: Uuid =
        sqlx::query_scalar("INSERT INTO municipalities (code, name) VALUES ($1, $2) RETURNING id")
            .bind(code)
            .bind(format!("Syntetisk {number}"))
            .fetch_one(&mut *tx)
            .await?;
    db::set_scope(&mut tx, Scope::Municipality(mid)).await?;
    crate::forms::defaults::install(&mut tx, mid).await?;
    crate::wording::install(&mut tx, mid).await?;
    for (local, name, role) in [
        ("admin", "Syntetisk administrator", "municipal_admin"),
        ("analytiker", "Syntetisk analytiker", "analyst"),
    ] {
        sqlx::query(
            "WITH u AS (INSERT INTO users (municipality_id, email, name, password_hash)
                        VALUES ($1, $2, $3, $4) RETURNING id)
             INSERT INTO role_assignments (municipality_id, user_id, role) SELECT $1, id, $5 FROM u",
        )
        .bind(mid)
        .bind(format!("{local}@syn{code}.overgang.test"))
        .bind(name)
        .bind(hash)
        .bind(role)
        .execute(&mut *tx)
        .await?;
    }
    if superuser {
        tx.execute("SET LOCAL session_replication_role = replica")
            .await?;
    }
    let clusters = (children / CHILDREN_PER_CLUSTER).max(1);
    // Literal values (a uuid and numbers we made), so the statements run unprepared.
    for (i, sql) in BULK.iter().enumerate() {
        let sql = sql
            .replace("{m}", &format!("'{mid}'::uuid"))
            .replace("{k}", &clusters.to_string())
            .replace("{c}", &children.to_string())
            .replace("{y}", &first_year.to_string());
        tx.execute(sql.as_str())
            .await
            .with_context(|| format!("trin {}", i + 1))?;
    }
    if superuser {
        // What the skipped triggers keep for the children list (migrations 27 and 30), by the
        // triggers' own functions.
        sqlx::query(
            "SELECT child_scope_refresh($1, c.id), child_placements_refresh($1, c.id)
             FROM children c WHERE c.municipality_id = $1",
        )
        .bind(mid)
        .execute(&mut *tx)
        .await
        .context("the children list's copies")?;
    }
    tx.commit().await?;
    Ok(true)
}

/// The bulk statements, with the placeholders {m} municipality, {k} clusters, {c} children per
/// cohort and {y} first cohort year, sharing temp tables dropped at commit.
const BULK: &[&str] = &[
    // clusters, institutions
    "CREATE TEMP TABLE syn_cluster ON COMMIT DROP AS
     SELECT gen_random_uuid() AS id, g AS no
     FROM generate_series(1, {k}) g",
    "INSERT INTO clusters (municipality_id, id, name)
     SELECT {m}, id, 'Skoledistrikt ' || no FROM syn_cluster",
    "CREATE TEMP TABLE syn_inst ON COMMIT DROP AS
     SELECT gen_random_uuid() AS id, c.id AS cluster_id, c.no, k.kind, k.slot
     FROM syn_cluster c
     CROSS JOIN (VALUES ('skole', 0), ('boernehave', 1), ('boernehave', 2), ('boernehave', 3), ('sfo', 0)) k(kind, slot)",
    "INSERT INTO institutions (municipality_id, id, name, kind, cluster_id, is_pilot)
     SELECT {m}, id,
            CASE kind WHEN 'skole' THEN 'Skole ' || no WHEN 'sfo' THEN 'SFO ' || no
                      ELSE 'Børnehave ' || no || '-' || slot END,
            kind, cluster_id, true
     FROM syn_inst",
    "UPDATE clusters c SET school_id = i.id FROM syn_inst i
     WHERE c.municipality_id = {m} AND c.id = i.cluster_id AND i.kind = 'skole'",
    // children: {c} per cohort, round-robin over the clusters and their kindergartens
    "CREATE TEMP TABLE syn_child ON COMMIT DROP AS
     SELECT gen_random_uuid() AS id, gen_random_uuid() AS t_school, gen_random_uuid() AS t_sfo,
            y.year, g AS n, ((g - 1) % {k}) + 1 AS cluster_no, 1 + ((g - 1) / {k}) % 3 AS slot,
            ({y} + 4 - y.year) AS age, random() AS r_status, random() AS r_sfo, random() AS r_sent,
            random() AS r_support, random() AS r_use
     FROM generate_series({y}, {y} + 4) y(year), generate_series(1, {c}) g",
    "INSERT INTO children (municipality_id, id, first_name, last_name, birth_date)
     SELECT {m}, id, 'Barn', 'Nr. ' || year || '-' || n,
            make_date(year - 6, 1 + (n % 12)::int, 1 + (n % 28)::int)
     FROM syn_child",
    "INSERT INTO guardians (municipality_id, child_id, name, relation, has_custody)
     SELECT {m}, id, 'Forælder til ' || n, 'forælder', true
     FROM syn_child",
    "INSERT INTO enrolments (municipality_id, child_id, institution_id, starts_on, ends_on)
     SELECT {m}, c.id, i.id, make_date(c.year - 3, 8, 1),
            CASE WHEN c.age > 0 THEN make_date(c.year, 7, 31) END
     FROM syn_child c
     JOIN syn_inst i ON i.no = c.cluster_no AND i.kind = 'boernehave' AND i.slot = c.slot
    ",
    // transitions: one to school per child, 60 % also to SFO; status by the cohort's age
    "CREATE TEMP TABLE syn_t ON COMMIT DROP AS
     WITH base AS (
        SELECT c.t_school AS id, c.id AS child_id, k.id AS sender, s.id AS receiver,
               'kindergarten_school' AS kind, make_date(c.year, 8, 1) AS planned, c.age, c.r_status,
               c.r_sent, c.r_support, c.r_use
        FROM syn_child c
        JOIN syn_inst k ON k.no = c.cluster_no AND k.kind = 'boernehave' AND k.slot = c.slot
        JOIN syn_inst s ON s.no = c.cluster_no AND s.kind = 'skole'
        UNION ALL
        SELECT c.t_sfo, c.id, k.id, s.id, 'kindergarten_sfo', make_date(c.year, 5, 1), c.age,
               c.r_status * 7 - floor(c.r_status * 7), c.r_sent, c.r_support, c.r_use
        FROM syn_child c
        JOIN syn_inst k ON k.no = c.cluster_no AND k.kind = 'boernehave' AND k.slot = c.slot
        JOIN syn_inst s ON s.no = c.cluster_no AND s.kind = 'sfo'
        WHERE c.r_sfo < 0.6
     )
     SELECT b.*, f.id AS template_id,
            CASE WHEN b.age = 0 THEN CASE WHEN b.r_status < 0.6 THEN 1 WHEN b.r_status < 0.85 THEN 2 ELSE 3 END
                 WHEN b.age = 1 THEN CASE WHEN b.r_status < 0.1 THEN 4 WHEN b.r_status < 0.3 THEN 5
                                          WHEN b.r_status < 0.7 THEN 6 ELSE 7 END
                 ELSE CASE WHEN b.r_status < 0.02 THEN 0 WHEN b.r_status < 0.05 THEN 6
                           WHEN b.r_status < 0.2 THEN 7 ELSE 8 END END AS step
     FROM base b
     JOIN form_templates f ON f.municipality_id = {m} AND f.transition_kind = b.kind AND f.status = 'published'
    ",
    "INSERT INTO transitions (municipality_id, id, child_id, sending_institution_id, receiving_institution_id,
                              kind, planned_date, template_id, status, created_at, updated_at)
     SELECT {m}, id, child_id, sender, receiver, kind, planned, template_id,
            (ARRAY['cancelled', 'draft', 'with_parents', 'ready', 'sent', 'received',
                   'feedback_requested', 'feedback_given', 'closed'])[step + 1],
            least(now(), planned - 150), now()
     FROM syn_t",
    // status history: one event per step reached (cancelled: created, then cancelled)
    "INSERT INTO transition_events (municipality_id, transition_id, at, from_status, to_status)
     SELECT {m}, t.id,
            least(now(), CASE s.step
                WHEN 1 THEN t.planned - 150
                WHEN 2 THEN t.planned - 90
                WHEN 3 THEN t.planned - 60
                WHEN 4 THEN t.planned - 30 + (t.r_sent * 40)::int
                WHEN 5 THEN t.planned - 25 + (t.r_sent * 40)::int
                WHEN 6 THEN t.planned + 90
                WHEN 7 THEN t.planned + 100
                ELSE t.planned + 130 END + time '10:00'),
            CASE WHEN s.step = 1 THEN NULL ELSE st.names[s.step - 1] END,
            st.names[s.step]
     FROM syn_t t
     CROSS JOIN (SELECT ARRAY['draft', 'with_parents', 'ready', 'sent', 'received',
                              'feedback_requested', 'feedback_given', 'closed'] AS names) st
     JOIN generate_series(1, 8) s(step) ON s.step <= greatest(t.step, 1)
    
     UNION ALL
     SELECT {m}, t.id, t.planned - 100 + time '10:00', 'draft', 'cancelled'
     FROM syn_t t WHERE t.step = 0",
    // the sender's answers on the scale questions, skewed towards 'doing fine'
    "INSERT INTO answers (municipality_id, transition_id, question_id, template_id, value)
     SELECT {m}, t.id, q.id, q.template_id,
            CASE q.kind WHEN 'scale_1_4' THEN (ARRAY['1', '2', '2', '3', '3', '3', '4', '4', '4', '4'])[1 + floor(random() * 10)::int]
                        ELSE (ARRAY['green', 'green', 'green', 'green', 'green', 'green', 'yellow', 'yellow', 'yellow', 'red'])[1 + floor(random() * 10)::int] END
     FROM syn_t t
     JOIN template_questions q ON q.municipality_id = {m} AND q.template_id = t.template_id
                             AND q.kind IN ('scale_1_4', 'traffic_light')
     WHERE t.step >= 2 OR (t.step = 1 AND t.r_sent < 0.5)",
    // consent for the sensitive sections of sent handovers: mostly given
    "INSERT INTO consent_records (municipality_id, transition_id, guardian_id, section_id, decision, method, recorded_at)
     SELECT {m}, t.id, g.id, s.section_id,
            CASE WHEN random() < 0.88 THEN 'given' ELSE 'refused' END, 'link',
            least(now(), t.planned - 45 + time '12:00')
     FROM syn_t t
     JOIN guardians g ON g.municipality_id = {m} AND g.child_id = t.child_id
     JOIN (SELECT DISTINCT template_id, section_id FROM template_questions
           WHERE municipality_id = {m} AND sensitive) s ON s.template_id = t.template_id
     WHERE t.step >= 3",
    // feedback: requested from step 6, answered from step 7
    "CREATE TEMP TABLE syn_fb ON COMMIT DROP AS
     SELECT gen_random_uuid() AS id, t.id AS transition_id, t.template_id, t.kind, t.planned, t.step,
            t.r_support, t.r_use
     FROM syn_t t WHERE t.step >= 6 AND {m}::uuid IS NOT NULL",
    "INSERT INTO feedback_requests (municipality_id, id, transition_id, round, due_on, created_at,
                                    answered_at, usefulness, completeness, special_support,
                                    deferred_start, ppr_referral)
     SELECT {m}, id, transition_id, 1, planned + 90, least(now(), planned + 90 + time '08:00'),
            CASE WHEN step >= 7 THEN least(now(), planned + 100 + time '09:00') END,
            CASE WHEN step >= 7 THEN (ARRAY[2, 3, 3, 4, 4, 4, 4, 5, 5, 5])[1 + floor(r_use * 10)::int] END,
            CASE WHEN step >= 7 THEN (ARRAY[2, 3, 3, 3, 4, 4, 4, 4, 5, 5])[1 + floor(random() * 10)::int] END,
            CASE WHEN step >= 7 AND kind = 'kindergarten_school' THEN r_support < 0.12 END,
            CASE WHEN step >= 7 AND kind = 'kindergarten_school' THEN r_support > 0.98 END,
            CASE WHEN step >= 7 THEN r_support < 0.05 END
     FROM syn_fb",
    "INSERT INTO feedback_ratings (municipality_id, request_id, question_id, value)
     SELECT {m}, f.id, q.id,
            CASE q.kind WHEN 'scale_1_4' THEN (ARRAY['1', '2', '2', '3', '3', '3', '3', '4', '4', '4'])[1 + floor(random() * 10)::int]
                        ELSE (ARRAY['green', 'green', 'green', 'green', 'green', 'yellow', 'yellow', 'yellow', 'red', 'red'])[1 + floor(random() * 10)::int] END
     FROM syn_fb f
     JOIN template_questions q ON q.municipality_id = {m} AND q.template_id = f.template_id
                             AND q.kind IN ('scale_1_4', 'traffic_light') AND q.theme IS NOT NULL
     WHERE f.step >= 7",
    // the insights facts: the triggers were skipped (replica mode) or ran row by row; either way
    // recompute the municipality in one pass
    "SELECT insight_rebuild({m})",
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_sum_and_fall_off() {
        let s = sizes(98, 60_000);
        assert_eq!(s.iter().sum::<i64>(), 60_000);
        assert!(s[0] > 5_000 && s[0] < 7_000, "largest {}", s[0]);
        assert!(s.iter().all(|n| *n >= 1));
        assert!(s.windows(2).all(|w| w[0] >= w[1]));
        assert_eq!(sizes(1, 7), vec![7]);
    }
}

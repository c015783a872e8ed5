//! Demo data: two municipalities with a pilot cluster each and one user per role.

use serde_json::json;
use sqlx::PgPool;
use uuid::Uuid;

use crate::{
    audit::{self, Actor, Entry},
    auth::password,
    db::{self, Scope},
};

pub const DEMO_PASSWORD: &str = "Overgang-demo-2026";
pub const OPERATOR_EMAIL: &str = "operator@overgang.test";

struct DemoMunicipality {
    code: &'static str,
    name: &'static str,
    slug: &'static str,
    school: &'static str,
    kindergartens: [&'static str; 3],
    sfo: &'static str,
    /// admin, leader, pedagogue, teacher, specialist, analyst
    people: [&'static str; 6],
}

const MUNICIPALITIES: [DemoMunicipality; 2] = [
    DemoMunicipality {
        code: "0630",
        name: "Vejle",
        slug: "vejle",
        school: "Bakkeskolen",
        kindergartens: [
            "Børnehaven Solsikken",
            "Børnehaven Mariehønen",
            "Børnehaven Skovtrolden",
        ],
        sfo: "SFO Bakkely",
        people: [
            "Mette Sørensen",
            "Lars Holm",
            "Sofie Jensen",
            "Peter Nielsen",
            "Hanne Kjær",
            "Jonas Berg",
        ],
    },
    DemoMunicipality {
        code: "0336",
        name: "Stevns",
        slug: "stevns",
        school: "Strandskolen",
        kindergartens: [
            "Børnehaven Søstjernen",
            "Børnehaven Klinten",
            "Børnehaven Engblommen",
        ],
        sfo: "SFO Strandly",
        people: [
            "Karen Madsen",
            "Henrik Lund",
            "Camilla Friis",
            "Thomas Bak",
            "Birgitte Dahl",
            "Anders Vinther",
        ],
    },
];

/// (local part of the e-mail, role, institution index: 0 = first kindergarten, 1 = school)
const USERS: [(&str, &str, Option<usize>); 6] = [
    ("admin", "municipal_admin", None),
    ("leder", "institution_leader", Some(0)),
    ("paedagog", "staff", Some(0)),
    ("laerer", "staff", Some(1)),
    ("specialist", "specialist", None),
    ("analytiker", "analyst", None),
];

/// The demo logins with a Danish description, for the start-up banner and the README.
pub fn demo_logins() -> Vec<(String, String)> {
    let mut out = vec![(OPERATOR_EMAIL.to_string(), "platformoperatør".to_string())];
    for m in &MUNICIPALITIES {
        for (i, (local, _, _)) in USERS.iter().enumerate() {
            let what = [
                "administrator",
                "leder (børnehave)",
                "pædagog",
                "lærer (skole)",
                "specialist (PPR)",
                "analytiker",
            ][i];
            out.push((
                format!("{local}@{}.overgang.test", m.slug),
                format!("{what}, {} Kommune", m.name),
            ));
        }
    }
    out
}

pub async fn demo_present(pool: &PgPool) -> Result<bool, sqlx::Error> {
    Ok(sqlx::query!(
        r#"SELECT id AS "id!" FROM auth_find_user($1)"#,
        OPERATOR_EMAIL
    )
    .fetch_optional(pool)
    .await?
    .is_some())
}

/// Seeds the demo data through the application role, so RLS applies to the seeding too.
/// Idempotent: a municipality whose code exists already is left alone.
pub async fn seed_demo(pool: &PgPool) -> anyhow::Result<bool> {
    // One hash serves every demo account: they share the password anyway.
    let hash = password::hash(&password::Gate::new(1, 0), DEMO_PASSWORD.to_string()).await?;
    let mut created = false;
    let mut tx = db::begin(pool, Scope::Platform).await?;
    if !demo_present(pool).await? {
        sqlx::query!(
            "INSERT INTO users (email, name, password_hash, is_platform_operator) VALUES ($1, 'Driftsoperatør', $2, true)",
            OPERATOR_EMAIL,
            hash
        )
        .execute(&mut *tx)
        .await?;
        created = true;
    }
    for m in &MUNICIPALITIES {
        db::set_scope(&mut tx, Scope::Platform).await?;
        let exists = sqlx::query_scalar!("SELECT id FROM municipalities WHERE code = $1", m.code)
            .fetch_optional(&mut *tx)
            .await?;
        if exists.is_some() {
            continue;
        }
        let mid: Uuid = sqlx::query_scalar!(
            "INSERT INTO municipalities (code, name) VALUES ($1, $2) RETURNING id",
            m.code,
            m.name
        )
        .fetch_one(&mut *tx)
        .await?;
        db::set_scope(&mut tx, Scope::Municipality(mid)).await?;
        let cluster: Uuid = sqlx::query_scalar!(
            "INSERT INTO clusters (municipality_id, name) VALUES ($1, $2) RETURNING id",
            mid,
            format!("Pilotklynge {}", m.school)
        )
        .fetch_one(&mut *tx)
        .await?;
        let institution = |name: &'static str, kind: &'static str| {
            sqlx::query_scalar!(
                "INSERT INTO institutions (municipality_id, name, kind, cluster_id, is_pilot)
                 VALUES ($1, $2, $3, $4, true) RETURNING id",
                mid,
                name,
                kind,
                cluster
            )
        };
        let school: Uuid = institution(m.school, "skole").fetch_one(&mut *tx).await?;
        let mut kindergartens = Vec::new();
        for k in m.kindergartens {
            kindergartens.push(institution(k, "boernehave").fetch_one(&mut *tx).await?);
        }
        institution(m.sfo, "sfo").fetch_one(&mut *tx).await?;
        sqlx::query!(
            "UPDATE clusters SET school_id = $1 WHERE municipality_id = $2 AND id = $3",
            school,
            mid,
            cluster
        )
        .execute(&mut *tx)
        .await?;
        for ((local, role, at), name) in USERS.iter().zip(m.people) {
            let user: Uuid = sqlx::query_scalar!(
                "INSERT INTO users (municipality_id, email, name, password_hash) VALUES ($1, $2, $3, $4) RETURNING id",
                mid,
                format!("{local}@{}.overgang.test", m.slug),
                name,
                hash
            )
            .fetch_one(&mut *tx)
            .await?;
            let institution_id = at.map(|i| if i == 0 { kindergartens[0] } else { school });
            sqlx::query!(
                "INSERT INTO role_assignments (municipality_id, user_id, role, institution_id) VALUES ($1, $2, $3, $4)",
                mid,
                user,
                role,
                institution_id
            )
            .execute(&mut *tx)
            .await?;
        }
        crate::forms::defaults::install(&mut tx, mid).await?;
        crate::wording::install(&mut tx, mid).await?;
        let actor = Actor {
            municipality_id: Some(mid),
            role: Some("system".into()),
            ..Default::default()
        };
        audit::record(
            &mut tx,
            &actor,
            Entry::new("seed_demo", "municipality", Some(mid)).details(json!({"code": m.code})),
        )
        .await?;
        created = true;
    }
    tx.commit().await?;
    Ok(created)
}

/// Demo step (only for `seed-demo` and a fresh demo server, not for the tests' demo data): one
/// Vejle child, "Ida Eksempel", handed over from Børnehaven Solsikken to Bakkeskolen on a date
/// past the municipality's feedback delay, with the sender's ratings filled in and the handover
/// sent, so the school's teacher finds a feedback request on /feedback. Idempotent.
pub async fn demo_feedback_example(pool: &PgPool) -> anyhow::Result<bool> {
    use crate::transitions::status::{record_event, transition_status, Status};

    let mut tx = db::begin(pool, Scope::Platform).await?;
    let Some(m) =
        sqlx::query!("SELECT id, feedback_delay_days FROM municipalities WHERE code = '0630'")
            .fetch_optional(&mut *tx)
            .await?
    else {
        return Ok(false);
    };
    db::set_scope(&mut tx, Scope::Municipality(m.id)).await?;
    let exists = sqlx::query_scalar!(
        "SELECT id FROM children WHERE municipality_id = $1 AND first_name = 'Ida' AND last_name = 'Eksempel'",
        m.id
    )
    .fetch_optional(&mut *tx)
    .await?;
    if exists.is_some() {
        return Ok(false);
    }
    let today = crate::children::queries::today(&mut tx).await?;
    let planned = today - time::Duration::days(i64::from(m.feedback_delay_days) + 7);
    let place = |name: &'static str| {
        sqlx::query_scalar!(
            "SELECT id FROM institutions WHERE municipality_id = $1 AND name = $2",
            m.id,
            name
        )
    };
    let kindergarten = place("Børnehaven Solsikken").fetch_one(&mut *tx).await?;
    let school = place("Bakkeskolen").fetch_one(&mut *tx).await?;
    let template = crate::forms::published_template(
        &mut tx,
        m.id,
        crate::forms::TransitionKind::KindergartenSchool,
    )
    .await?
    .ok_or_else(|| anyhow::anyhow!("no published kindergarten → school template in Vejle"))?;
    let pedagogue =
        sqlx::query_scalar!("SELECT id FROM users WHERE email = 'paedagog@vejle.overgang.test'")
            .fetch_one(&mut *tx)
            .await?;
    let child = sqlx::query_scalar!(
        "INSERT INTO children (municipality_id, first_name, last_name, birth_date)
         VALUES ($1, 'Ida', 'Eksempel', $2) RETURNING id",
        m.id,
        planned - time::Duration::days(6 * 365)
    )
    .fetch_one(&mut *tx)
    .await?;
    for (institution, starts, ends) in [
        (
            kindergarten,
            planned - time::Duration::days(3 * 365),
            Some(planned - time::Duration::days(1)),
        ),
        (school, planned, None),
    ] {
        sqlx::query!(
            "INSERT INTO enrolments (municipality_id, child_id, institution_id, starts_on, ends_on)
             VALUES ($1, $2, $3, $4, $5)",
            m.id,
            child,
            institution,
            starts,
            ends
        )
        .execute(&mut *tx)
        .await?;
    }
    let transition = sqlx::query_scalar!(
        "INSERT INTO transitions (municipality_id, child_id, sending_institution_id,
                                  receiving_institution_id, kind, planned_date, template_id,
                                  responsible_user_id)
         VALUES ($1, $2, $3, $4, 'kindergarten_school', $5, $6, $7) RETURNING id",
        m.id,
        child,
        kindergarten,
        school,
        planned,
        template.id,
        pedagogue
    )
    .fetch_one(&mut *tx)
    .await?;
    let actor = Actor {
        municipality_id: Some(m.id),
        role: Some("system".into()),
        ..Default::default()
    };
    record_event(&mut tx, &actor, m.id, transition, None, Status::Draft, None).await?;
    // The sender's ratings on every themed scale, so the comparison has both sides.
    let questions = crate::forms::load_template(&mut tx, m.id, template.id)
        .await?
        .ok_or_else(|| anyhow::anyhow!("template vanished"))?;
    for (i, q) in questions
        .questions()
        .filter(|q| q.theme.is_some() && !q.kind.scale().is_empty())
        .enumerate()
    {
        let scale = q.kind.scale();
        let value = scale[(i + 1) % scale.len()].0;
        sqlx::query!(
            "INSERT INTO answers (municipality_id, transition_id, question_id, template_id, value, updated_by)
             VALUES ($1, $2, $3, $4, $5, $6)",
            m.id,
            transition,
            q.id,
            template.id,
            value,
            pedagogue
        )
        .execute(&mut *tx)
        .await?;
    }
    for (version, to) in [(1, Status::Ready), (2, Status::Sent)] {
        transition_status(&mut tx, &actor, m.id, transition, version, to, None)
            .await
            .map_err(|e| anyhow::anyhow!("demo transition: {e:?}"))?;
    }
    audit::record(
        &mut tx,
        &actor,
        Entry::new("seed_demo", "transition", Some(transition)).child(child),
    )
    .await?;
    tx.commit().await?;
    crate::feedback::create_due_requests(pool, today).await?;
    Ok(true)
}

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
    let hash = password::hash(DEMO_PASSWORD.to_string()).await?;
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

//! Page views: their audit entries are written in groups (`audit::reads`) but before the page
//! is answered, each under its own municipality's scope; the app's connections work in Danish
//! time and plan their statements once.

use futures_util::future::join_all;
use overgang::audit::{Actor, Entry, ReadEntry, Writer};
use reqwest::StatusCode;
use uuid::Uuid;

use crate::common::*;

/// Three fixture children at `institution`.
async fn children_at(app: &TestApp, institution: &str) -> Vec<Uuid> {
    let mut ids = Vec::new();
    for n in 0..3 {
        let last = format!("Sidevisning{n}");
        let (_, _, id) = app
            .enrolled_child(institution, ("Vis", &last), "2020-03-01", 30)
            .await;
        ids.push(id);
    }
    ids
}

/// `(municipality code, number)` of the child read entries of `child_ids`, as the owner sees them.
async fn reads_of(app: &TestApp, child_ids: &[Uuid]) -> Vec<(String, i64)> {
    let mut c = app.owner_conn().await;
    sqlx::query_as(
        "SELECT m.code, count(*) FROM audit_log a JOIN municipalities m ON m.id = a.municipality_id
         WHERE a.action = 'read' AND a.entity_type = 'child' AND a.child_id = ANY($1)
         GROUP BY m.code ORDER BY m.code",
    )
    .bind(child_ids)
    .fetch_all(&mut c)
    .await
    .unwrap()
}

#[tokio::test]
async fn concurrent_page_views_of_two_municipalities_are_all_audited_before_the_answer() {
    let app = spawn_app().await;
    let vejle = app.login("admin@vejle.overgang.test").await;
    let stevns = app.login("admin@stevns.overgang.test").await;
    let vejle_children = children_at(&app, "Børnehaven Solsikken").await;
    let stevns_children = children_at(&app, "Børnehaven Søstjernen").await;

    // 24 views at once from both municipalities, so the writer gets groups with both in them
    let mut views = Vec::new();
    for round in 0..4 {
        for (client, ids) in [(&vejle, &vejle_children), (&stevns, &stevns_children)] {
            for id in ids.iter() {
                views.push(async move { (round, client.get(&format!("/children/{id}")).await) });
            }
        }
    }
    for (_, r) in join_all(views).await {
        assert_eq!(r.status(), StatusCode::OK);
    }
    // every entry is there as soon as the pages have been answered, in its own municipality
    let all: Vec<Uuid> = vejle_children
        .iter()
        .chain(&stevns_children)
        .copied()
        .collect();
    assert_eq!(
        reads_of(&app, &all).await,
        [("0336".to_string(), 12), ("0630".to_string(), 12)]
    );
    let mut c = app.owner_conn().await;
    let misplaced: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM audit_log a JOIN children c ON c.id = a.child_id
         WHERE a.action = 'read' AND a.municipality_id <> c.municipality_id",
    )
    .fetch_one(&mut c)
    .await
    .unwrap();
    assert_eq!(misplaced, 0);

    // a page that is refused writes nothing
    let r = vejle
        .get(&format!("/children/{}", stevns_children[0]))
        .await;
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    assert_eq!(
        reads_of(&app, &all).await,
        [("0336".to_string(), 12), ("0630".to_string(), 12)]
    );
}

fn entry(municipality_id: Option<Uuid>, child: Uuid) -> ReadEntry {
    let actor = Actor {
        municipality_id,
        ..Actor::default()
    };
    ReadEntry::new(
        &actor,
        Entry::new("read", "child", Some(child)).child(child),
    )
}

#[tokio::test]
async fn a_failed_write_is_reported_to_its_own_municipality_only() {
    let app = spawn_app().await;
    let writer = Writer::start(&app.db);
    let vejle = app.municipality_id("0630").await;
    let (good, bad) = (Uuid::new_v4(), Uuid::new_v4());
    // a municipality that does not exist: the entry breaks the foreign key
    let (ok, failed) = tokio::join!(
        writer.write(vec![entry(Some(vejle), good)]),
        writer.write(vec![entry(Some(Uuid::new_v4()), bad)]),
    );
    assert!(ok.is_ok(), "{ok:?}");
    let e = failed.expect_err("an entry of an unknown municipality cannot be written");
    assert!(e.to_string().contains("audit entries not written"), "{e}");
    let mut c = app.owner_conn().await;
    let written: Vec<(Uuid, Option<Uuid>)> =
        sqlx::query_as("SELECT child_id, municipality_id FROM audit_log WHERE child_id = ANY($1)")
            .bind([good, bad])
            .fetch_all(&mut c)
            .await
            .unwrap();
    assert_eq!(written, [(good, Some(vejle))]);
    // nothing to write is no round trip and no error
    writer.write(Vec::new()).await.unwrap();
}

#[tokio::test]
async fn app_connections_use_danish_time_and_generic_plans() {
    let app = spawn_app().await;
    let (zone, mode, page_cost, danish_today): (String, String, String, bool) = sqlx::query_as(
        "SELECT current_setting('TimeZone'), current_setting('plan_cache_mode'),
                current_setting('random_page_cost'),
                current_date = (now() AT TIME ZONE 'Europe/Copenhagen')::date",
    )
    .fetch_one(&app.db)
    .await
    .unwrap();
    assert_eq!(
        (
            zone.as_str(),
            mode.as_str(),
            page_cost.as_str(),
            danish_today
        ),
        ("Europe/Copenhagen", "force_generic_plan", "1.1", true)
    );
}

/// A transaction of the app carries its tenant scope and, for a page view only, the commit that
/// does not wait for the disk; a failed check (`db::begin_checked`) leaves no transaction and
/// no scope behind on the pooled connection.
#[tokio::test]
async fn transactions_carry_their_scope_and_commit_mode() {
    use overgang::db::{self, Scope};
    let app = spawn_app().await;
    let vejle = app.municipality_id("0630").await;
    // the test cluster does not wait for the disk anyway: this pool's connections do
    let options = (*app.db.connect_options()).clone();
    let pool = db::app_pool(&options.options([("synchronous_commit", "on")]), 2)
        .await
        .unwrap();
    let settings = "SELECT current_setting('app.municipality_id'), \
                    current_setting('app.platform'), current_setting('synchronous_commit')";
    for (durable, commit_mode) in [(false, "off"), (true, "on")] {
        let mut tx = db::begin_checked(&pool, "", Scope::Municipality(vejle), durable)
            .await
            .unwrap();
        let row: (String, String, String) =
            sqlx::query_as(settings).fetch_one(&mut *tx).await.unwrap();
        assert_eq!(row, (vejle.to_string(), String::new(), commit_mode.into()));
        tx.rollback().await.unwrap();
    }
    let mut tx = db::begin(&pool, Scope::Platform).await.unwrap();
    let row: (String, String, String) = sqlx::query_as(settings).fetch_one(&mut *tx).await.unwrap();
    assert_eq!(row, (String::new(), "on".into(), "on".into()));
    tx.rollback().await.unwrap();

    let refused = db::begin_checked(
        &pool,
        "(SELECT 1 / 0) = 1, ",
        Scope::Municipality(vejle),
        false,
    )
    .await;
    assert!(refused.is_err());
    // every connection of the pool is idle again, outside any transaction and scope
    let mut conns = Vec::new();
    for _ in 0..pool.size() {
        let mut conn = pool.acquire().await.unwrap();
        // SAVEPOINT is refused outside a transaction block
        let outside = sqlx::raw_sql("SAVEPOINT probe").execute(&mut *conn).await;
        assert!(
            matches!(&outside, Err(sqlx::Error::Database(e)) if e.code().as_deref() == Some("25P01")),
            "{outside:?}"
        );
        let scope: String =
            sqlx::query_scalar("SELECT coalesce(current_setting('app.municipality_id', true), '')")
                .fetch_one(&mut *conn)
                .await
                .unwrap();
        assert_eq!(scope, "");
        conns.push(conn);
    }
}

/// Connections the database ended while they waited in the pool (a restart, an administrator)
/// are found out before use, and the page works; only connections back in the pool within
/// `db::PING_AFTER_IDLE` are used without that check.
#[tokio::test]
async fn connections_ended_while_idle_are_replaced() {
    let app = spawn_app().await;
    let c = app.login("paedagog@vejle.overgang.test").await;
    assert_eq!(c.get_text("/children").await.0, StatusCode::OK);
    let mut owner = app.owner_conn().await;
    let ended: i64 = sqlx::query_scalar(
        // OFFSET 0: the connections of this test's database, chosen before any is ended
        "SELECT count(*) FROM (SELECT pid FROM pg_stat_activity
                               WHERE datname = current_database() AND pid <> pg_backend_pid()
                               OFFSET 0) mine
         WHERE pg_terminate_backend(mine.pid)",
    )
    .fetch_one(&mut owner)
    .await
    .unwrap();
    assert!(
        ended >= 2,
        "the app's and the audit writer's connections: {ended}"
    );
    tokio::time::sleep(overgang::db::PING_AFTER_IDLE + std::time::Duration::from_millis(300)).await;
    for _ in 0..3 {
        assert_eq!(c.get_text("/children").await.0, StatusCode::OK);
    }
}

/// Times on the pages are Danish time, hour by hour across two years of summer-time changes, as
/// PostgreSQL's time zone database has them.
#[tokio::test]
async fn times_are_shown_in_danish_time() {
    let app = spawn_app().await;
    let mut conn = app.owner_conn().await;
    let rows: Vec<(time::OffsetDateTime, String)> = sqlx::query_as(
        "SELECT ts, to_char(ts AT TIME ZONE 'Europe/Copenhagen', 'DD-MM-YYYY HH24:MI')
         FROM generate_series(timestamptz '2025-12-31 23:30+00', '2028-01-01 00:30+00',
                              interval '1 hour') AS ts",
    )
    .fetch_all(&mut conn)
    .await
    .unwrap();
    assert!(rows.len() > 17_000);
    for (at, expected) in rows {
        assert_eq!(overgang::children::domain::format_at(at), expected, "{at}");
    }
}

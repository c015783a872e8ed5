//! Durability: the real server binary takes many concurrent form saves from several clients, is
//! killed with SIGKILL in the middle, and restarted on the same database. Every save it
//! acknowledged must be there, and no save may be half-written.
//!
//! Each save writes the same unique tag into three free-text answers and bumps the transition's
//! version, in one transaction. So after the restart, per transition: the three answers hold
//! one tag (never a mix), that tag's save is the last one committed (its version is the
//! transition's version), and the version is at least that of every acknowledged save. Every
//! acknowledged save also left its audit entry (same transaction) with its version: the proof
//! that saves overwritten later were committed too.

use std::{
    collections::HashMap,
    process::Stdio,
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use reqwest::{header, redirect, StatusCode};
use sqlx::{postgres::PgConnectOptions, PgConnection};
use tokio::process::{Child, Command};
use uuid::Uuid;

use crate::{
    access::fixture,
    common::{self, Client, TestApp},
};

const CLIENTS: usize = 8;
const TRANSITIONS_PER_CLIENT: usize = 2;

/// The test database as a URL the server binary understands.
fn database_url(owner: &PgConnectOptions) -> String {
    let db = owner.get_database().expect("database name");
    if let Some(url) = std::env::var("DATABASE_URL").ok().filter(|u| !u.is_empty()) {
        // An external server: its URL (with any password) pointed at the test database.
        let (base, query) = url.split_once('?').unwrap_or((&url, ""));
        let base = base.rsplit_once('/').map(|(b, _)| b).unwrap_or(base);
        let query = if query.is_empty() {
            String::new()
        } else {
            format!("?{query}")
        };
        return format!("{base}/{db}{query}");
    }
    let socket = owner
        .get_socket()
        .map(|s| format!("&host={}", s.display()))
        .unwrap_or_default();
    format!(
        "postgres://{}@{}:{}/{db}?sslmode=disable{socket}",
        owner.get_username(),
        Some(owner.get_host())
            .filter(|h| !h.is_empty() && !h.starts_with('/'))
            .unwrap_or("localhost"),
        owner.get_port()
    )
}

struct Server {
    child: Child,
    base: String,
}

async fn start(url: &str, port: u16) -> Server {
    let log = std::env::temp_dir().join(format!("overgang-durability-{port}.log"));
    let mut child = Command::new(env!("CARGO_BIN_EXE_overgang"))
        .arg("serve")
        .env("DATABASE_URL", url)
        .env("OVERGANG_ADDR", format!("127.0.0.1:{port}"))
        .env("OVERGANG_SEED_DEMO", "false")
        .env("RUST_LOG", "warn")
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&log).unwrap())
        .kill_on_drop(true)
        .spawn()
        .expect("start the server binary");
    let base = format!("http://127.0.0.1:{port}");
    let probe = reqwest::Client::new();
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if let Ok(r) = probe.get(format!("{base}/healthz")).send().await {
            if r.status() == StatusCode::OK {
                break;
            }
        }
        if let Some(status) = child.try_wait().unwrap() {
            panic!(
                "the server exited with {status}: {}",
                std::fs::read_to_string(&log).unwrap_or_default()
            );
        }
        assert!(Instant::now() < deadline, "the server did not come up");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    Server { child, base }
}

fn client(base: &str) -> Client {
    Client {
        base: base.to_string(),
        http: reqwest::Client::builder()
            .cookie_store(true)
            .redirect(redirect::Policy::none())
            .timeout(Duration::from_secs(30))
            .build()
            .unwrap(),
    }
}

/// A save as sent: the tag written into the answers and the version the form was at.
#[derive(Clone, Debug)]
struct Save {
    transition: Uuid,
    tag: String,
    from_version: i32,
    acknowledged: bool,
}

#[tokio::test]
async fn acknowledged_form_saves_survive_sigkill_and_none_is_half_written() {
    let (state, owner) = common::state().await;
    // The fixtures are made with the test helpers; the server under test is the binary.
    let app = TestApp {
        addr: "127.0.0.1:1".parse().unwrap(),
        db: state.db.clone(),
        owner: owner.clone(),
    };
    let mut transitions = Vec::new();
    for _ in 0..CLIENTS * TRANSITIONS_PER_CLIENT {
        transitions.push(fixture(&app).await.transition);
    }
    let mut conn = app.owner_conn().await;
    let questions = free_text_questions(&mut conn, transitions[0]).await;

    let url = database_url(&owner);
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let mut server = start(&url, port).await;

    let saves: Arc<Mutex<Vec<Save>>> = Arc::default();
    let mut tasks = Vec::new();
    for (n, mine) in transitions.chunks(TRANSITIONS_PER_CLIENT).enumerate() {
        let c = client(&server.base);
        let r = c
            .login("paedagog@vejle.overgang.test", common::PASSWORD)
            .await;
        assert_eq!(r.status(), StatusCode::SEE_OTHER, "login");
        let token = c.csrf("/").await;
        let mine = mine.to_vec();
        let questions = questions.clone();
        let saves = saves.clone();
        tasks.push(tokio::spawn(async move {
            let mut versions: HashMap<Uuid, i32> = mine.iter().map(|t| (*t, 1)).collect();
            for i in 0.. {
                let t = mine[i % mine.len()];
                let tag = format!("client {n} save {i} «æøå»");
                let from = versions[&t];
                let index = {
                    let mut s = saves.lock().unwrap();
                    s.push(Save {
                        transition: t,
                        tag: tag.clone(),
                        from_version: from,
                        acknowledged: false,
                    });
                    s.len() - 1
                };
                let mut fields = vec![
                    ("_csrf".to_string(), token.clone()),
                    ("version".to_string(), from.to_string()),
                ];
                for q in &questions {
                    fields.push((format!("q_{q}"), tag.clone()));
                }
                let mut req = c
                    .http
                    .post(c.url(&format!("/transitions/{t}/form")))
                    .header(header::ORIGIN, &c.base)
                    .form(&fields);
                // Half the saves as the autosave sends them (204 + X-Version), half as the form.
                if i % 2 == 0 {
                    req = req.header("x-requested-with", "fetch");
                }
                let Ok(r) = req.send().await else {
                    return; // the server is gone
                };
                match r.status() {
                    StatusCode::NO_CONTENT | StatusCode::SEE_OTHER => {
                        saves.lock().unwrap()[index].acknowledged = true;
                        versions.insert(t, from + 1);
                    }
                    other => panic!("save answered {other}"),
                }
            }
        }));
    }

    // Let the saves run, then pull the plug while they are in flight.
    let acknowledged = || {
        saves
            .lock()
            .unwrap()
            .iter()
            .filter(|s| s.acknowledged)
            .count()
    };
    let deadline = Instant::now() + Duration::from_secs(60);
    while acknowledged() < 200 && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    server.child.start_kill().expect("SIGKILL");
    server.child.wait().await.unwrap();
    for t in tasks {
        t.await.expect("a client failed");
    }
    let saves = saves.lock().unwrap().clone();
    let acked = saves.iter().filter(|s| s.acknowledged).count();
    assert!(
        acked >= 50,
        "only {acked} saves were acknowledged before the kill"
    );

    let server = start(&url, port).await;
    let mut conn = app.owner_conn().await;
    let failures = check(&mut conn, &transitions, &questions, &saves).await;

    // The restarted server carries on from what is stored.
    let c = client(&server.base);
    c.login("paedagog@vejle.overgang.test", common::PASSWORD)
        .await;
    let (status, html) = c
        .get_text(&format!("/transitions/{}/form", transitions[0]))
        .await;
    assert_eq!(status, StatusCode::OK);
    let version: i32 = sqlx::query_scalar("SELECT version FROM transitions WHERE id = $1")
        .bind(transitions[0])
        .fetch_one(&mut conn)
        .await
        .unwrap();
    assert!(
        html.contains(&format!("name=\"version\" value=\"{version}\"")),
        "the form after the restart carries the stored version {version}"
    );
    eprintln!(
        "durability: {} saves sent, {acked} acknowledged before SIGKILL, {} transitions checked",
        saves.len(),
        transitions.len()
    );
    assert!(
        failures.is_empty(),
        "{} failures:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

/// The first three free-text questions of the transition's template.
async fn free_text_questions(conn: &mut PgConnection, transition: Uuid) -> Vec<Uuid> {
    let questions: Vec<Uuid> = sqlx::query_scalar(
        "SELECT q.id FROM template_questions q JOIN template_sections s ON s.id = q.section_id
         WHERE q.template_id = (SELECT template_id FROM transitions WHERE id = $1)
           AND q.kind = 'free_text'
         ORDER BY s.position, q.position LIMIT 3",
    )
    .bind(transition)
    .fetch_all(conn)
    .await
    .unwrap();
    assert_eq!(
        questions.len(),
        3,
        "the template has three free-text questions"
    );
    questions
}

/// What is wrong with the stored saves of `transitions` (see the module's comment); empty when
/// nothing is.
async fn check(
    conn: &mut PgConnection,
    transitions: &[Uuid],
    questions: &[Uuid],
    saves: &[Save],
) -> Vec<String> {
    let mut failures = Vec::new();
    for t in transitions {
        let version: i32 = sqlx::query_scalar("SELECT version FROM transitions WHERE id = $1")
            .bind(t)
            .fetch_one(&mut *conn)
            .await
            .unwrap();
        let values: Vec<Option<String>> = sqlx::query_scalar(
            "SELECT a.value FROM unnest($2::uuid[]) q
             LEFT JOIN answers a ON a.transition_id = $1 AND a.question_id = q",
        )
        .bind(t)
        .bind(questions)
        .fetch_all(&mut *conn)
        .await
        .unwrap();
        let mine: Vec<&Save> = saves.iter().filter(|s| s.transition == *t).collect();
        let last_acked = mine
            .iter()
            .filter(|s| s.acknowledged)
            .map(|s| s.from_version + 1)
            .max()
            .unwrap_or(1);
        if version < last_acked {
            failures.push(format!(
                "{t}: version {version}, but a save to version {last_acked} was acknowledged"
            ));
        }
        let first = values[0].clone();
        if values.iter().any(|v| *v != first) {
            failures.push(format!("{t}: half-written save, answers {values:?}"));
            continue;
        }
        match first {
            None if version == 1 => {}
            None => failures.push(format!("{t}: version {version} but no answers")),
            Some(tag) => match mine.iter().find(|s| s.tag == tag) {
                Some(s) if s.from_version + 1 == version => {}
                Some(s) => failures.push(format!(
                    "{t}: answers of the save to version {}, transition at {version}",
                    s.from_version + 1
                )),
                None => failures.push(format!("{t}: answers {tag:?} nobody sent")),
            },
        }
        // Every acknowledged save committed, including those overwritten since.
        let audited: Vec<i32> = sqlx::query_scalar(
            "SELECT (details->>'version')::int FROM audit_log
             WHERE action = 'answers_saved' AND entity_id = $1",
        )
        .bind(t)
        .fetch_all(&mut *conn)
        .await
        .unwrap();
        for s in mine.iter().filter(|s| s.acknowledged) {
            if !audited.contains(&(s.from_version + 1)) {
                failures.push(format!(
                    "{t}: acknowledged save to version {} left no trace",
                    s.from_version + 1
                ));
            }
        }
    }
    failures
}

/// The check above has to be able to fail: saves made through the app pass it, and then each
/// kind of damage it looks for, made by hand, is reported.
#[tokio::test]
async fn the_check_reports_torn_answers_lost_saves_and_saves_without_a_trace() {
    let app = common::spawn_app().await;
    let mut transitions = Vec::new();
    for _ in 0..4 {
        transitions.push(fixture(&app).await.transition);
    }
    let mut conn = app.owner_conn().await;
    let questions = free_text_questions(&mut conn, transitions[0]).await;
    let c = app.login("paedagog@vejle.overgang.test").await;
    let token = c.csrf("/").await;
    let mut saves = Vec::new();
    for (n, t) in transitions.iter().enumerate() {
        for from_version in 1..=2 {
            let tag = format!("check {n} save {from_version}");
            let mut fields = vec![
                ("_csrf".to_string(), token.clone()),
                ("version".to_string(), from_version.to_string()),
            ];
            fields.extend(questions.iter().map(|q| (format!("q_{q}"), tag.clone())));
            let r = c
                .http
                .post(c.url(&format!("/transitions/{t}/form")))
                .header(header::ORIGIN, &c.base)
                .header("x-requested-with", "fetch")
                .form(&fields)
                .send()
                .await
                .unwrap();
            assert_eq!(r.status(), StatusCode::NO_CONTENT);
            saves.push(Save {
                transition: *t,
                tag,
                from_version,
                acknowledged: true,
            });
        }
    }
    assert_eq!(
        check(&mut conn, &transitions, &questions, &saves).await,
        Vec::<String>::new()
    );

    // Sets the answers of `transition` (only `question`'s, if given) to `value`.
    let set_answers = |transition: Uuid, question: Option<Uuid>, value: &'static str| {
        sqlx::query(
            "UPDATE answers SET value = $3
             WHERE transition_id = $1 AND ($2::uuid IS NULL OR question_id = $2)",
        )
        .bind(transition)
        .bind(question)
        .bind(value)
    };
    // 0: one answer of the last save replaced, as if half of another save had landed
    set_answers(transitions[0], Some(questions[2]), "check 0 save 1")
        .execute(&mut conn)
        .await
        .unwrap();
    // 1: the last save rolled back although it was acknowledged
    sqlx::query("UPDATE transitions SET version = 2 WHERE id = $1")
        .bind(transitions[1])
        .execute(&mut conn)
        .await
        .unwrap();
    set_answers(transitions[1], None, "check 1 save 1")
        .execute(&mut conn)
        .await
        .unwrap();
    // 2: answers nobody sent
    set_answers(transitions[2], None, "forged")
        .execute(&mut conn)
        .await
        .unwrap();
    // 3: a save acknowledged to the client that never reached the database
    saves.push(Save {
        transition: transitions[3],
        tag: "check 3 save 3".into(),
        from_version: 3,
        acknowledged: true,
    });

    let failures = check(&mut conn, &transitions, &questions, &saves).await;
    let expected = [
        format!("{}: half-written save", transitions[0]),
        format!(
            "{}: version 2, but a save to version 3 was acknowledged",
            transitions[1]
        ),
        format!("{}: answers \"forged\" nobody sent", transitions[2]),
        format!(
            "{}: version 3, but a save to version 4 was acknowledged",
            transitions[3]
        ),
        format!(
            "{}: acknowledged save to version 4 left no trace",
            transitions[3]
        ),
    ];
    for e in &expected {
        assert!(
            failures.iter().any(|f| f.starts_with(e.as_str())),
            "{e:?} not among {failures:#?}"
        );
    }
    assert_eq!(failures.len(), expected.len(), "{failures:#?}");
}

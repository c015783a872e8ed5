//! Insights: exact figures on a hand-made data set, suppression on the page and in the CSV, the
//! threshold setting, and who may see which page.

use overgang::{
    db::{self, Scope as DbScope},
    forms::kinds::TransitionKind,
    insights::{self, Figure, Filter, GroupFigures, Scope},
};
use reqwest::StatusCode;
use sqlx::PgConnection;
use uuid::Uuid;

use crate::common::{spawn_app, TestApp};

/// Usefulness (None: requested, not answered), special support, (theme, receiver rating).
type Feedback<'a> = (Option<i16>, Option<bool>, &'a [(&'a str, &'a str)]);

/// (sent on, consent steps, usefulness, special support, personal, wellbeing, social)
type Row<'a> = (
    &'a str,
    &'a [&'a str],
    Option<i16>,
    Option<bool>,
    (&'a str, &'a str),
    (&'a str, &'a str),
    Option<(&'a str, &'a str)>,
);

struct Made {
    m: Uuid,
    cluster: Uuid,
    solsikken: Uuid,
    mariehoenen: Uuid,
    child: Uuid,
    transition: Uuid,
}

async fn id(conn: &mut PgConnection, sql: &str, m: Uuid) -> Uuid {
    sqlx::query_scalar(sql)
        .bind(m)
        .fetch_one(conn)
        .await
        .unwrap()
}

/// A transition of Vejle's kindergarten → school template with its history, consent decisions
/// for the sensitive sections, the sender's answers and the feedback.
#[allow(clippy::too_many_arguments)]
async fn transition(
    conn: &mut PgConnection,
    m: Uuid,
    sender: Uuid,
    planned: &str,
    status: &str,
    sent_on: Option<&str>,
    consent: &[&str],
    answers: &[(&str, &str)],
    feedback: Option<Feedback<'_>>,
) -> (Uuid, Uuid) {
    let child: Uuid = sqlx::query_scalar(
        "INSERT INTO children (municipality_id, first_name, last_name, birth_date)
         VALUES ($1, 'Indsigtbarn', 'Hemmelig', '2019-03-03') RETURNING id",
    )
    .bind(m)
    .fetch_one(&mut *conn)
    .await
    .unwrap();
    let guardian: Uuid = sqlx::query_scalar(
        "INSERT INTO guardians (municipality_id, child_id, name) VALUES ($1, $2, 'Forælder') RETURNING id",
    )
    .bind(m)
    .bind(child)
    .fetch_one(&mut *conn)
    .await
    .unwrap();
    let t: Uuid = sqlx::query_scalar(
        "INSERT INTO transitions (municipality_id, child_id, sending_institution_id, receiving_institution_id,
                                  kind, planned_date, template_id, status)
         SELECT $1, $2, $3, r.id, 'kindergarten_school', $4::date, f.id, $5
         FROM institutions r, form_templates f
         WHERE r.municipality_id = $1 AND r.name = 'Bakkeskolen'
           AND f.municipality_id = $1 AND f.transition_kind = 'kindergarten_school' AND f.status = 'published'
         RETURNING id",
    )
    .bind(m)
    .bind(child)
    .bind(sender)
    .bind(planned)
    .bind(status)
    .fetch_one(&mut *conn)
    .await
    .unwrap();
    sqlx::query("INSERT INTO transition_events (municipality_id, transition_id, at, to_status) VALUES ($1, $2, '2025-01-01', 'draft')")
        .bind(m)
        .bind(t)
        .execute(&mut *conn)
        .await
        .unwrap();
    if let Some(at) = sent_on {
        // 23:30 Danish time on the day: the local date decides "on time"
        sqlx::query(
            "INSERT INTO transition_events (municipality_id, transition_id, at, from_status, to_status)
             VALUES ($1, $2, ($3::date + time '23:30') AT TIME ZONE 'Europe/Copenhagen', 'ready', 'sent'),
                    ($1, $2, ($3::date + time '23:59') AT TIME ZONE 'Europe/Copenhagen', 'sent', 'received')",
        )
        .bind(m)
        .bind(t)
        .bind(at)
        .execute(&mut *conn)
        .await
        .unwrap();
    }
    // one decision per step, in order, for every sensitive section
    for (i, decision) in consent.iter().enumerate() {
        sqlx::query(
            "INSERT INTO consent_records (municipality_id, transition_id, guardian_id, section_id, decision, method, recorded_at)
             SELECT DISTINCT $1, $2::uuid, $3::uuid, q.section_id, $4, 'link', timestamptz '2025-06-01' + $5 * interval '1 day'
             FROM transitions t JOIN template_questions q ON q.municipality_id = t.municipality_id AND q.template_id = t.template_id
             WHERE t.id = $2 AND q.sensitive",
        )
        .bind(m)
        .bind(t)
        .bind(guardian)
        .bind(decision)
        .bind(i as i32)
        .execute(&mut *conn)
        .await
        .unwrap();
    }
    for (theme, value) in answers {
        sqlx::query(
            "INSERT INTO answers (municipality_id, transition_id, question_id, template_id, value)
             SELECT $1, t.id, q.id, q.template_id, $3
             FROM transitions t JOIN template_questions q ON q.municipality_id = t.municipality_id AND q.template_id = t.template_id
             WHERE t.id = $2 AND q.theme = $4 AND q.kind IN ('scale_1_4', 'traffic_light')",
        )
        .bind(m)
        .bind(t)
        .bind(value)
        .bind(theme)
        .execute(&mut *conn)
        .await
        .unwrap();
    }
    if let Some((usefulness, support, ratings)) = feedback {
        let request: Uuid = sqlx::query_scalar(
            "INSERT INTO feedback_requests (municipality_id, transition_id, round, due_on, answered_at, usefulness, completeness, special_support)
             VALUES ($1, $2, 1, '2025-11-01', CASE WHEN $3::smallint IS NOT NULL THEN now() END, $3, $3, $4) RETURNING id",
        )
        .bind(m)
        .bind(t)
        .bind(usefulness)
        .bind(support)
        .fetch_one(&mut *conn)
        .await
        .unwrap();
        for (theme, value) in ratings {
            sqlx::query(
                "INSERT INTO feedback_ratings (municipality_id, request_id, question_id, value)
                 SELECT $1, $2, q.id, $3
                 FROM transitions t JOIN template_questions q ON q.municipality_id = t.municipality_id AND q.template_id = t.template_id
                 WHERE t.id = $4 AND q.theme = $5 AND q.kind IN ('scale_1_4', 'traffic_light')",
            )
            .bind(m)
            .bind(request)
            .bind(value)
            .bind(t)
            .bind(theme)
            .execute(&mut *conn)
            .await
            .unwrap();
        }
    }
    (child, t)
}

/// Cohort 2025 from Solsikken: six sent handovers (four on time), five released, five of six
/// feedback requests answered; one cancelled. Cohort 2024 from Mariehønen: two drafts.
async fn made(app: &TestApp) -> Made {
    let mut conn = app.owner_conn().await;
    let m = app.municipality_id("0630").await;
    let solsikken = id(
        &mut conn,
        "SELECT id FROM institutions WHERE municipality_id = $1 AND name = 'Børnehaven Solsikken'",
        m,
    )
    .await;
    let mariehoenen = id(
        &mut conn,
        "SELECT id FROM institutions WHERE municipality_id = $1 AND name = 'Børnehaven Mariehønen'",
        m,
    )
    .await;
    let cluster = id(
        &mut conn,
        "SELECT id FROM clusters WHERE municipality_id = $1 AND name = 'Pilotklynge Bakkeskolen'",
        m,
    )
    .await;
    let planned = "2025-08-01";
    // (sent on, consent steps, usefulness, special support, personal s/r, wellbeing s/r, social s/r)
    let rows: [Row; 6] = [
        (
            "2025-07-01",
            &["given"],
            Some(5),
            Some(true),
            ("3", "4"),
            ("green", "yellow"),
            Some(("2", "3")),
        ),
        (
            "2025-07-31",
            &["given"],
            Some(4),
            Some(false),
            ("3", "3"),
            ("green", "yellow"),
            Some(("2", "3")),
        ),
        (
            "2025-08-01",
            &["given"],
            Some(4),
            Some(false),
            ("2", "3"),
            ("yellow", "yellow"),
            Some(("2", "3")),
        ),
        (
            "2025-07-15",
            &["given"],
            Some(3),
            Some(false),
            ("4", "4"),
            ("red", "yellow"),
            Some(("2", "3")),
        ),
        // late; refused first, then given: the latest decision counts
        (
            "2025-08-02",
            &["refused", "given"],
            Some(2),
            Some(false),
            ("1", "2"),
            ("green", "yellow"),
            None,
        ),
        // late; given, then withdrawn; feedback requested but not answered
        (
            "2025-08-10",
            &["given", "withdrawn"],
            None,
            None,
            ("4", "4"),
            ("green", "green"),
            None,
        ),
    ];
    let mut first = None;
    for (sent, consent, usefulness, support, personal, wellbeing, social) in rows {
        let mut answers = vec![("personal", personal.0), ("wellbeing", wellbeing.0)];
        let mut ratings = vec![("personal", personal.1), ("wellbeing", wellbeing.1)];
        if let Some((s, r)) = social {
            answers.push(("social", s));
            ratings.push(("social", r));
        }
        let status = if usefulness.is_some() {
            "feedback_given"
        } else {
            "feedback_requested"
        };
        let made = transition(
            &mut conn,
            m,
            solsikken,
            planned,
            status,
            Some(sent),
            consent,
            &answers,
            Some((
                usefulness,
                support,
                if usefulness.is_some() { &ratings } else { &[] },
            )),
        )
        .await;
        first.get_or_insert(made);
    }
    // cancelled: counts nowhere, although sent late and answered
    transition(
        &mut conn,
        m,
        solsikken,
        planned,
        "cancelled",
        Some("2025-09-01"),
        &["refused"],
        &[],
        Some((Some(1), Some(true), &[])),
    )
    .await;
    for _ in 0..2 {
        transition(
            &mut conn,
            m,
            mariehoenen,
            "2024-08-01",
            "draft",
            None,
            &[],
            &[],
            None,
        )
        .await;
    }
    let (child, transition) = first.unwrap();
    Made {
        m,
        cluster,
        solsikken,
        mariehoenen,
        child,
        transition,
    }
}

async fn compute(app: &TestApp, m: Uuid, filter: &Filter) -> insights::Figures {
    let mut tx = db::begin(&app.db, DbScope::Municipality(m)).await.unwrap();
    let f = insights::compute(&mut tx, m, filter).await.unwrap();
    tx.rollback().await.unwrap();
    f
}

fn share(part: i64, whole: i64) -> Figure {
    Figure::Share { part, whole }
}

#[tokio::test]
async fn figures_are_computed_exactly_and_suppressed_below_the_threshold() {
    let app = spawn_app().await;
    let d = made(&app).await;
    let f = compute(
        &app,
        d.m,
        &Filter {
            scope: Scope::Municipality,
            year: Some(2025),
            kind: None,
        },
    )
    .await;
    assert_eq!(f.threshold, 5);
    assert_eq!(
        f.total,
        GroupFigures {
            transitions: Figure::Count(6),
            // sent on or before 1 August, Danish date
            on_time: share(4, 6),
            // the fifth's latest decision is "given", the sixth's "withdrawn"
            consent: share(5, 6),
            response: share(5, 6),
            usefulness: Figure::Mean {
                sum: 18,
                n: 5,
                unit: 1
            },
            special_support: share(1, 5),
        }
    );
    assert_eq!(f.total.on_time.to_string(), "67 %");
    assert_eq!(f.total.usefulness.to_string(), "3,6");
    // themes, in half points: personal sender 3+3+2+4+1 = 13, receiver 4+3+3+4+2 = 16;
    // wellbeing sender green, green, yellow, red, green = 4+4+2.5+1+4, receiver 5 × yellow;
    // social has four pairs only
    let theme = |key: &str| f.themes.iter().find(|t| t.key == key).unwrap().clone();
    let personal = theme("personal");
    assert_eq!(personal.pairs, Figure::Count(5));
    assert_eq!(
        personal.sender,
        Figure::Mean {
            sum: 26,
            n: 5,
            unit: 2
        }
    );
    assert_eq!(
        personal.receiver,
        Figure::Mean {
            sum: 32,
            n: 5,
            unit: 2
        }
    );
    assert_eq!(personal.sender.to_string(), "2,6");
    let wellbeing = theme("wellbeing");
    assert_eq!(
        wellbeing.sender,
        Figure::Mean {
            sum: 31,
            n: 5,
            unit: 2
        }
    );
    assert_eq!(
        wellbeing.receiver,
        Figure::Mean {
            sum: 25,
            n: 5,
            unit: 2
        }
    );
    assert_eq!(wellbeing.receiver.to_string(), "2,5");
    let social = theme("social");
    assert_eq!(social.pairs, Figure::Suppressed(5));
    assert_eq!(social.sender, Figure::Suppressed(5));
    assert_eq!(social.receiver, Figure::Suppressed(5));

    // all years: the trend has both cohorts; 2024's two drafts are suppressed, also as a row
    let all = compute(
        &app,
        d.m,
        &Filter {
            scope: Scope::Cluster(d.cluster),
            year: None,
            kind: Some(TransitionKind::KindergartenSchool),
        },
    )
    .await;
    assert_eq!(all.total.transitions, Figure::Count(8));
    assert_eq!(all.total.on_time, share(4, 6));
    let years: Vec<i32> = all.cohorts.iter().map(|c| c.year).collect();
    assert_eq!(years, vec![2024, 2025]);
    assert_eq!(all.cohorts[0].figures.transitions, Figure::Suppressed(5));
    assert_eq!(all.cohorts[0].figures.on_time, Figure::Suppressed(5));
    assert_eq!(all.cohorts[1].figures.transitions, Figure::Count(6));
    let labels: Vec<&str> = all.rows.iter().map(|r| r.label.as_str()).collect();
    assert_eq!(
        labels,
        vec!["Børnehaven Mariehønen", "Børnehaven Solsikken"]
    );
    assert_eq!(all.rows[0].figures.transitions, Figure::Suppressed(5));
    assert_eq!(all.rows[1].figures.consent, share(5, 6));

    // another kind: nothing
    let sfo = compute(
        &app,
        d.m,
        &Filter {
            scope: Scope::Institution(d.mariehoenen),
            year: None,
            kind: Some(TransitionKind::KindergartenSfo),
        },
    )
    .await;
    assert!(sfo.cohorts.is_empty() && sfo.rows.is_empty() && sfo.themes.is_empty());
    assert_eq!(sfo.total.transitions, Figure::Suppressed(5));

    // Stevns sees none of it, even asking with Vejle's institution
    let stevns = app.municipality_id("0336").await;
    let other = compute(
        &app,
        stevns,
        &Filter {
            scope: Scope::Institution(d.solsikken),
            year: None,
            kind: None,
        },
    )
    .await;
    assert!(other.cohorts.is_empty());
}

#[tokio::test]
async fn the_threshold_setting_is_respected_on_the_page_and_in_the_csv() {
    let app = spawn_app().await;
    let d = made(&app).await;
    let analyst = app.login("analytiker@vejle.overgang.test").await;
    let cluster = format!("/insights/clusters/{}", d.cluster);

    let (status, html) = analyst.get_text(&cluster).await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains("færre end 5"), "{html}");
    assert!(html.contains("Børnehaven Mariehønen"));
    assert!(html.contains("67 %"));
    assert!(
        !html.contains("Indsigtbarn"),
        "a child's name on an insights page"
    );
    let r = analyst.get(&format!("{cluster}?format=csv")).await;
    assert_eq!(r.status(), StatusCode::OK);
    assert!(r.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/csv"));
    let csv = r.text().await.unwrap();
    assert!(csv.starts_with("\u{feff}Afsnit;Gruppe;Årgang;Mål;Værdi;Tæller;Grundlag\r\n"));
    assert!(
        csv.contains("Opdeling;Børnehaven Mariehønen;;Overgange;færre end 5;;\r\n"),
        "{csv}"
    );
    assert!(
        csv.contains("Opdeling;Børnehaven Solsikken;;Sendt til tiden;66,7;4;6\r\n"),
        "{csv}"
    );
    assert!(
        csv.contains("Årgange;;2024;Overgange;færre end 5;;\r\n"),
        "{csv}"
    );
    assert!(
        csv.contains("Tema;Social udvikling;;Afgiver (1–4);færre end 5;;\r\n"),
        "{csv}"
    );
    assert!(!csv.contains("Indsigtbarn"));

    // threshold 2: the two drafts show; 7: Solsikken's six do not
    sqlx::query("UPDATE municipalities SET small_number_threshold = 2 WHERE id = $1")
        .bind(d.m)
        .execute(&mut app.owner_conn().await)
        .await
        .unwrap();
    let csv = analyst
        .get(&format!("{cluster}?format=csv"))
        .await
        .text()
        .await
        .unwrap();
    assert!(
        csv.contains("Opdeling;Børnehaven Mariehønen;;Overgange;2;;2\r\n"),
        "{csv}"
    );
    assert!(
        csv.contains("Tema;Social udvikling;;Antal parvise vurderinger;4;;4\r\n"),
        "{csv}"
    );
    sqlx::query("UPDATE municipalities SET small_number_threshold = 7 WHERE id = $1")
        .bind(d.m)
        .execute(&mut app.owner_conn().await)
        .await
        .unwrap();
    let (_, html) = analyst.get_text(&format!("{cluster}?year=2025")).await;
    assert!(html.contains("færre end 7"));
    assert!(!html.contains("67 %"), "six is below seven");
    let csv = analyst
        .get(&format!("{cluster}?year=2025&format=csv"))
        .await
        .text()
        .await
        .unwrap();
    assert!(
        csv.contains("I alt;;2025;Sendt til tiden;færre end 7;;\r\n"),
        "{csv}"
    );
    assert!(!csv.contains(";4;6\r\n"));
}

#[tokio::test]
async fn pages_have_charts_with_text_alternatives_and_a_printable_report() {
    let app = spawn_app().await;
    let d = made(&app).await;
    let analyst = app.login("analytiker@vejle.overgang.test").await;
    let (status, html) = analyst.get_text("/insights?year=2025").await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains("<svg class=\"chart\""));
    assert!(html.contains("role=\"img\""));
    assert!(html.contains("<title id=\"trend-shares-title\">"));
    assert!(html.contains("<desc id=\"trend-shares-desc\">"));
    assert!(html.contains("<caption>Tallene bag diagrammerne"));
    assert!(html.contains("Pilotklynge Bakkeskolen"));
    assert!(!html.contains("style="), "no inline styles (CSP)");
    assert!(
        html.contains("gul = 2,5"),
        "the help text explains the common scale"
    );

    let (status, html) = analyst
        .get_text(&format!(
            "/insights/clusters/{}/report?year=2025",
            d.cluster
        ))
        .await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains("Årsrapport 2025: Pilotklynge Bakkeskolen"));
    assert!(html.contains("Børnehaven Solsikken"));
    assert!(html.contains("Kultur") || html.contains("Alsidig personlig udvikling"));
    assert!(html.contains("færre end 5"), "social has four pairs");
    let (status, _) = analyst
        .get_text(&format!("/insights/clusters/{}/report?year=abc", d.cluster))
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let (status, _) = analyst.get_text("/insights?kind=nonsense").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn who_sees_what() {
    let app = spawn_app().await;
    let d = made(&app).await;
    let analyst = app.login("analytiker@vejle.overgang.test").await;
    // the analyst sees the figures, never a child
    for path in [
        "/insights".to_string(),
        format!("/insights/institutions/{}", d.mariehoenen),
        format!("/insights/clusters/{}", d.cluster),
    ] {
        assert_eq!(analyst.get(&path).await.status(), StatusCode::OK, "{path}");
    }
    for path in [
        format!("/children/{}", d.child),
        format!("/transitions/{}", d.transition),
        format!("/transitions/{}/form", d.transition),
        "/children".to_string(),
    ] {
        assert_eq!(
            analyst.get(&path).await.status(),
            StatusCode::FORBIDDEN,
            "{path}"
        );
    }

    // the leader of Solsikken: own institution and its cluster, not a neighbour
    let leader = app.login("leder@vejle.overgang.test").await;
    let (status, html) = leader.get_text("/insights").await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains(&format!("/insights/institutions/{}", d.solsikken)));
    assert!(html.contains(&format!("/insights/clusters/{}", d.cluster)));
    assert!(
        !html.contains("Nøgletal"),
        "no municipal figures for a leader"
    );
    assert_eq!(
        leader
            .get(&format!("/insights/institutions/{}", d.solsikken))
            .await
            .status(),
        StatusCode::OK
    );
    assert_eq!(
        leader
            .get(&format!(
                "/insights/institutions/{}?format=csv",
                d.mariehoenen
            ))
            .await
            .status(),
        StatusCode::FORBIDDEN
    );
    let (status, html) = leader
        .get_text(&format!("/insights/clusters/{}", d.cluster))
        .await;
    assert_eq!(status, StatusCode::OK);
    assert!(!html.contains(&format!("/insights/institutions/{}", d.mariehoenen)));

    // staff and specialists: no insights at all
    for email in [
        "paedagog@vejle.overgang.test",
        "specialist@vejle.overgang.test",
    ] {
        let c = app.login(email).await;
        assert_eq!(
            c.get("/insights").await.status(),
            StatusCode::FORBIDDEN,
            "{email}"
        );
    }

    // Stevns: Vejle's ids are unknown
    let stevns = app.login("analytiker@stevns.overgang.test").await;
    for path in [
        format!("/insights/clusters/{}", d.cluster),
        format!("/insights/clusters/{}/report?year=2025", d.cluster),
        format!("/insights/institutions/{}", d.solsikken),
        format!("/insights/institutions/{}?format=csv", d.solsikken),
    ] {
        assert_eq!(
            stevns.get(&path).await.status(),
            StatusCode::NOT_FOUND,
            "{path}"
        );
    }
    let (status, html) = stevns.get_text("/insights").await;
    assert_eq!(status, StatusCode::OK);
    assert!(!html.contains("Bakkeskolen"));
}

/// The totals the triggers keep equal a rebuild from scratch, after changes of every kind, and
/// the figures do not change when personal data goes (names, free text, guardians).
#[tokio::test]
async fn maintained_totals_equal_a_rebuild_and_survive_removing_personal_data() {
    let app = spawn_app().await;
    let d = made(&app).await;
    let mut conn = app.owner_conn().await;
    let filters = [
        Filter {
            scope: Scope::Municipality,
            year: None,
            kind: None,
        },
        Filter {
            scope: Scope::Cluster(d.cluster),
            year: Some(2025),
            kind: None,
        },
        Filter {
            scope: Scope::Institution(d.solsikken),
            year: None,
            kind: Some(TransitionKind::KindergartenSchool),
        },
    ];
    for sql in [
        // a late transition moves to another sender, one is cancelled, a rating goes, a feedback
        // answer changes, a consent decision is added, the planned date moves to another year
        "UPDATE transitions SET sending_institution_id = (SELECT id FROM institutions WHERE name = 'Børnehaven Skovtrolden')
         WHERE id = (SELECT transition_id FROM feedback_requests WHERE answered_at IS NULL LIMIT 1)",
        "UPDATE transitions SET status = 'cancelled' WHERE id = $1",
        "DELETE FROM feedback_ratings WHERE request_id = (SELECT id FROM feedback_requests WHERE usefulness = 3)",
        "UPDATE feedback_requests SET usefulness = 1 WHERE usefulness = 5",
        "INSERT INTO consent_records (municipality_id, transition_id, section_id, decision, method)
         SELECT municipality_id, transition_id, section_id, 'refused', 'link' FROM consent_records
         WHERE decision = 'refused' AND transition_id <> $1 LIMIT 1",
        "UPDATE transitions SET planned_date = '2026-08-01' WHERE id = (SELECT transition_id FROM feedback_requests WHERE usefulness = 4 LIMIT 1)",
    ] {
        let q = sqlx::query(sql);
        let q = if sql.contains("$1") { q.bind(d.transition) } else { q };
        q.execute(&mut conn).await.unwrap();
    }
    let mut maintained = Vec::new();
    for f in &filters {
        maintained.push(compute(&app, d.m, f).await);
    }
    sqlx::query("SELECT insight_rebuild($1)")
        .bind(d.m)
        .execute(&mut conn)
        .await
        .unwrap();
    for (f, before) in filters.iter().zip(&maintained) {
        assert_eq!(&compute(&app, d.m, f).await, before, "{f:?}");
    }
    assert_ne!(
        maintained[0].total,
        compute(
            &app,
            d.m,
            &Filter {
                scope: Scope::Municipality,
                year: Some(2024),
                kind: None
            }
        )
        .await
        .total
    );

    // what a retention purge removes: names, free text, guardians
    for sql in [
        "UPDATE children SET first_name = 'Slettet', last_name = 'Slettet' WHERE municipality_id = $1",
        "UPDATE answers SET value = NULL FROM template_questions q
         WHERE q.id = answers.question_id AND q.kind = 'free_text' AND answers.municipality_id = $1",
        "UPDATE feedback_requests SET missing = NULL WHERE municipality_id = $1",
        "DELETE FROM guardians WHERE municipality_id = $1",
    ] {
        sqlx::query(sql).bind(d.m).execute(&mut conn).await.unwrap();
    }
    for (f, before) in filters.iter().zip(&maintained) {
        assert_eq!(
            &compute(&app, d.m, f).await,
            before,
            "after removing personal data: {f:?}"
        );
    }
    assert_eq!(app.count("SELECT count(*) FROM guardians").await, 0);
}

/// Changes to one transition committed at the same moment each move its figures once: the
/// second refresh waits for the first and starts from what it committed. Before, it found the
/// first one's new facts row invisible, inserted its own beside it and failed on the key (a 500
/// for 11 of 16 consent decisions recorded at once), or would have counted the transition twice.
#[tokio::test]
async fn concurrent_changes_to_one_transition_keep_the_totals_right() {
    let app = spawn_app().await;
    let d = made(&app).await;
    let filter = Filter {
        scope: Scope::Municipality,
        year: None,
        kind: None,
    };
    let mut conn = app.owner_conn().await;
    let transition: Uuid = sqlx::query_scalar(
        "SELECT c.transition_id FROM consent_records c
         JOIN insight_facts f USING (municipality_id, transition_id)
         WHERE c.municipality_id = $1 LIMIT 1",
    )
    .bind(d.m)
    .fetch_one(&mut conn)
    .await
    .unwrap();
    let tasks: Vec<_> = (0..8)
        .map(|_| {
            let app = &app;
            async move {
                use sqlx::Connection;
                let mut conn = app.owner_conn().await;
                let mut tx = conn.begin().await.unwrap();
                sqlx::query(
                    "INSERT INTO consent_records (municipality_id, transition_id, section_id, decision, method)
                     SELECT municipality_id, transition_id, section_id, 'given', 'link'
                     FROM consent_records WHERE transition_id = $1 LIMIT 1",
                )
                .bind(transition)
                .execute(&mut *tx)
                .await?;
                // held open a moment, so that the others' refreshes meet this one's
                sqlx::query("SELECT pg_sleep(0.05)").execute(&mut *tx).await?;
                tx.commit().await
            }
        })
        .collect();
    for result in futures_util::future::join_all(tasks).await {
        result.expect("every change commits");
    }
    let maintained = compute(&app, d.m, &filter).await;
    sqlx::query("SELECT insight_rebuild($1)")
        .bind(d.m)
        .execute(&mut conn)
        .await
        .unwrap();
    assert_eq!(compute(&app, d.m, &filter).await, maintained);
}

/// A handover recalled to be corrected is not sent until it is sent again, and it is on time by
/// its latest send, the version the receiver has. Before, it counted as sent (and on time) from
/// its first send, also while it lay as a draft.
#[tokio::test]
async fn a_recalled_handover_counts_as_sent_again_only_when_resent() {
    let app = spawn_app().await;
    let mut conn = app.owner_conn().await;
    let m = id(
        &mut conn,
        "SELECT id FROM municipalities WHERE code = '0630' AND $1::uuid IS NOT NULL",
        Uuid::nil(),
    )
    .await;
    let sender = id(
        &mut conn,
        "SELECT id FROM institutions WHERE municipality_id = $1 AND name = 'Børnehaven Solsikken'",
        m,
    )
    .await;
    let (_, t) = transition(
        &mut conn,
        m,
        sender,
        "2025-08-01",
        "sent",
        Some("2025-07-01"),
        &[],
        &[],
        None,
    )
    .await;
    let facts = |t: Uuid| {
        sqlx::query_as::<_, (bool, bool)>(
            "SELECT sent, on_time FROM insight_facts WHERE transition_id = $1",
        )
        .bind(t)
    };
    assert_eq!(facts(t).fetch_one(&mut conn).await.unwrap(), (true, true));
    // recalled (a draft again), then sent again after the planned date
    for (at, from, to, expected) in [
        ("2025-07-02", "sent", "draft", (false, false)),
        ("2025-08-15", "ready", "sent", (true, false)),
    ] {
        sqlx::raw_sql(&format!(
            "INSERT INTO transition_events (municipality_id, transition_id, at, from_status, to_status)
             VALUES ('{m}', '{t}', '{at}', '{from}', '{to}');
             UPDATE transitions SET status = '{to}' WHERE id = '{t}';"
        ))
        .execute(&mut conn)
        .await
        .unwrap();
        assert_eq!(
            facts(t).fetch_one(&mut conn).await.unwrap(),
            expected,
            "{to}"
        );
    }
    // what the triggers keep is what a rebuild computes
    sqlx::query("SELECT insight_rebuild($1)")
        .bind(m)
        .execute(&mut conn)
        .await
        .unwrap();
    assert_eq!(
        facts(t).fetch_one(&mut conn).await.unwrap(),
        (true, false),
        "rebuilt"
    );
}

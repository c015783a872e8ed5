use overgang::{
    db::{self, Scope},
    forms::{self, QuestionKind, TemplateStatus, TransitionKind},
};
use reqwest::StatusCode;
use uuid::Uuid;

use crate::common::{location, spawn_app, TestApp};

async fn scalar<T>(app: &TestApp, sql: &str) -> T
where
    T: for<'r> sqlx::Decode<'r, sqlx::Postgres> + sqlx::Type<sqlx::Postgres> + Send + Unpin,
{
    let mut conn = app.owner_conn().await;
    sqlx::query_scalar(sql).fetch_one(&mut conn).await.unwrap()
}

async fn published(app: &TestApp, code: &str, kind: TransitionKind) -> forms::Template {
    let mid = app.municipality_id(code).await;
    let mut tx = db::begin(&app.db, Scope::Municipality(mid)).await.unwrap();
    let v = forms::published_template(&mut tx, mid, kind)
        .await
        .unwrap()
        .expect("a published template");
    forms::load_template(&mut tx, mid, v.id)
        .await
        .unwrap()
        .unwrap()
}

/// (id, label, position, section title) of every question of a version, in order.
async fn snapshot(app: &TestApp, template: Uuid) -> Vec<(Uuid, String, i32, String)> {
    let mut conn = app.owner_conn().await;
    sqlx::query_as(
        "SELECT q.id, q.label, q.position, s.title FROM template_questions q
         JOIN template_sections s ON s.municipality_id = q.municipality_id AND s.id = q.section_id
         WHERE q.template_id = $1 ORDER BY s.position, q.position",
    )
    .bind(template)
    .fetch_all(&mut conn)
    .await
    .unwrap()
}

#[tokio::test]
async fn every_municipality_starts_with_published_defaults_for_every_kind() {
    let app = spawn_app().await;
    for code in ["0630", "0336"] {
        for kind in TransitionKind::ALL {
            let t = published(&app, code, kind).await;
            assert_eq!((t.version, t.status), (1, TemplateStatus::Published));
            assert!(t.questions().count() >= 5, "{kind:?}");
            assert!(
                t.sections.iter().any(|s| s.title.contains("stemme")),
                "{kind:?} has the child's own voice"
            );
            assert!(t.questions().any(|q| q.sensitive), "{kind:?}");
        }
    }
    let t = published(&app, "0630", TransitionKind::KindergartenSchool).await;
    let titles: Vec<&str> = t.sections.iter().map(|s| s.title.as_str()).collect();
    for expected in [
        "Sprog",
        "Alsidig personlig udvikling",
        "Social udvikling",
        "Kommunikation og sprog",
        "Krop, sanser og bevægelse",
        "Natur, udeliv og science",
        "Kultur, æstetik og fællesskab",
        "Styrker og det, der virker",
        "Indsatser og støtte",
        "Barnets egen stemme",
        "Forældrenes perspektiv",
        "Anbefalinger og aftaler for den første tid",
    ] {
        assert!(titles.contains(&expected), "missing section {expected}");
    }
    assert_eq!(titles[0], "Sprog", "language comes first");
    let themes: Vec<&str> = t
        .questions()
        .filter(|q| q.kind == QuestionKind::Scale1To4)
        .filter_map(|q| q.theme.as_deref())
        .collect();
    assert_eq!(
        themes,
        ["personal", "social", "language", "body", "nature", "culture"]
    );
    let assessment = t
        .questions()
        .find(|q| q.label.contains("sprogvurdering") && q.kind == QuestionKind::SingleChoice)
        .expect("language assessment level");
    for level in ["Generel indsats", "Fokuseret indsats", "Særlig indsats"] {
        assert!(assessment.options.iter().any(|o| o == level));
    }
    let support = t
        .sections
        .iter()
        .find(|s| s.title == "Indsatser og støtte")
        .unwrap();
    assert!(support.questions.iter().all(|q| q.sensitive));
    assert!(support.questions.iter().any(|q| q.label.contains("PPR")));
    assert!(support
        .questions
        .iter()
        .any(|q| q.label.contains("handleplan")));
    let parents = t
        .sections
        .iter()
        .find(|s| s.title == "Forældrenes perspektiv")
        .unwrap();
    assert!(parents.questions.iter().all(|q| q.visible_to_parents));
    assert_eq!(t.questions().filter(|q| !q.visible_to_receiver).count(), 1);
    assert!(t.questions().any(|q| q.kind == QuestionKind::Date));
    assert!(t.questions().any(|q| q.kind == QuestionKind::TrafficLight));
    assert!(t.questions().any(|q| q.kind == QuestionKind::MultiChoice));
}

#[tokio::test]
async fn the_admin_makes_a_new_version_edits_it_and_publishes_it() {
    let app = spawn_app().await;
    let admin = app.login("admin@vejle.overgang.test").await;
    let (status, html) = admin.get_text("/templates").await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains("Børnehave → skole") && html.contains("Skole → ungdomsuddannelse"));
    assert!(html.contains("href=\"/templates\""), "in the navigation");

    let old = published(&app, "0630", TransitionKind::KindergartenSchool).await;
    let before = snapshot(&app, old.id).await;
    let (status, html) = admin.get_text(&format!("/templates/{}", old.id)).await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains("Kultur, æstetik og fællesskab") && html.contains("Følsom"));

    // The highest version a kind may have: one more is refused with a reason, not a 500.
    let mut conn = app.owner_conn().await;
    let highest: Uuid = sqlx::query_scalar(
        "INSERT INTO form_templates (municipality_id, transition_kind, version, title)
         SELECT municipality_id, transition_kind, 100000, 'Sidste' FROM form_templates WHERE id = $1
         RETURNING id",
    )
    .bind(old.id)
    .fetch_one(&mut conn)
    .await
    .unwrap();
    let r = admin
        .post_with_token("/", &format!("/templates/{}/new-version", old.id), &[])
        .await;
    assert_eq!(r.status(), StatusCode::CONFLICT);
    assert!(r.text().await.unwrap().contains("100.000 versioner"));
    sqlx::query("DELETE FROM form_templates WHERE id = $1")
        .bind(highest)
        .execute(&mut conn)
        .await
        .unwrap();
    let r = admin
        .post_with_token("/", &format!("/templates/{}/new-version", old.id), &[])
        .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let new: Uuid = location(&r)
        .trim_start_matches("/templates/")
        .parse()
        .unwrap();
    let copy = snapshot(&app, new).await;
    assert_eq!(copy.len(), before.len());
    assert!(copy
        .iter()
        .all(|(id, ..)| before.iter().all(|b| b.0 != *id)));
    assert!(copy
        .iter()
        .zip(&before)
        .all(|(c, b)| c.1 == b.1 && c.2 == b.2));
    let (_, html) = admin.get_text(&location(&r)).await;
    assert!(html.contains("Version 2 er oprettet som kladde"));

    let r = admin
        .post_with_token(
            "/",
            &format!("/templates/{new}/edit"),
            &[
                ("title", "Overlevering til skole 2027"),
                ("intro", "Ny indledning"),
            ],
        )
        .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);

    // A new section with a choice question, then moved to the top.
    let r = admin
        .post_with_token(
            "/",
            &format!("/templates/{new}/sections"),
            &[("title", "Skolestart"), ("description", "")],
        )
        .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let section: Uuid = scalar(
        &app,
        &format!(
            "SELECT id FROM template_sections WHERE template_id = '{new}' AND title = 'Skolestart'"
        ),
    )
    .await;
    let add = format!("/templates/{new}/sections/{section}/questions");
    let r = admin
        .post_with_token(
            "/",
            &add,
            &[
                ("kind", "single_choice"),
                ("label", "Har barnet besøgt skolen?"),
                ("options", "Ja\r\nNej\r\n"),
                ("visible_to_receiver", "ja"),
                ("theme", "wellbeing"),
            ],
        )
        .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let r = admin
        .post_with_token("/", &add, &[("kind", "date"), ("label", "Første skoledag")])
        .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    for _ in 0..12 {
        let r = admin
            .post_with_token(
                "/",
                &format!("/templates/{new}/sections/{section}/move"),
                &[("direction", "up")],
            )
            .await;
        assert_eq!(r.status(), StatusCode::SEE_OTHER);
    }
    let pos: i32 = scalar(
        &app,
        &format!("SELECT position FROM template_sections WHERE id = '{section}'"),
    )
    .await;
    assert_eq!(pos, 1);
    let date_q: Uuid = scalar(
        &app,
        &format!(
            "SELECT id FROM template_questions WHERE section_id = '{section}' AND kind = 'date'"
        ),
    )
    .await;
    let r = admin
        .post_with_token(
            "/",
            &format!("/templates/{new}/questions/{date_q}/move"),
            &[("direction", "up")],
        )
        .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let labels: Vec<String> = {
        let mut conn = app.owner_conn().await;
        sqlx::query_scalar(
            "SELECT label FROM template_questions WHERE section_id = $1 ORDER BY position",
        )
        .bind(section)
        .fetch_all(&mut conn)
        .await
        .unwrap()
    };
    assert_eq!(labels, ["Første skoledag", "Har barnet besøgt skolen?"]);

    // Edit the date question: new text, flags, and a move into another section.
    let language: Uuid = scalar(
        &app,
        &format!(
            "SELECT id FROM template_sections WHERE template_id = '{new}' AND title = 'Sprog'"
        ),
    )
    .await;
    let (status, html) = admin
        .get_text(&format!("/templates/{new}/questions/{date_q}"))
        .await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains("Første skoledag"));
    let r = admin
        .post_with_token(
            "/",
            &format!("/templates/{new}/questions/{date_q}"),
            &[
                ("kind", "date"),
                ("label", "Barnets første skoledag"),
                ("section", &language.to_string()),
                ("sensitive", "ja"),
                ("required", "ja"),
            ],
        )
        .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let (label, sensitive, parents, pos, in_section): (String, bool, bool, i32, Uuid) = {
        let mut conn = app.owner_conn().await;
        sqlx::query_as("SELECT label, sensitive, visible_to_parents, position, section_id FROM template_questions WHERE id = $1")
            .bind(date_q)
            .fetch_one(&mut conn)
            .await
            .unwrap()
    };
    assert_eq!(
        (label.as_str(), sensitive, parents, pos, in_section),
        ("Barnets første skoledag", true, false, 6, language)
    );

    // Invalid input: field errors with the input kept, nothing saved.
    let count_sql = format!("SELECT count(*) FROM template_questions WHERE template_id = '{new}'");
    let count = || scalar::<i64>(&app, &count_sql);
    let n = count().await;
    let r = admin
        .post_with_token(
            "/",
            &add,
            &[
                ("kind", "multi_choice"),
                ("label", "Hvilke?"),
                ("options", "Kun én"),
            ],
        )
        .await;
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let html = r.text().await.unwrap();
    assert!(html.contains("mindst to svarmuligheder") && html.contains("Hvilke?"));
    let r = admin
        .post_with_token("/", &add, &[("kind", "free_text"), ("label", "  ")])
        .await;
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(r.text().await.unwrap().contains("Udfyld spørgsmålet."));
    let r = admin
        .post_with_token("/", &add, &[("kind", "essay"), ("label", "Hvad?")])
        .await;
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(r.text().await.unwrap().contains("Vælg en spørgsmålstype."));
    let r = admin
        .post_with_token(
            "/",
            &add,
            &[("kind", "free_text"), ("label", "Hvad?"), ("theme", "ufo")],
        )
        .await;
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let huge = "x".repeat(1024 * 1024);
    let r = admin
        .post_with_token("/", &add, &[("kind", "free_text"), ("label", &huge)])
        .await;
    assert!(r.status().is_client_error(), "{}", r.status());
    let long = "x".repeat(501);
    let r = admin
        .post_with_token("/", &add, &[("kind", "free_text"), ("label", &long)])
        .await;
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let r = admin
        .post_with_token("/", &format!("/templates/{new}/sections"), &[("title", "")])
        .await;
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let r = admin
        .post_with_token(
            "/",
            &format!("/templates/{new}/sections/{section}/move"),
            &[("direction", "sideways")],
        )
        .await;
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    assert_eq!(count().await, n, "nothing was saved");

    // Delete a question and a whole section.
    let r = admin
        .post_with_token(
            "/",
            &format!("/templates/{new}/questions/{date_q}/delete"),
            &[],
        )
        .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let nature: Uuid = scalar(
        &app,
        &format!("SELECT id FROM template_sections WHERE template_id = '{new}' AND title = 'Natur, udeliv og science'"),
    )
    .await;
    let r = admin
        .post_with_token(
            "/",
            &format!("/templates/{new}/sections/{nature}/delete"),
            &[],
        )
        .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert_eq!(count().await, n - 3);
    let gaps: i64 = scalar(
        &app,
        &format!("SELECT count(*) FROM template_sections WHERE template_id = '{new}' AND position > (SELECT count(*) FROM template_sections WHERE template_id = '{new}')"),
    )
    .await;
    assert_eq!(gaps, 0, "positions are renumbered");

    // Publish: the new version replaces the old, which is archived unchanged.
    let r = admin
        .post_with_token("/", &format!("/templates/{new}/publish"), &[])
        .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let (_, html) = admin.get_text(&location(&r)).await;
    assert!(html.contains("Version 2 er offentliggjort"));
    let now = published(&app, "0630", TransitionKind::KindergartenSchool).await;
    assert_eq!(
        (now.id, now.version, now.title.as_str()),
        (new, 2, "Overlevering til skole 2027")
    );
    assert_eq!(now.sections[0].title, "Skolestart");
    let status: String = scalar(
        &app,
        &format!("SELECT status FROM form_templates WHERE id = '{}'", old.id),
    )
    .await;
    assert_eq!(status, "archived");
    assert_eq!(
        snapshot(&app, old.id).await,
        before,
        "the old version is untouched"
    );

    // Neither version can be edited any more.
    for (path, fields) in [
        (
            format!("/templates/{new}/sections"),
            vec![("title", "Mere")],
        ),
        (format!("/templates/{new}/edit"), vec![("title", "Ændret")]),
        (
            format!("/templates/{}/edit", old.id),
            vec![("title", "Ændret")],
        ),
        (format!("/templates/{new}/publish"), vec![]),
        (format!("/templates/{new}/delete"), vec![]),
        (
            format!("/templates/{new}/sections/{section}/move"),
            vec![("direction", "down")],
        ),
        (
            format!("/templates/{}/questions/{}/delete", old.id, before[0].0),
            vec![],
        ),
    ] {
        let r = admin.post_with_token("/", &path, &fields).await;
        assert_eq!(r.status(), StatusCode::CONFLICT, "{path}");
        assert!(r
            .text()
            .await
            .unwrap()
            .contains("Offentliggjorte versioner kan ikke ændres – opret en ny version"));
    }
    assert_eq!(
        admin
            .get(&format!("/templates/{new}/sections/{section}"))
            .await
            .status(),
        StatusCode::CONFLICT
    );
    assert_eq!(snapshot(&app, old.id).await, before);

    let audited: i64 = scalar(
        &app,
        "SELECT count(*) FROM audit_log WHERE entity_type IN ('form_template', 'template_section', 'template_question') AND user_id IS NOT NULL",
    )
    .await;
    assert!(audited >= 20, "every change is audited ({audited})");
}

#[tokio::test]
async fn the_database_refuses_changes_to_versions_that_are_not_drafts() {
    let app = spawn_app().await;
    let vejle = app.municipality_id("0630").await;
    let t = published(&app, "0630", TransitionKind::SchoolClub).await;
    let section = t.sections[0].id;
    let question = t.sections[0].questions[0].id;
    let attempts = [
        format!("UPDATE template_questions SET label = 'x' WHERE id = '{question}'"),
        format!("DELETE FROM template_questions WHERE id = '{question}'"),
        format!("INSERT INTO template_questions (municipality_id, template_id, section_id, position, kind, label) VALUES ('{vejle}', '{}', '{section}', 99, 'free_text', 'Snyd')", t.id),
        format!("UPDATE template_sections SET title = 'x' WHERE id = '{section}'"),
        format!("DELETE FROM template_sections WHERE id = '{section}'"),
        format!("INSERT INTO template_sections (municipality_id, template_id, position, title) VALUES ('{vejle}', '{}', 99, 'Snyd')", t.id),
        format!("UPDATE form_templates SET title = 'x' WHERE id = '{}'", t.id),
        format!("UPDATE form_templates SET status = 'draft', published_at = NULL WHERE id = '{}'", t.id),
        format!("DELETE FROM form_templates WHERE id = '{}'", t.id),
    ];
    for sql in &attempts {
        let mut tx = db::begin(&app.db, Scope::Municipality(vejle))
            .await
            .unwrap();
        let err = sqlx::query(sql).execute(&mut *tx).await.expect_err(sql);
        let code = err
            .as_database_error()
            .and_then(|e| e.code().map(|c| c.to_string()));
        assert_eq!(code.as_deref(), Some("OV001"), "{sql}: {err}");
    }
    // Archiving is the one change a published version allows; then it is frozen too.
    let mut tx = db::begin(&app.db, Scope::Municipality(vejle))
        .await
        .unwrap();
    sqlx::query("UPDATE form_templates SET status = 'archived' WHERE id = $1")
        .bind(t.id)
        .execute(&mut *tx)
        .await
        .unwrap();
    let err = sqlx::query("UPDATE form_templates SET status = 'published' WHERE id = $1")
        .bind(t.id)
        .execute(&mut *tx)
        .await
        .expect_err("archived stays archived");
    assert!(err.to_string().contains("cannot be changed"), "{err}");
    drop(tx);
    // Two published versions of one kind are impossible.
    let mut tx = db::begin(&app.db, Scope::Municipality(vejle))
        .await
        .unwrap();
    let err = sqlx::query(
        "INSERT INTO form_templates (municipality_id, transition_kind, version, title, status, published_at)
         VALUES ($1, 'school_club', 7, 'Dobbelt', 'published', now())",
    )
    .bind(vejle)
    .execute(&mut *tx)
    .await
    .expect_err("one published per kind");
    assert!(
        err.to_string().contains("form_templates_one_published"),
        "{err}"
    );
    drop(tx);
    // And another municipality's templates are invisible.
    let mut tx = db::begin(&app.db, Scope::Municipality(vejle))
        .await
        .unwrap();
    for table in ["form_templates", "template_sections", "template_questions"] {
        let foreign: i64 = sqlx::query_scalar(&format!(
            "SELECT count(*) FROM {table} WHERE municipality_id <> $1"
        ))
        .bind(vejle)
        .fetch_one(&mut *tx)
        .await
        .unwrap();
        assert_eq!(foreign, 0, "{table}");
    }
}

#[tokio::test]
async fn publishing_needs_questions_in_every_section() {
    let app = spawn_app().await;
    let admin = app.login("admin@vejle.overgang.test").await;
    let old = published(&app, "0630", TransitionKind::SchoolYouth).await;
    let r = admin
        .post_with_token("/", &format!("/templates/{}/new-version", old.id), &[])
        .await;
    let new = location(&r).trim_start_matches("/templates/").to_string();
    {
        let mut conn = app.owner_conn().await;
        sqlx::query("DELETE FROM template_sections WHERE template_id = $1::uuid")
            .bind(&new)
            .execute(&mut conn)
            .await
            .unwrap();
    }
    let r = admin
        .post_with_token("/", &format!("/templates/{new}/publish"), &[])
        .await;
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(r
        .text()
        .await
        .unwrap()
        .contains("Skabelonen har ingen spørgsmål"));
    let r = admin
        .post_with_token(
            "/",
            &format!("/templates/{new}/sections"),
            &[("title", "Tomt afsnit")],
        )
        .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let r = admin
        .post_with_token("/", &format!("/templates/{new}/publish"), &[])
        .await;
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(r
        .text()
        .await
        .unwrap()
        .contains("Afsnittet »Tomt afsnit« har ingen spørgsmål."));
    let still = published(&app, "0630", TransitionKind::SchoolYouth).await;
    assert_eq!(still.id, old.id, "the old version stays published");

    // A discarded draft is gone; its version number is not reused by accident.
    let r = admin
        .post_with_token("/", &format!("/templates/{new}/delete"), &[])
        .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert_eq!(
        admin.get(&format!("/templates/{new}")).await.status(),
        StatusCode::NOT_FOUND
    );
}

#[tokio::test]
async fn a_new_municipality_gets_the_default_templates() {
    let app = spawn_app().await;
    let op = app.login("operator@overgang.test").await;
    let token = op.csrf("/platform/municipalities/new").await;
    let r = op
        .post_form(
            "/platform/municipalities",
            &[
                ("_csrf", token.as_str()),
                ("code", "0461"),
                ("name", "Odense"),
                ("admin_name", "Ole Olsen"),
                ("admin_email", "ole@odense.dk"),
                ("admin_password", "en lang og god adgangskode"),
            ],
        )
        .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    for kind in TransitionKind::ALL {
        let t = published(&app, "0461", kind).await;
        assert_eq!(t.version, 1);
    }
    let admin = app.client();
    admin
        .login("ole@odense.dk", "en lang og god adgangskode")
        .await;
    let (status, html) = admin.get_text("/templates").await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains("Overlevering fra børnehave til skole"));
}

#[tokio::test]
async fn only_administrators_see_templates_and_only_their_own() {
    let app = spawn_app().await;
    let vejle = published(&app, "0630", TransitionKind::KindergartenSchool).await;
    let question = vejle.sections[0].questions[0].id;
    for email in [
        "leder@vejle.overgang.test",
        "paedagog@vejle.overgang.test",
        "analytiker@vejle.overgang.test",
        "specialist@vejle.overgang.test",
    ] {
        let c = app.login(email).await;
        let (_, html) = c.get_text("/").await;
        assert!(!html.contains("href=\"/templates\""), "{email}");
        for path in ["/templates".to_string(), format!("/templates/{}", vejle.id)] {
            assert_eq!(
                c.get(&path).await.status(),
                StatusCode::FORBIDDEN,
                "{email} {path}"
            );
        }
        let r = c
            .post_with_token("/", &format!("/templates/{}/new-version", vejle.id), &[])
            .await;
        assert_eq!(r.status(), StatusCode::FORBIDDEN, "{email}");
    }
    let stevns = app.login("admin@stevns.overgang.test").await;
    for path in [
        format!("/templates/{}", vejle.id),
        format!("/templates/{}/edit", vejle.id),
        format!("/templates/{}/questions/{question}", vejle.id),
        "/templates/not-a-uuid".to_string(),
    ] {
        assert_eq!(
            stevns.get(&path).await.status(),
            StatusCode::NOT_FOUND,
            "{path}"
        );
    }
    for path in [
        format!("/templates/{}/new-version", vejle.id),
        format!("/templates/{}/publish", vejle.id),
        format!("/templates/{}/questions/{question}/delete", vejle.id),
    ] {
        let r = stevns.post_with_token("/", &path, &[]).await;
        assert_eq!(r.status(), StatusCode::NOT_FOUND, "{path}");
    }
    let versions: i64 = scalar(&app, "SELECT count(*) FROM form_templates").await;
    assert_eq!(versions, 12, "nothing was created");

    // Without the CSRF token nothing happens either.
    let admin = app.login("admin@vejle.overgang.test").await;
    let r = admin
        .post_form(&format!("/templates/{}/new-version", vejle.id), &[])
        .await;
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    let versions: i64 = scalar(&app, "SELECT count(*) FROM form_templates").await;
    assert_eq!(versions, 12);
}

#[tokio::test]
async fn a_municipality_without_templates_can_install_the_defaults() {
    let app = spawn_app().await;
    let vejle = app.municipality_id("0630").await;
    {
        // As if Vejle existed before templates did: remove one kind past the triggers.
        let mut conn = app.owner_conn().await;
        sqlx::query("SET session_replication_role = replica")
            .execute(&mut conn)
            .await
            .unwrap();
        for table in ["template_questions", "template_sections"] {
            sqlx::query(&format!(
                "DELETE FROM {table} x USING form_templates t WHERE t.id = x.template_id
                 AND t.municipality_id = $1 AND t.transition_kind = 'school_club'"
            ))
            .bind(vejle)
            .execute(&mut conn)
            .await
            .unwrap();
        }
        sqlx::query(
            "DELETE FROM form_templates WHERE municipality_id = $1 AND transition_kind = 'school_club'",
        )
        .bind(vejle)
        .execute(&mut conn)
        .await
        .unwrap();
    }
    let admin = app.login("admin@vejle.overgang.test").await;
    let (_, html) = admin.get_text("/templates").await;
    assert!(html.contains("Opret standardskabeloner") && html.contains("ingen skabelon for denne"));
    let r = admin.post_with_token("/", "/templates/defaults", &[]).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let (_, html) = admin.get_text(&location(&r)).await;
    assert!(html.contains("Én standardskabelon er oprettet"));
    assert!(!html.contains("Opret standardskabeloner"));
    assert_eq!(
        published(&app, "0630", TransitionKind::SchoolClub)
            .await
            .version,
        1
    );
    let r = admin.post_with_token("/", "/templates/defaults", &[]).await;
    let (_, html) = admin.get_text(&location(&r)).await;
    assert!(html.contains("Alle overgange har allerede en skabelon."));
    let versions: i64 = scalar(&app, "SELECT count(*) FROM form_templates").await;
    assert_eq!(versions, 12);
    let analyst = app.login("analytiker@vejle.overgang.test").await;
    assert_eq!(
        analyst
            .post_with_token("/", "/templates/defaults", &[])
            .await
            .status(),
        StatusCode::FORBIDDEN
    );
}

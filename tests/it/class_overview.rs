//! The receiving teacher's class overview through the real server: a school leader creates a
//! class, places incoming children and a teacher in it; the teacher sees every child with the
//! key points of the handover as the receiver may read them (never a section the parents have
//! not released, never a handover that is not sent), consent, the sender's meeting wish, and
//! read state, sortable. Nobody else sees the class: not a colleague who is not its teacher,
//! not another school, not another municipality; a delegate may place children until the
//! leader revokes it.

use reqwest::StatusCode;
use uuid::Uuid;

use crate::common::{how_many, location, spawn_app, Client, TestApp};

const LAERER: &str = "laerer@vejle.overgang.test";
const PAEDAGOG: &str = "paedagog@vejle.overgang.test";
const ADMIN: &str = "admin@vejle.overgang.test";
const SCHOOL_LEADER: &str = "skoleleder@vejle.overgang.test";
const COLLEAGUE: &str = "kollega@vejle.overgang.test";
const OTHER_SCHOOL: &str = "andenskole@vejle.overgang.test";

/// A user at `institution` in the municipality of `like`, with `like`'s (demo) password.
async fn user(app: &TestApp, email: &str, name: &str, role: &str, institution: &str) -> Uuid {
    let mut conn = app.owner_conn().await;
    let id: Uuid = sqlx::query_scalar(
        "INSERT INTO users (municipality_id, email, name, password_hash)
         SELECT municipality_id, $1, $2, password_hash FROM users WHERE email = $3
         RETURNING id",
    )
    .bind(email)
    .bind(name)
    .bind(LAERER)
    .fetch_one(&mut conn)
    .await
    .unwrap();
    sqlx::query(
        "INSERT INTO role_assignments (municipality_id, user_id, role, institution_id)
         SELECT municipality_id, $1, $2, id FROM institutions WHERE name = $3",
    )
    .bind(id)
    .bind(role)
    .bind(institution)
    .execute(&mut conn)
    .await
    .unwrap();
    id
}

async fn institution(app: &TestApp, name: &str) -> Uuid {
    let mut conn = app.owner_conn().await;
    sqlx::query_scalar("SELECT id FROM institutions WHERE name = $1")
        .bind(name)
        .fetch_one(&mut conn)
        .await
        .unwrap()
}

async fn user_id(app: &TestApp, email: &str) -> Uuid {
    let mut conn = app.owner_conn().await;
    sqlx::query_scalar("SELECT id FROM users WHERE email = $1")
        .bind(email)
        .fetch_one(&mut conn)
        .await
        .unwrap()
}

/// An incoming child from Solsikken to Bakkeskolen with a custody guardian, a transition in
/// `status`, and answers carrying markers: `STYRKE-<first>` (strengths), `STOETTE-<first>`
/// (support, a sensitive section), `AFTALE-<first>` (agreements) and `STEMME-<first>` (the
/// child's voice, not a key point). With `consent`, the guardian released every section.
async fn incoming(app: &TestApp, first: &str, status: &str, consent: bool) -> Uuid {
    let (m, _, child) = app
        .enrolled_child(
            "Børnehaven Solsikken",
            (first, "Klassebarn"),
            "2021-02-02",
            300,
        )
        .await;
    let mut conn = app.owner_conn().await;
    let guardian: Uuid = sqlx::query_scalar(
        "INSERT INTO guardians (municipality_id, child_id, name, has_custody)
         VALUES ($1, $2, 'Mor Klassebarn', true) RETURNING id",
    )
    .bind(m)
    .bind(child)
    .fetch_one(&mut conn)
    .await
    .unwrap();
    let transition: Uuid = sqlx::query_scalar(
        "INSERT INTO transitions (municipality_id, child_id, sending_institution_id, receiving_institution_id,
                                  kind, planned_date, template_id, status)
         SELECT $1, $2, s.id, r.id, 'kindergarten_school', DATE '2027-08-01', t.id, $3
         FROM institutions s, institutions r, form_templates t
         WHERE s.municipality_id = $1 AND s.name = 'Børnehaven Solsikken'
           AND r.municipality_id = $1 AND r.name = 'Bakkeskolen'
           AND t.municipality_id = $1 AND t.transition_kind = 'kindergarten_school' AND t.status = 'published'
         RETURNING id",
    )
    .bind(m)
    .bind(child)
    .bind(status)
    .fetch_one(&mut conn)
    .await
    .unwrap();
    for (label, marker) in [
        ("Barnets tre største styrker", "STYRKE"),
        ("Indsatser, der er i gang nu", "STOETTE"),
        ("Aftaler for de første uger", "AFTALE"),
    ] {
        let n = sqlx::query(
            "INSERT INTO answers (municipality_id, transition_id, question_id, template_id, value)
             SELECT t.municipality_id, t.id, q.id, t.template_id, $3
             FROM transitions t JOIN template_questions q
               ON q.municipality_id = t.municipality_id AND q.template_id = t.template_id
             WHERE t.id = $1 AND q.label = $2",
        )
        .bind(transition)
        .bind(label)
        .bind(format!("{marker}-{first}"))
        .execute(&mut conn)
        .await
        .unwrap()
        .rows_affected();
        assert_eq!(n, 1, "the default template asks {label:?}");
    }
    sqlx::query(
        "INSERT INTO answers (municipality_id, transition_id, question_id, template_id, value)
         SELECT t.municipality_id, t.id, q.id, t.template_id, $2
         FROM transitions t
         JOIN template_sections s ON s.municipality_id = t.municipality_id AND s.template_id = t.template_id
         JOIN template_questions q ON q.municipality_id = s.municipality_id AND q.section_id = s.id
         WHERE t.id = $1 AND s.title = 'Barnets egen stemme' AND q.kind = 'free_text'
         ORDER BY q.position LIMIT 1",
    )
    .bind(transition)
    .bind(format!("STEMME-{first}"))
    .execute(&mut conn)
    .await
    .unwrap();
    if consent {
        sqlx::query(
            "INSERT INTO consent_records (municipality_id, transition_id, guardian_id, section_id, decision, method)
             SELECT t.municipality_id, t.id, $2, s.id, 'given', 'link'
             FROM transitions t JOIN template_sections s
               ON s.municipality_id = t.municipality_id AND s.template_id = t.template_id
             WHERE t.id = $1",
        )
        .bind(transition)
        .bind(guardian)
        .execute(&mut conn)
        .await
        .unwrap();
    }
    transition
}

/// Creates class `name` at Bakkeskolen as `c`; returns its id.
async fn create_class(app: &TestApp, c: &Client, name: &str) -> Uuid {
    let school = institution(app, "Bakkeskolen").await.to_string();
    let r = c
        .post_with_token(
            "/classes",
            "/classes",
            &[
                ("institution_id", &school),
                ("name", name),
                ("school_year", "2027"),
            ],
        )
        .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER, "class {name} created");
    location(&r)
        .trim_start_matches("/classes/")
        .parse()
        .expect("redirect to the class")
}

async fn place(c: &Client, class: Uuid, transition: Uuid) -> StatusCode {
    // the token from the list, which every actor here may open (the class page may be a 404)
    c.post_with_token(
        "/classes",
        &format!("/classes/{class}/children"),
        &[("transition_id", &transition.to_string())],
    )
    .await
    .status()
}

async fn add_teacher(c: &Client, class: Uuid, teacher: Uuid) {
    let page = format!("/classes/{class}");
    let r = c
        .post_with_token(
            &page,
            &format!("{page}/teachers"),
            &[("user_id", &teacher.to_string())],
        )
        .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER, "teacher added");
}

fn position(html: &str, needle: &str) -> usize {
    html.find(needle)
        .unwrap_or_else(|| panic!("{needle:?} not on the page"))
}

#[tokio::test]
async fn leader_places_children_and_the_teacher_sees_their_key_points() {
    let app = spawn_app().await;
    user(
        &app,
        SCHOOL_LEADER,
        "Skole Leder",
        "institution_leader",
        "Bakkeskolen",
    )
    .await;
    let alma = incoming(&app, "Alma", "sent", true).await;
    let bent = incoming(&app, "Bent", "sent", false).await;
    let carl = incoming(&app, "Carl", "draft", true).await;
    let leader = app.login(SCHOOL_LEADER).await;
    let (status, html) = leader.get_text("/classes").await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        html.contains("href=\"/classes\""),
        "Klasser in the navigation"
    );
    let class = create_class(&app, &leader, "0.A").await;
    let (_, html) = leader.get_text(&format!("/classes/{class}")).await;
    assert!(html.contains("Alma Klassebarn") && html.contains("Carl Klassebarn"));
    for t in [alma, bent, carl] {
        assert_eq!(place(&leader, class, t).await, StatusCode::SEE_OTHER);
    }
    let laerer = user_id(&app, LAERER).await;
    add_teacher(&leader, class, laerer).await;

    // the sender asks for a meeting
    let sender = app.login(PAEDAGOG).await;
    let r = sender
        .post_with_token(
            &format!("/transitions/{alma}/meeting"),
            &format!("/transitions/{alma}/handover-wish"),
            &[("wish", "meeting")],
        )
        .await;
    assert_eq!(
        r.status(),
        StatusCode::SEE_OTHER,
        "the sender's wish is saved"
    );

    let teacher = app.login(LAERER).await;
    let (status, list) = teacher.get_text("/classes").await;
    assert_eq!(status, StatusCode::OK);
    assert!(list.contains(&format!("/classes/{class}")) && list.contains("0.A"));
    // the teacher opens Alma's handover: a read receipt
    assert_eq!(
        teacher.get(&format!("/transitions/{alma}")).await.status(),
        StatusCode::OK
    );
    let audited_before = app
        .count("SELECT count(*) FROM audit_log WHERE action = 'read_class_overview'")
        .await;
    let (status, html) = teacher.get_text(&format!("/classes/{class}")).await;
    assert_eq!(status, StatusCode::OK);
    for name in ["Alma Klassebarn", "Bent Klassebarn", "Carl Klassebarn"] {
        assert!(html.contains(name), "{name} in the overview");
    }
    assert!(
        html.contains("Børnehaven Solsikken"),
        "the sending institution"
    );
    for marker in [
        "STYRKE-Alma",
        "STOETTE-Alma",
        "AFTALE-Alma",
        "STYRKE-Bent",
        "AFTALE-Bent",
    ] {
        assert!(html.contains(marker), "key point {marker}");
    }
    assert!(
        !html.contains("STOETTE-Bent"),
        "a section without consent never shows"
    );
    assert!(html.contains("deles ikke"), "the withheld part is said");
    assert!(!html.contains("STEMME-"), "only the key points");
    assert!(
        !html.contains("STYRKE-Carl"),
        "a handover that is not sent shows nothing of its content"
    );
    assert!(
        html.contains("Ønsker overleveringsmøde"),
        "the sender's wish"
    );
    assert!(html.contains("Læst af dig") && html.contains("Ulæst"));
    assert!(html.contains(&format!("href=\"/transitions/{alma}\"")));
    // the teacher reads, but does not arrange
    assert!(
        !html.contains(&format!("action=\"/classes/{class}/children\"")),
        "no placing form for the teacher"
    );
    let audited = app
        .count("SELECT count(*) FROM audit_log WHERE action = 'read_class_overview'")
        .await;
    assert_eq!(
        audited - audited_before,
        4,
        "the class and its three children"
    );

    // sorting: by child descending, and unread first
    let (_, html) = teacher
        .get_text(&format!("/classes/{class}?sort=-child"))
        .await;
    assert!(position(&html, "Carl Klassebarn") < position(&html, "Alma Klassebarn"));
    assert!(html.contains("aria-sort=\"descending\""));
    let (_, html) = teacher
        .get_text(&format!("/classes/{class}?sort=read"))
        .await;
    assert!(position(&html, "Bent Klassebarn") < position(&html, "Alma Klassebarn"));
    assert!(html.contains("aria-sort=\"ascending\""));
    // unknown sort keys fall back to the name
    let (status, html) = teacher
        .get_text(&format!("/classes/{class}?sort=%27%3Bdrop"))
        .await;
    assert_eq!(status, StatusCode::OK);
    assert!(position(&html, "Alma Klassebarn") < position(&html, "Bent Klassebarn"));
    // the teacher may not place children or teachers
    assert_eq!(place(&teacher, class, alma).await, StatusCode::FORBIDDEN);

    // Nobody opened Bent's handover ("Ulæst" above), but the overview showed its key points:
    // the sender may no longer recall it to rewrite it. Carl's draft showed nothing.
    assert_eq!(
        app.count(&format!(
            "SELECT count(*) FROM transition_reads WHERE transition_id = '{bent}'"
        ))
        .await,
        0
    );
    let previewed =
        |t: Uuid| format!("SELECT count(*) FROM transition_previews WHERE transition_id = '{t}'");
    assert_eq!(app.count(&previewed(bent)).await, 1);
    assert_eq!(app.count(&previewed(carl)).await, 0);
    let version = app
        .count(&format!(
            "SELECT version::bigint FROM transitions WHERE id = '{bent}'"
        ))
        .await
        .to_string();
    let r = sender
        .post_with_token(
            &format!("/transitions/{bent}"),
            &format!("/transitions/{bent}/recall"),
            &[("version", &version)],
        )
        .await;
    assert_eq!(r.status(), StatusCode::CONFLICT);
    assert!(r
        .text()
        .await
        .unwrap()
        .contains("hovedpunkter i klasseoversigten"));
    assert_eq!(
        app.count(&format!(
            "SELECT count(*) FROM transitions WHERE id = '{bent}' AND status = 'sent'"
        ))
        .await,
        1
    );
}

#[tokio::test]
async fn nobody_else_sees_the_class_or_its_children() {
    let app = spawn_app().await;
    user(
        &app,
        COLLEAGUE,
        "Kollega Uden Klasse",
        "staff",
        "Bakkeskolen",
    )
    .await;
    {
        let mut conn = app.owner_conn().await;
        sqlx::query(
            "INSERT INTO institutions (municipality_id, name, kind)
             SELECT municipality_id, 'Åskolen', 'skole' FROM institutions WHERE name = 'Bakkeskolen'",
        )
        .execute(&mut conn)
        .await
        .unwrap();
    }
    user(&app, OTHER_SCHOOL, "Lærer Andetsteds", "staff", "Åskolen").await;
    let alma = incoming(&app, "Hemmelig", "sent", true).await;
    let admin = app.login(ADMIN).await;
    let class = create_class(&app, &admin, "0.B").await;
    assert_eq!(place(&admin, class, alma).await, StatusCode::SEE_OTHER);
    add_teacher(&admin, class, user_id(&app, LAERER).await).await;
    let path = format!("/classes/{class}");

    for who in [
        COLLEAGUE,
        OTHER_SCHOOL,
        "paedagog@stevns.overgang.test",
        "admin@stevns.overgang.test",
        "leder@vejle.overgang.test",
    ] {
        let c = app.login(who).await;
        assert_eq!(
            c.get(&path).await.status(),
            StatusCode::NOT_FOUND,
            "{who} opens the class"
        );
        let (status, html) = c.get_text("/classes").await;
        assert_eq!(status, StatusCode::OK, "{who}'s list of classes");
        assert!(
            !html.contains(&path) && !html.contains("0.B"),
            "{who} sees the class in the list"
        );
        assert!(!html.contains("Hemmelig"), "{who} sees the child's name");
        let token = c.csrf("/classes").await;
        for (action, field, value) in [
            ("children", "transition_id", alma),
            ("children/remove", "transition_id", alma),
            ("teachers", "user_id", user_id(&app, COLLEAGUE).await),
        ] {
            let r = c
                .post_form(
                    &format!("{path}/{action}"),
                    &[("_csrf", &token), (field, &value.to_string())],
                )
                .await;
            assert_eq!(r.status(), StatusCode::NOT_FOUND, "{who} posts {action}");
        }
    }
    // nothing of the child on any page of the other school or the other municipality
    for who in [OTHER_SCHOOL, "paedagog@stevns.overgang.test"] {
        let c = app.login(who).await;
        for page in ["/", "/classes", "/inbox", "/transitions", "/children"] {
            let (_, html) = c.get_text(page).await;
            assert!(!html.contains("Hemmelig"), "{who} sees the child on {page}");
        }
    }
    // analysts and specialists have no classes at all
    for who in [
        "analytiker@vejle.overgang.test",
        "specialist@vejle.overgang.test",
    ] {
        let c = app.login(who).await;
        assert_eq!(c.get("/classes").await.status(), StatusCode::FORBIDDEN);
        assert_eq!(c.get(&path).await.status(), StatusCode::FORBIDDEN);
    }
    assert_eq!(
        app.count("SELECT count(*) FROM class_children").await,
        1,
        "the refusals changed nothing"
    );
    assert_eq!(app.count("SELECT count(*) FROM class_teachers").await, 1);
}

#[tokio::test]
async fn a_delegate_places_children_until_the_leader_revokes_it() {
    let app = spawn_app().await;
    user(
        &app,
        SCHOOL_LEADER,
        "Skole Leder",
        "institution_leader",
        "Bakkeskolen",
    )
    .await;
    let colleague = user(&app, COLLEAGUE, "Kollega Delegeret", "staff", "Bakkeskolen").await;
    let first = incoming(&app, "Dina", "sent", true).await;
    let second = incoming(&app, "Emil", "ready", true).await;
    let leader = app.login(SCHOOL_LEADER).await;
    let class = create_class(&app, &leader, "0.C").await;
    let path = format!("/classes/{class}");
    let school = institution(&app, "Bakkeskolen").await.to_string();
    let delegate = app.login(COLLEAGUE).await;
    assert_eq!(delegate.get(&path).await.status(), StatusCode::NOT_FOUND);
    assert_eq!(place(&delegate, class, first).await, StatusCode::NOT_FOUND);

    // a teacher cannot delegate; the leader can
    let teacher = app.login(LAERER).await;
    let r = teacher
        .post_with_token(
            "/classes",
            "/classes/delegates",
            &[
                ("institution_id", &school),
                ("user_id", &colleague.to_string()),
            ],
        )
        .await;
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    let (_, html) = leader.get_text("/classes").await;
    assert!(
        html.contains("action=\"/classes/delegates\""),
        "the delegation form"
    );
    let r = leader
        .post_with_token(
            "/classes",
            "/classes/delegates",
            &[
                ("institution_id", &school),
                ("user_id", &colleague.to_string()),
            ],
        )
        .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);

    assert_eq!(delegate.get(&path).await.status(), StatusCode::OK);
    assert_eq!(place(&delegate, class, first).await, StatusCode::SEE_OTHER);
    let (_, html) = delegate.get_text(&path).await;
    assert!(html.contains("Dina Klassebarn"));
    // the delegate creates classes too, but cannot delegate further
    let (_, html) = delegate.get_text("/classes").await;
    assert!(html.contains("action=\"/classes\""));
    assert!(!html.contains("action=\"/classes/delegates\""));

    let r = leader
        .post_with_token(
            "/classes",
            "/classes/delegates/revoke",
            &[
                ("institution_id", &school),
                ("user_id", &colleague.to_string()),
            ],
        )
        .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert_eq!(delegate.get(&path).await.status(), StatusCode::NOT_FOUND);
    assert_eq!(place(&delegate, class, second).await, StatusCode::NOT_FOUND);
    let (_, html) = delegate.get_text("/classes").await;
    assert!(!html.contains("Dina Klassebarn") && !html.contains(&path));
    assert_eq!(
        app.count(&format!(
            "SELECT count(*) FROM class_children WHERE class_id = '{class}'"
        ))
        .await,
        1,
        "only the delegate's placement while delegated"
    );
}

/// The same class created by eight requests at once (a double click, two colleagues): one
/// creates it, the others get the form back with "the name is taken", none a 500. Before, the
/// check for the name and the insert were two statements, and a request whose check ran before
/// another's insert committed failed on the unique key.
#[tokio::test]
async fn a_class_created_twice_at_once_is_created_once() {
    let app = spawn_app().await;
    let admin = app.login("admin@vejle.overgang.test").await;
    let school = institution(&app, "Bakkeskolen").await.to_string();
    let token = admin.csrf("/classes").await;
    let fields = [
        ("_csrf", token.as_str()),
        ("institution_id", school.as_str()),
        ("name", "0.R"),
        ("school_year", "2027"),
    ];
    let answers = futures_util::future::join_all(
        (0..8).map(|_| async { admin.post_form("/classes", &fields).await.status() }),
    )
    .await;
    let created = how_many(&answers, StatusCode::SEE_OTHER);
    let taken = how_many(&answers, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!((created, taken), (1, 7), "{answers:?}");
    assert_eq!(
        app.count("SELECT count(*) FROM school_classes WHERE name = '0.R'")
            .await,
        1
    );
}

use reqwest::StatusCode;
use uuid::Uuid;

use crate::common::{location, spawn_app, TestApp};

async fn id_of(app: &TestApp, table: &str, name: &str) -> Uuid {
    let mut conn = app.owner_conn().await;
    sqlx::query_scalar(&format!("SELECT id FROM {table} WHERE name = $1"))
        .bind(name)
        .fetch_one(&mut conn)
        .await
        .unwrap()
}

#[tokio::test]
async fn the_admin_lists_filters_creates_edits_and_deactivates_institutions() {
    let app = spawn_app().await;
    let admin = app.login("admin@vejle.overgang.test").await;
    let (status, html) = admin.get_text("/institutions").await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains("5 institutioner") && html.contains("Bakkeskolen"));
    assert!(
        !html.contains("Strandskolen"),
        "never another municipality's"
    );
    let (_, html) = admin.get_text("/institutions?kind=boernehave").await;
    assert!(html.contains("3 institutioner") && !html.contains(">Bakkeskolen<"));
    let (_, html) = admin.get_text("/institutions?pilot=nej").await;
    assert!(html.contains("Ingen institutioner matcher"));
    let (status, _) = admin
        .get_text("/institutions?kind=%FF&cluster=nonsense")
        .await;
    assert!(
        status == StatusCode::OK || status == StatusCode::BAD_REQUEST,
        "{status}"
    );

    let cluster = id_of(&app, "clusters", "Pilotklynge Bakkeskolen")
        .await
        .to_string();
    let r = admin
        .post_with_token(
            "/",
            "/institutions",
            &[
                ("name", "Dagplejen Øst"),
                ("kind", "dagpleje"),
                ("institution_number", "D-17"),
                ("cluster", &cluster),
                ("is_pilot", "ja"),
            ],
        )
        .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let id = id_of(&app, "institutions", "Dagplejen Øst").await;
    let (_, html) = admin.get_text(&format!("/institutions/{id}")).await;
    assert!(
        html.contains("Dagpleje")
            && html.contains("D-17")
            && html.contains("Pilotklynge Bakkeskolen")
    );

    // Duplicate number and bad values come back as field errors with the input kept.
    let r = admin
        .post_with_token(
            "/",
            "/institutions",
            &[
                ("name", "Ny"),
                ("kind", "ufo"),
                ("institution_number", "D-17"),
            ],
        )
        .await;
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let html = r.text().await.unwrap();
    assert!(
        html.contains("Vælg hvilken slags institution") && html.contains("allerede det nummer")
    );
    assert!(html.contains("value=\"Ny\""));
    let r = admin
        .post_with_token(
            "/",
            "/institutions",
            &[
                ("name", ""),
                ("kind", "skole"),
                ("cluster", &Uuid::new_v4().to_string()),
            ],
        )
        .await;
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(r
        .text()
        .await
        .unwrap()
        .contains("Vælg en klynge fra listen."));
    assert_eq!(
        app.count("SELECT count(*) FROM institutions WHERE name IN ('Ny', '')")
            .await,
        0
    );

    let r = admin
        .post_with_token(
            "/",
            &format!("/institutions/{id}"),
            &[
                ("name", "Dagplejen Øst og Vest"),
                ("kind", "dagpleje"),
                ("institution_number", "D-17"),
            ],
        )
        .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&r), format!("/institutions/{id}"));
    let (_, html) = admin.get_text(&format!("/institutions/{id}")).await;
    assert!(
        html.contains("Dagplejen Øst og Vest")
            && html.contains("Ingen klynge")
            && html.contains("<td>Nej</td>")
    );

    let r = admin
        .post_with_token(
            "/",
            &format!("/institutions/{id}/active"),
            &[("active", "nej")],
        )
        .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let (_, html) = admin.get_text(&location(&r)).await;
    assert!(html.contains("er deaktiveret."));
    let (_, html) = admin.get_text("/institutions").await;
    assert!(!html.contains("Dagplejen Øst og Vest"));
    let (_, html) = admin.get_text("/institutions?inactive=ja").await;
    assert!(html.contains("Dagplejen Øst og Vest") && html.contains("Deaktiveret"));
    let r = admin
        .post_with_token(
            "/",
            &format!("/institutions/{id}/active"),
            &[("active", "måske")],
        )
        .await;
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    let audited = app
        .count(&format!(
            "SELECT count(*) FROM audit_log WHERE entity_id = '{id}'"
        ))
        .await;
    assert_eq!(audited, 3, "create, update and deactivate are audited");
}

#[tokio::test]
async fn only_administrators_manage_institutions_and_only_their_own() {
    let app = spawn_app().await;
    let vejle_school = id_of(&app, "institutions", "Bakkeskolen").await;
    for email in [
        "leder@vejle.overgang.test",
        "paedagog@vejle.overgang.test",
        "analytiker@vejle.overgang.test",
    ] {
        let c = app.login(email).await;
        for path in [
            "/institutions",
            "/institutions/new",
            "/clusters",
            "/clusters/new",
        ] {
            assert_eq!(
                c.get(path).await.status(),
                StatusCode::FORBIDDEN,
                "{email} {path}"
            );
        }
        let r = c
            .post_with_token("/", "/institutions", &[("name", "X"), ("kind", "skole")])
            .await;
        assert_eq!(r.status(), StatusCode::FORBIDDEN);
        let r = c
            .post_with_token(
                "/",
                &format!("/institutions/{vejle_school}/active"),
                &[("active", "nej")],
            )
            .await;
        assert_eq!(r.status(), StatusCode::FORBIDDEN);
    }
    let stevns = app.login("admin@stevns.overgang.test").await;
    assert_eq!(
        stevns
            .get(&format!("/institutions/{vejle_school}/edit"))
            .await
            .status(),
        StatusCode::NOT_FOUND
    );
    let r = stevns
        .post_with_token(
            "/",
            &format!("/institutions/{vejle_school}"),
            &[("name", "Hacked"), ("kind", "skole")],
        )
        .await;
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    let r = stevns
        .post_with_token(
            "/",
            &format!("/institutions/{vejle_school}/active"),
            &[("active", "nej")],
        )
        .await;
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    assert_eq!(
        app.count("SELECT count(*) FROM institutions WHERE is_active AND name = 'Bakkeskolen'")
            .await,
        1
    );
}

#[tokio::test]
async fn clusters_are_a_school_and_the_institutions_that_feed_it() {
    let app = spawn_app().await;
    let admin = app.login("admin@vejle.overgang.test").await;
    let (_, html) = admin.get_text("/clusters").await;
    assert!(html.contains("Pilotklynge Bakkeskolen") && html.contains("Børnehaven Solsikken"));

    // A second school with one kindergarten moved over from the pilot cluster.
    let r = admin
        .post_with_token(
            "/",
            "/institutions",
            &[("name", "Nordskolen"), ("kind", "skole")],
        )
        .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let school = id_of(&app, "institutions", "Nordskolen").await.to_string();
    let moved = id_of(&app, "institutions", "Børnehaven Skovtrolden")
        .await
        .to_string();
    let r = admin
        .post_with_token(
            "/",
            "/clusters",
            &[
                ("name", "Nordklyngen"),
                ("school", &school),
                ("members", &moved),
            ],
        )
        .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let cluster = id_of(&app, "clusters", "Nordklyngen").await;
    let in_cluster = app
        .count(&format!(
            "SELECT count(*) FROM institutions WHERE cluster_id = '{cluster}'"
        ))
        .await;
    assert_eq!(in_cluster, 2, "the school and the moved kindergarten");
    let (_, html) = admin.get_text(&format!("/clusters/{cluster}")).await;
    assert!(html.contains("value=\"Nordklyngen\""));

    // Two members at once (repeated form keys), then none: members leave, the school stays.
    let other = id_of(&app, "institutions", "Børnehaven Mariehønen")
        .await
        .to_string();
    let r = admin
        .post_with_token(
            "/",
            &format!("/clusters/{cluster}"),
            &[
                ("name", "Nordklyngen"),
                ("school", &school),
                ("members", &moved),
                ("members", &other),
            ],
        )
        .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert_eq!(
        app.count(&format!(
            "SELECT count(*) FROM institutions WHERE cluster_id = '{cluster}'"
        ))
        .await,
        3
    );
    let r = admin
        .post_with_token(
            "/",
            &format!("/clusters/{cluster}"),
            &[("name", "Nordklyngen"), ("school", &school)],
        )
        .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert_eq!(
        app.count(&format!(
            "SELECT count(*) FROM institutions WHERE cluster_id = '{cluster}'"
        ))
        .await,
        1
    );

    // A kindergarten as "school", or another municipality's institution, is refused unchanged.
    let foreign = id_of(&app, "institutions", "Børnehaven Klinten")
        .await
        .to_string();
    let r = admin
        .post_with_token(
            "/",
            &format!("/clusters/{cluster}"),
            &[("name", "X"), ("school", &moved)],
        )
        .await;
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let r = admin
        .post_with_token(
            "/",
            &format!("/clusters/{cluster}"),
            &[("name", "X"), ("members", &foreign)],
        )
        .await;
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(r
        .text()
        .await
        .unwrap()
        .contains("Vælg institutionerne fra listen."));
    let r = admin
        .post_with_token(
            "/",
            &format!("/clusters/{cluster}"),
            &[("name", "X"), ("members", "not-an-id")],
        )
        .await;
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    assert_eq!(
        app.count("SELECT count(*) FROM clusters WHERE name = 'X'")
            .await,
        0
    );
    assert_eq!(app.count("SELECT count(*) FROM institutions WHERE name = 'Børnehaven Klinten' AND cluster_id IS NOT NULL").await, 1);

    let stevns = app.login("admin@stevns.overgang.test").await;
    assert_eq!(
        stevns.get(&format!("/clusters/{cluster}")).await.status(),
        StatusCode::NOT_FOUND
    );
}

//! User administration: invitations, roles, deactivation, password change and reset, and the
//! mail outbox behind them.

use std::sync::Mutex;

use overgang::{
    db::{self, Scope},
    mail::{self, Deliver, DeliveryError},
};
use reqwest::StatusCode;
use sqlx::PgConnection;
use uuid::Uuid;

use crate::common::{location, spawn_app, Client, TestApp, PASSWORD};

const ADMIN: &str = "admin@vejle.overgang.test";
const LEADER: &str = "leder@vejle.overgang.test";
const PAEDAGOG: &str = "paedagog@vejle.overgang.test";
const LAERER: &str = "laerer@vejle.overgang.test";
const NEW_PASSWORD: &str = "en helt ny og lang adgangskode";

async fn user_id(conn: &mut PgConnection, email: &str) -> Uuid {
    sqlx::query_scalar("SELECT id FROM users WHERE email = $1")
        .bind(email)
        .fetch_one(conn)
        .await
        .unwrap()
}

async fn institution_id(conn: &mut PgConnection, name: &str) -> String {
    let id: Uuid = sqlx::query_scalar("SELECT id FROM institutions WHERE name = $1")
        .bind(name)
        .fetch_one(conn)
        .await
        .unwrap();
    id.to_string()
}

async fn count(conn: &mut PgConnection, sql: &str) -> i64 {
    sqlx::query_scalar(sql).fetch_one(conn).await.unwrap()
}

async fn audited(conn: &mut PgConnection, action: &str, entity: Uuid) -> i64 {
    sqlx::query_scalar("SELECT count(*) FROM audit_log WHERE action = $1 AND entity_id = $2")
        .bind(action)
        .bind(entity)
        .fetch_one(conn)
        .await
        .unwrap()
}

/// The path of the newest link to `marker` (e.g. "/invitation/") in mail to `to`.
async fn link_in_outbox(conn: &mut PgConnection, to: &str, marker: &str) -> String {
    let body: String = sqlx::query_scalar(
        "SELECT body FROM outbox WHERE to_address = $1 ORDER BY id DESC LIMIT 1",
    )
    .bind(to)
    .fetch_one(conn)
    .await
    .unwrap();
    let start = body.find(marker).expect("the mail holds the link");
    let token: String = body[start + marker.len()..]
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '_')
        .collect();
    assert_eq!(token.len(), 43, "{body}");
    assert!(
        body.contains(&format!("http://127.0.0.1:8080{marker}{token}")),
        "absolute link from OVERGANG_BASE_URL: {body}"
    );
    format!("{marker}{token}")
}

async fn invite(c: &Client, name: &str, email: &str, role: &str, inst: &str) -> reqwest::Response {
    c.post_with_token(
        "/users/invite",
        "/users/invite",
        &[
            ("name", name),
            ("email", email),
            ("role", role),
            ("institution", inst),
        ],
    )
    .await
}

async fn set_password(c: &Client, link: &str, new: &str, again: &str) -> reqwest::Response {
    c.post_with_token(
        link,
        link,
        &[("new_password", new), ("new_password_again", again)],
    )
    .await
}

#[tokio::test]
async fn an_invited_user_accepts_and_logs_in() {
    let app = spawn_app().await;
    let mut conn = app.owner_conn().await;
    let solsikken = institution_id(&mut conn, "Børnehaven Solsikken").await;
    let admin = app.login(ADMIN).await;
    let (status, html) = admin.get_text("/users/invite").await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains("Invitér bruger") && html.contains("Børnehaven Solsikken"));

    let r = invite(&admin, "Ida Ny", " Ida.Ny@Vejle.dk ", "staff", &solsikken).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let id = user_id(&mut conn, "ida.ny@vejle.dk").await;
    assert_eq!(location(&r), format!("/users/{id}"));
    let (status, html) = admin.get_text(&location(&r)).await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains("Ida Ny er inviteret"), "flash");
    assert!(html.contains("Medarbejder ved Børnehaven Solsikken"));
    assert!(html.contains("Inviteret") && html.contains("Send invitationen igen"));

    let (subject, municipality): (String, Option<Uuid>) = sqlx::query_as(
        "SELECT subject, municipality_id FROM outbox WHERE to_address = 'ida.ny@vejle.dk'",
    )
    .fetch_one(&mut conn)
    .await
    .unwrap();
    assert_eq!(subject, "Invitation til Overgang");
    assert_eq!(municipality, Some(app.municipality_id("0630").await));
    let link = link_in_outbox(&mut conn, "ida.ny@vejle.dk", "/invitation/").await;
    assert_eq!(audited(&mut conn, "invite", id).await, 1);
    let stored: Vec<u8> = sqlx::query_scalar("SELECT id FROM user_tokens WHERE user_id = $1")
        .bind(id)
        .fetch_one(&mut conn)
        .await
        .unwrap();
    assert_eq!(
        stored,
        overgang::auth::session::token_hash(link.rsplit('/').next().unwrap()),
        "only the hash of the token is stored"
    );

    // Before accepting there is no password to log in with.
    let ida = app.client();
    let r = ida.login("ida.ny@vejle.dk", NEW_PASSWORD).await;
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);

    let (status, html) = ida.get_text(&link).await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains("Velkommen til Overgang") && html.contains("ida.ny@vejle.dk"));
    let r = set_password(&ida, &link, "kort", "kort").await;
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let html = r.text().await.unwrap();
    assert!(html.contains("mindst 12 tegn") && !html.contains("value=\"kort\""));
    let r = set_password(&ida, &link, NEW_PASSWORD, "en anden lang adgangskode").await;
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(r.text().await.unwrap().contains("ikke ens"));
    let r = set_password(&ida, &link, NEW_PASSWORD, NEW_PASSWORD).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&r), "/login");
    let (_, html) = ida.get_text("/login").await;
    assert!(html.contains("Din adgangskode er gemt"));

    let r = ida.login("ida.ny@vejle.dk", NEW_PASSWORD).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let (status, html) = ida.get_text("/").await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains("Ida Ny"));
    assert_eq!(audited(&mut conn, "invite_accept", id).await, 1);

    // The link works once.
    let (status, html) = app.client().get_text(&link).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert!(html.contains("Linket virker ikke"));
    let (_, html) = admin.get_text(&format!("/users/{id}")).await;
    assert!(html.contains("Aktiv") && !html.contains("Send invitationen igen"));
}

#[tokio::test]
async fn invalid_invitations_are_explained_and_nothing_is_saved() {
    let app = spawn_app().await;
    let mut conn = app.owner_conn().await;
    let solsikken = institution_id(&mut conn, "Børnehaven Solsikken").await;
    let users_before = count(&mut conn, "SELECT count(*) FROM users").await;
    let admin = app.login(ADMIN).await;

    let cases: [(&str, &str, &str, &str, &str); 7] = [
        ("", "a@b.dk", "staff", &solsikken, "Udfyld navnet."),
        (
            "Bo",
            "ikke-en-adresse",
            "staff",
            &solsikken,
            "gyldig e-mailadresse",
        ),
        ("Bo", "bo@vejle.dk", "", "", "Vælg en rolle."),
        (
            "Bo",
            "bo@vejle.dk",
            "staff",
            "",
            "hvor brugeren skal være medarbejder",
        ),
        (
            "Bo",
            "bo@vejle.dk",
            "analyst",
            &solsikken,
            "Ingen institution",
        ),
        (
            "Bo",
            "bo@vejle.dk",
            "staff",
            "not-a-uuid",
            "Vælg en institution fra listen.",
        ),
        (
            "Bo",
            PAEDAGOG,
            "staff",
            &solsikken,
            "Der findes allerede en bruger med den e-mailadresse.",
        ),
    ];
    for (name, email, role, inst, message) in cases {
        let r = invite(&admin, name, email, role, inst).await;
        assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY, "{message}");
        let html = r.text().await.unwrap();
        assert!(html.contains(message), "missing {message:?}");
        if !name.is_empty() {
            assert!(html.contains(&format!("value=\"{name}\"")), "input is kept");
        }
    }
    // A Stevns institution is not an option in Vejle.
    let strandskolen = institution_id(&mut conn, "Strandskolen").await;
    let r = invite(&admin, "Bo", "bo@vejle.dk", "staff", &strandskolen).await;
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);

    assert_eq!(
        count(&mut conn, "SELECT count(*) FROM users").await,
        users_before
    );
    assert_eq!(count(&mut conn, "SELECT count(*) FROM outbox").await, 0);
    assert_eq!(
        count(&mut conn, "SELECT count(*) FROM user_tokens").await,
        0
    );

    // Specialists may but need not belong to an institution; administrators need none.
    for (email, role, inst) in [
        ("s1@vejle.dk", "specialist", ""),
        ("s2@vejle.dk", "specialist", solsikken.as_str()),
        ("a1@vejle.dk", "municipal_admin", ""),
    ] {
        let r = invite(&admin, "Ny", email, role, inst).await;
        assert_eq!(r.status(), StatusCode::SEE_OTHER, "{role} {inst}");
    }
    assert_eq!(count(&mut conn, "SELECT count(*) FROM outbox").await, 3);
}

#[tokio::test]
async fn a_leader_invites_staff_only_at_an_institution_they_lead() {
    let app = spawn_app().await;
    let mut conn = app.owner_conn().await;
    let solsikken = institution_id(&mut conn, "Børnehaven Solsikken").await;
    let mariehoenen = institution_id(&mut conn, "Børnehaven Mariehønen").await;
    let leader = app.login(LEADER).await;

    let (status, html) = leader.get_text("/users/invite").await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains("Børnehaven Solsikken") && !html.contains("Børnehaven Mariehønen"));
    assert!(
        !html.contains("Kommunal administrator"),
        "only staff is offered"
    );

    for (role, inst) in [
        ("staff", mariehoenen.as_str()),
        ("institution_leader", solsikken.as_str()),
        ("municipal_admin", ""),
        ("specialist", ""),
    ] {
        let r = invite(&leader, "Ulla Udenfor", "ulla@vejle.dk", role, inst).await;
        assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY, "{role}");
    }
    assert_eq!(
        count(
            &mut conn,
            "SELECT count(*) FROM users WHERE email = 'ulla@vejle.dk'"
        )
        .await,
        0
    );
    assert_eq!(count(&mut conn, "SELECT count(*) FROM outbox").await, 0);

    let r = invite(&leader, "Mads Ny", "mads@vejle.dk", "staff", &solsikken).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let mads = user_id(&mut conn, "mads@vejle.dk").await;
    let (status, _) = leader.get_text(&format!("/users/{mads}")).await;
    assert_eq!(status, StatusCode::OK);

    // The list holds the leader's institution only; staff elsewhere cannot be opened.
    let (status, html) = leader.get_text("/users").await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains("Sofie Jensen") && html.contains("Mads Ny"));
    assert!(!html.contains("Peter Nielsen"), "teacher at the school");
    assert!(!html.contains("Mette Sørensen"), "the administrator");
    let laerer = user_id(&mut conn, LAERER).await;
    let paedagog = user_id(&mut conn, PAEDAGOG).await;
    let me = user_id(&mut conn, LEADER).await;
    assert_eq!(
        leader.get(&format!("/users/{laerer}")).await.status(),
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        leader.get(&format!("/users/{me}")).await.status(),
        StatusCode::NOT_FOUND,
        "leaders are not staff: their own account is under /account"
    );
    assert_eq!(
        leader.get(&format!("/users/{paedagog}")).await.status(),
        StatusCode::OK
    );

    for email in [PAEDAGOG, "analytiker@vejle.overgang.test"] {
        let c = app.login(email).await;
        assert_eq!(c.get("/users").await.status(), StatusCode::FORBIDDEN);
        assert_eq!(c.get("/users/invite").await.status(), StatusCode::FORBIDDEN);
    }
    let op = app.login("operator@overgang.test").await;
    assert_eq!(op.get("/users").await.status(), StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn the_list_filters_by_institution_role_status_and_text() {
    let app = spawn_app().await;
    let mut conn = app.owner_conn().await;
    let skole = institution_id(&mut conn, "Bakkeskolen").await;
    let admin = app.login(ADMIN).await;
    let (_, html) = admin.get_text("/users").await;
    for name in ["Mette Sørensen", "Lars Holm", "Sofie Jensen", "Jonas Berg"] {
        assert!(html.contains(name), "{name}");
    }
    assert!(
        !html.contains("Karen Madsen"),
        "Stevns users are never listed"
    );
    let (_, html) = admin.get_text(&format!("/users?institution={skole}")).await;
    assert!(html.contains("Peter Nielsen") && !html.contains("Sofie Jensen"));
    let (_, html) = admin.get_text("/users?role=analyst").await;
    assert!(html.contains("Jonas Berg") && !html.contains("Peter Nielsen"));
    let (_, html) = admin.get_text("/users?q=sofie").await;
    assert!(html.contains("Sofie Jensen") && !html.contains("Jonas Berg"));
    let (_, html) = admin.get_text("/users?q=%25").await;
    assert!(html.contains("Ingen brugere passer"), "% is literal");
    invite(&admin, "Ny Person", "ny@vejle.dk", "analyst", "").await;
    let (_, html) = admin.get_text("/users?status=invited").await;
    assert!(html.contains("Ny Person") && !html.contains("Jonas Berg"));
    let (status, _) = admin
        .get_text("/users?status=%FF&institution=x&role=")
        .await;
    assert_eq!(status, StatusCode::OK, "a mangled filter is no filter");
}

async fn assignment(conn: &mut PgConnection, user: Uuid, institution: &str) -> Uuid {
    sqlx::query_scalar(
        "SELECT id FROM role_assignments WHERE user_id = $1 AND institution_id = $2::uuid",
    )
    .bind(user)
    .bind(institution)
    .fetch_one(conn)
    .await
    .unwrap()
}

#[tokio::test]
async fn roles_are_added_and_removed_within_reach() {
    let app = spawn_app().await;
    let mut conn = app.owner_conn().await;
    let skole = institution_id(&mut conn, "Bakkeskolen").await;
    let paedagog = user_id(&mut conn, PAEDAGOG).await;
    let page = format!("/users/{paedagog}");
    let roles_path = format!("{page}/roles");
    let admin = app.login(ADMIN).await;

    let r = admin
        .post_with_token(
            &page,
            &roles_path,
            &[("role", "staff"), ("institution", &skole)],
        )
        .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let (_, html) = admin.get_text(&page).await;
    assert!(html.contains("Sofie Jensen har fået rollen Medarbejder ved Bakkeskolen"));
    assert_eq!(audited(&mut conn, "role_add", paedagog).await, 1);

    let r = admin
        .post_with_token(
            &page,
            &roles_path,
            &[("role", "staff"), ("institution", &skole)],
        )
        .await;
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(r.text().await.unwrap().contains("allerede den rolle"));
    let r = admin
        .post_with_token(
            &page,
            &roles_path,
            &[("role", "municipal_admin"), ("institution", &skole)],
        )
        .await;
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);

    let at_school = assignment(&mut conn, paedagog, &skole).await;
    let solsikken = institution_id(&mut conn, "Børnehaven Solsikken").await;
    let at_solsikken = assignment(&mut conn, paedagog, &solsikken).await;

    // The leader of Solsikken sees both roles but may only take away the one at Solsikken, and
    // may not lock out someone who also works at the school.
    let leader = app.login(LEADER).await;
    let (_, html) = leader.get_text(&page).await;
    assert!(html.contains("Medarbejder ved Bakkeskolen"));
    assert!(html.contains(&format!("roles/{at_solsikken}/remove")));
    assert!(!html.contains(&format!("roles/{at_school}/remove")));
    assert!(!html.contains("Deaktivér bruger"));
    let r = leader
        .post_with_token(&page, &format!("{page}/roles/{at_school}/remove"), &[])
        .await;
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    let r = leader
        .post_with_token(&page, &format!("{page}/deactivate"), &[])
        .await;
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    assert_eq!(
        count(
            &mut conn,
            &format!("SELECT count(*) FROM role_assignments WHERE user_id = '{paedagog}'")
        )
        .await,
        2
    );

    let r = admin
        .post_with_token(&page, &format!("{page}/roles/{at_school}/remove"), &[])
        .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&r), page);
    assert_eq!(audited(&mut conn, "role_remove", paedagog).await, 1);

    // The leader removes the last staff role at Solsikken and no longer reaches the user.
    let r = leader
        .post_with_token(&page, &format!("{page}/roles/{at_solsikken}/remove"), &[])
        .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&r), "/users");
    assert_eq!(leader.get(&page).await.status(), StatusCode::NOT_FOUND);

    // Nobody removes their own administrator role.
    let me = user_id(&mut conn, ADMIN).await;
    let own: Uuid = sqlx::query_scalar("SELECT id FROM role_assignments WHERE user_id = $1")
        .bind(me)
        .fetch_one(&mut conn)
        .await
        .unwrap();
    let (_, html) = admin.get_text(&format!("/users/{me}")).await;
    assert!(!html.contains(&format!("roles/{own}/remove")));
    assert!(!html.contains("Deaktivér bruger"));
    let r = admin
        .post_with_token("/users", &format!("/users/{me}/roles/{own}/remove"), &[])
        .await;
    assert_eq!(r.status(), StatusCode::CONFLICT);
    assert!(r.text().await.unwrap().contains("egen administratorrolle"));
    assert_eq!(
        count(
            &mut conn,
            &format!("SELECT count(*) FROM role_assignments WHERE user_id = '{me}'")
        )
        .await,
        1
    );
}

#[tokio::test]
async fn deactivation_ends_sessions_and_blocks_login() {
    let app = spawn_app().await;
    let mut conn = app.owner_conn().await;
    let paedagog = user_id(&mut conn, PAEDAGOG).await;
    let page = format!("/users/{paedagog}");
    let sofie = app.login(PAEDAGOG).await;
    let admin = app.login(ADMIN).await;

    let r = admin
        .post_with_token(&page, &format!("{page}/deactivate"), &[])
        .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let (_, html) = admin.get_text(&page).await;
    assert!(html.contains("er deaktiveret") && html.contains("Genaktivér bruger"));
    assert_eq!(
        count(
            &mut conn,
            &format!("SELECT count(*) FROM sessions WHERE user_id = '{paedagog}'")
        )
        .await,
        0
    );
    assert_eq!(sofie.get("/").await.status(), StatusCode::SEE_OTHER);
    let r = sofie.login(PAEDAGOG, PASSWORD).await;
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(audited(&mut conn, "deactivate", paedagog).await, 1);
    let (_, html) = admin.get_text("/users?status=inactive").await;
    assert!(html.contains("Sofie Jensen"));

    let me = user_id(&mut conn, ADMIN).await;
    let r = admin
        .post_with_token(&page, &format!("/users/{me}/deactivate"), &[])
        .await;
    assert_eq!(r.status(), StatusCode::CONFLICT);
    assert!(
        count(
            &mut conn,
            &format!("SELECT count(*) FROM users WHERE id = '{me}' AND is_active")
        )
        .await
            == 1
    );

    // The administrator's deactivation is the administrator's to undo: the pedagogue's leader,
    // who may (de)activate her otherwise, is refused.
    let leader = app.login(LEADER).await;
    let r = leader
        .post_with_token(&page, &format!("{page}/reactivate"), &[])
        .await;
    assert_eq!(r.status(), StatusCode::CONFLICT);
    assert!(r.text().await.unwrap().contains("Kun en administrator"));
    assert_eq!(audited(&mut conn, "reactivate", paedagog).await, 0);

    let r = admin
        .post_with_token(&page, &format!("{page}/reactivate"), &[])
        .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert_eq!(audited(&mut conn, "reactivate", paedagog).await, 1);
    let r = sofie.login(PAEDAGOG, PASSWORD).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    // A leader's own deactivation the leader may undo.
    for action in ["deactivate", "reactivate"] {
        let r = leader
            .post_with_token(&page, &format!("{page}/{action}"), &[])
            .await;
        assert_eq!(r.status(), StatusCode::SEE_OTHER, "{action}");
    }
    // An administrator's deactivation of an account the leader had deactivated already makes
    // it the administrator's to undo.
    for (who, action) in [(&leader, "deactivate"), (&admin, "deactivate")] {
        let r = who
            .post_with_token(&page, &format!("{page}/{action}"), &[])
            .await;
        assert_eq!(r.status(), StatusCode::SEE_OTHER, "{action}");
    }
    let r = leader
        .post_with_token(&page, &format!("{page}/reactivate"), &[])
        .await;
    assert_eq!(r.status(), StatusCode::CONFLICT);
}

#[tokio::test]
async fn resending_an_invitation_replaces_the_link() {
    let app = spawn_app().await;
    let mut conn = app.owner_conn().await;
    let admin = app.login(ADMIN).await;
    invite(&admin, "Eva Ny", "eva@vejle.dk", "analyst", "").await;
    let first = link_in_outbox(&mut conn, "eva@vejle.dk", "/invitation/").await;
    let eva = user_id(&mut conn, "eva@vejle.dk").await;
    let page = format!("/users/{eva}");
    let r = admin
        .post_with_token(&page, &format!("{page}/resend"), &[])
        .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let second = link_in_outbox(&mut conn, "eva@vejle.dk", "/invitation/").await;
    assert_ne!(first, second);
    let anon = app.client();
    assert_eq!(anon.get(&first).await.status(), StatusCode::NOT_FOUND);
    assert_eq!(anon.get(&second).await.status(), StatusCode::OK);
    assert_eq!(audited(&mut conn, "invite_resend", eva).await, 1);

    // A deactivated user's link stops working.
    admin
        .post_with_token(&page, &format!("{page}/deactivate"), &[])
        .await;
    assert_eq!(anon.get(&second).await.status(), StatusCode::NOT_FOUND);
    let r = admin
        .post_with_token(&page, &format!("{page}/resend"), &[])
        .await;
    assert_eq!(r.status(), StatusCode::CONFLICT);
}

#[tokio::test]
async fn a_password_change_ends_the_other_sessions() {
    let app = spawn_app().await;
    let mut conn = app.owner_conn().await;
    let id = user_id(&mut conn, PAEDAGOG).await;
    let here = app.login(PAEDAGOG).await;
    let elsewhere = app.login(PAEDAGOG).await;
    let (status, html) = here.get_text("/account").await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains("Sofie Jensen") && html.contains("Medarbejder ved Børnehaven Solsikken"));

    let change = |current: &'static str, new: &'static str, again: &'static str| {
        let here = &here;
        async move {
            here.post_with_token(
                "/account",
                "/account/password",
                &[
                    ("current_password", current),
                    ("new_password", new),
                    ("new_password_again", again),
                ],
            )
            .await
        }
    };
    let r = change("forkert kode", NEW_PASSWORD, NEW_PASSWORD).await;
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let html = r.text().await.unwrap();
    assert!(html.contains("Den nuværende adgangskode er forkert."));
    assert!(!html.contains("forkert kode"), "passwords are never echoed");
    let r = change(PASSWORD, "kort", "kort").await;
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(r.text().await.unwrap().contains("mindst 12 tegn"));
    let r = change(PASSWORD, NEW_PASSWORD, "noget helt andet her").await;
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(r.text().await.unwrap().contains("ikke ens"));

    let r = change(PASSWORD, NEW_PASSWORD, NEW_PASSWORD).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&r), "/account");
    let (status, html) = here.get_text("/account").await;
    assert_eq!(status, StatusCode::OK, "this browser stays logged in");
    assert!(html.contains("Din adgangskode er skiftet"));
    assert_eq!(
        elsewhere.get("/").await.status(),
        StatusCode::SEE_OTHER,
        "the other session ended"
    );
    assert_eq!(audited(&mut conn, "password_change", id).await, 1);
    let c = app.client();
    assert_eq!(
        c.login(PAEDAGOG, PASSWORD).await.status(),
        StatusCode::UNPROCESSABLE_ENTITY
    );
    assert_eq!(
        c.login(PAEDAGOG, NEW_PASSWORD).await.status(),
        StatusCode::SEE_OTHER
    );
    let details: serde_json::Value = sqlx::query_scalar(
        "SELECT details FROM audit_log WHERE action = 'password_change' AND entity_id = $1",
    )
    .bind(id)
    .fetch_one(&mut conn)
    .await
    .unwrap();
    assert!(!details.to_string().contains(NEW_PASSWORD));

    // The platform operator has an account page too.
    let op = app.login("operator@overgang.test").await;
    let (status, html) = op.get_text("/account").await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains("Platformoperatør"));
}

/// A password is at most 256 characters, counted as characters wherever it is checked. A long
/// Danish one (200 characters, 400 bytes in UTF-8) could be set, but the login and the account
/// page counted bytes and refused it ever after.
#[tokio::test]
async fn a_long_password_with_danish_letters_works_where_it_was_set() {
    let app = spawn_app().await;
    let long: String = "blåbær-æøå-".repeat(20).chars().take(200).collect();
    assert!(long.len() > 256);
    let here = app.login(PAEDAGOG).await;
    let change = |current: &str, new: &str| {
        let fields = [
            ("current_password", current.to_string()),
            ("new_password", new.to_string()),
            ("new_password_again", new.to_string()),
        ];
        let here = &here;
        async move {
            let fields: Vec<(&str, &str)> = fields.iter().map(|(k, v)| (*k, v.as_str())).collect();
            here.post_with_token("/account", "/account/password", &fields)
                .await
                .status()
        }
    };
    assert_eq!(change(PASSWORD, &long).await, StatusCode::SEE_OTHER);
    assert_eq!(
        app.client().login(PAEDAGOG, &long).await.status(),
        StatusCode::SEE_OTHER
    );
    assert_eq!(change(&long, NEW_PASSWORD).await, StatusCode::SEE_OTHER);
    // 257 characters is too long, also to try
    let too_long: String = "æ".repeat(257);
    assert_eq!(
        app.client().login(PAEDAGOG, &too_long).await.status(),
        StatusCode::UNPROCESSABLE_ENTITY
    );
}

async fn forgot(c: &Client, email: &str) -> reqwest::Response {
    c.post_with_token("/password/forgot", "/password/forgot", &[("email", email)])
        .await
}

#[tokio::test]
async fn a_forgotten_password_is_reset_by_a_one_time_link() {
    let app = spawn_app().await;
    let mut conn = app.owner_conn().await;
    let id = user_id(&mut conn, PAEDAGOG).await;
    let (_, login) = app.client().get_text("/login").await;
    assert!(login.contains("href=\"/password/forgot\"") && login.contains("Glemt adgangskode?"));

    // The same answer whether the address exists or not.
    let anon = app.client();
    let unknown = forgot(&anon, "ingen@vejle.dk").await;
    let known = forgot(&anon, "Paedagog@Vejle.Overgang.Test").await;
    assert_eq!(unknown.status(), StatusCode::SEE_OTHER);
    assert_eq!(known.status(), unknown.status());
    assert_eq!(location(&known), location(&unknown));
    let flash = |r: &reqwest::Response| {
        r.headers()
            .get_all(reqwest::header::SET_COOKIE)
            .iter()
            .map(|v| v.to_str().unwrap().to_string())
            .find(|v| v.starts_with("ov_flash="))
            .unwrap()
    };
    assert_eq!(flash(&known), flash(&unknown));
    let (_, html) = anon.get_text("/login").await;
    assert!(html.contains("Hvis adressen findes i Overgang"));
    assert_eq!(count(&mut conn, "SELECT count(*) FROM outbox").await, 1);
    assert_eq!(audited(&mut conn, "password_reset_request", id).await, 1);

    let r = forgot(&anon, "ikke en adresse").await;
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);

    let link = link_in_outbox(&mut conn, PAEDAGOG, "/password/reset/").await;
    let logged_in = app.login(PAEDAGOG).await;
    let (status, html) = anon.get_text(&link).await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains("Vælg ny adgangskode"));
    let r = set_password(&anon, &link, NEW_PASSWORD, "forkert gentaget kode").await;
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let r = set_password(&anon, &link, NEW_PASSWORD, NEW_PASSWORD).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&r), "/login");
    assert_eq!(audited(&mut conn, "password_reset", id).await, 1);
    assert_eq!(
        logged_in.get("/").await.status(),
        StatusCode::SEE_OTHER,
        "every session of the user ended"
    );
    assert_eq!(
        app.client().login(PAEDAGOG, NEW_PASSWORD).await.status(),
        StatusCode::SEE_OTHER
    );

    let (_, html) = anon.get_text("/login").await;
    assert!(html.contains("Din nye adgangskode er gemt"));

    // Used links, expired links and made-up links all get the same page.
    let viewer = app.client();
    let (status, used) = viewer.get_text(&link).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let anon2 = app.client();
    let token = anon2.csrf("/login").await;
    let r = anon2
        .post_form(
            &link,
            &[
                ("_csrf", &token),
                ("new_password", "endnu en ny adgangskode"),
                ("new_password_again", "endnu en ny adgangskode"),
            ],
        )
        .await;
    assert_eq!(
        r.status(),
        StatusCode::NOT_FOUND,
        "a used link cannot set a password"
    );

    forgot(&anon, PAEDAGOG).await;
    let expired = link_in_outbox(&mut conn, PAEDAGOG, "/password/reset/").await;
    sqlx::query(
        "UPDATE user_tokens SET created_at = now() - interval '2 hours',
                                expires_at = now() - interval '1 hour'
         WHERE used_at IS NULL",
    )
    .execute(&mut conn)
    .await
    .unwrap();
    let (status, expired_page) = viewer.get_text(&expired).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let r = anon2
        .post_form(
            &expired,
            &[
                ("_csrf", &token),
                ("new_password", "endnu en ny adgangskode"),
                ("new_password_again", "endnu en ny adgangskode"),
            ],
        )
        .await;
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    let (status, made_up) = viewer
        .get_text(&format!("/password/reset/{}", "A".repeat(43)))
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let main = |html: &str| html[html.find("<main").unwrap()..].to_string();
    assert_eq!(main(&used), main(&expired_page));
    assert_eq!(main(&used), main(&made_up));
    assert!(used.contains("Linket virker ikke"));
    // An invitation link is not a reset link.
    let (status, _) = viewer
        .get_text(&expired.replace("/password/reset/", "/invitation/"))
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(
        app.client().login(PAEDAGOG, NEW_PASSWORD).await.status(),
        StatusCode::SEE_OTHER,
        "the password from the used link is still the one"
    );
}

#[tokio::test]
async fn reset_requests_are_throttled_per_address() {
    let app = spawn_app().await;
    let mut conn = app.owner_conn().await;
    let anon = app.client();
    for _ in 0..5 {
        let r = forgot(&anon, LAERER).await;
        assert_eq!(
            r.status(),
            StatusCode::SEE_OTHER,
            "the answer never changes"
        );
    }
    assert_eq!(
        count(&mut conn, "SELECT count(*) FROM outbox").await,
        3,
        "no more than three mails an hour to one address"
    );
    let tokens: i64 = count(
        &mut conn,
        "SELECT count(*) FROM user_tokens WHERE used_at IS NULL",
    )
    .await;
    assert_eq!(tokens, 1, "only the newest link works");

    // Asked ten times at once for another address: still three mails.
    let token = anon.csrf("/password/forgot").await;
    let fields = [("_csrf", token.as_str()), ("email", PAEDAGOG)];
    let asks = (0..10).map(|_| anon.post_form("/password/forgot", &fields));
    for r in futures_util::future::join_all(asks).await {
        assert_eq!(r.status(), StatusCode::SEE_OTHER);
    }
    assert_eq!(
        count(
            &mut conn,
            &format!("SELECT count(*) FROM outbox WHERE to_address = '{PAEDAGOG}'")
        )
        .await,
        3,
        "ten asks at once"
    );
    assert_eq!(
        count(
            &mut conn,
            &format!(
                "SELECT count(*) FROM user_tokens t JOIN users u ON u.id = t.user_id
                 WHERE u.email = '{PAEDAGOG}' AND t.used_at IS NULL"
            )
        )
        .await,
        1,
        "only the newest link works, also when asked at once"
    );
}

#[tokio::test]
async fn another_municipalitys_users_are_not_found() {
    let app = spawn_app().await;
    let mut conn = app.owner_conn().await;
    let vejle_user = user_id(&mut conn, PAEDAGOG).await;
    let skole = institution_id(&mut conn, "Bakkeskolen").await;
    let stevns = app.login("admin@stevns.overgang.test").await;
    let page = format!("/users/{vejle_user}");
    assert_eq!(stevns.get(&page).await.status(), StatusCode::NOT_FOUND);
    for (path, fields) in [
        (format!("{page}/deactivate"), vec![]),
        (format!("{page}/resend"), vec![]),
        (
            format!("{page}/roles"),
            vec![("role", "staff"), ("institution", skole.as_str())],
        ),
    ] {
        let r = stevns.post_with_token("/users", &path, &fields).await;
        assert_eq!(r.status(), StatusCode::NOT_FOUND, "{path}");
    }
    assert_eq!(
        stevns.get("/users/not-a-uuid").await.status(),
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        count(
            &mut conn,
            &format!("SELECT count(*) FROM users WHERE id = '{vejle_user}' AND is_active")
        )
        .await,
        1
    );
    assert_eq!(
        count(
            &mut conn,
            &format!("SELECT count(*) FROM role_assignments WHERE user_id = '{vejle_user}'")
        )
        .await,
        1
    );
}

#[tokio::test]
async fn posts_without_a_csrf_token_change_nothing() {
    let app = spawn_app().await;
    let mut conn = app.owner_conn().await;
    let solsikken = institution_id(&mut conn, "Børnehaven Solsikken").await;
    let paedagog = user_id(&mut conn, PAEDAGOG).await;
    let admin = app.login(ADMIN).await;
    let r = admin
        .post_form(
            "/users/invite",
            &[
                ("name", "Uden Token"),
                ("email", "uden@vejle.dk"),
                ("role", "staff"),
                ("institution", &solsikken),
            ],
        )
        .await;
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    let r = admin
        .post_form(&format!("/users/{paedagog}/deactivate"), &[])
        .await;
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    let r = admin
        .post_form(
            "/account/password",
            &[
                ("current_password", PASSWORD),
                ("new_password", NEW_PASSWORD),
                ("new_password_again", NEW_PASSWORD),
            ],
        )
        .await;
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    let anon = app.client();
    anon.get("/password/forgot").await;
    let r = anon
        .post_form("/password/forgot", &[("email", PAEDAGOG)])
        .await;
    assert_eq!(r.status(), StatusCode::FORBIDDEN);

    assert_eq!(
        count(
            &mut conn,
            "SELECT count(*) FROM users WHERE email = 'uden@vejle.dk'"
        )
        .await,
        0
    );
    assert_eq!(
        count(
            &mut conn,
            &format!("SELECT count(*) FROM users WHERE id = '{paedagog}' AND is_active")
        )
        .await,
        1
    );
    assert_eq!(count(&mut conn, "SELECT count(*) FROM outbox").await, 0);
    assert_eq!(
        app.client().login(ADMIN, PASSWORD).await.status(),
        StatusCode::SEE_OTHER,
        "the password did not change"
    );
}

// ---------------------------------------------------------------------------------------------
// The outbox and its delivery

/// Records what it is asked to deliver; fails while `fail` is set.
#[derive(Default)]
struct Recorder {
    sent: Mutex<Vec<(String, String)>>,
    fail: Option<bool>,
}

impl Deliver for Recorder {
    async fn deliver(&self, to: &str, subject: &str, _body: &str) -> Result<(), DeliveryError> {
        match self.fail {
            Some(permanent) => Err(DeliveryError {
                message: "550 nej tak".into(),
                permanent,
            }),
            None => {
                self.sent
                    .lock()
                    .unwrap()
                    .push((to.to_string(), subject.to_string()));
                Ok(())
            }
        }
    }
}

async fn enqueue(app: &TestApp, municipality: Option<Uuid>, to: &str) {
    let scope = municipality
        .map(Scope::Municipality)
        .unwrap_or(Scope::Platform);
    let mut tx = db::begin(&app.db, scope).await.unwrap();
    mail::enqueue(&mut tx, municipality, to, "Emne", "Brødtekst")
        .await
        .unwrap();
    tx.commit().await.unwrap();
}

#[tokio::test]
async fn the_delivery_task_sends_every_municipalitys_mail_once() {
    let app = spawn_app().await;
    let vejle = app.municipality_id("0630").await;
    let stevns = app.municipality_id("0336").await;
    enqueue(&app, Some(vejle), "a@vejle.dk").await;
    enqueue(&app, Some(stevns), "b@stevns.dk").await;
    enqueue(&app, None, "operator@overgang.test").await;

    // A municipality sees its own mail only.
    let mut tx = db::begin(&app.db, Scope::Municipality(vejle))
        .await
        .unwrap();
    let seen: Vec<String> = sqlx::query_scalar("SELECT to_address FROM outbox")
        .fetch_all(&mut *tx)
        .await
        .unwrap();
    assert_eq!(seen, ["a@vejle.dk"]);
    drop(tx);
    // …and cannot write mail for another.
    let mut tx = db::begin(&app.db, Scope::Municipality(vejle))
        .await
        .unwrap();
    assert!(mail::enqueue(&mut tx, Some(stevns), "x@y.dk", "s", "b")
        .await
        .is_err());
    drop(tx);

    let recorder = Recorder::default();
    assert_eq!(mail::deliver_due(&app.db, &recorder).await.unwrap(), 3);
    assert_eq!(mail::deliver_due(&app.db, &recorder).await.unwrap(), 0);
    let mut sent: Vec<String> = recorder
        .sent
        .lock()
        .unwrap()
        .iter()
        .map(|(to, _)| to.clone())
        .collect();
    sent.sort();
    assert_eq!(
        sent,
        ["a@vejle.dk", "b@stevns.dk", "operator@overgang.test"]
    );
    let mut conn = app.owner_conn().await;
    assert_eq!(
        count(
            &mut conn,
            "SELECT count(*) FROM outbox WHERE sent_at IS NOT NULL AND next_attempt_at IS NULL
                                            AND attempts = 1 AND body = ''"
        )
        .await,
        3,
        "sent, and the body (which may hold a one-time link) is gone"
    );
}

#[tokio::test]
async fn failed_deliveries_are_retried_with_backoff_then_given_up() {
    let app = spawn_app().await;
    let vejle = app.municipality_id("0630").await;
    let mut conn = app.owner_conn().await;
    enqueue(&app, Some(vejle), "a@vejle.dk").await;

    let transient = Recorder {
        fail: Some(false),
        ..Default::default()
    };
    assert_eq!(mail::deliver_due(&app.db, &transient).await.unwrap(), 1);
    let (attempts, wait, error): (i32, f64, Option<String>) = sqlx::query_as(
        "SELECT attempts, extract(epoch FROM next_attempt_at - now())::float8, last_error FROM outbox",
    )
    .fetch_one(&mut conn)
    .await
    .unwrap();
    assert_eq!(attempts, 1);
    assert!(
        (20.0..=31.0).contains(&wait),
        "first retry after ~30 s: {wait}"
    );
    assert_eq!(error.as_deref(), Some("550 nej tak"));
    assert_eq!(
        count(
            &mut conn,
            "SELECT count(*) FROM outbox WHERE body = 'Brødtekst'"
        )
        .await,
        1,
        "kept for the next attempt"
    );
    assert_eq!(
        mail::deliver_due(&app.db, &transient).await.unwrap(),
        0,
        "not due yet"
    );

    // Make it due again a few times: the wait doubles, and after the last attempt it stops.
    for attempt in 2..=mail::MAX_ATTEMPTS {
        sqlx::query("UPDATE outbox SET next_attempt_at = now() - interval '1 second'")
            .execute(&mut conn)
            .await
            .unwrap();
        assert_eq!(mail::deliver_due(&app.db, &transient).await.unwrap(), 1);
        if attempt == 2 {
            let wait: f64 = sqlx::query_scalar(
                "SELECT extract(epoch FROM next_attempt_at - now())::float8 FROM outbox",
            )
            .fetch_one(&mut conn)
            .await
            .unwrap();
            assert!(
                (50.0..=61.0).contains(&wait),
                "second retry after ~60 s: {wait}"
            );
        }
    }
    let (attempts, given_up): (i32, bool) = sqlx::query_as(
        "SELECT attempts, next_attempt_at IS NULL AND sent_at IS NULL AND body = '' FROM outbox",
    )
    .fetch_one(&mut conn)
    .await
    .unwrap();
    assert_eq!(attempts, mail::MAX_ATTEMPTS);
    assert!(given_up);

    // A permanent refusal (5xx) is not retried at all.
    enqueue(&app, Some(vejle), "b@vejle.dk").await;
    let permanent = Recorder {
        fail: Some(true),
        ..Default::default()
    };
    assert_eq!(mail::deliver_due(&app.db, &permanent).await.unwrap(), 1);
    let given_up: bool = sqlx::query_scalar(
        "SELECT next_attempt_at IS NULL FROM outbox WHERE to_address = 'b@vejle.dk'",
    )
    .fetch_one(&mut conn)
    .await
    .unwrap();
    assert!(given_up);
}

/// Two administrators who take each other's rights away at the same moment (a role removed or
/// an account deactivated) do not leave the municipality without one: the first change holds,
/// the second is refused because its actor is no longer an administrator.
#[tokio::test]
async fn two_administrators_taking_each_others_rights_at_once_leave_one() {
    let app = spawn_app().await;
    let mut conn = app.owner_conn().await;
    let ids = [
        user_id(&mut conn, ADMIN).await,
        user_id(&mut conn, LEADER).await,
    ];
    let administrators = "SELECT count(DISTINCT u.id) FROM users u
                          JOIN role_assignments r ON r.user_id = u.id
                          JOIN municipalities m ON m.id = u.municipality_id
                          WHERE m.code = '0630' AND u.is_active AND r.role = 'municipal_admin'";
    for take in ["role", "account"] {
        // Both active administrators again.
        sqlx::query("UPDATE users SET is_active = true WHERE id = ANY($1)")
            .bind(&ids[..])
            .execute(&mut conn)
            .await
            .unwrap();
        sqlx::query(
            "INSERT INTO role_assignments (municipality_id, user_id, role)
             SELECT municipality_id, id, 'municipal_admin' FROM users u
             WHERE id = ANY($1) AND NOT EXISTS (SELECT 1 FROM role_assignments r
                                                WHERE r.user_id = u.id AND r.role = 'municipal_admin')",
        )
        .bind(&ids[..])
        .execute(&mut conn)
        .await
        .unwrap();
        assert_eq!(count(&mut conn, administrators).await, 2);
        let clients = [app.login(ADMIN).await, app.login(LEADER).await];
        // Each takes the other's.
        let mut posts = Vec::new();
        for (me, other) in [(0, 1), (1, 0)] {
            let page = format!("/users/{}", ids[other]);
            let path = if take == "role" {
                let assignment: Uuid = sqlx::query_scalar(
                    "SELECT id FROM role_assignments WHERE user_id = $1 AND role = 'municipal_admin'",
                )
                .bind(ids[other])
                .fetch_one(&mut conn)
                .await
                .unwrap();
                format!("{page}/roles/{assignment}/remove")
            } else {
                format!("{page}/deactivate")
            };
            let token = clients[me].csrf(&page).await;
            posts.push((&clients[me], path, token));
        }
        let answers = futures_util::future::join_all(posts.iter().map(|(c, path, token)| async {
            c.post_form(path, &[("_csrf", token)]).await.status()
        }))
        .await;
        // The second is refused (403), or, when the first has ended its session before it
        // began, sent to the login page (303).
        assert!(
            answers
                .iter()
                .all(|s| [StatusCode::SEE_OTHER, StatusCode::FORBIDDEN].contains(s)),
            "{take}: {answers:?}"
        );
        assert_eq!(
            count(&mut conn, administrators).await,
            1,
            "{take}: {answers:?}"
        );
    }
}

/// A reset or a new invitation asked for while the user is being deactivated (the deactivation
/// holds the user's tokens lock and withdraws them, the request waits for it) leaves no link
/// that works: the request sees the deactivation once it has the lock.
#[tokio::test]
async fn no_link_is_issued_to_a_user_being_deactivated() {
    let app = spawn_app().await;
    let mut conn = app.owner_conn().await;
    let admin = app.login(ADMIN).await;
    invite(&admin, "Eva Ny", "eva@vejle.dk", "analyst", "").await;
    let eva = user_id(&mut conn, "eva@vejle.dk").await;
    let paedagog = user_id(&mut conn, PAEDAGOG).await;
    let usable = |user: Uuid| {
        format!("SELECT count(*) FROM user_tokens WHERE user_id = '{user}' AND used_at IS NULL")
    };
    // What `deactivate` does, up to its commit: the account, then its tokens under their lock.
    let deactivation = |user: Uuid| {
        (
            format!(
                "SELECT 1 FROM users WHERE id = '{user}' FOR UPDATE;
                 SELECT pg_advisory_xact_lock({}, hashtext('{user}'))",
                overgang::db::Lock::UserTokens as i32
            ),
            format!(
                "UPDATE users SET is_active = false WHERE id = '{user}';
                 DELETE FROM user_tokens WHERE user_id = '{user}' AND used_at IS NULL"
            ),
        )
    };

    let anon = app.client();
    let token = anon.csrf("/password/forgot").await;
    let (lock, change) = deactivation(paedagog);
    let status = app
        .during(&lock, &change, async {
            anon.post_form(
                "/password/forgot",
                &[("_csrf", token.as_str()), ("email", PAEDAGOG)],
            )
            .await
            .status()
        })
        .await;
    assert_eq!(
        status,
        StatusCode::SEE_OTHER,
        "the same answer as for anybody"
    );
    assert_eq!(count(&mut conn, &usable(paedagog)).await, 0);

    let page = format!("/users/{eva}");
    let token = admin.csrf(&page).await;
    let (lock, change) = deactivation(eva);
    let status = app
        .during(&lock, &change, async {
            admin
                .post_form(&format!("{page}/resend"), &[("_csrf", token.as_str())])
                .await
                .status()
        })
        .await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert_eq!(count(&mut conn, &usable(eva)).await, 0);
}

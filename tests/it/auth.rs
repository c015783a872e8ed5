use reqwest::{header, StatusCode};
use sqlx::Row;

use crate::common::{how_many, location, spawn_app, PASSWORD};

#[tokio::test]
async fn login_lands_on_the_dashboard_and_logout_ends_the_session() {
    let app = spawn_app().await;
    let c = app.client();
    let (status, _) = c.get_text("/").await;
    assert_eq!(
        status,
        StatusCode::SEE_OTHER,
        "anonymous visitors are sent to the login page"
    );

    let r = c.login("paedagog@vejle.overgang.test", PASSWORD).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&r), "/");
    let cookie = r
        .headers()
        .get(header::SET_COOKIE)
        .unwrap()
        .to_str()
        .unwrap()
        .to_string();
    assert!(
        cookie.contains("HttpOnly") && cookie.contains("SameSite=Lax"),
        "{cookie}"
    );

    let (status, html) = c.get_text("/").await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains("Velkommen, Sofie Jensen"));
    assert!(
        html.contains("Børnehaven Solsikken"),
        "staff see their institution"
    );

    let token = crate::common::csrf_from(&html);
    let r = c.post_form("/logout", &[("_csrf", &token)]).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&r), "/login");
    let (_, html) = c.get_text("/login").await;
    assert!(
        html.contains("Du er logget ud."),
        "flash message after logout"
    );
    let r = c.get("/").await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER, "the session is gone");

    let mut conn = app.owner_conn().await;
    let n: i64 = sqlx::query_scalar("SELECT count(*) FROM sessions")
        .fetch_one(&mut conn)
        .await
        .unwrap();
    assert_eq!(n, 0);
    let actions: Vec<String> =
        sqlx::query("SELECT action FROM audit_log WHERE entity_type = 'session' ORDER BY id")
            .fetch_all(&mut conn)
            .await
            .unwrap()
            .iter()
            .map(|r| r.get(0))
            .collect();
    assert_eq!(actions, ["login", "logout"]);
}

#[tokio::test]
async fn wrong_password_and_unknown_user_get_the_same_answer() {
    let app = spawn_app().await;
    let c = app.client();
    let wrong = c
        .login("paedagog@vejle.overgang.test", "not the password")
        .await;
    assert_eq!(wrong.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let wrong = wrong.text().await.unwrap();
    let unknown = c
        .login("nobody@vejle.overgang.test", "not the password")
        .await;
    assert_eq!(unknown.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let unknown = unknown.text().await.unwrap();
    assert!(wrong.contains("Forkert e-mail eller adgangskode."));
    assert!(unknown.contains("Forkert e-mail eller adgangskode."));
    assert!(
        !wrong.contains("not the password"),
        "the password is never echoed"
    );
    assert!(c.get("/").await.status() == StatusCode::SEE_OTHER);
}

#[tokio::test]
async fn session_is_rotated_on_login() {
    let app = spawn_app().await;
    let c = app.login("laerer@vejle.overgang.test").await;
    let first = sqlx::query_scalar::<_, Vec<u8>>("SELECT id FROM sessions")
        .fetch_one(&app.db)
        .await
        .unwrap();
    // Logged in, /login redirects; a login posted with the session's token still rotates.
    assert_eq!(c.get("/login").await.status(), StatusCode::SEE_OTHER);
    let token = c.csrf("/").await;
    let r = c
        .post_form(
            "/login",
            &[
                ("_csrf", &token),
                ("email", "laerer@vejle.overgang.test"),
                ("password", PASSWORD),
            ],
        )
        .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let ids: Vec<Vec<u8>> = sqlx::query_scalar("SELECT id FROM sessions")
        .fetch_all(&app.db)
        .await
        .unwrap();
    assert_eq!(ids.len(), 1, "the old session was deleted");
    assert_ne!(ids[0], first, "a new session id was issued");
}

#[tokio::test]
async fn repeated_failures_lock_the_account_even_for_the_right_password() {
    let app = spawn_app().await;
    let c = app.client();
    for _ in 0..5 {
        assert_eq!(
            c.login("admin@stevns.overgang.test", "guess")
                .await
                .status(),
            StatusCode::UNPROCESSABLE_ENTITY
        );
    }
    let r = c.login("admin@stevns.overgang.test", PASSWORD).await;
    assert_eq!(r.status(), StatusCode::TOO_MANY_REQUESTS);
    assert!(r.text().await.unwrap().contains("for mange forsøg"));
    // Unknown addresses lock the same way, so a lockout reveals nothing about accounts.
    for _ in 0..5 {
        c.login("ghost@stevns.overgang.test", "guess").await;
    }
    assert_eq!(
        c.login("ghost@stevns.overgang.test", "guess")
            .await
            .status(),
        StatusCode::TOO_MANY_REQUESTS
    );
    // Other accounts are unaffected.
    assert_eq!(
        c.login("admin@vejle.overgang.test", PASSWORD)
            .await
            .status(),
        StatusCode::SEE_OTHER
    );
    // Failures are audited in the attacked account's municipality.
    let mut conn = app.owner_conn().await;
    let stevns = app.municipality_id("0336").await;
    let n: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM audit_log WHERE action = 'login_failed' AND municipality_id = $1",
    )
    .bind(stevns)
    .fetch_one(&mut conn)
    .await
    .unwrap();
    assert_eq!(n, 5);
}

#[tokio::test]
async fn state_changes_without_a_valid_csrf_token_or_from_another_origin_are_refused() {
    let app = spawn_app().await;
    let c = app.login("admin@vejle.overgang.test").await;
    let token = c.csrf("/").await;

    for fields in [vec![], vec![("_csrf", "wrong")], vec![("_csrf", "")]] {
        let r = c.post_form("/logout", &fields).await;
        assert_eq!(r.status(), StatusCode::FORBIDDEN);
        assert!(r
            .text()
            .await
            .unwrap()
            .contains("Sikkerhedstjekket fejlede"));
    }
    let r = c
        .http
        .post(c.url("/logout"))
        .header(header::ORIGIN, "https://evil.example")
        .form(&[("_csrf", token.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    assert_eq!(
        c.get("/").await.status(),
        StatusCode::OK,
        "still logged in: nothing changed"
    );

    // The login form is protected too (anonymous double-submit token).
    let anon = app.client();
    let r = anon
        .post_form(
            "/login",
            &[
                ("email", "admin@vejle.overgang.test"),
                ("password", PASSWORD),
            ],
        )
        .await;
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    let r = anon
        .http
        .post(anon.url("/logout"))
        .header(header::CONTENT_TYPE, "application/json")
        .body("{}")
        .send()
        .await
        .unwrap();
    assert!(r.status().is_client_error());
}

#[tokio::test]
async fn login_only_redirects_to_local_paths() {
    let app = spawn_app().await;
    for (next, expected) in [
        ("/institutions", "/institutions"),
        ("//evil.example/x", "/"),
        ("https://evil.example", "/"),
    ] {
        let c = app.client();
        let token = c
            .csrf(&format!("/login?next={}", overgang::web::urlencode(next)))
            .await;
        let r = c
            .post_form(
                "/login",
                &[
                    ("_csrf", &token),
                    ("email", "admin@vejle.overgang.test"),
                    ("password", PASSWORD),
                    ("next", next),
                ],
            )
            .await;
        assert_eq!(location(&r), expected, "next={next}");
    }
    let r = app.client().get("/platform/municipalities?x=1").await;
    assert_eq!(location(&r), "/login?next=/platform/municipalities%3Fx%3D1");
}

#[tokio::test]
async fn deactivated_users_lose_their_session() {
    let app = spawn_app().await;
    let c = app.login("leder@vejle.overgang.test").await;
    let mut conn = app.owner_conn().await;
    sqlx::query("UPDATE users SET is_active = false WHERE email = 'leder@vejle.overgang.test'")
        .execute(&mut conn)
        .await
        .unwrap();
    assert_eq!(c.get("/").await.status(), StatusCode::SEE_OTHER);
    assert_eq!(
        c.login("leder@vejle.overgang.test", PASSWORD)
            .await
            .status(),
        StatusCode::UNPROCESSABLE_ENTITY
    );
}

/// Runs `sql` on the owner's connection (past row-level security).
async fn run(conn: &mut sqlx::PgConnection, sql: &str) {
    sqlx::query(sql).execute(conn).await.unwrap();
}

/// The app keeps sessions in memory between requests (`SessionCache`) and confirms them with
/// `session_check` in the request's first round trip. Every change to what it keeps must show on
/// the very next request, and failed checks must leave the pool's connections usable (the test
/// pool has 5; this fails the check more often than that).
#[tokio::test]
async fn cached_sessions_follow_every_change_at_once() {
    let app = spawn_app().await;
    let c = app.login("paedagog@vejle.overgang.test").await;
    let mut conn = app.owner_conn().await;
    for _ in 0..3 {
        assert_eq!(c.get_text("/children").await.0, StatusCode::OK);
    }

    for round in 0..8 {
        let name = format!("Omdøbt Pædagog {round}");
        let rename = format!(
            "UPDATE users SET name = '{name}' WHERE email = 'paedagog@vejle.overgang.test'"
        );
        run(&mut conn, &rename).await;
        let (status, html) = c.get_text("/children").await;
        assert_eq!(status, StatusCode::OK, "round {round}");
        assert!(html.contains(&name), "round {round}: the new name is shown");
        let (status, html) = c.get_text("/children").await;
        assert_eq!(status, StatusCode::OK);
        assert!(html.contains(&name), "and kept while nothing changes");
    }

    // A renamed institution is shown under its new name in the role.
    run(
        &mut conn,
        "UPDATE institutions SET name = 'Børnehaven Solstrålen' WHERE name = 'Børnehaven Solsikken'",
    )
    .await;
    let (_, html) = c.get_text("/children").await;
    assert!(html.contains("Solstrålen") && !html.contains("Solsikken"));

    // A revoked role takes effect on the next request.
    run(
        &mut conn,
        "DELETE FROM role_assignments WHERE user_id =
           (SELECT id FROM users WHERE email = 'paedagog@vejle.overgang.test')",
    )
    .await;
    assert_eq!(c.get_text("/children").await.0, StatusCode::FORBIDDEN);

    // A session ended elsewhere (another app instance, an administrator) is over here too.
    let other = app.login("leder@vejle.overgang.test").await;
    assert_eq!(other.get_text("/children").await.0, StatusCode::OK);
    assert_eq!(other.get_text("/children").await.0, StatusCode::OK);
    run(
        &mut conn,
        "DELETE FROM sessions WHERE user_id =
           (SELECT id FROM users WHERE email = 'leder@vejle.overgang.test')",
    )
    .await;
    let r = other.get("/children").await;
    assert_eq!(location(&r), "/login?next=/children");
    // … and the login page no longer takes the visitor for logged in.
    assert_eq!(other.get_text("/login").await.0, StatusCode::OK);
}

/// The check keeps `last_seen_at` fresh within a minute, and an idle session ends.
#[tokio::test]
async fn cached_sessions_keep_the_idle_expiry() {
    let app = spawn_app().await;
    let c = app.login("paedagog@vejle.overgang.test").await;
    let mut conn = app.owner_conn().await;
    assert_eq!(c.get_text("/children").await.0, StatusCode::OK);
    run(
        &mut conn,
        "UPDATE sessions SET last_seen_at = now() - interval '2 minutes'",
    )
    .await;
    assert_eq!(c.get_text("/children").await.0, StatusCode::OK);
    let fresh: bool = sqlx::query_scalar(
        "SELECT bool_and(last_seen_at > now() - interval '10 seconds') FROM sessions",
    )
    .fetch_one(&mut conn)
    .await
    .unwrap();
    assert!(fresh, "the cached request touched the session");

    run(
        &mut conn,
        "UPDATE sessions SET last_seen_at = now() - interval '5 hours'",
    )
    .await;
    let r = c.get("/children").await;
    assert_eq!(location(&r), "/login?next=/children");
}

/// `session_check` itself, as the app's role calls it: only the current epoch and today's date
/// pass.
#[tokio::test]
async fn session_check_refuses_a_stale_epoch_or_day() {
    let app = spawn_app().await;
    let c = app.login("paedagog@vejle.overgang.test").await;
    assert_eq!(c.get_text("/children").await.0, StatusCode::OK);
    let mut conn = app.owner_conn().await;
    let (id, epoch): (Vec<u8>, i64) =
        sqlx::query_as("SELECT s.id, e.epoch FROM sessions s, auth_epoch e")
            .fetch_one(&mut conn)
            .await
            .unwrap();
    run(&mut conn, "SET ROLE overgang_app").await;
    let check = |epoch: i64, day: i32| {
        sqlx::query("SELECT session_check($1, 3600, $2, current_date + $3)")
            .bind(id.clone())
            .bind(epoch)
            .bind(day)
    };
    check(epoch, 0).execute(&mut conn).await.unwrap();
    for (e, day) in [(epoch - 1, 0), (epoch + 1, 0), (epoch, -1), (epoch, 1)] {
        let err = check(e, day).execute(&mut conn).await.unwrap_err();
        assert!(
            overgang::auth::session::needs_reload(&err),
            "{e} {day}: {err}"
        );
    }
}

#[tokio::test]
async fn a_login_while_the_password_checks_are_full_is_refused_and_counts_as_no_attempt() {
    use overgang::auth::password::{Busy, Gate, BUSY};
    let (mut state, owner) = crate::common::state().await;
    // One check at a time and none waiting, and another check holds that one place.
    let gate = std::sync::Arc::new(Gate::new(1, 0));
    state.passwords = gate.clone();
    let app = crate::common::serve(state, owner).await;
    let (release, held) = std::sync::mpsc::channel::<()>();
    let (started, running) = tokio::sync::oneshot::channel::<()>();
    let other = {
        let gate = gate.clone();
        tokio::spawn(async move {
            gate.run(move || {
                started.send(()).unwrap();
                held.recv()
            })
            .await
        })
    };
    running.await.expect("the other check runs");
    assert!(
        matches!(gate.run(|| ()).await, Err(Busy)),
        "the gate is full"
    );

    let c = app.client();
    let r = c.login("paedagog@vejle.overgang.test", PASSWORD).await;
    assert_eq!(r.status(), StatusCode::TOO_MANY_REQUESTS);
    let html = r.text().await.unwrap();
    assert!(html.contains(BUSY), "{html}");
    assert!(
        html.contains("value=\"paedagog@vejle.overgang.test\""),
        "the e-mail stays in the form"
    );
    let mut conn = app.owner_conn().await;
    let count = |sql: &'static str| sqlx::query_scalar::<_, i64>(sql);
    for sql in [
        "SELECT count(*) FROM sessions",
        "SELECT count(*) FROM login_throttle",
        "SELECT count(*) FROM audit_log WHERE action IN ('login', 'login_failed')",
    ] {
        assert_eq!(count(sql).fetch_one(&mut conn).await.unwrap(), 0, "{sql}");
    }

    // Once the other check is done, the same login goes through.
    release.send(()).unwrap();
    other.await.unwrap().unwrap().unwrap();
    let r = c.login("paedagog@vejle.overgang.test", PASSWORD).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
}

/// Wrong passwords for one address posted at once are checked no more often than one after
/// the other: five are checked, the rest get the lockout, and then so does the right password.
/// Before, each attempt passed the lock before the first failure was counted: 40 wrong
/// passwords at once were all checked, against a limit of five.
#[tokio::test]
async fn wrong_passwords_sent_at_once_are_checked_only_up_to_the_limit() {
    let app = spawn_app().await;
    let guesses = (0..20).map(|i| {
        let c = app.client();
        async move {
            c.login("admin@stevns.overgang.test", &format!("guess-{i}"))
                .await
                .status()
        }
    });
    let answers = futures_util::future::join_all(guesses).await;
    let checked = how_many(&answers, StatusCode::UNPROCESSABLE_ENTITY);
    let locked = how_many(&answers, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!((checked, locked), (5, 15), "{answers:?}");
    assert_eq!(
        app.client()
            .login("admin@stevns.overgang.test", PASSWORD)
            .await
            .status(),
        StatusCode::TOO_MANY_REQUESTS
    );
    // A right password elsewhere from the same client is not held against it.
    let mut conn = app.owner_conn().await;
    let client_count = || {
        sqlx::query_scalar::<_, i32>(
            "SELECT coalesce(sum(failures), 0)::int FROM login_throttle WHERE key LIKE 'client:%'",
        )
    };
    let before = client_count().fetch_one(&mut conn).await.unwrap();
    assert_eq!(
        app.client()
            .login("admin@vejle.overgang.test", PASSWORD)
            .await
            .status(),
        StatusCode::SEE_OTHER
    );
    assert_eq!(client_count().fetch_one(&mut conn).await.unwrap(), before);
}

/// Behind a trusted proxy (`OVERGANG_TRUSTED_PROXIES`), the client is the address the proxy
/// names in `X-Forwarded-For`: the lockout counts each client's failures apart, and a session
/// records where it was opened. Without it, every client behind the proxy had the proxy's
/// address, and 50 wrong passwords from anyone locked the login for everybody.
#[tokio::test]
async fn behind_a_trusted_proxy_each_client_is_counted_apart() {
    let mut config = crate::common::test_config();
    config.trusted_proxies = vec!["127.0.0.1".parse().unwrap()];
    let app = crate::common::spawn_app_with(config).await;
    let via = |client: &str| {
        let mut headers = header::HeaderMap::new();
        headers.insert("x-forwarded-for", client.parse().unwrap());
        app.client_with_headers(headers)
    };
    let r = via("198.51.100.7")
        .login("admin@stevns.overgang.test", "guess")
        .await;
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let r = via("203.0.113.9")
        .login("paedagog@vejle.overgang.test", PASSWORD)
        .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let mut conn = app.owner_conn().await;
    let keys: Vec<String> =
        sqlx::query_scalar("SELECT key FROM login_throttle WHERE key LIKE 'client:%'")
            .fetch_all(&mut conn)
            .await
            .unwrap();
    assert_eq!(keys, ["client:198.51.100.7"]);
    let opened: String = sqlx::query_scalar("SELECT host(client_addr) FROM sessions")
        .fetch_one(&mut conn)
        .await
        .unwrap();
    assert_eq!(opened, "203.0.113.9");
}

/// Under HTTPS every cookie is `Secure`, the flash message's too (it can name a guardian or an
/// invited user); before, the flash cookie never was.
#[tokio::test]
async fn the_flash_cookie_is_secure_when_the_others_are() {
    let config = overgang::config::Config::from_lookup(|k| {
        (k == "OVERGANG_SECURE_COOKIES").then(|| "true".to_string())
    })
    .unwrap();
    let app = crate::common::spawn_app_with(config).await;
    // By hand: the client keeps no Secure cookie over plain HTTP.
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let url = format!("http://{}/password/forgot", app.addr);
    let r = http.get(&url).send().await.unwrap();
    let csrf_cookie = r
        .headers()
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap().to_string())
        .find(|c| c.starts_with("__Host-ov_csrf="))
        .expect("the anonymous CSRF cookie");
    let pair = csrf_cookie.split(';').next().unwrap().to_string();
    let token = crate::common::csrf_from(&r.text().await.unwrap());
    let r = http
        .post(&url)
        .header("cookie", &pair)
        .form(&[("_csrf", token.as_str()), ("email", "nogen@example.dk")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let cookies: Vec<String> = r
        .headers()
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap().to_string())
        .collect();
    let flash = cookies
        .iter()
        .find(|c| c.starts_with("ov_flash="))
        .unwrap_or_else(|| panic!("a flash cookie in {cookies:?}"));
    assert!(flash.ends_with("; Secure"), "{flash}");
}

/// A page that answers a form with errors says so first in its title (WCAG 2.4.2, 3.3.1),
/// in the page's language; other pages do not.
#[tokio::test]
async fn a_page_with_errors_starts_its_title_with_fejl() {
    let app = spawn_app().await;
    let c = app.client();
    let title = |html: &str| {
        let start = html.find("<title").unwrap();
        let start = start + html[start..].find('>').unwrap() + 1;
        html[start..start + html[start..].find("</title>").unwrap()].to_string()
    };
    let (_, html) = c.get_text("/login").await;
    assert!(!title(&html).starts_with("Fejl"), "{}", title(&html));
    let r = c
        .login("paedagog@vejle.overgang.test", "forkert-kodeord")
        .await;
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let html = r.text().await.unwrap();
    assert!(title(&html).starts_with("Fejl: "), "{}", title(&html));
    let staff = app.login("paedagog@vejle.overgang.test").await;
    let r = staff
        .post_with_token("/children/new", "/children", &[("first_name", "")])
        .await;
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let html = r.text().await.unwrap();
    assert!(title(&html).starts_with("Fejl: "), "{}", title(&html));
}

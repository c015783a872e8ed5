//! Handler tests through the router directly (no server).

use axum::{
    body::Body,
    http::{header, Request, StatusCode},
};
use http_body_util::BodyExt;
use tower::ServiceExt;

use crate::common::state;

/// The response as the client receives it: status, headers and the raw bytes.
async fn call_raw(req: Request<Body>) -> (StatusCode, axum::http::HeaderMap, Vec<u8>) {
    let (app_state, _) = state().await;
    let response = overgang::router(app_state).oneshot(req).await.unwrap();
    let status = response.status();
    let headers = response.headers().clone();
    let body = response.into_body().collect().await.unwrap().to_bytes();
    (status, headers, body.to_vec())
}

async fn call(req: Request<Body>) -> (StatusCode, axum::http::HeaderMap, String) {
    let (status, headers, body) = call_raw(req).await;
    (status, headers, String::from_utf8_lossy(&body).to_string())
}

fn get(path: &str) -> Request<Body> {
    Request::get(path).body(Body::empty()).unwrap()
}

#[tokio::test]
async fn unknown_pages_get_a_friendly_danish_404() {
    let (status, headers, body) = call(get("/findes/ikke")).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert!(headers[header::CONTENT_TYPE]
        .to_str()
        .unwrap()
        .starts_with("text/html"));
    assert!(body.contains("Siden findes ikke") && body.contains("lang=\"da\""));
    let (status, _, body) = call(get("/static/findes-ikke.css")).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert!(body.contains("Siden findes ikke"));
}

#[tokio::test]
async fn wrong_methods_get_a_405_page() {
    let req = Request::builder()
        .method("DELETE")
        .uri("/login")
        .body(Body::empty())
        .unwrap();
    let (status, _, body) = call(req).await;
    // The CSRF check runs first for unsafe methods; either way it is a clear 4xx page.
    assert!(
        status == StatusCode::METHOD_NOT_ALLOWED || status == StatusCode::FORBIDDEN,
        "{status}"
    );
    assert!(body.contains("<h1>"));
    let (status, _, body) = call(
        Request::builder()
            .method("PUT")
            .uri("/healthz")
            .body(Body::empty())
            .unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::METHOD_NOT_ALLOWED);
    assert!(body.is_empty() || body.contains("<h1>"));
}

#[tokio::test]
async fn pages_carry_security_headers_and_are_not_cached() {
    let (status, h, _) = call(get("/login")).await;
    assert_eq!(status, StatusCode::OK);
    let csp = h[header::CONTENT_SECURITY_POLICY].to_str().unwrap();
    assert!(csp.contains("default-src 'self'") && csp.contains("frame-ancestors 'none'"));
    assert_eq!(h[header::X_FRAME_OPTIONS], "DENY");
    assert_eq!(h[header::X_CONTENT_TYPE_OPTIONS], "nosniff");
    assert_eq!(h[header::REFERRER_POLICY], "same-origin");
    assert_eq!(h[header::CACHE_CONTROL], "no-store");
    assert!(h[header::SET_COOKIE].to_str().unwrap().contains("HttpOnly"));
}

#[tokio::test]
async fn health_and_static_files_are_served() {
    let (status, _, body) = call(get("/healthz")).await;
    assert_eq!((status, body.as_str()), (StatusCode::OK, "ok"));
    let (status, h, _) = call(get("/static/dkfds/css/dkfds.min.css")).await;
    assert_eq!(status, StatusCode::OK);
    assert!(h[header::CONTENT_TYPE]
        .to_str()
        .unwrap()
        .starts_with("text/css"));
}

#[tokio::test]
async fn oversized_and_malformed_posts_are_refused() {
    let big = format!("_csrf=x&email={}", "a".repeat(600 * 1024));
    let req = Request::post("/login")
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .header(header::COOKIE, "ov_csrf=x")
        .body(Body::from(big))
        .unwrap();
    let (status, _, body) = call(req).await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
    assert!(body.contains("For meget indhold"));

    let token = "A".repeat(43);
    let req = Request::post("/login")
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .header(header::COOKIE, format!("ov_csrf={token}"))
        .body(Body::from(format!("_csrf={token}&email=%FF%FE&password=x")))
        .unwrap();
    let (status, _, body) = call(req).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(body.contains("ugyldige tegn"));
}

/// `body` decoded as its `Content-Encoding` says.
fn decode(encoding: Option<&str>, body: &[u8]) -> Vec<u8> {
    use std::io::Read;
    let mut reader: Box<dyn Read + '_> = match encoding {
        None => Box::new(body),
        Some("zstd") => Box::new(zstd::Decoder::new(body).unwrap()),
        Some("br") => Box::new(brotli::Decompressor::new(body, 4096)),
        Some("gzip") => Box::new(flate2::read::GzDecoder::new(body)),
        Some(other) => panic!("unexpected encoding {other}"),
    };
    let mut out = Vec::new();
    reader.read_to_end(&mut out).unwrap();
    out
}

#[tokio::test]
async fn pages_are_compressed_with_the_best_encoding_the_browser_offers() {
    let page = || Request::get("/findes/ikke");
    let encoding = |headers: &axum::http::HeaderMap| {
        headers
            .get(header::CONTENT_ENCODING)
            .map(|v| v.to_str().unwrap().to_string())
    };
    let (_, headers, plain) = call_raw(page().body(Body::empty()).unwrap()).await;
    assert_eq!(encoding(&headers), None);
    assert!(String::from_utf8(plain.clone())
        .unwrap()
        .contains("Siden findes ikke"));
    for (offered, expected) in [
        // Chrome, Edge and Firefox
        ("gzip, deflate, br, zstd", Some("zstd")),
        // Safari
        ("gzip, deflate, br", Some("br")),
        ("gzip", Some("gzip")),
        ("zstd;q=0, gzip;q=0.5, br;q=0.1", Some("gzip")),
        ("identity", None),
    ] {
        let req = page()
            .header(header::ACCEPT_ENCODING, offered)
            .body(Body::empty())
            .unwrap();
        let (status, headers, body) = call_raw(req).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{offered}");
        assert_eq!(encoding(&headers).as_deref(), expected, "{offered}");
        if expected.is_some() {
            assert!(body.len() < plain.len(), "{offered}: not smaller");
        }
        assert_eq!(decode(expected, &body), plain, "{offered}");
        if expected.is_some() {
            assert_eq!(headers[header::VARY], "accept-encoding", "{offered}");
            assert_eq!(headers[header::CONTENT_LENGTH], body.len().to_string());
        }
    }
}

#[tokio::test]
async fn static_files_are_compressed_too_and_every_answer_decodes_alone() {
    let get = |path: &str, offered: &str, head: bool| {
        let req = if head {
            Request::head(path)
        } else {
            Request::get(path)
        };
        req.header(header::ACCEPT_ENCODING, offered)
            .body(Body::empty())
            .unwrap()
    };
    let (_, _, css) = call_raw(get("/static/app.css", "identity", false)).await;
    let (_, _, svg) = call_raw(get("/static/favicon.svg", "identity", false)).await;
    let (_, _, dkfds) = call_raw(get("/static/dkfds/css/dkfds.min.css", "identity", false)).await;
    // the same thread's compression context serves one answer after another, large and small
    for round in 0..3 {
        for (path, plain) in [
            ("/static/dkfds/css/dkfds.min.css", &dkfds),
            ("/static/app.css", &css),
            ("/static/favicon.svg", &svg),
        ] {
            for offered in ["zstd", "br", "gzip"] {
                let (status, headers, body) = call_raw(get(path, offered, false)).await;
                assert_eq!(status, StatusCode::OK, "{path} {offered} {round}");
                assert_eq!(headers[header::CONTENT_ENCODING], offered);
                assert!(headers.get(header::ACCEPT_RANGES).is_none());
                assert_eq!(&decode(Some(offered), &body), plain, "{path} {offered}");
            }
        }
    }
    // a HEAD answer is not compressed: it has no body to compress
    let (status, headers, body) = call_raw(get("/static/app.css", "zstd", true)).await;
    assert_eq!(status, StatusCode::OK);
    assert!(headers.get(header::CONTENT_ENCODING).is_none());
    assert!(body.is_empty());
    // images other than SVG are already compressed
    let (_, headers, _) =
        call_raw(get("/static/dkfds/img/logo-placeholder.png", "zstd", false)).await;
    assert!(headers.get(header::CONTENT_ENCODING).is_none());
}

#[tokio::test]
async fn connections_that_do_not_finish_their_headers_or_stay_idle_are_closed() {
    use std::time::{Duration, Instant};
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    let (state, owner) = state().await;
    let deadline = Duration::from_millis(500);
    let addr = crate::common::serve_with_deadline(state, owner, deadline)
        .await
        .addr;
    let opened = Instant::now();
    // Half a request, then nothing.
    let mut slow = tokio::net::TcpStream::connect(addr).await.unwrap();
    slow.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")
        .await
        .unwrap();
    // A whole request, answered, and then the connection kept alive with nothing more.
    let mut idle = tokio::net::TcpStream::connect(addr).await.unwrap();
    idle.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .unwrap();
    let mut answer = vec![0; 1024];
    let n = idle.read(&mut answer).await.unwrap();
    assert!(String::from_utf8_lossy(&answer[..n]).starts_with("HTTP/1.1 200"));
    // Meanwhile everyone else is served as usual.
    let r = reqwest::get(format!("http://{addr}/healthz"))
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);

    for (name, stream) in [("half a request", &mut slow), ("idle", &mut idle)] {
        let mut rest = Vec::new();
        let closed = tokio::time::timeout(Duration::from_secs(10), stream.read_to_end(&mut rest));
        assert!(closed.await.is_ok(), "{name}: the server closed it");
        assert!(
            !String::from_utf8_lossy(&rest).contains("200 OK"),
            "{name}: nothing more was answered"
        );
    }
    assert!(opened.elapsed() >= deadline, "not before the deadline");
}

/// A statement that lost a race with another request (a unique key taken meanwhile, a
/// serialization failure, a deadlock) is answered with a 409 page saying nothing was saved,
/// where a handler has no message of its own for it; any other database error stays a 500.
#[tokio::test]
async fn a_lost_race_is_a_conflict_and_other_database_errors_are_not() {
    use axum::response::IntoResponse;
    use overgang::web::AppError;

    let app = crate::common::spawn_app().await;
    let mut conn = app.owner_conn().await;
    for (sql, expected) in [
        (
            "INSERT INTO municipalities (code, name) SELECT code, name FROM municipalities LIMIT 1",
            StatusCode::CONFLICT,
        ),
        (
            "DO $$ BEGIN RAISE EXCEPTION 'x' USING ERRCODE = '40001'; END $$",
            StatusCode::CONFLICT,
        ),
        (
            "DO $$ BEGIN RAISE EXCEPTION 'x' USING ERRCODE = '40P01'; END $$",
            StatusCode::CONFLICT,
        ),
        ("SELECT 1 / 0", StatusCode::INTERNAL_SERVER_ERROR),
    ] {
        let err = sqlx::query(sql).execute(&mut conn).await.unwrap_err();
        let response = AppError::from(err).into_response();
        assert_eq!(response.status(), expected, "{sql}");
    }
}

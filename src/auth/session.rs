//! Server-side sessions, the anonymous CSRF cookie, and the CSRF/Origin check on every
//! state-changing request.

use std::{
    collections::HashMap,
    fmt::Write as _,
    net::{IpAddr, SocketAddr},
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use axum::{
    body::{Body, Bytes},
    extract::{ConnectInfo, Request, State},
    http::{header, HeaderMap, HeaderValue, Method},
    middleware::Next,
    response::{IntoResponse, Response},
};
use base64::{engine::general_purpose::URL_SAFE_NO_PAD, Engine};
use bytes::BytesMut;
use futures_util::StreamExt;
use rand::RngCore;
use sha2::{Digest, Sha256};
use sqlx::{types::Json, PgPool};
use subtle::ConstantTimeEq;
use uuid::Uuid;

use super::user::RoleAssignment;
use crate::{
    state::AppState,
    web::{self, budget::Reservation, AppError, Flash, FLASH_COOKIE},
};

/// Longest urlencoded form body we accept; larger ones get a 413 page.
pub const MAX_FORM_BYTES: usize = 512 * 1024;
/// Largest file upload (CSV imports); larger ones get a 413 page.
pub const MAX_UPLOAD_BYTES: usize = 32 * 1024 * 1024;
const BAD_FORM: &str = "Formularen indeholdt ugyldige tegn. Gå tilbage og prøv igen.";
/// Sessions end after this long without a request…
pub const IDLE_SECS: f64 = 4.0 * 3600.0;
/// …and at the latest this long after login.
pub const ABSOLUTE_SECS: f64 = 12.0 * 3600.0;

#[derive(Clone, Debug)]
pub struct SessionData {
    pub id: Vec<u8>,
    pub user_id: Uuid,
    pub municipality_id: Option<Uuid>,
    pub user: SessionUser,
    /// Today's date in Denmark, as the database's `current_date` (see `db::app_pool`).
    pub today: time::Date,
    /// `Some(epoch)` when this came from the `SessionCache` and the database has not yet
    /// confirmed it in this request: the request's transaction then starts with
    /// `check_expression`, which fails unless the session is still valid, still filed under this
    /// `auth_epoch` and it is still `today`.
    pub unconfirmed: Option<i64>,
}

impl SessionData {
    /// The expression (with a trailing comma) to evaluate before `BEGIN` when the data is
    /// unconfirmed (see `unconfirmed`), or an empty string (`db::begin_checked`). In one simple
    /// query, an error before `BEGIN` rolls everything back and leaves the connection idle, so
    /// a failed check costs nothing but the reload.
    pub fn check_expression(&self) -> String {
        let Some(epoch) = self.unconfirmed else {
            return String::new();
        };
        // Hex digits, an integer and a date print no quote: safe inside the literals.
        let hex = self
            .id
            .iter()
            .fold(String::with_capacity(64), |mut hex, b| {
                let _ = write!(hex, "{b:02x}");
                hex
            });
        format!(
            "session_check('\\x{hex}'::bytea, {IDLE_SECS:?}, {epoch}, '{}'::date), ",
            self.today
        )
    }
}

/// The SQLSTATE of `session_check`: the cached session must be loaded again.
pub const RELOAD_SQLSTATE: &str = "OV401";

/// Whether `error` is `session_check` asking for a reload.
pub fn needs_reload(error: &sqlx::Error) -> bool {
    matches!(error, sqlx::Error::Database(e) if e.code().as_deref() == Some(RELOAD_SQLSTATE))
}

/// How long a cached session is used before it is loaded afresh regardless (it is checked on
/// every request anyway; this bounds what the cache holds for sessions no longer in use).
const CACHE_TTL: Duration = Duration::from_secs(600);
/// Most sessions the cache holds; past this, expired entries go, and if that is not enough,
/// all of them (the next request of each simply loads its session again).
const CACHE_CAPACITY: usize = 20_000;

/// The sessions' users as last loaded by `session_load`, by token hash, so a page need not load
/// them on every request (migration 26). Each use is confirmed by `session_check` in the
/// request's first round trip; a session that fails it is dropped and loaded again.
#[derive(Clone, Default)]
pub struct SessionCache(Arc<Mutex<HashMap<Vec<u8>, Cached>>>);

struct Cached {
    data: SessionData,
    csrf: String,
    loaded: Instant,
}

impl SessionCache {
    fn get(&self, id: &[u8]) -> Option<(SessionData, String)> {
        let map = self.0.lock().unwrap_or_else(|e| e.into_inner());
        let hit = map.get(id).filter(|c| c.loaded.elapsed() < CACHE_TTL)?;
        Some((hit.data.clone(), hit.csrf.clone()))
    }

    fn put(&self, data: &SessionData, csrf: &str) {
        let mut map = self.0.lock().unwrap_or_else(|e| e.into_inner());
        if map.len() >= CACHE_CAPACITY {
            map.retain(|_, c| c.loaded.elapsed() < CACHE_TTL);
            if map.len() >= CACHE_CAPACITY {
                map.clear();
            }
        }
        map.insert(
            data.id.clone(),
            Cached {
                data: data.clone(),
                csrf: csrf.to_string(),
                loaded: Instant::now(),
            },
        );
    }

    pub fn forget(&self, id: &[u8]) {
        self.0.lock().unwrap_or_else(|e| e.into_inner()).remove(id);
    }
}

/// Per-request facts the middleware works out once for the handlers.
#[derive(Clone, Debug)]
pub struct RequestContext {
    pub session: Option<SessionData>,
    /// The token forms must echo back in `_csrf`.
    pub csrf: String,
    pub flash: Option<Flash>,
    pub client_addr: Option<IpAddr>,
}

pub fn random_token() -> String {
    let mut bytes = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    URL_SAFE_NO_PAD.encode(bytes)
}

pub fn token_hash(token: &str) -> Vec<u8> {
    Sha256::digest(token.as_bytes()).to_vec()
}

pub fn session_cookie_name(secure: bool) -> &'static str {
    if secure {
        "__Host-ov_session"
    } else {
        "ov_session"
    }
}

fn csrf_cookie_name(secure: bool) -> &'static str {
    if secure {
        "__Host-ov_csrf"
    } else {
        "ov_csrf"
    }
}

fn cookie_attrs(secure: bool, same_site: &str) -> String {
    format!(
        "Path=/; HttpOnly; SameSite={same_site}{}",
        if secure { "; Secure" } else { "" }
    )
}

pub fn session_cookie(secure: bool, token: &str) -> String {
    format!(
        "{}={token}; {}",
        session_cookie_name(secure),
        cookie_attrs(secure, "Lax")
    )
}

pub fn clear_session_cookie(secure: bool) -> String {
    format!(
        "{}=; {}; Max-Age=0",
        session_cookie_name(secure),
        cookie_attrs(secure, "Lax")
    )
}

/// Creates a session and returns the cookie token (only its hash is stored).
pub async fn create(
    pool: &PgPool,
    user_id: Uuid,
    municipality_id: Option<Uuid>,
    client_addr: Option<IpAddr>,
) -> Result<String, sqlx::Error> {
    let token = random_token();
    sqlx::query!(
        "INSERT INTO sessions (id, user_id, municipality_id, csrf_token, expires_at, client_addr)
         VALUES ($1, $2, $3, $4, now() + make_interval(secs => $5), $6)",
        token_hash(&token),
        user_id,
        municipality_id,
        random_token(),
        ABSOLUTE_SECS,
        client_addr.map(sqlx::types::ipnetwork::IpNetwork::from),
    )
    .execute(pool)
    .await?;
    Ok(token)
}

/// Ends the session: from the cache and from the database.
pub async fn delete(state: &AppState, id: &[u8]) -> Result<(), sqlx::Error> {
    state.sessions.forget(id);
    sqlx::query!("DELETE FROM sessions WHERE id = $1", id)
        .execute(&state.db)
        .await?;
    Ok(())
}

/// The session's user as stored, before the extractor decides whether it may still act.
#[derive(Clone, Debug)]
pub struct SessionUser {
    pub name: String,
    pub email: String,
    pub municipality_id: Option<Uuid>,
    pub municipality_name: Option<String>,
    pub is_platform_operator: bool,
    pub is_active: bool,
    pub roles: Vec<RoleAssignment>,
}

/// The session of `token` and its CSRF token: from the cache, unconfirmed, if it is there.
async fn lookup(
    state: &AppState,
    token: &str,
) -> Result<Option<(SessionData, String)>, sqlx::Error> {
    let id = token_hash(token);
    if let Some(hit) = state.sessions.get(&id) {
        return Ok(Some(hit));
    }
    load(state, id).await
}

/// The session, its CSRF token and its user in one round trip (`session_load`), confirmed, and
/// filed in the cache. `None` (and nothing cached) if the session is gone.
pub async fn load(
    state: &AppState,
    id: Vec<u8>,
) -> Result<Option<(SessionData, String)>, sqlx::Error> {
    state.sessions.forget(&id);
    let row = sqlx::query!(
        r#"SELECT user_id AS "user_id!", session_municipality_id, csrf_token AS "csrf_token!",
                  name AS "name!", email AS "email!", municipality_id, municipality_name,
                  is_platform_operator AS "is_platform_operator!", is_active AS "is_active!",
                  roles AS "roles!: Json<Vec<RoleAssignment>>", today AS "today!",
                  auth_epoch AS "auth_epoch!"
           FROM session_load($1, $2)"#,
        &id,
        IDLE_SECS
    )
    .fetch_optional(&state.db)
    .await?;
    let Some(row) = row else { return Ok(None) };
    let loaded = (
        SessionData {
            id,
            user_id: row.user_id,
            municipality_id: row.session_municipality_id,
            user: SessionUser {
                name: row.name,
                email: row.email,
                municipality_id: row.municipality_id,
                municipality_name: row.municipality_name,
                is_platform_operator: row.is_platform_operator,
                is_active: row.is_active,
                roles: row.roles.0,
            },
            today: row.today,
            unconfirmed: None,
        },
        row.csrf_token,
    );
    // filed under the epoch it was read with; `lookup` hands copies out as unconfirmed
    let mut filed = loaded.0.clone();
    filed.unconfirmed = Some(row.auth_epoch);
    state.sessions.put(&filed, &loaded.1);
    Ok(Some(loaded))
}

fn is_safe_method(m: &Method) -> bool {
    matches!(*m, Method::GET | Method::HEAD | Method::OPTIONS)
}

/// The request's Origin (or, lacking it, Referer) must name this host. Browsers send Origin on
/// every cross-site POST; a request without either is not a browser-borne forgery.
fn same_origin(req: &Request) -> bool {
    let headers = req.headers();
    let Some(host) = headers.get(header::HOST).and_then(|h| h.to_str().ok()) else {
        return true;
    };
    let source = headers
        .get(header::ORIGIN)
        .or_else(|| headers.get(header::REFERER))
        .and_then(|v| v.to_str().ok());
    match source {
        None => true,
        Some(src) => {
            let rest = src
                .strip_prefix("https://")
                .or_else(|| src.strip_prefix("http://"));
            rest.map(|r| r.split('/').next().unwrap_or("")) == Some(host)
        }
    }
}

/// Decodes an urlencoded body; None when it is not valid UTF-8 or holds a NUL (PostgreSQL text
/// cannot store one).
fn form_pairs(body: &[u8]) -> Option<Vec<(String, String)>> {
    let text = std::str::from_utf8(body).ok()?;
    text.split('&')
        .filter(|p| !p.is_empty())
        .map(|pair| {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            let (k, v) = (web::urldecode(k)?, web::urldecode(v)?);
            (!k.contains('\0') && !v.contains('\0')).then_some((k, v))
        })
        .collect()
}

/// How far into a multipart body its CSRF token may lie (a file comes after it).
const TOKEN_WITHIN: usize = 64 * 1024;

/// The `_csrf` field of the beginning of a multipart body: `Ok(None)` when every field there
/// is complete and none is the token, an error when a field is cut off (or the body malformed).
async fn multipart_token(head: Bytes, boundary: &str) -> Result<Option<String>, multer::Error> {
    let stream = futures_util::stream::once(std::future::ready(Ok::<_, std::io::Error>(head)));
    let mut multipart = multer::Multipart::new(stream, boundary);
    while let Some(field) = multipart.next_field().await? {
        if field.name() == Some("_csrf") {
            return field.text().await.map(Some);
        }
    }
    Ok(None)
}

fn token_matches(given: &str, expected: &str) -> bool {
    !expected.is_empty() && given.as_bytes().ct_eq(expected.as_bytes()).into()
}

const BUSY: &str = "Serveren tager imod mange formularer lige nu, så din er ikke modtaget. Vent et øjeblik, og send den igen.";

/// The next piece of a body being read, counted in `held` (see `web::budget`).
async fn next_chunk<S>(rest: &mut S, held: &mut Reservation<'_>) -> Result<Option<Bytes>, AppError>
where
    S: futures_util::Stream<Item = Result<Bytes, axum::Error>> + Unpin,
{
    match rest.next().await {
        Some(Ok(chunk)) => {
            held.grow(chunk.len())
                .map_err(|_| AppError::TooManyRequests(BUSY.into()))?;
            Ok(Some(chunk))
        }
        Some(Err(_)) => Err(AppError::BadRequest(BAD_FORM.into())),
        None => Ok(None),
    }
}

/// Checks the CSRF token of an unsafe request and hands the body on unchanged, with what it
/// holds of the form budget (to be kept until the request is answered).
async fn check_unsafe<'a>(
    req: Request,
    expected: &str,
    mut held: Reservation<'a>,
) -> Result<(Request, Reservation<'a>), AppError> {
    if !same_origin(&req) {
        return Err(AppError::Csrf);
    }
    let raw_content_type = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string();
    let content_type = raw_content_type.to_ascii_lowercase();
    let multipart = content_type.starts_with("multipart/form-data");
    if !multipart && !content_type.starts_with("application/x-www-form-urlencoded") {
        return if content_type.is_empty() {
            Err(AppError::Csrf)
        } else {
            Err(AppError::UnsupportedMediaType)
        };
    }
    let announced = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok());
    let (parts, body) = req.into_parts();
    let mut rest = body.into_data_stream();
    if multipart {
        // File uploads: a plain HTML form cannot set a header, so the token travels as a form
        // field like everywhere else. Our forms put it first, so only the body's beginning is
        // read here; the rest streams on to the handler, under its route's size limit.
        let boundary = multer::parse_boundary(&raw_content_type)
            .map_err(|_| AppError::BadRequest(BAD_FORM.into()))?;
        let mut head = BytesMut::new();
        let given = loop {
            if head.len() >= TOKEN_WITHIN {
                return Err(AppError::Csrf);
            }
            let chunk = next_chunk(&mut rest, &mut held).await?;
            let ended = chunk.is_none();
            head.extend_from_slice(&chunk.unwrap_or_default());
            match multipart_token(head.clone().freeze(), &boundary).await {
                Ok(Some(token)) => break token,
                Ok(None) if ended => return Err(AppError::Csrf),
                Err(_) if ended => return Err(AppError::BadRequest(BAD_FORM.into())),
                // a field is cut off where the body read so far ends
                _ => {}
            }
        };
        if !token_matches(&given, expected) {
            return Err(AppError::Csrf);
        }
        let head = futures_util::stream::once(std::future::ready(Ok(head.freeze())));
        let body = Body::from_stream(head.chain(rest));
        return Ok((Request::from_parts(parts, body), held));
    }
    // An urlencoded form is read whole: its bytes are counted as they arrive, and one that
    // announces more than may be sent is refused before any is read.
    if announced.is_some_and(|n| n > MAX_FORM_BYTES) {
        return Err(AppError::PayloadTooLarge);
    }
    let mut bytes = BytesMut::new();
    while let Some(chunk) = next_chunk(&mut rest, &mut held).await? {
        if bytes.len() + chunk.len() > MAX_FORM_BYTES {
            return Err(AppError::PayloadTooLarge);
        }
        bytes.extend_from_slice(&chunk);
    }
    let bytes = bytes.freeze();
    let pairs = form_pairs(&bytes).ok_or_else(|| AppError::BadRequest(BAD_FORM.into()))?;
    let given = pairs
        .iter()
        .find(|(k, _)| k == "_csrf")
        .map(|(_, v)| v.as_str())
        .unwrap_or("");
    if !token_matches(given, expected) {
        return Err(AppError::Csrf);
    }
    Ok((Request::from_parts(parts, Body::from(bytes)), held))
}

/// The client's address: the connection's, unless that is a trusted proxy; then the nearest
/// address in `X-Forwarded-For` that is not a trusted proxy (each proxy appends the address it
/// was reached from, so the entries before it are the client's to write, and not believed).
/// An entry that is not an address stops the walk at the proxy.
fn client_address(peer: IpAddr, headers: &HeaderMap, trusted: &[IpAddr]) -> IpAddr {
    if !trusted.contains(&peer) {
        return peer;
    }
    let forwarded: Vec<&str> = headers
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(str::trim)
        .collect();
    let mut client = peer;
    for entry in forwarded.iter().rev() {
        if !trusted.contains(&client) {
            break;
        }
        match entry.parse() {
            Ok(ip) => client = ip,
            Err(_) => break,
        }
    }
    client
}

pub async fn middleware(State(state): State<AppState>, mut req: Request, next: Next) -> Response {
    let secure = state.config.secure_cookies;
    let headers = req.headers().clone();
    let refuse = |uri: &axum::http::Uri, e: AppError| {
        // The parents' pages answer in the language the parent reads them in.
        if uri.path().starts_with("/foraelder/") {
            crate::parents::page::refusal(&state, &headers, uri, e)
        } else {
            e.into_response()
        }
    };
    if web::query_holds_nul(req.uri()) {
        return refuse(req.uri(), AppError::BadRequest(web::BAD_QUERY.into()));
    }
    let client_addr = req
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| client_address(c.0.ip(), &headers, &state.config.trusted_proxies));

    let mut session = None;
    let mut csrf = None;
    let mut drop_session_cookie = false;
    if let Some(token) = web::cookie(&headers, session_cookie_name(secure)) {
        match lookup(&state, token).await {
            Ok(Some((data, token))) => {
                session = Some(data);
                csrf = Some(token);
            }
            Ok(None) => drop_session_cookie = true,
            Err(e) => return AppError::from(e).into_response(),
        }
    }
    let anon_cookie = web::cookie(&headers, csrf_cookie_name(secure)).filter(|t| t.len() == 43);
    let mut new_anon = None;
    let csrf = csrf.unwrap_or_else(|| match anon_cookie {
        Some(t) => t.to_string(),
        None => {
            let t = random_token();
            new_anon = Some(t.clone());
            t
        }
    });

    let mut held = None;
    if !is_safe_method(req.method()) {
        if drop_session_cookie {
            // The session ran out while a form was open: log in again rather than a CSRF page.
            let mut response = AppError::LoginRequired { next: "/".into() }.into_response();
            web::set_cookie(&mut response, clear_session_cookie(secure));
            return response;
        }
        // A brand-new anonymous token cannot have been echoed by a form: it fails, as it should.
        let uri = req.uri().clone();
        let expected = if new_anon.is_some() { "" } else { &csrf };
        let reservation = state.forms.reserve(client_addr);
        match check_unsafe(req, expected, reservation).await {
            Ok((checked, reservation)) => {
                req = checked;
                held = Some(reservation);
            }
            Err(e) => return refuse(&uri, e),
        };
    }

    let flash_cookie = web::cookie(&headers, FLASH_COOKIE);
    let flash = flash_cookie.and_then(web::parse_flash);
    req.extensions_mut().insert(RequestContext {
        session,
        csrf,
        flash,
        client_addr,
    });

    let mut response = next.run(req).await;
    // the body's bytes are the handler's no longer
    drop(held);

    if let Some(token) = new_anon {
        web::set_cookie(
            &mut response,
            format!(
                "{}={token}; {}",
                csrf_cookie_name(secure),
                cookie_attrs(secure, "Strict")
            ),
        );
    }
    if drop_session_cookie && !response.headers().contains_key(header::SET_COOKIE) {
        web::set_cookie(&mut response, clear_session_cookie(secure));
    }
    let sets_flash = response
        .headers()
        .get_all(header::SET_COOKIE)
        .iter()
        .any(|v| v.as_bytes().starts_with(FLASH_COOKIE.as_bytes()));
    if flash_cookie.is_some() && !sets_flash {
        web::set_cookie(
            &mut response,
            format!(
                "{FLASH_COOKIE}=; {}; Max-Age=0",
                cookie_attrs(secure, "Lax")
            ),
        );
    } else if sets_flash && secure {
        secure_flash(&mut response);
    }
    response
}

/// Marks the flash cookie a handler set (`web::redirect_with_flash`, which knows no settings)
/// `Secure`, as the other cookies are under HTTPS: its message can name a guardian or an
/// invited user.
fn secure_flash(response: &mut Response) {
    let headers = response.headers_mut();
    let cookies: Vec<HeaderValue> = headers
        .get_all(header::SET_COOKIE)
        .iter()
        .cloned()
        .collect();
    headers.remove(header::SET_COOKIE);
    for cookie in cookies {
        let bytes = cookie.as_bytes();
        let cookie = if bytes.starts_with(FLASH_COOKIE.as_bytes()) && !bytes.ends_with(b"; Secure")
        {
            HeaderValue::from_bytes(&[bytes, b"; Secure"].concat()).unwrap_or(cookie)
        } else {
            cookie
        };
        headers.append(header::SET_COOKIE, cookie);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn form_pairs_decode_and_refuse_bad_bytes() {
        let p = form_pairs(b"_csrf=abc&name=J%C3%B8rgen+Hansen").unwrap();
        assert_eq!(p[1], ("name".to_string(), "Jørgen Hansen".to_string()));
        assert!(form_pairs(b"name=%FF").is_none());
        assert!(form_pairs(b"name=a%00b").is_none());
        assert!(form_pairs(&[b'a', b'=', 0xC3]).is_none());
    }

    #[test]
    fn the_client_is_named_by_trusted_proxies_only() {
        let ip = |s: &str| s.parse::<IpAddr>().unwrap();
        let proxy = ip("10.0.0.5");
        let with = |values: &[&str]| {
            let mut h = HeaderMap::new();
            for v in values {
                h.append("x-forwarded-for", v.parse().unwrap());
            }
            h
        };
        let client =
            |peer: &str, h: &HeaderMap, trusted: &[IpAddr]| client_address(ip(peer), h, trusted);
        let h = with(&["198.51.100.7"]);
        // no proxy configured, or a request not from it: the connection's address
        assert_eq!(client("10.0.0.5", &h, &[]), proxy);
        assert_eq!(client("203.0.113.9", &h, &[proxy]), ip("203.0.113.9"));
        // from the proxy: the address it appended
        assert_eq!(client("10.0.0.5", &h, &[proxy]), ip("198.51.100.7"));
        // what the client wrote before that is not believed
        let h = with(&["1.2.3.4, 198.51.100.7"]);
        assert_eq!(client("10.0.0.5", &h, &[proxy]), ip("198.51.100.7"));
        let h = with(&["1.2.3.4", "198.51.100.7"]);
        assert_eq!(client("10.0.0.5", &h, &[proxy]), ip("198.51.100.7"));
        // two trusted proxies in a row
        let inner = ip("10.0.0.6");
        let h = with(&["198.51.100.7, 10.0.0.5"]);
        assert_eq!(client("10.0.0.6", &h, &[proxy, inner]), ip("198.51.100.7"));
        // no header, or nonsense: the proxy's own address
        assert_eq!(client("10.0.0.5", &with(&[]), &[proxy]), proxy);
        assert_eq!(client("10.0.0.5", &with(&["unknown"]), &[proxy]), proxy);
    }

    #[tokio::test]
    async fn the_token_is_read_from_the_beginning_of_a_multipart_body() {
        let body = "--XX\r\nContent-Disposition: form-data; name=\"_csrf\"\r\n\r\ntok\r\n--XX\r\n\
                    Content-Disposition: form-data; name=\"file\"; filename=\"a.csv\"\r\n\r\nnavn";
        let token =
            |end: usize| multipart_token(Bytes::copy_from_slice(&body.as_bytes()[..end]), "XX");
        // The whole token field, and the file only begun.
        assert_eq!(token(body.len()).await.unwrap().as_deref(), Some("tok"));
        // Cut off inside the token: not known yet.
        assert!(token(body.find("tok").unwrap() + 2).await.is_err());
        // Every field complete, none of them the token.
        let other = "--XX\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\nb\r\n--XX--\r\n";
        assert_eq!(
            multipart_token(Bytes::from(other), "XX").await.unwrap(),
            None
        );
    }

    #[test]
    fn the_check_is_sent_only_for_unconfirmed_sessions() {
        let mut data = SessionData {
            id: vec![0xab, 0x01, 0xff],
            user_id: Uuid::nil(),
            municipality_id: None,
            user: SessionUser {
                name: "x".into(),
                email: "x@example.test".into(),
                municipality_id: None,
                municipality_name: None,
                is_platform_operator: true,
                is_active: true,
                roles: Vec::new(),
            },
            today: time::macros::date!(2026 - 12 - 06),
            unconfirmed: None,
        };
        assert_eq!(data.check_expression(), "");
        data.unconfirmed = Some(42);
        assert_eq!(
            data.check_expression(),
            "session_check('\\xab01ff'::bytea, 14400.0, 42, '2026-12-06'::date), "
        );
    }

    #[test]
    fn token_comparison() {
        assert!(token_matches("abc", "abc"));
        assert!(!token_matches("abd", "abc"));
        assert!(!token_matches("", ""));
    }
}

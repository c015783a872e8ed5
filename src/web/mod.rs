//! Shared web plumbing: errors, layout, form extraction, flash messages, security headers.

pub mod budget;
pub mod compress;
pub mod error;
pub mod escape;
pub mod form;
pub mod layout;
pub mod security;
pub mod serve;

use askama::Template;
use axum::{
    http::{header, HeaderMap, HeaderValue, StatusCode},
    response::{Html, IntoResponse, Redirect, Response},
};

pub use error::{AppError, AppResult};
pub use form::{query_holds_nul, FieldErrors, Form, Path, Query, SelectOption, BAD_QUERY};
pub use layout::{Flash, Layout, NavItem};

pub const FLASH_COOKIE: &str = "ov_flash";

pub fn render<T: Template>(page: &T) -> AppResult<Html<String>> {
    Ok(Html(page.render()?))
}

/// A re-rendered form with validation errors.
pub fn render_invalid<T: Template>(page: &T) -> AppResult<Response> {
    render_with_errors(StatusCode::UNPROCESSABLE_ENTITY, page)
}

/// A page answering a form that could not be used (`status`): its title starts with the
/// layout's "Fejl: " (WCAG 2.4.2 and 3.3.1: the title is the first thing a screen reader says
/// of the page that came back).
pub fn render_with_errors<T: Template>(status: StatusCode, page: &T) -> AppResult<Response> {
    Ok((status, Html(title_with_error(page.render()?))).into_response())
}

/// The layout writes the prefix in its language into the title tag (`data-error-prefix`); a
/// page with errors moves it into the title's text.
fn title_with_error(html: String) -> String {
    const OPEN: &str = "<title data-error-prefix=\"";
    let Some(start) = html.find(OPEN) else {
        return html;
    };
    let rest = &html[start + OPEN.len()..];
    let Some(end) = rest.find("\">") else {
        return html;
    };
    format!(
        "{}<title>{}{}",
        &html[..start],
        &rest[..end],
        &rest[end + 2..]
    )
}

/// POST → redirect → GET, with a one-time message shown on the next page.
pub fn redirect_with_flash(to: &str, flash: Flash) -> Response {
    let value = format!("{}|{}", flash.kind, urlencode(&flash.message));
    let cookie = format!("{FLASH_COOKIE}={value}; Path=/; HttpOnly; SameSite=Lax; Max-Age=120");
    let mut response = Redirect::to(to).into_response();
    if let Ok(v) = HeaderValue::from_str(&cookie) {
        response.headers_mut().append(header::SET_COOKIE, v);
    }
    response
}

pub fn parse_flash(value: &str) -> Option<Flash> {
    let (kind, message) = value.split_once('|')?;
    let kind = ["success", "info", "warning", "error"]
        .into_iter()
        .find(|k| *k == kind)?;
    let message = urldecode(message)?;
    (!message.is_empty() && message.len() <= 500).then_some(Flash { kind, message })
}

/// Only same-site absolute paths are followed after login (no open redirects).
pub fn safe_next(next: &str) -> bool {
    next.starts_with('/')
        && !next.starts_with("//")
        && !next.starts_with("/\\")
        && next.len() < 2000
        && !next.chars().any(|c| c.is_control() || c == '\\')
}

pub fn urlencode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' | b'/' => {
                out.push(b as char)
            }
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

/// Percent-decoding (with `+` as space) that refuses invalid UTF-8 instead of replacing it.
pub fn urldecode(s: &str) -> Option<String> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' => {
                let hex = std::str::from_utf8(bytes.get(i + 1..i + 3)?).ok()?;
                out.push(u8::from_str_radix(hex, 16).ok()?);
                i += 2;
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8(out).ok()
}

/// All cookies of a request, first value wins.
pub fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v)
}

pub fn set_cookie(response: &mut Response, cookie: String) {
    if let Ok(v) = HeaderValue::from_str(&cookie) {
        response.headers_mut().append(header::SET_COOKIE, v);
    }
}

pub async fn not_found() -> Response {
    AppError::NotFound.into_response()
}

pub async fn method_not_allowed() -> Response {
    AppError::MethodNotAllowed.into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_page_with_errors_says_so_first_in_its_title() {
        let page = "<head><title data-error-prefix=\"Error: \">Barnet – Overgang</title></head>";
        assert_eq!(
            title_with_error(page.to_string()),
            "<head><title>Error: Barnet – Overgang</title></head>"
        );
        let plain = "<head><title>Barnet – Overgang</title></head>";
        assert_eq!(title_with_error(plain.to_string()), plain);
    }

    #[test]
    fn next_must_be_local() {
        assert!(safe_next("/"));
        assert!(safe_next("/platform/municipalities?x=1"));
        for bad in [
            "//evil.example",
            "https://evil.example",
            "/\\evil",
            "evil",
            "",
            "/\u{0}x",
        ] {
            assert!(!safe_next(bad), "{bad:?} should be refused");
        }
    }

    #[test]
    fn url_round_trip_and_invalid_utf8() {
        let s = "Hej æøå & 100% <script>";
        assert_eq!(urldecode(&urlencode(s)).as_deref(), Some(s));
        assert_eq!(urldecode("a+b%20c").as_deref(), Some("a b c"));
        assert_eq!(urldecode("%FF%FE"), None);
        assert_eq!(urldecode("%G1"), None);
        assert_eq!(urldecode("%4"), None);
    }

    #[test]
    fn flash_cookie_is_validated() {
        assert_eq!(parse_flash("success|Gemt"), Some(Flash::success("Gemt")));
        assert_eq!(parse_flash("evil|x"), None);
        assert_eq!(parse_flash("info|"), None);
    }
}

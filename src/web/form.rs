//! Form extraction whose failures are our own 4xx pages, not axum's plain-text rejections.

use axum::extract::{FromRequest, Request};
use serde::de::DeserializeOwned;

use super::AppError;

pub struct Form<T>(pub T);

impl<S, T> FromRequest<S> for Form<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = AppError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let is_form = req
            .headers()
            .get(axum::http::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.starts_with("application/x-www-form-urlencoded"));
        if !is_form {
            return Err(AppError::UnsupportedMediaType);
        }
        let bytes = axum::body::Bytes::from_request(req, state)
            .await
            .map_err(|_| AppError::PayloadTooLarge)?;
        // serde_html_form, unlike serde_urlencoded, reads repeated keys (checkbox lists) into a Vec.
        serde_html_form::from_bytes(&bytes).map(Form).map_err(|_| {
            AppError::BadRequest(
                "Formularen var ufuldstændig eller ugyldig. Gå tilbage og prøv igen.".into(),
            )
        })
    }
}

/// What a refused query string is told.
pub const BAD_QUERY: &str = "Adressen indeholdt ugyldige søgeparametre.";

/// Whether the address's query string holds a NUL (`%00`, the only way to write one): no
/// handler can use it, and PostgreSQL refuses it in any text, so the request is refused before
/// a handler passes it on (as `session::form_pairs` refuses one in a form).
pub fn query_holds_nul(uri: &axum::http::Uri) -> bool {
    uri.query().is_some_and(|q| q.contains("%00"))
}

/// Query strings; a malformed one is a 400 page, not axum's plain-text rejection.
pub struct Query<T>(pub T);

impl<S, T> axum::extract::FromRequestParts<S> for Query<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = AppError;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        _state: &S,
    ) -> Result<Self, Self::Rejection> {
        serde_html_form::from_str(parts.uri.query().unwrap_or(""))
            .map(Query)
            .map_err(|_| AppError::BadRequest(BAD_QUERY.into()))
    }
}

/// One choice of a select or radio group (see templates/macros.html).
#[derive(Clone, Debug)]
pub struct SelectOption {
    pub value: String,
    pub label: String,
    pub selected: bool,
}

impl SelectOption {
    pub fn new(value: impl Into<String>, label: impl Into<String>, selected: bool) -> Self {
        SelectOption {
            value: value.into(),
            label: label.into(),
            selected,
        }
    }
}

/// Validation messages next to the fields they belong to.
#[derive(Debug, Default)]
pub struct FieldErrors(Vec<FieldError>);

#[derive(Debug)]
pub struct FieldError {
    /// The input's name (and id, so the error summary can link to it).
    pub field: &'static str,
    pub message: String,
}

impl FieldErrors {
    pub fn add(&mut self, field: &'static str, message: impl Into<String>) {
        if self.get(field).is_none() {
            self.0.push(FieldError {
                field,
                message: message.into(),
            });
        }
    }

    pub fn get(&self, field: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|e| e.field == field)
            .map(|e| e.message.as_str())
    }

    /// The message for `field`, or "" (the form macros' "no error").
    pub fn msg(&self, field: &str) -> &str {
        self.get(field).unwrap_or_default()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl<'a> IntoIterator for &'a FieldErrors {
    type Item = &'a FieldError;
    type IntoIter = std::slice::Iter<'a, FieldError>;
    fn into_iter(self) -> Self::IntoIter {
        self.0.iter()
    }
}

/// Trims and checks a required single-line text; records a message when it fails.
pub fn required_text(
    errors: &mut FieldErrors,
    field: &'static str,
    value: &str,
    label: &str,
    max: usize,
) -> String {
    let v = value.trim().to_string();
    if v.is_empty() {
        errors.add(field, format!("Udfyld {label}."));
    } else if v.chars().count() > max {
        errors.add(
            field,
            format!("{} må højst være {max} tegn.", capitalize(label)),
        );
    } else if v.chars().any(char::is_control) {
        errors.add(
            field,
            format!("{} indeholder ugyldige tegn.", capitalize(label)),
        );
    }
    v
}

/// Trims and checks a multi-line text (line breaks and tabs allowed, other control characters
/// not); empty is allowed unless `required`. Records a message when it fails.
pub fn multiline_text(
    errors: &mut FieldErrors,
    field: &'static str,
    value: &str,
    label: &str,
    max: usize,
    required: bool,
) -> String {
    let v = value.trim().replace("\r\n", "\n");
    if v.is_empty() {
        if required {
            errors.add(field, format!("Udfyld {label}."));
        }
    } else if v.chars().count() > max {
        errors.add(
            field,
            format!("{} må højst være {max} tegn.", capitalize(label)),
        );
    } else if v.chars().any(|c| c.is_control() && c != '\n' && c != '\t') {
        errors.add(
            field,
            format!("{} indeholder ugyldige tegn.", capitalize(label)),
        );
    }
    v
}

fn capitalize(s: &str) -> String {
    let mut c = s.chars();
    c.next()
        .map(|f| f.to_uppercase().chain(c).collect())
        .unwrap_or_default()
}

/// A plausible e-mail address (the real check is that the invitation arrives).
pub fn valid_email(email: &str) -> bool {
    let Some((local, domain)) = email.split_once('@') else {
        return false;
    };
    !local.is_empty()
        && domain.contains('.')
        && !domain.starts_with('.')
        && !domain.ends_with('.')
        && !domain.contains('@')
        && email.len() <= 254
        && !email
            .chars()
            .any(|c| c.is_whitespace() || c.is_control() || c == '<' || c == '>')
}

/// Path parameters; a malformed id is answered like an unknown one (404), so ids leak nothing.
pub struct Path<T>(pub T);

impl<S, T> axum::extract::FromRequestParts<S> for Path<T>
where
    T: DeserializeOwned + Send,
    S: Send + Sync,
{
    type Rejection = AppError;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        state: &S,
    ) -> Result<Self, Self::Rejection> {
        axum::extract::Path::<T>::from_request_parts(parts, state)
            .await
            .map(|axum::extract::Path(v)| Path(v))
            .map_err(|_| AppError::NotFound)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emails() {
        assert!(valid_email("a@b.dk"));
        for bad in [
            "", "a", "a@b", "@b.dk", "a@.dk", "a b@c.dk", "a@b.dk.", "a@b@c.dk", "<a@b.dk>",
        ] {
            assert!(!valid_email(bad), "{bad}");
        }
    }

    #[test]
    fn required() {
        let mut e = FieldErrors::default();
        assert_eq!(
            required_text(&mut e, "name", "  Solsikken ", "navn", 10),
            "Solsikken"
        );
        assert!(e.is_empty());
        required_text(&mut e, "name", " ", "navn", 10);
        assert_eq!(e.get("name"), Some("Udfyld navn."));
        required_text(&mut e, "x", "abcdefghijk", "navn", 10);
        assert_eq!(e.get("x"), Some("Navn må højst være 10 tegn."));
    }
}

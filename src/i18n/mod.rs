//! Message catalogues for the pages people without an account read (the parents' pages).
//!
//! One TOML file per language in the locales directory (`locales/da.toml`, `locales/en.toml`,
//! …), read once at start. The file name is the language code; `[meta]` gives the language's own
//! name (for the switcher) and its writing direction (`dir = "rtl"` for Arabic, Hebrew, …), so a
//! new language is a new file and nothing else. Danish is required and is the fallback for any
//! key a catalogue lacks. Values may name placeholders (`{child}`), filled by [`Tr`].
//!
//! Which language a request gets: `?lang=xx` (remembered in a cookie), else the cookie, else
//! the best match of `Accept-Language`, else Danish ([`negotiate`]).

use std::{
    collections::{BTreeMap, HashMap},
    fmt::Display,
    path::{Path, PathBuf},
    sync::Arc,
};

use axum::http::{header, HeaderMap};

/// The language every other falls back to.
pub const DEFAULT: &str = "da";
/// Remembers the language chosen on the page.
pub const COOKIE: &str = "ov_lang";

#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    #[error("kan ikke læse sprogmappen {0}: {1}")]
    Dir(PathBuf, std::io::Error),
    #[error("kan ikke læse {0}: {1}")]
    File(PathBuf, String),
    #[error("sprogmappen {0} har ingen {DEFAULT}.toml")]
    NoDefault(PathBuf),
}

#[derive(Debug)]
pub struct Catalogue {
    pub code: String,
    /// The language's name in itself ("Dansk", "English").
    pub name: String,
    /// "ltr" or "rtl".
    pub dir: &'static str,
    messages: HashMap<String, String>,
}

impl Catalogue {
    /// Parses one catalogue; nested tables become dotted keys, every leaf must be a string.
    pub fn parse(code: &str, text: &str) -> Result<Catalogue, String> {
        let value: serde_json::Value = basic_toml::from_str(text).map_err(|e| e.to_string())?;
        let mut messages = HashMap::new();
        flatten("", &value, &mut messages)?;
        let name = messages
            .get("meta.name")
            .cloned()
            .unwrap_or_else(|| code.to_string());
        let dir = match messages.get("meta.dir").map(String::as_str) {
            None | Some("ltr") => "ltr",
            Some("rtl") => "rtl",
            Some(other) => {
                return Err(format!(
                    "meta.dir = {other:?}: forventer \"ltr\" eller \"rtl\""
                ))
            }
        };
        Ok(Catalogue {
            code: code.to_string(),
            name,
            dir,
            messages,
        })
    }

    pub fn get(&self, key: &str) -> Option<&str> {
        self.messages.get(key).map(String::as_str)
    }

    pub fn keys(&self) -> impl Iterator<Item = &str> {
        self.messages.keys().map(String::as_str)
    }
}

fn flatten(
    prefix: &str,
    value: &serde_json::Value,
    out: &mut HashMap<String, String>,
) -> Result<(), String> {
    match value {
        serde_json::Value::Object(map) => {
            for (k, v) in map {
                let key = if prefix.is_empty() {
                    k.clone()
                } else {
                    format!("{prefix}.{k}")
                };
                flatten(&key, v, out)?;
            }
            Ok(())
        }
        serde_json::Value::String(s) => {
            out.insert(prefix.to_string(), s.clone());
            Ok(())
        }
        _ => Err(format!("{prefix}: forventer tekst")),
    }
}

/// A language code as a file name may give it: "da", "en", "ar", "pt-br".
fn valid_code(code: &str) -> bool {
    let mut parts = code.split('-');
    let primary = parts.next().unwrap_or("");
    (2..=3).contains(&primary.len())
        && primary.bytes().all(|b| b.is_ascii_lowercase())
        && parts.all(|p| (2..=8).contains(&p.len()) && p.bytes().all(|b| b.is_ascii_alphanumeric()))
}

/// All catalogues, by language code.
#[derive(Debug)]
pub struct Catalogues {
    all: BTreeMap<String, Arc<Catalogue>>,
}

impl Catalogues {
    /// Reads every `*.toml` of `dir`; a broken file stops the start with its name and the error.
    pub fn load(dir: &Path) -> Result<Catalogues, LoadError> {
        let entries = std::fs::read_dir(dir).map_err(|e| LoadError::Dir(dir.to_path_buf(), e))?;
        let mut all = BTreeMap::new();
        for entry in entries {
            let path = entry
                .map_err(|e| LoadError::Dir(dir.to_path_buf(), e))?
                .path();
            if path.extension().and_then(|e| e.to_str()) != Some("toml") {
                continue;
            }
            let Some(code) = path
                .file_stem()
                .and_then(|s| s.to_str())
                .map(str::to_lowercase)
            else {
                continue;
            };
            if !valid_code(&code) {
                return Err(LoadError::File(
                    path,
                    "filnavnet skal være en sprogkode, fx en.toml".into(),
                ));
            }
            let text = std::fs::read_to_string(&path)
                .map_err(|e| LoadError::File(path.clone(), e.to_string()))?;
            let catalogue =
                Catalogue::parse(&code, &text).map_err(|e| LoadError::File(path.clone(), e))?;
            all.insert(code, Arc::new(catalogue));
        }
        if !all.contains_key(DEFAULT) {
            return Err(LoadError::NoDefault(dir.to_path_buf()));
        }
        Ok(Catalogues { all })
    }

    pub fn get(&self, code: &str) -> Option<&Arc<Catalogue>> {
        self.all.get(code)
    }

    pub fn default_catalogue(&self) -> &Arc<Catalogue> {
        &self.all[DEFAULT]
    }

    pub fn all(&self) -> impl Iterator<Item = &Arc<Catalogue>> {
        self.all.values()
    }

    /// The translator for `code` (Danish when unknown).
    pub fn tr(&self, code: &str) -> Tr {
        Tr {
            cat: self.get(code).unwrap_or(self.default_catalogue()).clone(),
            fallback: self.default_catalogue().clone(),
            vars: Vec::new(),
        }
    }

    /// The keys of Danish that `code` lacks, sorted.
    pub fn missing_keys(&self, code: &str) -> Vec<String> {
        let Some(c) = self.get(code) else {
            return Vec::new();
        };
        let mut missing: Vec<String> = self
            .default_catalogue()
            .keys()
            .filter(|k| c.get(k).is_none())
            .map(str::to_string)
            .collect();
        missing.sort();
        missing
    }
}

/// Where the catalogues are: `OVERGANG_LOCALES_DIR`, else `locales/` under the working
/// directory (the repository root, or /app in the image), else the crate's own (tests).
pub fn default_dir() -> PathBuf {
    let here = PathBuf::from("locales");
    if here.is_dir() {
        here
    } else {
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("locales")
    }
}

/// One language's messages for one page, with the page's placeholders filled in.
#[derive(Clone, Debug)]
pub struct Tr {
    cat: Arc<Catalogue>,
    fallback: Arc<Catalogue>,
    vars: Vec<(&'static str, String)>,
}

impl Tr {
    pub fn lang(&self) -> &str {
        &self.cat.code
    }

    pub fn dir(&self) -> &'static str {
        self.cat.dir
    }

    /// A placeholder every message of this page may use.
    pub fn var(mut self, name: &'static str, value: impl Display) -> Self {
        self.vars.push((name, value.to_string()));
        self
    }

    fn raw<'a>(&'a self, key: &'a str) -> &'a str {
        self.cat
            .get(key)
            .or_else(|| self.fallback.get(key))
            .unwrap_or_else(|| {
                tracing::warn!(key, "message missing in every catalogue");
                key
            })
    }

    fn fill(&self, text: &str, extra: &[(&str, &str)]) -> String {
        if !text.contains('{') {
            return text.to_string();
        }
        let mut out = text.to_string();
        for (name, value) in extra
            .iter()
            .copied()
            .chain(self.vars.iter().map(|(n, v)| (*n, v.as_str())))
        {
            out = out.replace(&format!("{{{name}}}"), value);
        }
        out
    }

    /// The message `key`.
    pub fn t(&self, key: &str) -> String {
        self.fill(self.raw(key), &[])
    }

    /// The message `key` with one more placeholder.
    pub fn with(&self, key: &str, name: &str, value: impl Display) -> String {
        self.fill(self.raw(key), &[(name, &value.to_string())])
    }

    /// The message `key` with two more placeholders.
    pub fn with2(
        &self,
        key: &str,
        (n1, v1): &(&str, impl Display),
        (n2, v2): &(&str, impl Display),
    ) -> String {
        self.fill(
            self.raw(key),
            &[(n1, &v1.to_string()), (n2, &v2.to_string())],
        )
    }
}

/// A language the page offers, for the switcher.
#[derive(Clone, Debug)]
pub struct LangLink {
    pub code: String,
    pub name: String,
    pub current: bool,
}

pub fn lang_links(catalogues: &Catalogues, current: &str) -> Vec<LangLink> {
    catalogues
        .all()
        .map(|c| LangLink {
            code: c.code.clone(),
            name: c.name.clone(),
            current: c.code == current,
        })
        .collect()
}

/// The best known language of an `Accept-Language` header: the highest weight wins, an exact
/// tag before its primary subtag ("en-GB" → "en").
pub fn from_accept_language(catalogues: &Catalogues, header: &str) -> Option<String> {
    let mut best: Option<(f32, usize, String)> = None;
    for (i, item) in header.split(',').enumerate().take(32) {
        let mut parts = item.split(';');
        let tag = parts.next().unwrap_or("").trim().to_ascii_lowercase();
        let q = parts
            .find_map(|p| p.trim().strip_prefix("q=").map(str::to_string))
            .map(|q| q.trim().parse::<f32>().unwrap_or(0.0))
            .unwrap_or(1.0);
        if tag.is_empty() || tag == "*" || q.is_nan() || q <= 0.0 {
            continue;
        }
        let primary = tag.split('-').next().unwrap_or("").to_string();
        let found = if catalogues.get(&tag).is_some() {
            Some(tag)
        } else if catalogues.get(&primary).is_some() {
            Some(primary)
        } else {
            None
        };
        if let Some(code) = found {
            // Earlier items win ties, as the header's order is the user's.
            if best.as_ref().map_or(true, |(bq, _, _)| q > *bq) {
                best = Some((q, i, code));
            }
        }
    }
    best.map(|(_, _, code)| code)
}

/// The request's language and, when the query chose one, the cookie to remember it.
pub fn negotiate(
    catalogues: &Catalogues,
    query: Option<&str>,
    headers: &HeaderMap,
) -> (String, bool) {
    let asked = query.and_then(|q| {
        q.split('&')
            .filter_map(|p| p.split_once('='))
            .find(|(k, _)| *k == "lang")
            .map(|(_, v)| v.to_ascii_lowercase())
    });
    if let Some(code) = asked.filter(|c| catalogues.get(c).is_some()) {
        return (code, true);
    }
    if let Some(code) = crate::web::cookie(headers, COOKIE)
        .map(str::to_ascii_lowercase)
        .filter(|c| catalogues.get(c).is_some())
    {
        return (code, false);
    }
    let accept = headers
        .get(header::ACCEPT_LANGUAGE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    (
        from_accept_language(catalogues, accept).unwrap_or_else(|| DEFAULT.to_string()),
        false,
    )
}

/// The cookie that remembers the chosen language for the parents' pages (a year).
pub fn lang_cookie(code: &str, secure: bool) -> String {
    format!(
        "{COOKIE}={code}; Path=/foraelder; Max-Age=31536000; HttpOnly; SameSite=Lax{}",
        if secure { "; Secure" } else { "" }
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn repo() -> Catalogues {
        Catalogues::load(&PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("locales"))
            .expect("the repository's catalogues load")
    }

    #[test]
    fn every_catalogue_has_every_danish_key() {
        let c = repo();
        assert!(c.all().count() >= 2, "Danish and English at least");
        let mut report = Vec::new();
        for cat in c.all() {
            let missing = c.missing_keys(&cat.code);
            if !missing.is_empty() {
                report.push(format!("{}.toml lacks {missing:?}", cat.code));
            }
            let mut extra: Vec<&str> = cat
                .keys()
                .filter(|k| c.default_catalogue().get(k).is_none())
                .collect();
            extra.sort();
            if !extra.is_empty() {
                report.push(format!(
                    "{}.toml has keys Danish lacks: {extra:?}",
                    cat.code
                ));
            }
        }
        assert!(report.is_empty(), "{}", report.join("\n"));
    }

    #[test]
    fn placeholders_match_danish() {
        fn names(s: &str) -> Vec<String> {
            let mut v: Vec<String> = s
                .split('{')
                .skip(1)
                .filter_map(|p| p.split_once('}').map(|(n, _)| n.to_string()))
                .collect();
            v.sort();
            v.dedup();
            v
        }
        let c = repo();
        let da = c.default_catalogue();
        for cat in c.all() {
            for key in da.keys() {
                if let Some(text) = cat.get(key) {
                    assert_eq!(
                        names(text),
                        names(da.get(key).unwrap()),
                        "{}.toml {key}: other placeholders than Danish",
                        cat.code
                    );
                }
            }
        }
    }

    /// Every key the parents' templates and code ask for exists in Danish.
    #[test]
    fn every_key_used_exists() {
        let da = repo();
        let da = da.default_catalogue();
        let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
        let mut files = Vec::new();
        for dir in ["templates/parents", "src/parents"] {
            for e in std::fs::read_dir(root.join(dir)).unwrap().flatten() {
                files.push(std::fs::read_to_string(e.path()).unwrap());
            }
        }
        files.push(std::fs::read_to_string(root.join("templates/layout.html")).unwrap());
        let mut missing = Vec::new();
        let mut used = 0;
        for text in &files {
            for needle in [".t(\"", ".with(\"", ".with2(\"", ".text(\""] {
                for piece in text.split(needle).skip(1) {
                    let key = piece.split('"').next().unwrap_or("");
                    used += 1;
                    if da.get(key).is_none() {
                        missing.push(key.to_string());
                    }
                }
            }
        }
        assert!(used > 40, "the scan found the uses ({used})");
        assert!(missing.is_empty(), "keys missing in da.toml: {missing:?}");
    }

    #[test]
    fn a_missing_key_falls_back_to_danish_and_placeholders_are_filled() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("da.toml"),
            "[meta]\nname = \"Dansk\"\n[page]\nhello = \"Hej {name}\"\nonly = \"Kun dansk\"\n",
        )
        .unwrap();
        std::fs::write(
            dir.path().join("en.toml"),
            "[meta]\nname = \"English\"\n[page]\nhello = \"Hello {name}\"\n",
        )
        .unwrap();
        let c = Catalogues::load(dir.path()).unwrap();
        let en = c.tr("en").var("name", "Ida");
        assert_eq!(en.t("page.hello"), "Hello Ida");
        assert_eq!(en.t("page.only"), "Kun dansk");
        assert_eq!(c.missing_keys("en"), vec!["page.only".to_string()]);
        assert_eq!(c.tr("xx").lang(), "da");
        assert_eq!(en.dir(), "ltr");
    }

    #[test]
    fn broken_catalogues_are_refused_with_their_name() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("en.toml"), "[meta]\nname = \"English\"\n").unwrap();
        assert!(matches!(
            Catalogues::load(dir.path()),
            Err(LoadError::NoDefault(_))
        ));
        std::fs::write(dir.path().join("da.toml"), "a = 1\n").unwrap();
        let err = Catalogues::load(dir.path()).unwrap_err().to_string();
        assert!(err.contains("da.toml"), "{err}");
        std::fs::write(dir.path().join("da.toml"), "[meta]\ndir = \"up\"\n").unwrap();
        assert!(Catalogues::load(dir.path()).is_err());
    }

    #[test]
    fn accept_language_picks_the_best_known() {
        let c = repo();
        assert_eq!(
            from_accept_language(&c, "en-GB,en;q=0.9,da;q=0.8").as_deref(),
            Some("en")
        );
        assert_eq!(
            from_accept_language(&c, "de-DE, da;q=0.5, en;q=0.7").as_deref(),
            Some("en")
        );
        assert_eq!(from_accept_language(&c, "fr, de").as_deref(), None);
        assert_eq!(
            from_accept_language(&c, "en;q=0, da").as_deref(),
            Some("da")
        );
        assert_eq!(from_accept_language(&c, "").as_deref(), None);
        let mut h = HeaderMap::new();
        h.insert(header::ACCEPT_LANGUAGE, "en".parse().unwrap());
        assert_eq!(negotiate(&c, None, &h), ("en".to_string(), false));
        assert_eq!(negotiate(&c, Some("lang=da"), &h), ("da".to_string(), true));
        assert_eq!(
            negotiate(&c, Some("lang=zz"), &h),
            ("en".to_string(), false)
        );
        h.insert(header::COOKIE, "ov_lang=da".parse().unwrap());
        assert_eq!(negotiate(&c, None, &h), ("da".to_string(), false));
    }
}

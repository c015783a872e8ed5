//! Typed settings from environment variables.

use std::{
    net::{IpAddr, SocketAddr},
    path::PathBuf,
    time::Duration,
};

use crate::mail::{self, SmtpSettings};

#[derive(Clone, Debug)]
pub struct Config {
    /// External PostgreSQL. `None` means: run our own cluster under `data_dir`.
    pub database_url: Option<String>,
    pub addr: SocketAddr,
    pub data_dir: PathBuf,
    /// Mark cookies `Secure` (and use the `__Host-` prefix). Off only for local plain http.
    pub secure_cookies: bool,
    pub log_filter: String,
    pub request_timeout: Duration,
    /// The most connections the app holds to PostgreSQL (`OVERGANG_DB_CONNECTIONS`; by default
    /// `default_connections` of the machine's cores). More than a few per core only makes the
    /// backends queue for the CPU instead of the pool.
    pub db_connections: u32,
    /// Seed demo data on the first start of the embedded database.
    pub seed_demo_on_first_start: bool,
    /// SMTP server for outgoing mail; `None` writes mail to the log instead (development).
    pub smtp: Option<SmtpSettings>,
    /// The sender of outgoing mail, e.g. `Overgang <noreply@kommune.dk>`.
    pub mail_from: String,
    /// Absolute base for links in e-mails, without a trailing slash.
    pub base_url: String,
    /// The message catalogues of the parents' pages (`locales/*.toml`).
    pub locales_dir: PathBuf,
    /// Proxies in front of the app (`OVERGANG_TRUSTED_PROXIES`, addresses separated by commas):
    /// a request from one of them is from the client its `X-Forwarded-For` names last. Without
    /// it, behind a TLS proxy every client would have the proxy's address, and the lockout per
    /// client address would count everybody's failures together.
    pub trusted_proxies: Vec<IpAddr>,
}

#[derive(Debug, thiserror::Error)]
#[error("ugyldig konfiguration: {name}={value:?}: {reason}")]
pub struct ConfigError {
    name: &'static str,
    value: String,
    reason: &'static str,
}

impl Config {
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// Reads settings through `lookup`, so tests can supply their own environment.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let get = |name: &str| lookup(name).filter(|v| !v.trim().is_empty());
        let addr_raw = get("OVERGANG_ADDR").unwrap_or_else(|| "127.0.0.1:8080".into());
        let addr = addr_raw.parse().map_err(|_| ConfigError {
            name: "OVERGANG_ADDR",
            value: addr_raw.clone(),
            reason: "forventer adresse:port, fx 127.0.0.1:8080",
        })?;
        let secure_cookies = parse_bool(
            get("OVERGANG_SECURE_COOKIES"),
            false,
            "OVERGANG_SECURE_COOKIES",
        )?;
        let seed = parse_bool(get("OVERGANG_SEED_DEMO"), true, "OVERGANG_SEED_DEMO")?;
        let timeout_raw = get("OVERGANG_REQUEST_TIMEOUT_SECS").unwrap_or_else(|| "30".into());
        let timeout = timeout_raw
            .parse::<u64>()
            .ok()
            .filter(|s| (1..=600).contains(s))
            .ok_or(ConfigError {
                name: "OVERGANG_REQUEST_TIMEOUT_SECS",
                value: timeout_raw,
                reason: "forventer et antal sekunder mellem 1 og 600",
            })?;
        let connections_raw = get("OVERGANG_DB_CONNECTIONS").unwrap_or_else(|| {
            let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
            default_connections(cores).to_string()
        });
        let db_connections = connections_raw
            .parse::<u32>()
            .ok()
            .filter(|n| (1..=500).contains(n))
            .ok_or(ConfigError {
                name: "OVERGANG_DB_CONNECTIONS",
                value: connections_raw,
                reason: "forventer et antal forbindelser mellem 1 og 500",
            })?;
        let smtp = get("OVERGANG_SMTP_URL")
            .map(|url| {
                SmtpSettings::parse(&url).map_err(|reason| ConfigError {
                    name: "OVERGANG_SMTP_URL",
                    // The URL may carry the SMTP password: never repeat it.
                    value: "<skjult>".into(),
                    reason,
                })
            })
            .transpose()?;
        let mail_from = get("OVERGANG_MAIL_FROM")
            .unwrap_or_else(|| "Overgang <noreply@overgang.invalid>".into());
        if !mail::valid_from(&mail_from) {
            return Err(ConfigError {
                name: "OVERGANG_MAIL_FROM",
                value: mail_from,
                reason: "forventer en afsender som Navn <adresse@domæne.dk>",
            });
        }
        let base_url = get("OVERGANG_BASE_URL").unwrap_or_else(|| format!("http://{addr}"));
        let base_url = base_url.trim().trim_end_matches('/').to_string();
        let has_host = base_url
            .strip_prefix("https://")
            .or_else(|| base_url.strip_prefix("http://"))
            .is_some_and(|rest| !rest.is_empty() && !rest.contains(['?', '#']));
        if !has_host
            || base_url
                .chars()
                .any(|c| c.is_whitespace() || c.is_control())
        {
            return Err(ConfigError {
                name: "OVERGANG_BASE_URL",
                value: base_url,
                reason: "forventer en absolut adresse, fx https://overgang.kommune.dk",
            });
        }
        let proxies_raw = get("OVERGANG_TRUSTED_PROXIES").unwrap_or_default();
        let trusted_proxies = proxies_raw
            .split(',')
            .map(str::trim)
            .filter(|p| !p.is_empty())
            .map(|p| p.parse::<IpAddr>())
            .collect::<Result<Vec<_>, _>>()
            .map_err(|_| ConfigError {
                name: "OVERGANG_TRUSTED_PROXIES",
                value: proxies_raw.clone(),
                reason: "forventer IP-adresser adskilt af komma, fx 10.0.0.5,10.0.0.6",
            })?;
        Ok(Config {
            database_url: get("DATABASE_URL"),
            addr,
            data_dir: PathBuf::from(get("OVERGANG_DATA_DIR").unwrap_or_else(|| "./data".into())),
            secure_cookies,
            log_filter: get("RUST_LOG")
                .unwrap_or_else(|| "overgang=info,tower_http=info,warn".into()),
            request_timeout: Duration::from_secs(timeout),
            db_connections,
            seed_demo_on_first_start: seed,
            smtp,
            mail_from,
            base_url,
            locales_dir: get("OVERGANG_LOCALES_DIR")
                .map(PathBuf::from)
                .unwrap_or_else(crate::i18n::default_dir),
            trusted_proxies,
        })
    }
}

/// Four connections per core, at least 4 and at most 32. Measured on two cores with PostgreSQL
/// on the same machine (docs/performance.md, 7 Dec 2026): 8 connections served 64 sessions at
/// least as fast as 16 and with a shorter tail, since fewer backends take turns on the CPU
/// while the rest wait in the pool's queue, first come first served.
fn default_connections(cores: usize) -> u32 {
    u32::try_from(cores.saturating_mul(4)).map_or(32, |n| n.clamp(4, 32))
}

fn parse_bool(
    value: Option<String>,
    default: bool,
    name: &'static str,
) -> Result<bool, ConfigError> {
    match value.as_deref().map(str::to_ascii_lowercase).as_deref() {
        None => Ok(default),
        Some("1" | "true" | "yes" | "on") => Ok(true),
        Some("0" | "false" | "no" | "off") => Ok(false),
        Some(other) => Err(ConfigError {
            name,
            value: other.to_string(),
            reason: "forventer true eller false",
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_and_overrides() {
        let c = Config::from_lookup(|_| None).unwrap();
        assert_eq!(c.addr.to_string(), "127.0.0.1:8080");
        assert!(c.database_url.is_none());
        assert!(!c.secure_cookies);
        assert!(
            c.smtp.is_none(),
            "mail goes to the log unless SMTP is configured"
        );
        assert_eq!(c.mail_from, "Overgang <noreply@overgang.invalid>");
        assert_eq!(c.base_url, "http://127.0.0.1:8080");
        let c = Config::from_lookup(|n| match n {
            "OVERGANG_ADDR" => Some("0.0.0.0:9000".into()),
            "OVERGANG_SECURE_COOKIES" => Some("true".into()),
            "DATABASE_URL" => Some("postgres://x/y".into()),
            _ => None,
        })
        .unwrap();
        assert_eq!(c.addr.port(), 9000);
        assert!(c.secure_cookies);
        assert_eq!(c.database_url.as_deref(), Some("postgres://x/y"));
        assert_eq!(c.base_url, "http://0.0.0.0:9000");
        assert!(c.trusted_proxies.is_empty());
        let c = Config::from_lookup(|n| {
            (n == "OVERGANG_TRUSTED_PROXIES").then(|| "10.0.0.5, ::1".into())
        })
        .unwrap();
        assert_eq!(c.trusted_proxies.len(), 2);
        let e = Config::from_lookup(|n| (n == "OVERGANG_TRUSTED_PROXIES").then(|| "proxy".into()));
        assert_eq!(e.unwrap_err().name, "OVERGANG_TRUSTED_PROXIES");
    }

    #[test]
    fn connections_follow_the_cores_within_bounds() {
        assert_eq!(default_connections(1), 4);
        assert_eq!(default_connections(2), 8);
        assert_eq!(default_connections(6), 24);
        assert_eq!(default_connections(64), 32);
        assert_eq!(default_connections(usize::MAX), 32);
        let cores = std::thread::available_parallelism().unwrap().get();
        let c = Config::from_lookup(|_| None).unwrap();
        assert_eq!(c.db_connections, default_connections(cores));
        let c =
            Config::from_lookup(|n| (n == "OVERGANG_DB_CONNECTIONS").then(|| "3".into())).unwrap();
        assert_eq!(c.db_connections, 3);
        for bad in ["0", "501", "many"] {
            let e = Config::from_lookup(|n| (n == "OVERGANG_DB_CONNECTIONS").then(|| bad.into()));
            assert_eq!(e.unwrap_err().name, "OVERGANG_DB_CONNECTIONS");
        }
    }

    #[test]
    fn mail_settings() {
        let c = Config::from_lookup(|n| match n {
            "OVERGANG_SMTP_URL" => Some("smtp://u:p@mail.kommune.dk".into()),
            "OVERGANG_MAIL_FROM" => Some("Vejle Kommune <overgang@vejle.dk>".into()),
            "OVERGANG_BASE_URL" => Some("https://overgang.vejle.dk/".into()),
            _ => None,
        })
        .unwrap();
        let smtp = c.smtp.unwrap();
        assert_eq!((smtp.host.as_str(), smtp.port), ("mail.kommune.dk", 587));
        assert_eq!(c.mail_from, "Vejle Kommune <overgang@vejle.dk>");
        assert_eq!(c.base_url, "https://overgang.vejle.dk");

        let err = Config::from_lookup(|n| {
            (n == "OVERGANG_SMTP_URL").then(|| "ftp://u:hemmelig@host".into())
        })
        .unwrap_err();
        assert!(err.to_string().contains("OVERGANG_SMTP_URL"));
        assert!(!err.to_string().contains("hemmelig"), "{err}");
        for (name, bad) in [
            ("OVERGANG_MAIL_FROM", "ikke en adresse"),
            ("OVERGANG_BASE_URL", "overgang.vejle.dk"),
            ("OVERGANG_BASE_URL", "https://"),
            ("OVERGANG_BASE_URL", "https://x.dk/?a=1"),
        ] {
            assert!(
                Config::from_lookup(|n| (n == name).then(|| bad.into())).is_err(),
                "{name}={bad}"
            );
        }
    }

    #[test]
    fn rejects_bad_values() {
        assert!(Config::from_lookup(|n| (n == "OVERGANG_ADDR").then(|| "nope".into())).is_err());
        assert!(
            Config::from_lookup(|n| (n == "OVERGANG_SECURE_COOKIES").then(|| "maybe".into()))
                .is_err()
        );
    }
}

//! Typed settings from environment variables.

use std::{net::SocketAddr, path::PathBuf, time::Duration};

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
    /// Seed demo data on the first start of the embedded database.
    pub seed_demo_on_first_start: bool,
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
        Ok(Config {
            database_url: get("DATABASE_URL"),
            addr,
            data_dir: PathBuf::from(get("OVERGANG_DATA_DIR").unwrap_or_else(|| "./data".into())),
            secure_cookies,
            log_filter: get("RUST_LOG")
                .unwrap_or_else(|| "overgang=info,tower_http=info,warn".into()),
            request_timeout: Duration::from_secs(timeout),
            seed_demo_on_first_start: seed,
        })
    }
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

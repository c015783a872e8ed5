//! Outgoing e-mail through an outbox.
//!
//! Handlers call [`enqueue`] inside their own transaction, so a message exists exactly when the
//! change that caused it committed (no invitation mail for a rolled-back invitation, no lost mail
//! for a committed one). A background task ([`spawn`]) delivers due rows with a transport: the log
//! (the default; in development that is where the invitation link shows up) or SMTP when
//! `OVERGANG_SMTP_URL` is set. Failed deliveries are retried with exponential backoff and given up
//! after [`MAX_ATTEMPTS`]; the last error stays on the row.
//!
//! Which rows the task can see: the outbox policy (migration 20261123000003) lets the platform
//! scope see every municipality's rows, like `audit_log`, so the task simply works in
//! `Scope::Platform`. No page reads the outbox.

use std::{fmt, future::Future, str::FromStr, time::Duration};

use lettre::{
    message::{header::ContentType, Mailbox},
    transport::smtp::{
        authentication::Credentials,
        client::{Tls, TlsParameters},
    },
    AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor,
};
use sqlx::PgPool;
use tokio::{sync::watch, task::JoinHandle};
use uuid::Uuid;

use crate::{
    config::Config,
    db::{self, Scope, Tx},
};

/// Deliveries of one message before it is given up.
pub const MAX_ATTEMPTS: i32 = 8;
/// How often the task looks for due mail when nobody wakes it.
pub const POLL: Duration = Duration::from_secs(5);
/// First retry delay; doubles per attempt up to [`MAX_BACKOFF_SECS`].
pub const FIRST_BACKOFF_SECS: f64 = 30.0;
pub const MAX_BACKOFF_SECS: f64 = 3600.0;
const BATCH: i64 = 10;
const SMTP_TIMEOUT: Duration = Duration::from_secs(20);

static WAKE: tokio::sync::Notify = tokio::sync::Notify::const_new();

/// Queues a message in the caller's transaction. It is sent only if that transaction commits.
pub async fn enqueue(
    tx: &mut Tx,
    municipality_id: Option<Uuid>,
    to: &str,
    subject: &str,
    body: &str,
) -> Result<(), sqlx::Error> {
    sqlx::query!(
        "INSERT INTO outbox (municipality_id, to_address, subject, body) VALUES ($1, $2, $3, $4)",
        municipality_id,
        to,
        subject,
        body
    )
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// Tells the delivery task to look now instead of at its next poll. Call after the commit that
/// queued mail; harmless (and without effect) when no task runs, as in the tests.
pub fn wake() {
    WAKE.notify_one();
}

/// An absolute link for an e-mail: `OVERGANG_BASE_URL` + `path`.
pub fn link(config: &Config, path: &str) -> String {
    format!("{}{}", config.base_url, path)
}

// ---------------------------------------------------------------------------------------------
// Configuration

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SmtpSecurity {
    /// `smtp://`: plain connection upgraded with STARTTLS, which is required (no downgrade).
    StartTls,
    /// `smtps://`: TLS from the first byte.
    ImplicitTls,
    /// `smtp://…?tls=none`: no encryption, for a mail catcher on this machine only.
    None,
}

/// `OVERGANG_SMTP_URL` parsed: `smtp://user:pass@host:587` (STARTTLS) or
/// `smtps://user:pass@host:465` (implicit TLS). User and password are percent-decoded.
#[derive(Clone, PartialEq, Eq)]
pub struct SmtpSettings {
    pub host: String,
    pub port: u16,
    pub security: SmtpSecurity,
    pub username: Option<String>,
    pub password: Option<String>,
}

impl fmt::Debug for SmtpSettings {
    // The password must not end up in a log line via `{:?}` of the config.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SmtpSettings")
            .field("host", &self.host)
            .field("port", &self.port)
            .field("security", &self.security)
            .field("username", &self.username)
            .field("password", &self.password.as_ref().map(|_| "<skjult>"))
            .finish()
    }
}

impl SmtpSettings {
    pub fn parse(url: &str) -> Result<SmtpSettings, &'static str> {
        let url = url.trim();
        let (scheme, rest) = url
            .split_once("://")
            .ok_or("forventer smtp://… eller smtps://…")?;
        let (rest, query) = match rest.split_once('?') {
            Some((r, q)) => (r, Some(q)),
            None => (rest, None),
        };
        let rest = rest.strip_suffix('/').unwrap_or(rest);
        if rest.contains('/') {
            return Err("adressen må ikke have en sti");
        }
        let (userinfo, hostport) = match rest.rsplit_once('@') {
            Some((u, h)) => (Some(u), h),
            None => (None, rest),
        };
        let (host, port) = split_host_port(hostport)?;
        if host.is_empty()
            || host
                .chars()
                .any(|c| c.is_whitespace() || c.is_control() || c == '@')
        {
            return Err("mangler et gyldigt værtsnavn");
        }
        let mut security = match scheme.to_ascii_lowercase().as_str() {
            "smtp" => SmtpSecurity::StartTls,
            "smtps" => SmtpSecurity::ImplicitTls,
            _ => return Err("forventer smtp://… (STARTTLS) eller smtps://… (TLS)"),
        };
        for pair in query.unwrap_or("").split('&').filter(|p| !p.is_empty()) {
            match pair {
                "tls=none" if security == SmtpSecurity::StartTls => {
                    // Plain text only to this machine: credentials and links must not cross a
                    // network unencrypted.
                    if !matches!(host.as_str(), "localhost" | "127.0.0.1" | "::1") {
                        return Err("tls=none er kun tilladt mod localhost");
                    }
                    security = SmtpSecurity::None;
                }
                "tls=required" if security == SmtpSecurity::StartTls => {}
                _ => return Err("ukendt parameter; kun tls=none (localhost) kendes"),
            }
        }
        let port = match port {
            Some(p) => p,
            None if security == SmtpSecurity::ImplicitTls => 465,
            None => 587,
        };
        let (username, password) = match userinfo {
            None => (None, None),
            Some(info) => {
                let (u, p) = match info.split_once(':') {
                    Some((u, p)) => (u, Some(p)),
                    None => (info, None),
                };
                let u = percent_decode(u).ok_or("ugyldig %-kodning i brugernavnet")?;
                let p = p
                    .map(|p| percent_decode(p).ok_or("ugyldig %-kodning i adgangskoden"))
                    .transpose()?;
                (Some(u).filter(|u| !u.is_empty()), p)
            }
        };
        if password.is_some() && username.is_none() {
            return Err("en adgangskode kræver et brugernavn");
        }
        Ok(SmtpSettings {
            host,
            port,
            security,
            username,
            password,
        })
    }
}

fn split_host_port(hostport: &str) -> Result<(String, Option<u16>), &'static str> {
    let bad_port = "porten skal være et tal mellem 1 og 65535";
    let parse_port = |p: &str| p.parse::<u16>().ok().filter(|p| *p > 0).ok_or(bad_port);
    if let Some(rest) = hostport.strip_prefix('[') {
        let (host, after) = rest.split_once(']').ok_or("ugyldig IPv6-adresse")?;
        let port = match after.strip_prefix(':') {
            Some(p) => Some(parse_port(p)?),
            None if after.is_empty() => None,
            None => return Err(bad_port),
        };
        return Ok((host.to_string(), port));
    }
    match hostport.split_once(':') {
        Some((h, p)) => Ok((h.to_ascii_lowercase(), Some(parse_port(p)?))),
        None => Ok((hostport.to_ascii_lowercase(), None)),
    }
}

/// Percent-decoding for URL user info (`+` stays `+`, unlike form encoding).
fn percent_decode(s: &str) -> Option<String> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = std::str::from_utf8(bytes.get(i + 1..i + 3)?).ok()?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

/// Checks a sender such as `Overgang <noreply@kommune.dk>`.
pub fn valid_from(from: &str) -> bool {
    Mailbox::from_str(from).is_ok()
}

// ---------------------------------------------------------------------------------------------
// Transports

/// Why a delivery failed, and whether trying again could help.
#[derive(Debug)]
pub struct DeliveryError {
    pub message: String,
    pub permanent: bool,
}

/// Something that can deliver one message. The delivery task uses [`Mailer`]; tests use their own.
pub trait Deliver: Sync {
    fn deliver(
        &self,
        to: &str,
        subject: &str,
        body: &str,
    ) -> impl Future<Output = Result<(), DeliveryError>> + Send;
}

pub enum Transport {
    /// Writes the message to the log (development; the default).
    Log,
    Smtp(AsyncSmtpTransport<Tokio1Executor>),
}

impl Transport {
    pub fn name(&self) -> &'static str {
        match self {
            Transport::Log => "log",
            Transport::Smtp(_) => "smtp",
        }
    }
}

pub struct Mailer {
    pub transport: Transport,
    pub from: Mailbox,
}

impl Mailer {
    /// The transport the configuration asks for: SMTP when `OVERGANG_SMTP_URL` is set, else the
    /// log. Builds the client without connecting.
    pub fn from_config(config: &Config) -> anyhow::Result<Mailer> {
        let from = Mailbox::from_str(&config.mail_from)
            .map_err(|e| anyhow::anyhow!("OVERGANG_MAIL_FROM: {e}"))?;
        let transport = match &config.smtp {
            None => Transport::Log,
            Some(s) => {
                let tls = |host: &str| TlsParameters::new(host.to_string());
                let tls = match s.security {
                    SmtpSecurity::StartTls => Tls::Required(tls(&s.host)?),
                    SmtpSecurity::ImplicitTls => Tls::Wrapper(tls(&s.host)?),
                    SmtpSecurity::None => Tls::None,
                };
                let mut builder = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(&s.host)
                    .port(s.port)
                    .tls(tls)
                    .timeout(Some(SMTP_TIMEOUT));
                if let Some(user) = &s.username {
                    builder = builder.credentials(Credentials::new(
                        user.clone(),
                        s.password.clone().unwrap_or_default(),
                    ));
                }
                Transport::Smtp(builder.build())
            }
        };
        Ok(Mailer { transport, from })
    }
}

impl Deliver for Mailer {
    async fn deliver(&self, to: &str, subject: &str, body: &str) -> Result<(), DeliveryError> {
        let permanent = |message: String| DeliveryError {
            message,
            permanent: true,
        };
        match &self.transport {
            Transport::Log => {
                tracing::info!(
                    "e-mail til {to}: {subject} (kun skrevet i loggen; sæt OVERGANG_SMTP_URL for at sende)\n{body}"
                );
                Ok(())
            }
            Transport::Smtp(smtp) => {
                let to: Mailbox = to
                    .parse()
                    .map_err(|e| permanent(format!("ugyldig modtager: {e}")))?;
                // Our own id in the sender's domain: relays would add one, but a container's
                // host name (lettre's default) says nothing useful.
                let message_id = format!("<{}@{}>", Uuid::new_v4(), self.from.email.domain());
                let message = Message::builder()
                    .message_id(Some(message_id))
                    .from(self.from.clone())
                    .to(to)
                    .subject(subject)
                    .header(ContentType::TEXT_PLAIN)
                    .body(body.to_string())
                    .map_err(|e| permanent(format!("kunne ikke bygge beskeden: {e}")))?;
                smtp.send(message)
                    .await
                    .map(|_| ())
                    .map_err(|e| DeliveryError {
                        permanent: e.is_permanent(),
                        message: e.to_string(),
                    })
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Delivery

/// Claims up to one batch of due messages and tries to deliver them. Returns how many were
/// claimed. Once a message is sent or given up its body is cleared: it holds a live one-time
/// link, and the outbox is a queue, not an archive (recipient, subject and times remain). Claiming pushes `next_attempt_at` ahead by the backoff first and commits, so several
/// app servers never send the same row at once, no transaction stays open during SMTP, and a
/// crash mid-send means a retry after the backoff (at-least-once delivery).
pub async fn deliver_due<D: Deliver>(pool: &PgPool, deliverer: &D) -> Result<usize, sqlx::Error> {
    let mut tx = db::begin(pool, Scope::Platform).await?;
    let claimed = sqlx::query!(
        r#"UPDATE outbox o SET attempts = o.attempts + 1,
                  next_attempt_at = now() + make_interval(secs => least($1 * power(2, o.attempts), $2))
           WHERE o.id IN (SELECT id FROM outbox
                          WHERE next_attempt_at <= now()
                          ORDER BY next_attempt_at, id
                          LIMIT $3
                          FOR UPDATE SKIP LOCKED)
           RETURNING o.id, o.to_address, o.subject, o.body, o.attempts"#,
        FIRST_BACKOFF_SECS,
        MAX_BACKOFF_SECS,
        BATCH
    )
    .fetch_all(&mut *tx)
    .await?;
    tx.commit().await?;

    for row in &claimed {
        let result = deliverer
            .deliver(&row.to_address, &row.subject, &row.body)
            .await;
        let mut tx = db::begin(pool, Scope::Platform).await?;
        match result {
            Ok(()) => {
                sqlx::query!(
                    "UPDATE outbox SET sent_at = now(), next_attempt_at = NULL, last_error = NULL,
                                       body = ''
                     WHERE id = $1",
                    row.id
                )
                .execute(&mut *tx)
                .await?;
            }
            Err(e) => {
                let give_up = e.permanent || row.attempts >= MAX_ATTEMPTS;
                // Only the row id: the address and body are personal data and hold links, and
                // the mail server's reply often quotes the address, so it goes to the outbox
                // row (`last_error`), not to the log.
                tracing::warn!(
                    outbox_id = row.id,
                    attempt = row.attempts,
                    permanent = e.permanent,
                    give_up,
                    "e-mail kunne ikke afleveres (årsagen står i outbox.last_error)"
                );
                let message: String = e.message.chars().take(1000).collect();
                sqlx::query!(
                    "UPDATE outbox SET last_error = $2,
                            next_attempt_at = CASE WHEN $3 THEN NULL ELSE next_attempt_at END,
                            body = CASE WHEN $3 THEN '' ELSE body END
                     WHERE id = $1",
                    row.id,
                    message,
                    give_up
                )
                .execute(&mut *tx)
                .await?;
            }
        }
        tx.commit().await?;
    }
    Ok(claimed.len())
}

/// Starts the delivery task. It delivers whatever is due, then waits for [`POLL`], a [`wake`] or
/// the shutdown signal; a batch in progress is finished before it stops.
pub fn spawn(pool: PgPool, mailer: Mailer, mut shutdown: watch::Receiver<bool>) -> JoinHandle<()> {
    tokio::spawn(async move {
        loop {
            if *shutdown.borrow() {
                break;
            }
            match deliver_due(&pool, &mailer).await {
                // A full batch may mean more is waiting: go again without sleeping.
                Ok(n) if n as i64 >= BATCH => continue,
                Ok(_) => {}
                Err(e) => tracing::error!(error = %e, "udbakken kunne ikke læses"),
            }
            tokio::select! {
                _ = tokio::time::sleep(POLL) => {}
                _ = WAKE.notified() => {}
                _ = shutdown.changed() => {}
            }
        }
        tracing::debug!("e-mail-afsendelse stoppet");
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn smtp_urls() {
        let s = SmtpSettings::parse("smtp://bruger%40kommune.dk:hemm%3Aelig+kode@mail.kommune.dk")
            .unwrap();
        assert_eq!(s.host, "mail.kommune.dk");
        assert_eq!(s.port, 587);
        assert_eq!(s.security, SmtpSecurity::StartTls);
        assert_eq!(s.username.as_deref(), Some("bruger@kommune.dk"));
        assert_eq!(s.password.as_deref(), Some("hemm:elig+kode"));

        let s = SmtpSettings::parse("smtps://relay.example.org").unwrap();
        assert_eq!((s.port, s.security), (465, SmtpSecurity::ImplicitTls));
        assert_eq!(s.username, None);

        let s = SmtpSettings::parse("smtp://u:p@relay.example.org:2525/").unwrap();
        assert_eq!(s.port, 2525);
        let s = SmtpSettings::parse("smtp://localhost:1025?tls=none").unwrap();
        assert_eq!((s.port, s.security), (1025, SmtpSecurity::None));
        let s = SmtpSettings::parse("smtps://[::1]:4650").unwrap();
        assert_eq!((s.host.as_str(), s.port), ("::1", 4650));

        for bad in [
            "mail.kommune.dk",
            "http://mail.kommune.dk",
            "smtp://",
            "smtp://host:0",
            "smtp://host:99999",
            "smtp://host:port",
            "smtp://host/ehlo",
            "smtp://mail.kommune.dk?tls=none",
            "smtps://localhost?tls=none",
            "smtp://host?tls=opportunistic",
            "smtp://:pw@host",
            "smtp://u:%zz@host",
        ] {
            assert!(SmtpSettings::parse(bad).is_err(), "{bad} should be refused");
        }
    }

    #[test]
    fn debug_output_hides_the_password() {
        let s = SmtpSettings::parse("smtp://u:topsecret@host").unwrap();
        let shown = format!("{s:?}");
        assert!(!shown.contains("topsecret"), "{shown}");
        assert!(shown.contains("<skjult>"));
    }

    fn config(vars: &[(&str, &str)]) -> Config {
        Config::from_lookup(|n| {
            vars.iter()
                .find(|(k, _)| *k == n)
                .map(|(_, v)| v.to_string())
        })
        .unwrap()
    }

    #[test]
    fn transport_follows_the_configuration() {
        let m = Mailer::from_config(&config(&[])).unwrap();
        assert_eq!(m.transport.name(), "log");
        assert_eq!(m.from.email.to_string(), "noreply@overgang.invalid");

        let m = Mailer::from_config(&config(&[
            ("OVERGANG_SMTP_URL", "smtps://u:p@relay.example.org"),
            ("OVERGANG_MAIL_FROM", "Vejle Kommune <overgang@vejle.dk>"),
        ]))
        .unwrap();
        assert_eq!(m.transport.name(), "smtp");
        assert_eq!(m.from.email.to_string(), "overgang@vejle.dk");
        assert_eq!(m.from.name.as_deref(), Some("Vejle Kommune"));
    }

    #[tokio::test]
    async fn the_log_transport_always_succeeds() {
        let m = Mailer::from_config(&config(&[])).unwrap();
        assert!(m
            .deliver("a@b.dk", "Emne", "Linje 1\nLinje 2")
            .await
            .is_ok());
    }

    #[test]
    fn links_use_the_base_url() {
        let c = config(&[("OVERGANG_BASE_URL", "https://overgang.vejle.dk/")]);
        assert_eq!(
            link(&c, "/invitation/abc"),
            "https://overgang.vejle.dk/invitation/abc"
        );
        let c = config(&[("OVERGANG_ADDR", "127.0.0.1:9000")]);
        assert_eq!(link(&c, "/x"), "http://127.0.0.1:9000/x");
    }
}

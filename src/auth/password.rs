//! argon2id password hashing. Hashing is CPU-heavy, so it runs off the async workers.

use std::sync::OnceLock;

use argon2::{
    password_hash::{rand_core::OsRng, PasswordHash, PasswordHasher, PasswordVerifier, SaltString},
    Argon2,
};

pub const MIN_LENGTH: usize = 12;
pub const MAX_LENGTH: usize = 256;

pub async fn hash(password: String) -> anyhow::Result<String> {
    tokio::task::spawn_blocking(move || hash_blocking(&password)).await?
}

pub fn hash_blocking(password: &str) -> anyhow::Result<String> {
    let salt = SaltString::generate(&mut OsRng);
    Ok(Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map_err(|e| anyhow::anyhow!("hash: {e}"))?
        .to_string())
}

/// Verifies `password` against `stored`. With no stored hash (unknown user, or invitation not
/// yet accepted) a dummy hash is verified instead, so failures take the same time either way.
pub async fn verify(stored: Option<String>, password: String) -> bool {
    tokio::task::spawn_blocking(move || {
        let dummy = dummy_hash();
        let (hash, real) = match stored.as_deref() {
            Some(h) => (h, true),
            None => (dummy, false),
        };
        let ok = PasswordHash::new(hash)
            .map(|parsed| {
                Argon2::default()
                    .verify_password(password.as_bytes(), &parsed)
                    .is_ok()
            })
            .unwrap_or(false);
        ok && real
    })
    .await
    .unwrap_or(false)
}

fn dummy_hash() -> &'static str {
    static DUMMY: OnceLock<String> = OnceLock::new();
    DUMMY.get_or_init(|| hash_blocking("dummy password that matches nothing").expect("argon2"))
}

/// Danish message for a password that does not meet the rules, or None.
pub fn weakness(password: &str) -> Option<&'static str> {
    let n = password.chars().count();
    if n < MIN_LENGTH {
        Some("Adgangskoden skal være mindst 12 tegn.")
    } else if n > MAX_LENGTH {
        Some("Adgangskoden må højst være 256 tegn.")
    } else if password
        .chars()
        .all(|c| c == password.chars().next().unwrap_or(' '))
    {
        Some("Adgangskoden må ikke bestå af ét tegn gentaget.")
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn hash_and_verify() {
        let h = hash("korrekt hest batteri".into()).await.unwrap();
        assert!(h.starts_with("$argon2id$"));
        assert!(verify(Some(h.clone()), "korrekt hest batteri".into()).await);
        assert!(!verify(Some(h), "forkert".into()).await);
        assert!(!verify(None, "dummy password that matches nothing".into()).await);
        assert!(!verify(Some("not a hash".into()), "x".into()).await);
    }

    #[test]
    fn rules() {
        assert!(weakness("kort").is_some());
        assert!(weakness("aaaaaaaaaaaaaaaa").is_some());
        assert!(weakness("en god lang sætning").is_none());
    }
}

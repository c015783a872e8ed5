//! argon2id password hashing. Hashing is CPU-heavy, so it runs off the async workers, and
//! memory-heavy (19 MiB for each computation with argon2's default parameters), so only a few
//! run at once: see `Gate`.

use std::sync::{Arc, OnceLock};

use argon2::{
    password_hash::{rand_core::OsRng, PasswordHash, PasswordHasher, PasswordVerifier, SaltString},
    Argon2,
};
use tokio::sync::Semaphore;

use crate::web::AppError;

pub const MIN_LENGTH: usize = 12;
pub const MAX_LENGTH: usize = 256;

/// Whether `password` is longer than a password may be, counted as `weakness` counts when it
/// is set: in characters (a password of 130 `æ` is 260 bytes, and could be set but not typed in).
pub fn too_long(password: &str) -> bool {
    password.len() > MAX_LENGTH && password.chars().count() > MAX_LENGTH
}

/// The page's message when a password cannot be checked now (HTTP 429).
pub const BUSY: &str =
    "Der er travlt med at kontrollere adgangskoder lige nu. Vent et øjeblik, og prøv igen.";

/// Too many passwords are being checked already: the request is refused, not queued.
#[derive(Debug)]
pub struct Busy;

impl From<Busy> for AppError {
    fn from(_: Busy) -> Self {
        AppError::TooManyRequests(BUSY.into())
    }
}

/// Bounds the argon2 computations: at most `running` at once, each on a blocking thread, and
/// at most `admitted` (the running ones included) in the building at all; a request beyond that
/// is refused at once. Without it every login took a blocking thread and its 19 MiB: 256 logins
/// at once took the server from 52 MiB to 3.3 GiB (measured, docs/performance.md), and tokio
/// allows 512 such threads.
pub struct Gate {
    running: Arc<Semaphore>,
    admitted: Arc<Semaphore>,
}

/// How many may wait for each computation that runs: at 15 to 25 ms a computation, the last of
/// them has its answer within one or two seconds.
const WAITING_PER_RUNNING: usize = 64;

impl Gate {
    pub fn new(running: usize, waiting: usize) -> Self {
        Gate {
            running: Arc::new(Semaphore::new(running.max(1))),
            admitted: Arc::new(Semaphore::new(running.max(1) + waiting)),
        }
    }

    /// `work` on a blocking thread when its turn comes, or `Busy`. The permits go with the
    /// work: a request abandoned while its computation runs still counts until it ends.
    pub async fn run<T: Send + 'static>(
        &self,
        work: impl FnOnce() -> T + Send + 'static,
    ) -> Result<T, Busy> {
        let admitted = self
            .admitted
            .clone()
            .try_acquire_owned()
            .map_err(|_| Busy)?;
        let running = self
            .running
            .clone()
            .acquire_owned()
            .await
            .map_err(|_| Busy)?;
        let done = tokio::task::spawn_blocking(move || {
            let _permits = (admitted, running);
            work()
        })
        .await;
        // A panic in the work is the request's panic (a 500 page), as if it had run inline.
        done.map_err(|e| std::panic::resume_unwind(e.into_panic()))
    }

    /// The app's gate (`AppState::passwords`): half the cores compute (at least one), so pages
    /// keep the rest.
    pub fn for_machine() -> Self {
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        let running = (cores / 2).max(1);
        Gate::new(running, WAITING_PER_RUNNING * running)
    }
}

pub async fn hash(gate: &Gate, password: String) -> Result<String, AppError> {
    gate.run(move || hash_blocking(&password))
        .await?
        .map_err(AppError::Internal)
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
pub async fn verify(gate: &Gate, stored: Option<String>, password: String) -> Result<bool, Busy> {
    gate.run(move || {
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
    use std::sync::{
        atomic::{AtomicUsize, Ordering::SeqCst},
        mpsc, Mutex,
    };

    use super::*;

    #[tokio::test]
    async fn hash_and_verify() {
        let gate = Gate::for_machine();
        let h = hash(&gate, "korrekt hest batteri".into()).await.unwrap();
        assert!(h.starts_with("$argon2id$"));
        let check = |stored: Option<&str>, password: &str| {
            verify(&gate, stored.map(String::from), password.into())
        };
        assert!(check(Some(&h), "korrekt hest batteri").await.unwrap());
        assert!(!check(Some(&h), "forkert").await.unwrap());
        assert!(!check(None, "dummy password that matches nothing")
            .await
            .unwrap());
        assert!(!check(Some("not a hash"), "x").await.unwrap());
    }

    /// A gate, and requests through it whose computations count how many run at once and
    /// each run until `release` is sent once.
    struct Rig {
        gate: Arc<Gate>,
        now: Arc<AtomicUsize>,
        most: Arc<AtomicUsize>,
        release: mpsc::Sender<()>,
        held: Arc<Mutex<mpsc::Receiver<()>>>,
    }

    impl Rig {
        fn new(running: usize, waiting: usize) -> Self {
            let (release, held) = mpsc::channel();
            Rig {
                gate: Arc::new(Gate::new(running, waiting)),
                now: Arc::default(),
                most: Arc::default(),
                release,
                held: Arc::new(Mutex::new(held)),
            }
        }

        /// A request: the number of computations running when its own started.
        fn request(&self) -> tokio::task::JoinHandle<Result<usize, Busy>> {
            let (gate, now) = (self.gate.clone(), self.now.clone());
            let (most, held) = (self.most.clone(), self.held.clone());
            tokio::spawn(async move {
                gate.run(move || {
                    let n = now.fetch_add(1, SeqCst) + 1;
                    most.fetch_max(n, SeqCst);
                    held.lock().unwrap().recv().unwrap();
                    now.fetch_sub(1, SeqCst);
                    n
                })
                .await
            })
        }
    }

    async fn until(what: impl Fn() -> bool) {
        for _ in 0..2000 {
            if what() {
                return;
            }
            tokio::time::sleep(std::time::Duration::from_millis(1)).await;
        }
        panic!("the gate never got there");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn gate_runs_one_at_a_time_and_refuses_beyond_its_waiting_room() {
        let rig = Rig::new(1, 2);
        let admitted: Vec<_> = (0..3).map(|_| rig.request()).collect();
        // One runs, two wait: the fourth is refused at once, and nothing else runs.
        until(|| rig.gate.admitted.available_permits() == 0).await;
        let fourth = tokio::time::timeout(std::time::Duration::from_secs(5), rig.gate.run(|| 0));
        assert!(
            matches!(fourth.await, Ok(Err(Busy))),
            "refused at once, not queued"
        );
        for _ in 0..3 {
            rig.release.send(()).unwrap();
        }
        for request in admitted {
            assert_eq!(
                request.await.unwrap().unwrap(),
                1,
                "one computation at a time"
            );
        }
        assert_eq!(rig.most.load(SeqCst), 1);
        // Everyone is out again, so the gate admits as before.
        assert_eq!(rig.gate.run(|| 7).await.unwrap(), 7);
        assert_eq!(rig.gate.admitted.available_permits(), 3);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn an_abandoned_request_counts_until_its_computation_ends() {
        let rig = Rig::new(1, 0);
        let request = rig.request();
        until(|| rig.now.load(SeqCst) == 1).await;
        request.abort();
        assert!(request.await.unwrap_err().is_cancelled());
        // The computation goes on without its request, and still counts ...
        assert!(matches!(rig.gate.run(|| 0).await, Err(Busy)));
        rig.release.send(()).unwrap();
        // ... until it ends.
        until(|| rig.gate.admitted.available_permits() == 1).await;
        assert_eq!(rig.gate.run(|| 7).await.unwrap(), 7);
    }

    #[test]
    fn rules() {
        assert!(weakness("kort").is_some());
        assert!(weakness("aaaaaaaaaaaaaaaa").is_some());
        assert!(weakness("en god lang sætning").is_none());
    }
}

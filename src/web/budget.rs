//! How much of the form bodies being sent the server holds at once.
//!
//! An urlencoded form is read whole before its CSRF token is checked (`auth::session`), and a
//! visitor's token is there for anyone who opens the login page. Without a bound, 1,000
//! connections each sending 500 KB to `/login` took the server from 43 to 1,070 MiB, and it kept
//! 507 MiB after they were answered (measured, docs/performance.md); with the process's 20,000
//! descriptors that would have been about 10 GB. So the bytes of the bodies being read are
//! counted as they arrive, for each client and for all, and a body that would go past either
//! bound is refused at once (429) rather than read. A client holds at most `PER_CLIENT` (a
//! school behind one address autosaving many forms at once stays far below it; a form is a
//! few KB to 100 KB), everybody together `TOTAL`. Bytes are counted as they arrive, not as
//! announced, so a client cannot hold the budget by announcing a body it does not send.

use std::{collections::HashMap, net::IpAddr, sync::Mutex};

/// What all clients' form bodies may hold at once.
pub const TOTAL: usize = 64 * 1024 * 1024;
/// What one client's form bodies may hold at once.
pub const PER_CLIENT: usize = 8 * 1024 * 1024;

#[derive(Default)]
struct Held {
    total: usize,
    by_client: HashMap<IpAddr, usize>,
}

pub struct FormBudget {
    held: Mutex<Held>,
    total: usize,
    per_client: usize,
}

impl Default for FormBudget {
    fn default() -> Self {
        Self::new(TOTAL, PER_CLIENT)
    }
}

/// The budget ran out: the body is refused, nothing of it is kept.
#[derive(Debug, PartialEq, Eq)]
pub struct Exhausted;

impl FormBudget {
    pub fn new(total: usize, per_client: usize) -> Self {
        FormBudget {
            held: Mutex::default(),
            total,
            per_client,
        }
    }

    /// A reservation of nothing yet for one body of `client` (`None`: the address is unknown,
    /// and only the total applies).
    pub fn reserve(&self, client: Option<IpAddr>) -> Reservation<'_> {
        Reservation {
            budget: self,
            client,
            bytes: 0,
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Held> {
        self.held.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// What is held in all, and by `client` (for tests and the log).
    pub fn held(&self, client: IpAddr) -> (usize, usize) {
        let held = self.lock();
        (
            held.total,
            held.by_client.get(&client).copied().unwrap_or(0),
        )
    }
}

/// The bytes one body holds of the budget, given back when it is dropped (when the request
/// has been answered, so also while the handler still has the body).
pub struct Reservation<'a> {
    budget: &'a FormBudget,
    client: Option<IpAddr>,
    bytes: usize,
}

impl Reservation<'_> {
    /// Counts `n` more bytes of the body, unless that goes past a bound.
    pub fn grow(&mut self, n: usize) -> Result<(), Exhausted> {
        let b = self.budget;
        let mut held = b.lock();
        let mine = self
            .client
            .map_or(0, |c| held.by_client.get(&c).copied().unwrap_or(0));
        if held.total + n > b.total || (self.client.is_some() && mine + n > b.per_client) {
            return Err(Exhausted);
        }
        held.total += n;
        if let Some(c) = self.client {
            *held.by_client.entry(c).or_default() += n;
        }
        self.bytes += n;
        Ok(())
    }
}

impl Drop for Reservation<'_> {
    fn drop(&mut self) {
        if self.bytes == 0 {
            return;
        }
        let mut held = self.budget.lock();
        held.total -= self.bytes;
        if let Some(c) = self.client {
            if let Some(mine) = held.by_client.get_mut(&c) {
                *mine -= self.bytes;
                if *mine == 0 {
                    held.by_client.remove(&c);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bodies_are_bounded_per_client_and_in_all_and_given_back() {
        let ip = |s: &str| s.parse::<IpAddr>().unwrap();
        let (a, b, c) = (ip("192.0.2.1"), ip("192.0.2.2"), ip("192.0.2.3"));
        let budget = FormBudget::new(100, 60);
        let mut first = budget.reserve(Some(a));
        first.grow(50).unwrap();
        // the client's bound: 50 + 20 > 60, while another client may
        let mut second = budget.reserve(Some(a));
        assert_eq!(second.grow(20), Err(Exhausted));
        second.grow(10).unwrap();
        let mut other = budget.reserve(Some(b));
        other.grow(30).unwrap();
        assert_eq!(budget.held(a), (90, 60));
        // the total: 90 + 20 > 100, for anyone, also a client of unknown address
        assert_eq!(budget.reserve(Some(c)).grow(20), Err(Exhausted));
        assert_eq!(budget.reserve(None).grow(20), Err(Exhausted));
        budget.reserve(None).grow(10).unwrap();
        // a refused growth holds nothing; an answered body gives its bytes back
        assert_eq!(budget.held(c), (90, 0));
        drop(first);
        assert_eq!(budget.held(a), (40, 10));
        drop((second, other));
        assert_eq!(budget.held(a), (0, 0));
        assert!(
            budget.lock().by_client.is_empty(),
            "no client is remembered"
        );
    }
}

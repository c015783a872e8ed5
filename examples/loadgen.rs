//! Load client for scripts/bench.sh: concurrent sessions that each log in and loop over the main
//! pages, then each page alone and each floor page alone under the same load, then a burst of
//! sign-ins. Prints throughput, p50/p99 latency and errors per page, the sign-ins' answers, and
//! the server's RSS.
//!
//!   cargo run --release --example loadgen -- --base http://127.0.0.1:18482 \
//!       --users 'bench-{n}@vejle.overgang.test' --user-count 64 --ids ids.txt --pid 1234
//!
//! Options (defaults): --sessions 64, --duration 300 (mixed phase, s), --warmup 10 (s),
//! --solo 20 (s per page alone; 0 skips), --rounds 5 (the pages alone take turns in this many
//! rounds, each page solo/rounds seconds a round, so a machine whose speed drifts over minutes
//! slows the pages and the floors alike), --pages '/transitions,/transitions/{id},
//! /transitions/{id}/form,/children' (comma-separated; `{id}` is a random id from --ids),
//! --floor '/healthz,/account' (the floors, each a share of its own column: the health probe, one
//! `SELECT 1` without a session, and the smallest signed-in page), --logins 256 (sign-ins posted
//! at once at the end, see `sign_in_burst`; 0 skips), --password Overgang-demo-2026,
//! --accept-encoding 'gzip, deflate, br, zstd' (what Chromium sends with every page request, so
//! pages are compressed as for a browser; '' asks for none), --pid (the server's, for its memory
//! and CPU), --pg-pid (PostgreSQL's postmaster, for the CPU of its backends).

use std::{
    collections::HashMap,
    sync::{
        atomic::{AtomicBool, Ordering},
        Arc, Mutex,
    },
    time::{Duration, Instant},
};

use rand::Rng;
use reqwest::{header, redirect, StatusCode};

#[derive(Clone)]
struct Options {
    base: String,
    users: String,
    user_count: usize,
    password: String,
    sessions: usize,
    duration: u64,
    warmup: u64,
    solo: u64,
    rounds: u32,
    pages: Vec<String>,
    floors: Vec<String>,
    logins: usize,
    ids: Vec<String>,
    pid: Option<u32>,
    pg_pid: Option<u32>,
    accept_encoding: String,
}

fn options() -> Options {
    let mut o = Options {
        base: "http://127.0.0.1:8080".into(),
        users: "paedagog@vejle.overgang.test".into(),
        user_count: 1,
        password: "Overgang-demo-2026".into(),
        sessions: 64,
        duration: 300,
        warmup: 10,
        solo: 20,
        rounds: 5,
        pages: "/transitions,/transitions/{id},/transitions/{id}/form,/children"
            .split(',')
            .map(String::from)
            .collect(),
        floors: vec!["/healthz".into(), "/account".into()],
        logins: 256,
        ids: Vec::new(),
        pid: None,
        pg_pid: None,
        accept_encoding: "gzip, deflate, br, zstd".into(),
    };
    let args: Vec<String> = std::env::args().skip(1).collect();
    for pair in args.chunks(2) {
        let (k, v) = (pair[0].as_str(), pair.get(1).cloned().unwrap_or_default());
        match k {
            "--base" => o.base = v,
            "--users" => o.users = v,
            "--user-count" => o.user_count = v.parse().expect("--user-count"),
            "--password" => o.password = v,
            "--sessions" => o.sessions = v.parse().expect("--sessions"),
            "--duration" => o.duration = v.parse().expect("--duration"),
            "--warmup" => o.warmup = v.parse().expect("--warmup"),
            "--solo" => o.solo = v.parse().expect("--solo"),
            "--rounds" => o.rounds = v.parse::<u32>().expect("--rounds").max(1),
            "--pages" => {
                o.pages = v
                    .split(',')
                    .map(|p| p.trim().to_string())
                    .filter(|p| !p.is_empty())
                    .collect()
            }
            "--floor" => o.floors = v.split(',').map(String::from).collect(),
            "--logins" => o.logins = v.parse().expect("--logins"),
            "--ids" => {
                o.ids = std::fs::read_to_string(&v)
                    .expect("--ids file")
                    .split_whitespace()
                    .map(String::from)
                    .collect()
            }
            "--pid" => o.pid = Some(v.parse().expect("--pid")),
            "--pg-pid" => o.pg_pid = Some(v.parse().expect("--pg-pid")),
            "--accept-encoding" => o.accept_encoding = v,
            other => panic!("unknown option {other}"),
        }
    }
    o
}

fn rss_kib(pid: Option<u32>) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{}/status", pid?)).ok()?;
    status
        .lines()
        .find(|l| l.starts_with("VmRSS:"))?
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()
}

/// The parent's pid and the CPU time (user and system, in clock ticks) of a `/proc/<pid>/stat`.
fn stat_ticks(stat: &str) -> Option<(u32, u64)> {
    // The fields after the command name, which is in parentheses and may hold anything: the
    // first is the state (field 3 of proc(5)), then the parent (4), utime (14) and stime (15).
    let fields: Vec<&str> = stat.get(stat.rfind(')')? + 2..)?.split(' ').collect();
    let ticks = |i: usize| fields.get(i)?.parse::<u64>().ok();
    Some((fields.get(1)?.parse().ok()?, ticks(11)? + ticks(12)?))
}

/// CPU time in µs used so far by `pid` and, with `children`, by its living child processes
/// (PostgreSQL's backends are children of the postmaster). Linux counts in ticks of 1/100 s
/// (USER_HZ is 100 on x86-64 and arm64).
fn cpu_micros(pid: Option<u32>, children: bool) -> Option<u64> {
    let pid = pid?;
    let read = |p: &str| std::fs::read_to_string(format!("/proc/{p}/stat")).ok();
    let mut ticks = stat_ticks(&read(&pid.to_string())?)?.1;
    if children {
        for entry in std::fs::read_dir("/proc").ok()?.flatten() {
            let name = entry.file_name();
            let Some(name) = name
                .to_str()
                .filter(|n| n.bytes().all(|b| b.is_ascii_digit()))
            else {
                continue;
            };
            if let Some((parent, t)) = read(name).as_deref().and_then(stat_ticks) {
                if parent == pid {
                    ticks += t;
                }
            }
        }
    }
    Some(ticks * 10_000)
}

/// CPU µs used between two readings: `None` without them, and when the second is the smaller
/// (a backend that exited in between took its time with it).
fn used(before: Option<u64>, after: Option<u64>) -> Option<u64> {
    after?.checked_sub(before?)
}

/// CPU µs per request, or `?` without a figure or a request.
fn per_request(used: Option<u64>, requests: usize) -> String {
    match used {
        Some(used) if requests > 0 => (used / requests as u64).to_string(),
        _ => "?".into(),
    }
}

fn csrf_from(html: &str) -> Option<String> {
    let marker = "name=\"_csrf\" value=\"";
    let start = html.find(marker)? + marker.len();
    Some(html[start..].split('"').next()?.to_string())
}

/// A fresh client that has fetched the login page: the client, the e-mail of user `n` and the
/// page's CSRF token.
async fn login_form(o: &Options, n: usize) -> (reqwest::Client, String, String) {
    let c = reqwest::Client::builder()
        .cookie_store(true)
        .redirect(redirect::Policy::none())
        .timeout(Duration::from_secs(30))
        .build()
        .unwrap();
    let email = o
        .users
        .replace("{n}", &format!("{:03}", n % o.user_count.max(1)));
    let html = c
        .get(format!("{}/login", o.base))
        .send()
        .await
        .expect("GET /login")
        .text()
        .await
        .unwrap();
    let token = csrf_from(&html).expect("login page has a CSRF token");
    (c, email, token)
}

/// Posts the login form of `login_form`: the answer's status.
async fn post_login(
    o: &Options,
    (c, email, token): &(reqwest::Client, String, String),
) -> Result<StatusCode, reqwest::Error> {
    let r = c
        .post(format!("{}/login", o.base))
        .header(header::ORIGIN, &o.base)
        .form(&[
            ("_csrf", token.as_str()),
            ("email", email.as_str()),
            ("password", o.password.as_str()),
        ])
        .send()
        .await?;
    let status = r.status();
    r.bytes().await?;
    Ok(status)
}

async fn login(o: &Options, n: usize) -> reqwest::Client {
    let form = login_form(o, n).await;
    let status = post_login(o, &form).await.expect("POST /login");
    assert_eq!(status, StatusCode::SEE_OTHER, "login of {}", form.1);
    form.0
}

/// `--logins` sign-ins posted at once, each after fetching the login page: what the first
/// minutes of a working day, or a burst of password guesses, ask of the server. Each costs a
/// password hash, so the server lets a few through at a time and refuses the rest with 429
/// (`auth::password::Gate`); this shows how many got in, how fast, and the server's memory.
async fn sign_in_burst(o: &Options) {
    let forms = futures_util::future::join_all((0..o.logins).map(|n| login_form(o, n))).await;
    let rss_before = rss_kib(o.pid);
    let peak = Arc::new(std::sync::atomic::AtomicU64::new(rss_before.unwrap_or(0)));
    let stop = Arc::new(AtomicBool::new(false));
    let sampler = {
        let (peak, stop, pid) = (peak.clone(), stop.clone(), o.pid);
        tokio::spawn(async move {
            while !stop.load(Ordering::Relaxed) {
                if let Some(kib) = rss_kib(pid) {
                    peak.fetch_max(kib, Ordering::Relaxed);
                }
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
        })
    };
    let t = Instant::now();
    let answers = futures_util::future::join_all(forms.iter().map(|form| async move {
        let t = Instant::now();
        let status = post_login(o, form).await;
        (status, t.elapsed().as_micros().min(u32::MAX as u128) as u32)
    }))
    .await;
    let wall = t.elapsed().as_secs_f64();
    stop.store(true, Ordering::Relaxed);
    sampler.await.unwrap();
    let mut by_answer: std::collections::BTreeMap<String, Stats> = Default::default();
    for (status, micros) in answers {
        let answer = match status {
            Ok(StatusCode::SEE_OTHER) => "303 signed in".to_string(),
            Ok(StatusCode::TOO_MANY_REQUESTS) => "429 busy, try again".to_string(),
            Ok(other) => other.to_string(),
            Err(e) => format!("no answer: {e}"),
        };
        by_answer.entry(answer).or_default().micros.push(micros);
    }
    println!(
        "\nSign-ins at once: {} posted together, all answered in {wall:.2} s\n",
        o.logins
    );
    println!("| answer | count | p50 ms | p99 ms |");
    println!("|---|---:|---:|---:|");
    for (answer, mut st) in by_answer {
        let (_, p50, p99, _) = summary(&mut st, wall);
        println!("| {answer} | {} | {p50:.1} | {p99:.1} |", st.micros.len());
    }
    println!(
        "\nServer RSS: before {}, highest while signing in {}, after {}",
        mib(rss_before),
        mib(Some(peak.load(Ordering::Relaxed)).filter(|_| rss_before.is_some())),
        mib(rss_kib(o.pid))
    );
}

#[derive(Default)]
struct Stats {
    /// Latencies in microseconds of the successful requests.
    micros: Vec<u32>,
    errors: u64,
    first_error: Option<String>,
}

impl Stats {
    fn absorb(&mut self, other: Stats) {
        self.micros.extend(other.micros);
        self.errors += other.errors;
        if self.first_error.is_none() {
            self.first_error = other.first_error;
        }
    }
}

/// A page alone over all rounds: its requests, the seconds it ran, and the CPU µs of the
/// server and of PostgreSQL in those seconds (`None` once a reading failed).
struct Solo {
    stats: Stats,
    seconds: f64,
    app: Option<u64>,
    pg: Option<u64>,
}

type Record = Arc<Mutex<HashMap<String, Stats>>>;

/// Every session loops over `pages` until `stop`; records when `record` is set.
async fn drive(
    clients: &[reqwest::Client],
    o: &Options,
    pages: &[String],
    run: Duration,
) -> (HashMap<String, Stats>, f64) {
    let stats: Record = Arc::default();
    let stop = Arc::new(AtomicBool::new(false));
    let start = Instant::now();
    let mut tasks = Vec::new();
    for (s, c) in clients.iter().enumerate() {
        let (c, stats, stop) = (c.clone(), stats.clone(), stop.clone());
        let (pages, ids, base) = (pages.to_vec(), o.ids.clone(), o.base.clone());
        let encoding = o.accept_encoding.clone();
        tasks.push(tokio::spawn(async move {
            let mut local: HashMap<String, Stats> = HashMap::new();
            let mut i = s; // sessions start at different pages
            while !stop.load(Ordering::Relaxed) {
                let page = &pages[i % pages.len()];
                i += 1;
                let path = if page.contains("{id}") {
                    let id = &ids[rand::thread_rng().gen_range(0..ids.len())];
                    page.replace("{id}", id)
                } else {
                    page.clone()
                };
                let t = Instant::now();
                let mut request = c.get(format!("{base}{path}"));
                if !encoding.is_empty() {
                    request = request.header(header::ACCEPT_ENCODING, &encoding);
                }
                let result = match request.send().await {
                    Ok(r) => {
                        let status = r.status();
                        match r.bytes().await {
                            Ok(_) if status == StatusCode::OK => Ok(()),
                            Ok(_) => Err(format!("{path}: {status}")),
                            Err(e) => Err(format!("{path}: {e}")),
                        }
                    }
                    Err(e) => Err(format!("{path}: {e}")),
                };
                let micros = t.elapsed().as_micros().min(u32::MAX as u128) as u32;
                let st = local.entry(page.clone()).or_default();
                match result {
                    Ok(()) => st.micros.push(micros),
                    Err(e) => {
                        st.errors += 1;
                        st.first_error.get_or_insert(e);
                    }
                }
            }
            let mut all = stats.lock().unwrap();
            for (k, v) in local {
                all.entry(k).or_default().absorb(v);
            }
        }));
    }
    tokio::time::sleep(run).await;
    stop.store(true, Ordering::Relaxed);
    for t in tasks {
        t.await.unwrap();
    }
    let elapsed = start.elapsed().as_secs_f64();
    let stats = std::mem::take(&mut *stats.lock().unwrap());
    (stats, elapsed)
}

fn percentile(sorted: &[u32], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i] as f64 / 1000.0
}

/// (requests/s, p50 ms, p99 ms, errors) of one page.
fn summary(st: &mut Stats, elapsed: f64) -> (f64, f64, f64, u64) {
    st.micros.sort_unstable();
    (
        st.micros.len() as f64 / elapsed,
        percentile(&st.micros, 0.50),
        percentile(&st.micros, 0.99),
        st.errors,
    )
}

fn mib(kib: Option<u64>) -> String {
    kib.map(|k| format!("{:.1} MiB", k as f64 / 1024.0))
        .unwrap_or_else(|| "?".into())
}

#[tokio::main]
async fn main() {
    let o = options();
    assert!(
        !o.ids.is_empty() || o.pages.iter().all(|p| !p.contains("{id}")),
        "pages with {{id}} need --ids"
    );
    let load = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    println!(
        "sessions {}, mixed phase {} s after {} s warm-up, solo phases {} s, Accept-Encoding: {}; load average before: {}",
        o.sessions,
        o.duration,
        o.warmup,
        o.solo,
        if o.accept_encoding.is_empty() { "(none)" } else { &o.accept_encoding },
        load.trim()
    );
    let t = Instant::now();
    let mut clients = Vec::new();
    for chunk in (0..o.sessions).collect::<Vec<_>>().chunks(8) {
        let logins = chunk.iter().map(|n| login(&o, *n));
        clients.extend(futures_util::future::join_all(logins).await);
    }
    println!(
        "{} sessions logged in in {:.1} s",
        clients.len(),
        t.elapsed().as_secs_f64()
    );

    let rss_start = rss_kib(o.pid);
    if o.warmup > 0 {
        drive(&clients, &o, &o.pages, Duration::from_secs(o.warmup)).await;
    }
    let rss_warm = rss_kib(o.pid);
    // The mixed phase in two halves, so the RSS is read in the middle too.
    let half = o.duration / 2;
    let (mut a, ta) = drive(&clients, &o, &o.pages, Duration::from_secs(half)).await;
    let rss_middle = rss_kib(o.pid);
    let second = Duration::from_secs(o.duration - half);
    let (b, tb) = drive(&clients, &o, &o.pages, second).await;
    let rss_end = rss_kib(o.pid);
    for (k, v) in b {
        a.entry(k).or_default().absorb(v);
    }
    let elapsed = ta + tb;

    println!("\nMixed phase: every session loops over the pages in turn ({elapsed:.0} s)\n");
    println!("| page | requests | req/s | p50 ms | p99 ms | errors |");
    println!("|---|---:|---:|---:|---:|---:|");
    let mut all = Stats::default();
    let mut errors_seen = Vec::new();
    for page in &o.pages {
        let Some(st) = a.get_mut(page) else { continue };
        let n = st.micros.len();
        let (rps, p50, p99, errors) = summary(st, elapsed);
        println!("| `{page}` | {n} | {rps:.1} | {p50:.1} | {p99:.1} | {errors} |");
        all.micros.extend(st.micros.iter());
        all.errors += errors;
        if let Some(e) = &st.first_error {
            errors_seen.push(e.clone());
        }
    }
    let n = all.micros.len();
    let (rps, p50, p99, errors) = summary(&mut all, elapsed);
    println!("| all | {n} | {rps:.1} | {p50:.1} | {p99:.1} | {errors} |");
    for e in errors_seen {
        println!("first error: {e}");
    }
    println!(
        "\nServer RSS: start {}, after warm-up {}, middle {}, end {}",
        mib(rss_start),
        mib(rss_warm),
        mib(rss_middle),
        mib(rss_end)
    );

    if o.solo > 0 {
        let floors = o
            .floors
            .iter()
            .map(|f| format!("`{f}`"))
            .collect::<Vec<_>>()
            .join(" and ");
        println!(
            "\nEach page alone, {} sessions, {} s each in {} rounds (throughput relative to the \
             floors {floors}; CPU time per request of the server and of PostgreSQL's backends)\n",
            o.sessions, o.solo, o.rounds
        );
        let of: String = o.floors.iter().map(|f| format!(" of `{f}` |")).collect();
        println!("| page | req/s | p50 ms | p99 ms | errors |{of} app µs | PostgreSQL µs |");
        println!(
            "|---|---:|---:|---:|---:|{}---:|---:|",
            "---:|".repeat(o.floors.len())
        );
        let all: Vec<&String> = o.pages.iter().chain(&o.floors).collect();
        let mut solos: Vec<Solo> = all
            .iter()
            .map(|_| Solo {
                stats: Stats::default(),
                seconds: 0.0,
                app: Some(0),
                pg: Some(0),
            })
            .collect();
        let slice = Duration::from_secs_f64(o.solo as f64 / f64::from(o.rounds));
        let cpu = || (cpu_micros(o.pid, false), cpu_micros(o.pg_pid, true));
        for round in 0..o.rounds as usize {
            // each round starts at another page, so no page always follows the same one
            for k in 0..all.len() {
                let i = (round + k) % all.len();
                let before = cpu();
                let (mut st, el) = drive(&clients, &o, std::slice::from_ref(all[i]), slice).await;
                let after = cpu();
                let solo = &mut solos[i];
                solo.stats.absorb(st.remove(all[i]).unwrap_or_default());
                solo.seconds += el;
                let add = |sum: Option<u64>, u: Option<u64>| Some(sum? + u?);
                solo.app = add(solo.app, used(before.0, after.0));
                solo.pg = add(solo.pg, used(before.1, after.1));
            }
        }
        let mut rows = Vec::new();
        for (page, mut solo) in all.into_iter().zip(solos) {
            let n = solo.stats.micros.len() + solo.stats.errors as usize;
            let cpu = (per_request(solo.app, n), per_request(solo.pg, n));
            let figures = summary(&mut solo.stats, solo.seconds);
            rows.push((page.clone(), figures, cpu, solo.stats.first_error));
        }
        let floor_rps: Vec<f64> = rows[rows.len() - o.floors.len()..]
            .iter()
            .map(|r| r.1 .0)
            .collect();
        for (page, (rps, p50, p99, errors), (app, pg), first) in rows {
            let shares: String = floor_rps
                .iter()
                .map(|floor| format!(" {:.0} % |", 100.0 * rps / floor))
                .collect();
            println!(
                "| `{page}` | {rps:.1} | {p50:.1} | {p99:.1} | {errors} |{shares} {app} | {pg} |"
            );
            if let Some(e) = first {
                println!("first error: {e}");
            }
        }
        println!(
            "\nServer RSS after the solo phases: {}",
            mib(rss_kib(o.pid))
        );
    }
    if o.logins > 0 {
        sign_in_burst(&o).await;
    }
    let load = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    println!("load average after: {}", load.trim());
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stat_ticks_reads_the_parent_and_cpu_time_past_any_command_name() {
        // utime 123 and stime 45 of a process of parent 17, named with a space and a ')'
        let stat =
            "4242 (postgres: a) b) S 17 4242 4242 0 -1 4194560 512 0 0 0 123 45 0 0 20 0 1 0 99";
        assert_eq!(stat_ticks(stat), Some((17, 168)));
        assert_eq!(stat_ticks("4242 (x) S 17"), None);
        assert_eq!(stat_ticks("no parentheses"), None);
        let own = std::fs::read_to_string("/proc/self/stat").unwrap();
        assert_eq!(
            stat_ticks(&own).map(|(parent, _)| parent),
            Some(std::os::unix::process::parent_id())
        );
    }

    #[test]
    fn rounds_add_up_their_requests_and_keep_the_first_error() {
        let mut total = Stats::default();
        total.absorb(Stats {
            micros: vec![5, 7],
            errors: 1,
            first_error: Some("first".into()),
        });
        total.absorb(Stats {
            micros: vec![3],
            errors: 2,
            first_error: Some("later".into()),
        });
        assert_eq!(total.micros, [5, 7, 3]);
        assert_eq!(total.errors, 3);
        assert_eq!(total.first_error.as_deref(), Some("first"));
    }

    #[test]
    fn cpu_per_request_needs_both_readings_and_a_request() {
        assert_eq!(per_request(used(Some(1_000), Some(31_000)), 100), "300");
        assert_eq!(per_request(used(None, Some(31_000)), 100), "?");
        assert_eq!(per_request(used(Some(1_000), Some(31_000)), 0), "?");
        assert_eq!(per_request(used(Some(31_000), Some(1_000)), 100), "?");
    }
}

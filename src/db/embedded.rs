//! Our own PostgreSQL cluster for the no-configuration default (and the test harness).
//!
//! The cluster lives under the data dir, listens on a unix socket there and nowhere else, and is
//! started as a child of a dedicated thread with a parent-death signal: if our process dies, the
//! server goes down with it instead of lingering and holding the data directory. PostgreSQL refuses
//! to run as root, so when we are root it runs as the `postgres` system user.

use std::{
    fs,
    os::unix::{
        fs::{chown, PermissionsExt},
        process::CommandExt,
    },
    path::{Path, PathBuf},
    process::{Command, Stdio},
    sync::{mpsc, Arc, Mutex},
    time::{Duration, Instant},
};

use sqlx::postgres::PgConnectOptions;

const PORT: u16 = 5432;
const SUPERUSER: &str = "postgres";

#[derive(Debug, thiserror::Error)]
pub enum EmbeddedError {
    #[error(
        "PostgreSQL blev ikke fundet. Overgang starter sin egen database, når DATABASE_URL ikke er sat, \
         og skal bruge PostgreSQL-serverens programmer (initdb og postgres). Installér dem, fx med \
         `apt-get install postgresql` (Debian/Ubuntu; de havner i /usr/lib/postgresql/<version>/bin), \
         læg dem på PATH, eller sæt DATABASE_URL til en eksisterende PostgreSQL-server."
    )]
    NotInstalled,
    #[error("Overgang kører som root, men systembrugeren `postgres` findes ikke; PostgreSQL nægter at køre som root. Opret brugeren (Debians postgresql-pakke gør det) eller kør som en almindelig bruger.")]
    NoPostgresUser,
    #[error("datamappen {path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("stien til databasens socket er for lang ({0} tegn, højst 100); sæt OVERGANG_DATA_DIR til en kortere sti")]
    SocketPathTooLong(usize),
    #[error("{step} mislykkedes:\n{output}\nHint: systembrugeren `postgres` skal kunne gå ind i alle mapper på vejen til datamappen; vælg ellers en anden OVERGANG_DATA_DIR.")]
    Command { step: &'static str, output: String },
    #[error("PostgreSQL startede ikke inden for {0} sekunder; se loggen {1}")]
    Timeout(u64, PathBuf),
}

fn io_err(path: &Path) -> impl FnOnce(std::io::Error) -> EmbeddedError + '_ {
    move |source| EmbeddedError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// Settings for a cluster we start.
#[derive(Clone, Debug)]
pub struct Options {
    /// Root folder: the cluster goes to `root/pg`, the socket to `root/run`, the log to `root/postgres.log`.
    pub root: PathBuf,
    /// Trade durability for speed (fsync off): only for throwaway test clusters.
    pub throwaway: bool,
}

pub struct EmbeddedPostgres {
    pid: i32,
    socket_dir: PathBuf,
    log_path: PathBuf,
    exited: Arc<Mutex<bool>>,
    owned: bool,
    /// Whether this start initialised a new cluster.
    pub fresh: bool,
}

impl EmbeddedPostgres {
    pub fn start(options: &Options) -> Result<Self, EmbeddedError> {
        let bin = find_bin_dir().ok_or(EmbeddedError::NotInstalled)?;
        let run_as = run_as_user()?;
        fs::create_dir_all(&options.root).map_err(io_err(&options.root))?;
        let root = options.root.canonicalize().map_err(io_err(&options.root))?;
        let pgdata = root.join("pg");
        let socket_dir = root.join("run");
        let log_path = root.join("postgres.log");
        let socket_len = socket_dir
            .join(format!(".s.PGSQL.{PORT}"))
            .as_os_str()
            .len();
        if socket_len > 100 {
            return Err(EmbeddedError::SocketPathTooLong(socket_len));
        }
        for dir in [&pgdata, &socket_dir] {
            private_dir(dir, run_as)?;
        }

        let fresh = !pgdata.join("PG_VERSION").exists();
        if fresh {
            let mut initdb = Command::new(bin.join("initdb"));
            initdb
                .arg("-D")
                .arg(&pgdata)
                .args([
                    "-U",
                    SUPERUSER,
                    "--auth=trust",
                    "-E",
                    "UTF8",
                    "--locale=C.UTF-8",
                ])
                .current_dir(&pgdata);
            as_user(&mut initdb, run_as);
            let out = initdb.output().map_err(io_err(&bin))?;
            if !out.status.success() {
                return Err(EmbeddedError::Command {
                    step: "initdb",
                    output: format!(
                        "{}{}",
                        String::from_utf8_lossy(&out.stdout),
                        String::from_utf8_lossy(&out.stderr)
                    ),
                });
            }
        } else if let Some(pid) = running_postmaster(&pgdata) {
            // A server from an earlier start of ours is still up (e.g. started by another copy of
            // the app): use it, but leave stopping it to whoever started it.
            return Ok(EmbeddedPostgres {
                pid,
                socket_dir,
                log_path,
                exited: Arc::new(Mutex::new(false)),
                owned: false,
                fresh: false,
            });
        }

        let log = fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&log_path)
            .map_err(io_err(&log_path))?;
        let mut cmd = Command::new(bin.join("postgres"));
        cmd.arg("-D")
            .arg(&pgdata)
            .arg("-k")
            .arg(&socket_dir)
            .args([
                "-p",
                &PORT.to_string(),
                "-c",
                "listen_addresses=",
                "-c",
                "unix_socket_permissions=0700",
            ])
            .args(["-c", "max_connections=200", "-c", "shared_buffers=256MB"])
            .current_dir(&pgdata)
            .stdin(Stdio::null())
            .stdout(log.try_clone().map_err(io_err(&log_path))?)
            .stderr(log)
            // Own process group: a Ctrl-C in the terminal reaches us, and we stop the server
            // only after the web server has drained.
            .process_group(0);
        if options.throwaway {
            cmd.args([
                "-c",
                "fsync=off",
                "-c",
                "synchronous_commit=off",
                "-c",
                "full_page_writes=off",
            ]);
        }
        as_user(&mut cmd, run_as);
        // SAFETY: prctl is async-signal-safe; it runs in the forked child before exec.
        unsafe {
            cmd.pre_exec(|| {
                if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGQUIT) != 0 {
                    return Err(std::io::Error::last_os_error());
                }
                Ok(())
            });
        }

        let exited = Arc::new(Mutex::new(false));
        let (tx, rx) = mpsc::channel();
        let exited_flag = exited.clone();
        // The parent-death signal fires when the *thread* that forked the child ends, so the
        // child is forked by a thread that lives exactly as long as the server.
        std::thread::Builder::new()
            .name("postgres-child".into())
            .spawn(move || match cmd.spawn() {
                Ok(mut child) => {
                    let _ = tx.send(Ok(child.id() as i32));
                    let _ = child.wait();
                    *exited_flag.lock().unwrap_or_else(|e| e.into_inner()) = true;
                }
                Err(e) => {
                    let _ = tx.send(Err(e));
                }
            })
            .map_err(io_err(&pgdata))?;
        let pid = rx
            .recv()
            .map_err(|_| EmbeddedError::Command {
                step: "postgres",
                output: "startede ikke".into(),
            })?
            .map_err(io_err(&bin))?;

        let pg = EmbeddedPostgres {
            pid,
            socket_dir,
            log_path,
            exited,
            owned: true,
            fresh,
        };
        pg.wait_ready(&pgdata, Duration::from_secs(60))?;
        Ok(pg)
    }

    fn has_exited(&self) -> bool {
        *self.exited.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn wait_ready(&self, pgdata: &Path, limit: Duration) -> Result<(), EmbeddedError> {
        let start = Instant::now();
        loop {
            if self.has_exited() {
                return Err(EmbeddedError::Command {
                    step: "postgres",
                    output: log_tail(&self.log_path),
                });
            }
            if postmaster_ready(pgdata) {
                return Ok(());
            }
            if start.elapsed() > limit {
                return Err(EmbeddedError::Timeout(
                    limit.as_secs(),
                    self.log_path.clone(),
                ));
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    pub fn connect_options(&self, database: &str) -> PgConnectOptions {
        PgConnectOptions::new()
            .socket(&self.socket_dir)
            .port(PORT)
            .username(SUPERUSER)
            .database(database)
    }

    /// Fast shutdown: active connections are closed, committed work is on disk.
    pub fn stop(&self) {
        if !self.owned || self.has_exited() {
            return;
        }
        // SAFETY: plain kill(2) on the pid of our own child.
        unsafe { libc::kill(self.pid, libc::SIGINT) };
        let start = Instant::now();
        while !self.has_exited() && start.elapsed() < Duration::from_secs(30) {
            std::thread::sleep(Duration::from_millis(50));
        }
        if !self.has_exited() {
            unsafe { libc::kill(self.pid, libc::SIGQUIT) };
        }
    }
}

impl Drop for EmbeddedPostgres {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Directories PostgreSQL's own programs live in: PATH first, then Debian's versioned folders,
/// newest first.
fn find_bin_dir() -> Option<PathBuf> {
    let has_both = |d: &Path| d.join("initdb").is_file() && d.join("postgres").is_file();
    if let Some(path) = std::env::var_os("PATH") {
        if let Some(dir) = std::env::split_paths(&path).find(|d| has_both(d)) {
            return Some(dir);
        }
    }
    let mut versions: Vec<(u32, PathBuf)> = fs::read_dir("/usr/lib/postgresql")
        .ok()?
        .filter_map(|e| e.ok())
        .filter_map(|e| {
            let version = e.file_name().to_str()?.parse::<u32>().ok()?;
            Some((version, e.path().join("bin")))
        })
        .filter(|(_, bin)| has_both(bin))
        .collect();
    versions.sort();
    versions.pop().map(|(_, bin)| bin)
}

type RunAs = Option<(u32, u32)>;

fn run_as_user() -> Result<RunAs, EmbeddedError> {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        return Ok(None);
    }
    let passwd = fs::read_to_string("/etc/passwd").unwrap_or_default();
    passwd
        .lines()
        .map(|l| l.split(':').collect::<Vec<_>>())
        .find(|f| f.len() > 3 && f[0] == "postgres")
        .and_then(|f| Some((f[2].parse().ok()?, f[3].parse().ok()?)))
        .map(Some)
        .ok_or(EmbeddedError::NoPostgresUser)
}

fn as_user(cmd: &mut Command, run_as: RunAs) {
    if let Some((uid, gid)) = run_as {
        cmd.uid(uid).gid(gid).env("HOME", "/tmp");
    }
}

fn private_dir(dir: &Path, run_as: RunAs) -> Result<(), EmbeddedError> {
    fs::create_dir_all(dir).map_err(io_err(dir))?;
    if let Some((uid, gid)) = run_as {
        chown(dir, Some(uid), Some(gid)).map_err(io_err(dir))?;
    }
    fs::set_permissions(dir, fs::Permissions::from_mode(0o700)).map_err(io_err(dir))
}

/// postmaster.pid: line 1 is the pid, line 8 the status ("ready" once connections are accepted).
fn postmaster_lines(pgdata: &Path) -> Vec<String> {
    fs::read_to_string(pgdata.join("postmaster.pid"))
        .map(|s| s.lines().map(|l| l.trim().to_string()).collect())
        .unwrap_or_default()
}

fn postmaster_ready(pgdata: &Path) -> bool {
    postmaster_lines(pgdata)
        .get(7)
        .is_some_and(|s| s == "ready")
}

fn running_postmaster(pgdata: &Path) -> Option<i32> {
    let pid: i32 = postmaster_lines(pgdata).first()?.parse().ok()?;
    // SAFETY: signal 0 only checks that the process exists.
    let alive = unsafe { libc::kill(pid, 0) } == 0;
    (alive && postmaster_ready(pgdata)).then_some(pid)
}

fn log_tail(path: &Path) -> String {
    let text = fs::read_to_string(path).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(20)..].join("\n")
}

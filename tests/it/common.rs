use std::net::SocketAddr;

use overgang::{config::Config, db, seed, AppState};
use reqwest::{header, redirect, Response, StatusCode};
use sqlx::{postgres::PgConnectOptions, PgPool};
use uuid::Uuid;

pub const PASSWORD: &str = seed::DEMO_PASSWORD;

pub struct TestApp {
    pub addr: SocketAddr,
    /// The application's pool (runs as the unprivileged role, under RLS).
    pub db: PgPool,
    /// Owner connection options, for checks that must see past RLS.
    pub owner: PgConnectOptions,
}

pub fn test_config() -> Config {
    Config::from_lookup(|_| None).expect("default config")
}

/// A fresh migrated database with the demo data, without a server (for oneshot tests).
pub async fn state() -> (AppState, PgConnectOptions) {
    state_with(test_config()).await
}

async fn state_with(config: Config) -> (AppState, PgConnectOptions) {
    let owner = db::testing::fresh_database().await;
    let pool = db::app_pool(&owner, 5).await.expect("pool");
    seed::seed_demo(&pool).await.expect("seed");
    (AppState::new(pool, config).expect("catalogues"), owner)
}

/// A real server on a free port.
pub async fn spawn_app() -> TestApp {
    spawn_app_with(test_config()).await
}

/// A real server on a free port with its own configuration.
pub async fn spawn_app_with(config: Config) -> TestApp {
    let (state, owner) = state_with(config).await;
    serve(state, owner).await
}

/// A real server on a free port for a state the test has prepared (from `state`).
pub async fn serve(state: AppState, owner: PgConnectOptions) -> TestApp {
    serve_with_deadline(state, owner, overgang::web::serve::HEADER_TIMEOUT).await
}

/// As `serve`, with its own deadline for a request's headers.
pub async fn serve_with_deadline(
    state: AppState,
    owner: PgConnectOptions,
    header_timeout: std::time::Duration,
) -> TestApp {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    // The app's own server loop, as `overgang serve` runs it.
    tokio::spawn(overgang::web::serve::serve(
        listener,
        overgang::router(state.clone()),
        header_timeout,
        std::future::pending(),
    ));
    TestApp {
        addr,
        db: state.db.clone(),
        owner,
    }
}

impl TestApp {
    pub fn client(&self) -> Client {
        self.client_with_headers(header::HeaderMap::new())
    }

    /// A client that sends `headers` with every request (as a proxy in front would add them).
    pub fn client_with_headers(&self, headers: header::HeaderMap) -> Client {
        Client {
            base: format!("http://{}", self.addr),
            http: reqwest::Client::builder()
                .cookie_store(true)
                .redirect(redirect::Policy::none())
                .default_headers(headers)
                .build()
                .unwrap(),
        }
    }

    /// A client logged in as `email`.
    pub async fn login(&self, email: &str) -> Client {
        let c = self.client();
        let r = c.login(email, PASSWORD).await;
        assert_eq!(r.status(), StatusCode::SEE_OTHER, "login of {email} failed");
        c
    }

    pub async fn owner_conn(&self) -> sqlx::PgConnection {
        use sqlx::Connection;
        use sqlx::Executor;
        let mut conn = sqlx::PgConnection::connect_with(&self.owner).await.unwrap();
        // In the app's time zone, so that `current_date` here is the app's date: between
        // midnight in Denmark and midnight UTC the two differ by a day.
        conn.execute(format!("SET TimeZone TO '{}'", overgang::db::TIME_ZONE).as_str())
            .await
            .unwrap();
        conn
    }

    pub async fn municipality_id(&self, code: &str) -> Uuid {
        let mut c = self.owner_conn().await;
        sqlx::query_scalar("SELECT id FROM municipalities WHERE code = $1")
            .bind(code)
            .fetch_one(&mut c)
            .await
            .unwrap()
    }
}

pub struct Client {
    pub base: String,
    pub http: reqwest::Client,
}

pub fn csrf_from(html: &str) -> String {
    let marker = "name=\"_csrf\" value=\"";
    let start = html.find(marker).expect("page has a CSRF field") + marker.len();
    html[start..].split('"').next().unwrap().to_string()
}

impl Client {
    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }

    pub async fn get(&self, path: &str) -> Response {
        self.http.get(self.url(path)).send().await.unwrap()
    }

    pub async fn get_text(&self, path: &str) -> (StatusCode, String) {
        let r = self.get(path).await;
        (r.status(), r.text().await.unwrap())
    }

    /// The CSRF token a page at `path` hands out.
    pub async fn csrf(&self, path: &str) -> String {
        let (status, html) = self.get_text(path).await;
        assert!(status.is_success(), "GET {path}: {status}");
        csrf_from(&html)
    }

    /// Posts a form as a browser would: same Origin, token from the page it came from.
    pub async fn post_form(&self, path: &str, fields: &[(&str, &str)]) -> Response {
        self.http
            .post(self.url(path))
            .header(header::ORIGIN, &self.base)
            .form(fields)
            .send()
            .await
            .unwrap()
    }

    pub async fn login(&self, email: &str, password: &str) -> Response {
        let token = self.csrf("/login").await;
        self.post_form(
            "/login",
            &[("_csrf", &token), ("email", email), ("password", password)],
        )
        .await
    }
}

/// How many of the answers to one request sent several times at once have `status`.
pub fn how_many(answers: &[StatusCode], status: StatusCode) -> usize {
    answers.iter().filter(|s| **s == status).count()
}

pub fn location(r: &Response) -> String {
    r.headers()
        .get(header::LOCATION)
        .map(|v| v.to_str().unwrap().to_string())
        .unwrap_or_default()
}

impl Client {
    /// Uploads `content` as the file field of a multipart form, with the page's CSRF token.
    pub async fn upload(&self, path: &str, filename: &str, content: Vec<u8>) -> Response {
        let token = self.csrf("/import").await;
        let form = reqwest::multipart::Form::new().text("_csrf", token).part(
            "file",
            reqwest::multipart::Part::bytes(content).file_name(filename.to_string()),
        );
        self.http
            .post(self.url(path))
            .header(header::ORIGIN, &self.base)
            .multipart(form)
            .send()
            .await
            .unwrap()
    }
}

/// The form action of the first form on `html` whose action starts with `prefix`.
pub fn form_action(html: &str, prefix: &str) -> Option<String> {
    let marker = format!("action=\"{prefix}");
    let start = html.find(&marker)? + "action=\"".len();
    Some(html[start..].split('"').next()?.to_string())
}

impl TestApp {
    /// A fixture child at the institution named `institution`, enrolled since `days_ago` days:
    /// (municipality, institution, child).
    pub async fn enrolled_child(
        &self,
        institution: &str,
        (first, last): (&str, &str),
        birth: &str,
        days_ago: i32,
    ) -> (Uuid, Uuid, Uuid) {
        let mut conn = self.owner_conn().await;
        sqlx::query_as(
            "WITH i AS (SELECT municipality_id, id FROM institutions WHERE name = $1),
                  c AS (INSERT INTO children (municipality_id, first_name, last_name, birth_date)
                        SELECT municipality_id, $2, $3, $4::date FROM i RETURNING id),
                  e AS (INSERT INTO enrolments (municipality_id, child_id, institution_id, starts_on)
                        SELECT i.municipality_id, c.id, i.id, current_date - $5 FROM i, c)
             SELECT i.municipality_id, i.id, c.id FROM i, c",
        )
        .bind(institution)
        .bind(first)
        .bind(last)
        .bind(birth)
        .bind(days_ago)
        .fetch_one(&mut conn)
        .await
        .unwrap()
    }

    /// A count (or any i64) read past RLS with the owner connection.
    pub async fn count(&self, sql: &str) -> i64 {
        let mut conn = self.owner_conn().await;
        sqlx::query_scalar(sql).fetch_one(&mut conn).await.unwrap()
    }

    /// Sends `request` while another transaction holds the rows `lock` locks, as a change made
    /// at the same moment would. Once the request waits for them (or after 3 s, if it never
    /// does), that transaction runs `change` and commits. A request that reads before it locks
    /// acts on what it read, from before `change`; one that locks first sees `change`.
    pub async fn during<T>(
        &self,
        lock: &str,
        change: &str,
        request: impl std::future::Future<Output = T>,
    ) -> T {
        use sqlx::Connection;
        let mut conn = self.owner_conn().await;
        let mut tx = conn.begin().await.unwrap();
        sqlx::raw_sql(lock).execute(&mut *tx).await.unwrap();
        let other = async {
            for _ in 0..300 {
                let waiting = self
                    .count(
                        "SELECT count(*) FROM pg_stat_activity
                         WHERE datname = current_database() AND wait_event_type = 'Lock'",
                    )
                    .await;
                if waiting > 0 {
                    break;
                }
                tokio::time::sleep(std::time::Duration::from_millis(10)).await;
            }
            sqlx::raw_sql(change).execute(&mut *tx).await.unwrap();
            tx.commit().await.unwrap();
        };
        futures_util::future::join(request, other).await.0
    }
}

impl Client {
    /// Posts `fields` with the CSRF token handed out by the page at `page`.
    pub async fn post_with_token(
        &self,
        page: &str,
        path: &str,
        fields: &[(&str, &str)],
    ) -> Response {
        let token = self.csrf(page).await;
        let mut all = vec![("_csrf", token.as_str())];
        all.extend_from_slice(fields);
        self.post_form(path, &all).await
    }
}

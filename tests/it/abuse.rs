//! Abuse suite: every POST route, as a user allowed to post there, is sent what a browser never
//! sends: no CSRF token, a wrong one, 1 MB in every field, a body that is not UTF-8, NUL bytes,
//! ids of another municipality (path and form), markup and SQL metacharacters.
//!
//! The routes come from the source through access.rs's reader, so a new POST route without a
//! row in `ROUTES` fails `every_post_route_has_an_abuse_row`. The field names come from the form
//! on the page that offers the action (so a new field is abused without touching this file).
//!
//! Refusals must be 4xx and leave the database exactly as it was: every table's row count and a
//! hash of its contents, read past RLS. Text that is legitimately accepted must be stored exactly
//! as sent and rendered escaped on every page that shows it. A 500 anywhere fails.

use std::collections::{BTreeMap, BTreeSet};

use reqwest::{header, Response, StatusCode};
use uuid::Uuid;

use crate::{
    access::{fill, fixture, fixture_at, routes_in_source, Fixture},
    common::{csrf_from, location, spawn_app, Client, TestApp},
};

#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Debug)]
enum Who {
    Anonymous,
    Operator,
    Admin,
    Pedagogue,
}

/// A field value that makes the form valid where the page's own defaults do not.
type Valid = &'static [(&'static str, &'static str)];

/// (POST route, who posts, the page holding its form ("" when no page offers it), values that
/// make the form valid, pages besides the redirect target that show what the route stores).
/// `{child}` in a page is the fixture's child. Template routes work on a draft version.
#[rustfmt::skip]
const ROUTES: &[(&str, Who, &str, Valid, &[&str])] = &[
    ("/login", Who::Anonymous, "/login", &[], &[]),
    ("/logout", Who::Pedagogue, "/", &[], &[]),
    ("/password/forgot", Who::Anonymous, "/password/forgot", &[], &[]),
    ("/password/reset/{token}", Who::Anonymous, "", &[("password", "Et-nyt-kodeord-2026"), ("password_again", "Et-nyt-kodeord-2026")], &[]),
    ("/invitation/{token}", Who::Anonymous, "", &[("password", "Et-nyt-kodeord-2026"), ("password_again", "Et-nyt-kodeord-2026")], &[]),
    ("/account/password", Who::Pedagogue, "/account", &[], &[]),
    ("/platform/municipalities", Who::Operator, "/platform/municipalities/new",
        &[("code", "0101"), ("name", "Testby"), ("admin_name", "Test Admin"), ("admin_email", "admin@testby.dk"), ("admin_password", "Et-nyt-kodeord-2026")],
        &["/platform/municipalities"]),
    ("/institutions", Who::Admin, "/institutions/new", &[("name", "Abuse Børnehus"), ("kind", "boernehave")], &["/institutions"]),
    ("/institutions/{id}", Who::Admin, "/institutions/{id}/edit", &[], &["/institutions", "/institutions/{id}"]),
    ("/institutions/{id}/active", Who::Admin, "/institutions/{id}", &[], &[]),
    ("/clusters", Who::Admin, "/clusters/new", &[("name", "Abuseklyngen")], &["/clusters"]),
    ("/clusters/{id}", Who::Admin, "/clusters/{id}", &[], &["/clusters"]),
    ("/import/{kind}", Who::Admin, "/import", &[("file", "navn;type\nAbusehuset;boernehave\n")], &[]),
    ("/import/batch/{id}/confirm", Who::Admin, "", &[], &[]),
    ("/children", Who::Pedagogue, "/children/new",
        &[("first_name", "Abuse"), ("last_name", "Barn"), ("birth_date", "2021-03-04"), ("starts_on", "2024-08-01")],
        &["/children"]),
    ("/children/search", Who::Pedagogue, "/children", &[], &[]),
    ("/audit/search", Who::Admin, "/audit", &[], &[]),
    ("/children/{id}/delete", Who::Admin, "/children/{id}/edit", &[], &[]),
    ("/children/{id}/edit", Who::Pedagogue, "/children/{id}/edit", &[], &["/children", "/children/{id}", "/transitions", "/transitions/{id}"]),
    ("/children/{id}/enrolments", Who::Pedagogue, "/children/{id}/enrolments/new", &[("starts_on", "2025-01-01")], &["/children/{id}"]),
    ("/children/{id}/enrolments/{eid}/delete", Who::Pedagogue, "/children/{id}", &[], &[]),
    ("/children/{id}/enrolments/{eid}/end", Who::Pedagogue, "/children/{id}/enrolments/{eid}/end", &[("ends_on", "2026-06-30")], &["/children/{id}"]),
    ("/children/{id}/guardians", Who::Pedagogue, "/children/{id}/guardians/new", &[("name", "Abuse Forælder")], &["/children/{id}"]),
    ("/children/{id}/guardians/{gid}/delete", Who::Pedagogue, "/children/{id}", &[], &[]),
    ("/children/{id}/guardians/{gid}/edit", Who::Pedagogue, "/children/{id}/guardians/{gid}/edit", &[], &["/children/{id}"]),
    // The button shows only while a kind has no template.
    ("/templates/defaults", Who::Admin, "", &[], &[]),
    ("/templates/{id}/delete", Who::Admin, "/templates/{id}", &[], &[]),
    ("/templates/{id}/edit", Who::Admin, "/templates/{id}/edit", &[], &["/templates", "/templates/{id}"]),
    ("/templates/{id}/new-version", Who::Admin, "", &[], &[]),
    ("/templates/{id}/publish", Who::Admin, "/templates/{id}", &[], &[]),
    ("/templates/{id}/questions/{question}", Who::Admin, "/templates/{id}/questions/{question}", &[], &["/templates/{id}"]),
    ("/templates/{id}/questions/{question}/delete", Who::Admin, "/templates/{id}", &[], &[]),
    ("/templates/{id}/questions/{question}/move", Who::Admin, "/templates/{id}", &[], &[]),
    ("/templates/{id}/sections", Who::Admin, "/templates/{id}/sections", &[("title", "Abuseafsnit")], &["/templates/{id}"]),
    ("/templates/{id}/sections/{section}", Who::Admin, "/templates/{id}/sections/{section}", &[], &["/templates/{id}"]),
    ("/templates/{id}/sections/{section}/delete", Who::Admin, "/templates/{id}", &[], &[]),
    ("/templates/{id}/sections/{section}/move", Who::Admin, "/templates/{id}", &[], &[]),
    ("/templates/{id}/sections/{section}/questions", Who::Admin, "/templates/{id}/sections/{section}/questions",
        &[("label", "Abusespørgsmål"), ("kind", "single_choice"), ("options", "Ja\nNej")], &["/templates/{id}"]),
    ("/transitions", Who::Pedagogue, "/transitions/new?child={child}", &[("planned_date", "2027-08-01")], &["/transitions"]),
    ("/transitions/cohort", Who::Admin, "/transitions/cohort", &[], &[]),
    ("/transitions/{id}/form", Who::Pedagogue, "/transitions/{id}/form", &[], &["/transitions/{id}/form"]),
    ("/transitions/{id}/responsible", Who::Admin, "/transitions/{id}", &[], &[]),
    ("/transitions/{id}/status", Who::Pedagogue, "/transitions/{id}", &[], &[]),
    ("/transitions/{id}/meeting", Who::Pedagogue, "/transitions/{id}/meeting",
        &[("held_on", "2027-06-10"), ("participants", "Mor, pædagog, lærer")],
        &["/transitions/{id}", "/transitions/{id}/meeting"]),
    ("/transitions/{id}/meeting/agreements", Who::Pedagogue, "", &[], &[]),
    ("/transitions/{id}/meeting/agreements/{agreement}/done", Who::Pedagogue, "", &[], &[]),
    // Offered only to the receiver of a sent handover, and to the sender once it is sent.
    ("/transitions/{id}/acknowledge", Who::Admin, "", &[], &[]),
    ("/transitions/{id}/amendments", Who::Pedagogue, "", &[], &[]),
    ("/transitions/{id}/recall", Who::Pedagogue, "", &[], &[]),
    ("/transitions/{id}/parents/consent", Who::Pedagogue, "", &[], &[]),
    ("/transitions/{id}/parents/links", Who::Pedagogue, "", &[], &[]),
    ("/transitions/{id}/parents/revoke", Who::Pedagogue, "", &[], &[]),
    ("/foraelder/{token}", Who::Anonymous, "", &[], &[]),
    ("/foraelder/{token}/consent", Who::Anonymous, "", &[], &[]),
    ("/classes", Who::Admin, "/classes", &[("name", "0.Ø"), ("school_year", "2027")], &["/classes"]),
    // offered to the institution's leader only
    ("/classes/delegates", Who::Admin, "", &[], &[]),
    ("/classes/delegates/revoke", Who::Admin, "", &[], &[]),
    ("/classes/{id}/children", Who::Admin, "/classes/{id}", &[], &[]),
    ("/classes/{id}/children/remove", Who::Admin, "", &[], &[]),
    // the demo school has no staff besides its teacher, so no form offers another one
    ("/classes/{id}/teachers", Who::Admin, "", &[], &[]),
    ("/classes/{id}/teachers/remove", Who::Admin, "/classes/{id}", &[], &[]),
    ("/transitions/{id}/handover-wish", Who::Pedagogue, "/transitions/{id}/meeting", &[], &[]),
    ("/foraelder/{token}/corrections", Who::Anonymous, "", &[], &[]),
    // The answer form shows only once a parent has asked for a correction.
    ("/transitions/{id}/corrections", Who::Pedagogue, "", &[], &[]),
    ("/feedback/{id}", Who::Admin, "/feedback/{id}",
        &[("usefulness", "4"), ("completeness", "4"), ("special_support", "no"), ("deferred_start", "no"), ("ppr_referral", "no")],
        &["/transitions/{id}/feedback"]),
    ("/settings", Who::Admin, "/settings", &[], &[]),
    ("/settings/wording", Who::Admin, "/settings/wording", &[("phrase", "abuseord"), ("suggestion", "Skriv noget andet.")], &["/settings/wording"]),
    ("/settings/wording/{id}", Who::Admin, "/settings/wording/{id}", &[], &["/settings/wording"]),
    ("/settings/wording/{id}/delete", Who::Admin, "/settings/wording/{id}", &[], &[]),
    // Offered only for a handover that is ready or sent (the fixture's is a draft), and for
    // transfers that exist (covered with real ids in transfers.rs).
    ("/transitions/{id}/transfer", Who::Admin, "", &[], &[]),
    ("/transfers/import", Who::Admin, "/transfers/import", &[], &[]),
    ("/transfers/{id}/accept", Who::Admin, "", &[], &[]),
    ("/transfers/{id}/reject", Who::Admin, "", &[], &[]),
    ("/transfers/{id}/destination", Who::Admin, "", &[], &[]),
    ("/transfers/{id}/close", Who::Admin, "", &[], &[]),
    ("/users/invite", Who::Admin, "/users/invite", &[("name", "Abuse Bruger"), ("email", "abuse@vejle.overgang.test"), ("role", "analyst")], &["/users"]),
    ("/users/{id}/roles", Who::Admin, "/users/{id}", &[], &[]),
    ("/users/{id}/roles/{assignment}/remove", Who::Admin, "/users/{id}", &[], &[]),
    ("/users/{id}/deactivate", Who::Admin, "/users/{id}", &[], &[]),
    ("/users/{id}/reactivate", Who::Admin, "", &[], &[]),
    ("/users/{id}/resend", Who::Admin, "", &[], &[]),
];

/// Accepting text here stores nothing (a search goes into the next page's address).
const STORES_NOTHING: &[&str] = &[
    "/children/search",
    "/audit/search",
    "/login",
    "/password/forgot",
];

/// Routes whose text fields take free text: the markup must be accepted there, stored verbatim
/// and shown escaped, or the escaping check would prove nothing.
const MUST_ACCEPT_MARKUP: &[&str] = &[
    "/children/{id}/edit",
    "/children/{id}/guardians/{gid}/edit",
    "/institutions/{id}",
    "/transitions/{id}/form",
];

/// May change without any request changing data: the audit log records every read (and the
/// refusals we want to see), login throttling counts failed logins by design, and a session's
/// `last_seen_at` moves with every request.
const VOLATILE_TABLES: &[&str] = &["audit_log", "login_throttle", "sessions"];

const SCRIPT: &str = "<script>alert(1)</script>";
/// The markup as text: askama writes numeric entities, others write named ones.
const SCRIPT_ESCAPED: [&str; 2] = [
    "&#60;script&#62;alert(1)&#60;/script&#62;",
    "&lt;script&gt;alert(1)&lt;/script&gt;",
];
const SQL: &str = "x'; DROP TABLE children; -- 100% _ \\ \\\\";
const MEGABYTE: usize = 1024 * 1024;

#[test]
fn every_post_route_has_an_abuse_row() {
    let in_source: BTreeSet<String> = routes_in_source()
        .into_iter()
        .filter(|(m, _)| m == "POST")
        .map(|(_, p)| p)
        .collect();
    let in_table: BTreeSet<String> = ROUTES.iter().map(|r| r.0.to_string()).collect();
    let missing: Vec<_> = in_source.difference(&in_table).collect();
    let stale: Vec<_> = in_table.difference(&in_source).collect();
    assert!(
        missing.is_empty(),
        "POST routes without a row in abuse.rs ROUTES: {missing:?}"
    );
    assert!(
        stale.is_empty(),
        "rows for routes that no longer exist: {stale:?}"
    );
}

// ---------------------------------------------------------------------------------------------
// The forms as a browser would post them

#[derive(Clone, Debug, PartialEq)]
enum Kind {
    Hidden,
    Text,
    Choice,
    File,
}

#[derive(Clone, Debug)]
struct Field {
    name: String,
    kind: Kind,
    value: String,
}

fn unescape(s: &str) -> String {
    s.replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&#34;", "\"")
        .replace("&#39;", "'")
        .replace("&#x27;", "'")
        .replace("&#60;", "<")
        .replace("&#62;", ">")
        .replace("&amp;", "&")
        .replace("&#38;", "&")
}

fn attr(tag: &str, name: &str) -> Option<String> {
    let marker = format!(" {name}=\"");
    let start = tag.find(&marker)? + marker.len();
    Some(unescape(tag[start..].split('"').next()?))
}

fn has_flag(tag: &str, name: &str) -> bool {
    tag.split(|c: char| c.is_whitespace() || c == '>')
        .any(|w| w == name)
}

/// The fields of the first form on `html` posting to `action`, with the values a browser would
/// send untouched (checked boxes, the selected or first real option), and whether it is a
/// multipart form. `_csrf` is left out.
fn form_fields(html: &str, action: &str) -> Option<(Vec<Field>, bool)> {
    let at = html.find(&format!("action=\"{action}\""))?;
    let start = html[..at].rfind("<form")?;
    let end = at + html[at..].find("</form>")?;
    let form = &html[start..end];
    let multipart = form[..form.find('>')?].contains("multipart/form-data");
    let mut fields: Vec<Field> = Vec::new();
    let mut select: Option<usize> = None;
    let mut select_has_choice = false;
    for piece in form.split('<') {
        let tag = piece.split('>').next().unwrap_or("");
        if tag.starts_with("input") {
            let Some(name) = attr(tag, "name") else {
                continue;
            };
            if name == "_csrf" {
                continue;
            }
            let ty = attr(tag, "type").unwrap_or_else(|| "text".into());
            let value = attr(tag, "value").unwrap_or_default();
            match ty.as_str() {
                "hidden" => fields.push(Field {
                    name,
                    kind: Kind::Hidden,
                    value,
                }),
                "file" => fields.push(Field {
                    name,
                    kind: Kind::File,
                    value,
                }),
                "radio" => {
                    let seen = fields.iter().position(|f| f.name == name);
                    match seen {
                        None => fields.push(Field {
                            name,
                            kind: Kind::Choice,
                            value,
                        }),
                        Some(p) if has_flag(tag, "checked") => fields[p].value = value,
                        Some(_) => {}
                    }
                }
                "checkbox" => {
                    if has_flag(tag, "checked") {
                        fields.push(Field {
                            name,
                            kind: Kind::Choice,
                            value,
                        });
                    }
                }
                "submit" | "button" => {}
                _ => fields.push(Field {
                    name,
                    kind: Kind::Text,
                    value,
                }),
            }
        } else if tag.starts_with("textarea") {
            let Some(name) = attr(tag, "name") else {
                continue;
            };
            let body = piece.split_once('>').map(|(_, b)| b).unwrap_or("");
            fields.push(Field {
                name,
                kind: Kind::Text,
                value: unescape(body.trim_start_matches('\n')),
            });
        } else if tag.starts_with("select") {
            let Some(name) = attr(tag, "name") else {
                continue;
            };
            fields.push(Field {
                name,
                kind: Kind::Choice,
                value: String::new(),
            });
            select = Some(fields.len() - 1);
            select_has_choice = false;
        } else if tag.starts_with("/select") {
            select = None;
        } else if tag.starts_with("option") {
            if let Some(s) = select {
                let value = attr(tag, "value").unwrap_or_default();
                if has_flag(tag, "selected") {
                    fields[s].value = value;
                    select_has_choice = true;
                } else if !select_has_choice && fields[s].value.is_empty() && !value.is_empty() {
                    fields[s].value = value;
                }
            }
        }
    }
    Some((fields, multipart))
}

struct Form {
    fields: Vec<Field>,
    multipart: bool,
}

impl Form {
    fn pairs(&self) -> Vec<(String, String)> {
        self.fields
            .iter()
            .map(|f| (f.name.clone(), f.value.clone()))
            .collect()
    }

    fn with(&self, name: &str, value: &str) -> Vec<(String, String)> {
        self.fields
            .iter()
            .map(|f| {
                let v = if f.name == name { value } else { &f.value };
                (f.name.clone(), v.to_string())
            })
            .collect()
    }

    fn text_fields(&self) -> Vec<String> {
        let mut names: Vec<String> = self
            .fields
            .iter()
            .filter(|f| matches!(f.kind, Kind::Text | Kind::File))
            .map(|f| f.name.clone())
            .collect();
        names.dedup();
        names
    }
}

fn with_token(token: Option<&str>, pairs: &[(String, String)]) -> Vec<(String, String)> {
    let mut all: Vec<(String, String)> = token
        .map(|t| vec![("_csrf".to_string(), t.to_string())])
        .unwrap_or_default();
    all.extend_from_slice(pairs);
    all
}

async fn post(c: &Client, path: &str, pairs: Vec<(String, String)>, multipart: bool) -> Response {
    let req = c.http.post(c.url(path)).header(header::ORIGIN, &c.base);
    let req = if multipart {
        let mut form = reqwest::multipart::Form::new();
        for (k, v) in pairs {
            form = if k == "_csrf" {
                form.text(k, v)
            } else {
                form.part(
                    k,
                    reqwest::multipart::Part::bytes(v.into_bytes()).file_name("abuse.csv"),
                )
            };
        }
        req.multipart(form)
    } else {
        req.form(&pairs)
    };
    req.send().await.unwrap()
}

async fn post_raw(c: &Client, path: &str, body: Vec<u8>) -> Response {
    c.http
        .post(c.url(path))
        .header(header::ORIGIN, &c.base)
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .body(body)
        .send()
        .await
        .unwrap()
}

// ---------------------------------------------------------------------------------------------
// The database, before and after

/// Row count and a hash of the contents of every table but the volatile ones.
async fn snapshot(app: &TestApp) -> BTreeMap<String, (i64, String)> {
    let mut conn = app.owner_conn().await;
    let tables: Vec<String> = sqlx::query_scalar(
        "SELECT table_name::text FROM information_schema.tables
         WHERE table_schema = 'public' AND table_type = 'BASE TABLE' ORDER BY 1",
    )
    .fetch_all(&mut conn)
    .await
    .unwrap();
    let mut out = BTreeMap::new();
    for t in tables {
        if VOLATILE_TABLES.contains(&t.as_str()) {
            continue;
        }
        let row: (i64, String) = sqlx::query_as(&format!(
            "SELECT count(*), coalesce(md5(string_agg(md5(t::text), '' ORDER BY md5(t::text))), '')
             FROM public.\"{t}\" t"
        ))
        .fetch_one(&mut conn)
        .await
        .unwrap();
        out.insert(t, row);
    }
    out
}

fn changed(
    before: &BTreeMap<String, (i64, String)>,
    after: &BTreeMap<String, (i64, String)>,
) -> Vec<String> {
    after
        .iter()
        .filter(|(t, v)| before.get(*t) != Some(v))
        .map(|(t, (n, _))| format!("{t} ({} → {n} rows)", before.get(t).map_or(0, |b| b.0)))
        .collect()
}

/// How many text values anywhere in the database (text columns and text arrays) equal `value`.
async fn stored_count(app: &TestApp, value: &str) -> i64 {
    let mut conn = app.owner_conn().await;
    let columns: Vec<(String, String, String)> = sqlx::query_as(
        "SELECT c.table_name::text, c.column_name::text, c.data_type::text
         FROM information_schema.columns c
         JOIN information_schema.tables t USING (table_schema, table_name)
         WHERE c.table_schema = 'public' AND t.table_type = 'BASE TABLE'
           AND (c.data_type IN ('text', 'character varying')
                OR (c.data_type = 'ARRAY' AND c.udt_name = '_text'))",
    )
    .fetch_all(&mut conn)
    .await
    .unwrap();
    let sum = columns
        .iter()
        .filter(|(t, _, _)| !VOLATILE_TABLES.contains(&t.as_str()))
        .map(|(t, c, ty)| {
            let test = if ty == "ARRAY" {
                format!("$1 = ANY(\"{c}\")")
            } else {
                format!("\"{c}\" = $1")
            };
            format!("(SELECT count(*) FROM public.\"{t}\" WHERE {test})")
        })
        .collect::<Vec<_>>()
        .join(" + ");
    sqlx::query_scalar(&format!("SELECT ({sum})::bigint"))
        .bind(value)
        .fetch_one(&mut conn)
        .await
        .unwrap()
}

// ---------------------------------------------------------------------------------------------
// Fixtures

/// A draft of Vejle's kindergarten → school template for the template editor's routes (a
/// published version refuses every edit, which would test nothing but that refusal).
async fn draft_template(app: &TestApp, admin: &Client, published: Uuid) -> Uuid {
    let find = || async {
        let mut conn = app.owner_conn().await;
        sqlx::query_scalar::<_, Uuid>(
            "SELECT t.id FROM form_templates t JOIN municipalities m ON m.id = t.municipality_id
             WHERE m.code = '0630' AND t.transition_kind = 'kindergarten_school' AND t.status = 'draft'",
        )
        .fetch_optional(&mut conn)
        .await
        .unwrap()
    };
    if let Some(id) = find().await {
        return id;
    }
    let page = format!("/templates/{published}");
    let token = admin.csrf(&page).await;
    let r = admin
        .post_form(&format!("{page}/new-version"), &[("_csrf", &token)])
        .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER, "new draft version");
    find().await.expect("a draft after new-version")
}

/// A kindergarten in a cluster of its own in Vejle, for the routes that edit them.
async fn institution_and_cluster(app: &TestApp) -> (Uuid, Uuid) {
    let mut conn = app.owner_conn().await;
    let m = app.municipality_id("0630").await;
    let n = Uuid::new_v4().simple().to_string();
    let cluster: Uuid = sqlx::query_scalar(
        "INSERT INTO clusters (municipality_id, name) VALUES ($1, 'Klynge ' || $2) RETURNING id",
    )
    .bind(m)
    .bind(&n[..8])
    .fetch_one(&mut conn)
    .await
    .unwrap();
    let institution = sqlx::query_scalar(
        "INSERT INTO institutions (municipality_id, name, kind, cluster_id)
         VALUES ($1, 'Børnehus ' || $2, 'boernehave', $3) RETURNING id",
    )
    .bind(m)
    .bind(&n[..8])
    .bind(cluster)
    .fetch_one(&mut conn)
    .await
    .unwrap();
    (institution, cluster)
}

/// The ids of another municipality a form field may carry, by the field's name.
async fn foreign_value(app: &TestApp, f: &Fixture, field: &str) -> Uuid {
    let n = field.to_ascii_lowercase();
    if n.contains("child") {
        f.child
    } else if n.contains("user") || n.contains("responsible") {
        f.user
    } else if n.contains("cluster") {
        f.cluster
    } else if n.contains("template") {
        f.template
    } else if n.contains("section") {
        let mut conn = app.owner_conn().await;
        sqlx::query_scalar("SELECT id FROM template_sections WHERE template_id = $1 LIMIT 1")
            .bind(f.template)
            .fetch_one(&mut conn)
            .await
            .unwrap()
    } else {
        f.institution
    }
}

fn is_error(status: StatusCode) -> bool {
    status.is_client_error()
}

struct Run {
    failures: Vec<String>,
    accepted: BTreeSet<String>,
}

impl Run {
    fn fail(&mut self, msg: String) {
        self.failures.push(msg);
    }

    /// A refusal: 4xx, never a 500 or an acceptance.
    fn expect_refusal(&mut self, route: &str, case: &str, status: StatusCode) {
        if !is_error(status) {
            self.fail(format!("{route} {case}: got {status}, expected a 4xx"));
        }
    }

    /// GETs a page that may show stored text: no 500, no raw markup. Whether it shows the text
    /// escaped.
    async fn check_page(&mut self, c: &Client, route: &str, path: &str) -> bool {
        let r = c.get(path).await;
        let status = r.status();
        // Only HTML is rendered by a browser: a JSON or CSV download (the data-subject export,
        // the audit CSV) holds the text exactly as stored, which is what it is for.
        let is_html = r
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .map_or(true, |v| v.starts_with("text/html"));
        let html = r.text().await.unwrap_or_default();
        if status.is_server_error() {
            self.fail(format!("{route}: GET {path} answered {status}"));
        }
        if !is_html {
            return false;
        }
        if html.contains("<script>alert") {
            self.fail(format!("{route}: GET {path} renders raw <script>alert"));
        }
        SCRIPT_ESCAPED.iter().any(|e| html.contains(e))
    }
}

#[tokio::test]
async fn every_post_route_refuses_abuse_and_stores_text_verbatim() {
    let app = spawn_app().await;
    let anonymous = app.client();
    let operator = app.login("operator@overgang.test").await;
    let admin = app.login("admin@vejle.overgang.test").await;
    let pedagogue = app.login("paedagog@vejle.overgang.test").await;
    let foreign = fixture_at(&app, "Børnehaven Søstjernen", "Strandskolen").await;
    let mut run = Run {
        failures: Vec::new(),
        accepted: BTreeSet::new(),
    };
    let mut sweep: Vec<(String, Fixture)> = Vec::new();
    let started = std::time::Instant::now();

    for &(route, who, page, valid, shows) in ROUTES {
        // Logging out ends the session, so it gets a session of its own.
        let own;
        let c = match who {
            Who::Anonymous => &anonymous,
            Who::Operator => &operator,
            Who::Admin => &admin,
            Who::Pedagogue if route == "/logout" => {
                own = app.login("paedagog@vejle.overgang.test").await;
                &own
            }
            Who::Pedagogue => &pedagogue,
        };
        let mut f = fixture(&app).await;
        if route.starts_with("/templates/") {
            f.template = draft_template(&app, &admin, f.template).await;
        }
        // Renaming the seeded institution or cluster would break the next fixture.
        if route.starts_with("/institutions/") || route.starts_with("/clusters/") {
            (f.institution, f.cluster) = institution_and_cluster(&app).await;
        }
        let path = fill(&app, route, &f).await;
        let page = fill(&app, &page.replace("{child}", &f.child.to_string()), &f).await;
        let home = if who == Who::Anonymous { "/login" } else { "/" };
        let (status, html) = c.get_text(if page.is_empty() { home } else { &page }).await;
        assert!(status.is_success(), "{route}: GET {page} answered {status}");
        let token = csrf_from(&html);
        let mut form = if page.is_empty() {
            Form {
                fields: Vec::new(),
                multipart: false,
            }
        } else {
            let (fields, multipart) = form_fields(&html, &path).unwrap_or_else(|| {
                run.fail(format!("{route}: no form posting to {path} on {page}"));
                (Vec::new(), false)
            });
            Form { fields, multipart }
        };
        for (name, value) in valid {
            match form.fields.iter_mut().find(|x| x.name == *name) {
                Some(x) => x.value = value.to_string(),
                None => form.fields.push(Field {
                    name: name.to_string(),
                    kind: Kind::Text,
                    value: value.to_string(),
                }),
            }
        }
        let names: Vec<String> = form.fields.iter().map(|x| x.name.clone()).collect();

        // Refusals: nothing may change.
        let before = snapshot(&app).await;
        let r = post(c, &path, with_token(None, &form.pairs()), form.multipart).await;
        run.expect_refusal(route, "(a) without a CSRF token", r.status());
        let wrong = "A".repeat(43);
        let r = post(
            c,
            &path,
            with_token(Some(&wrong), &form.pairs()),
            form.multipart,
        )
        .await;
        run.expect_refusal(route, "(b) with a wrong CSRF token", r.status());
        let big = "A".repeat(MEGABYTE);
        let mut huge = form.pairs();
        for (_, v) in huge.iter_mut() {
            *v = big.clone();
        }
        if huge.is_empty() {
            huge.push(("text".into(), big.clone()));
        }
        let r = post(c, &path, with_token(Some(&token), &huge), form.multipart).await;
        run.expect_refusal(route, "(c) with 1 MB in every field", r.status());
        let field = names.first().cloned().unwrap_or_else(|| "text".into());
        let mut raw = format!("_csrf={token}&{field}=").into_bytes();
        raw.extend_from_slice(&[0xff, 0xfe, b'a', 0xc3]);
        let r = post_raw(c, &path, raw).await;
        run.expect_refusal(route, "(d) with a body that is not UTF-8", r.status());
        if !form.text_fields().is_empty() {
            let mut nul = form.pairs();
            for (k, v) in nul.iter_mut() {
                if form.text_fields().contains(k) {
                    *v = "a\0b".into();
                }
            }
            let r = post(c, &path, with_token(Some(&token), &nul), form.multipart).await;
            run.expect_refusal(route, "(f) with NUL in the text fields", r.status());
        }
        let foreign_path = fill(&app, route, &foreign).await;
        if foreign_path != path && !route.contains("{token}") {
            let r = post(
                c,
                &foreign_path,
                with_token(Some(&token), &form.pairs()),
                form.multipart,
            )
            .await;
            run.expect_refusal(route, "(g) with Stevns ids in the path", r.status());
        }
        let id_fields: Vec<&Field> = form
            .fields
            .iter()
            .filter(|x| x.value.parse::<Uuid>().is_ok() || x.name.ends_with("_id"))
            .collect();
        if !id_fields.is_empty() {
            let mut pairs = form.pairs();
            for (k, v) in pairs.iter_mut() {
                if id_fields.iter().any(|x| &x.name == k) {
                    *v = foreign_value(&app, &foreign, k).await.to_string();
                }
            }
            let r = post(c, &path, with_token(Some(&token), &pairs), form.multipart).await;
            run.expect_refusal(
                route,
                "(g) with Stevns ids in the form's id fields",
                r.status(),
            );
        }
        let diff = changed(&before, &snapshot(&app).await);
        if !diff.is_empty() {
            run.fail(format!("{route}: a refused request changed {diff:?}"));
        }

        // Markup and SQL metacharacters, one text field at a time: refused, or stored verbatim
        // and shown escaped.
        let mut accepted_here = false;
        for name in form.text_fields() {
            for payload in [SCRIPT, SQL] {
                if accepted_here && !page.is_empty() {
                    // An accepted save moves the form's version: post from the fresh page.
                    let (_, html) = c.get_text(&page).await;
                    if let Some((fresh, _)) = form_fields(&html, &path) {
                        for x in form.fields.iter_mut().filter(|x| x.kind == Kind::Hidden) {
                            if let Some(y) = fresh.iter().find(|y| y.name == x.name) {
                                x.value = y.value.clone();
                            }
                        }
                    }
                }
                let stored_before = stored_count(&app, payload).await;
                let r = post(
                    c,
                    &path,
                    with_token(Some(&token), &form.with(&name, payload)),
                    form.multipart,
                )
                .await;
                let status = r.status();
                if status.is_server_error() {
                    run.fail(format!("{route} field {name} = {payload:?}: {status}"));
                }
                if !(status.is_success() || status.is_redirection()) {
                    continue;
                }
                run.accepted.insert(route.to_string());
                accepted_here = true;
                if !STORES_NOTHING.contains(&route)
                    && stored_count(&app, payload).await <= stored_before
                {
                    run.fail(format!(
                        "{route} accepted {payload:?} in {name} ({status}) but stored it nowhere verbatim"
                    ));
                }
                let mut pages: Vec<String> = Vec::new();
                let target = location(&r);
                if target.starts_with('/') {
                    pages.push(target);
                }
                for p in shows {
                    pages.push(fill(&app, p, &f).await);
                }
                let mut escaped = status.is_success() && {
                    let html = r.text().await.unwrap_or_default();
                    if html.contains("<script>alert") {
                        run.fail(format!("{route}: the answer renders raw <script>alert"));
                    }
                    SCRIPT_ESCAPED.iter().any(|e| html.contains(e))
                };
                for p in &pages {
                    escaped |= run.check_page(c, route, p).await;
                }
                if payload == SCRIPT && !escaped && !STORES_NOTHING.contains(&route) {
                    run.fail(format!(
                        "{route} accepted markup in {name} but no page shows it (looked at {pages:?})"
                    ));
                }
            }
        }
        if accepted_here {
            // "/children/{id}/edit" → the pages under "/children/"
            let prefix = format!("/{}/", route.split('/').nth(1).unwrap_or(""));
            sweep.push((prefix, f));
        }
    }

    for route in MUST_ACCEPT_MARKUP {
        if !run.accepted.contains(*route) {
            run.fail(format!(
                "{route} accepted no text at all: the escaping check proved nothing there"
            ));
        }
    }

    // Every page a staff member, the administrator and the operator can open, over every
    // fixture the abuse wrote into: no raw markup, no 500.
    let gets: Vec<String> = routes_in_source()
        .into_iter()
        .filter(|(m, p)| m == "GET" && !p.contains("{token}") && !p.contains("{kind}"))
        .map(|(_, p)| p)
        .collect();
    let sweep_started = std::time::Instant::now();
    for (prefix, f) in &sweep {
        for p in gets
            .iter()
            .filter(|p| p.starts_with(prefix.as_str()) && p.contains('{'))
        {
            let path = fill(&app, p, f).await;
            for c in [&admin, &pedagogue] {
                run.check_page(c, "sweep", &path).await;
            }
        }
    }
    for p in gets.iter().filter(|p| !p.contains('{')) {
        for c in [&admin, &pedagogue, &operator] {
            run.check_page(c, "sweep", p).await;
        }
    }
    eprintln!(
        "abuse: {} routes, markup accepted by {:?}, {:.1} s (sweep {:.1} s)",
        ROUTES.len(),
        run.accepted,
        started.elapsed().as_secs_f64(),
        sweep_started.elapsed().as_secs_f64()
    );
    assert!(
        run.failures.is_empty(),
        "{} failures:\n{}",
        run.failures.len(),
        run.failures.join("\n")
    );
}

// ---------------------------------------------------------------------------------------------
// Addresses

/// The query parameters a page uses: the fields of its GET forms and the keys of its links.
fn query_names(html: &str) -> BTreeSet<String> {
    let mut names = BTreeSet::new();
    for form in html.split("<form").skip(1) {
        let form = form.split("</form>").next().unwrap_or("");
        let head = form.split('>').next().unwrap_or("");
        if attr(head, "method").is_some_and(|m| m.eq_ignore_ascii_case("get")) {
            names.extend(form.split('<').filter_map(|tag| attr(tag, "name")));
        }
    }
    for href in html.split(" href=\"").skip(1) {
        let href = unescape(href.split('"').next().unwrap_or(""));
        if let Some((_, query)) = href.split_once('?') {
            names.extend(
                query
                    .split('&')
                    .filter_map(|p| p.split('=').next())
                    .filter(|k| !k.is_empty())
                    .map(String::from),
            );
        }
    }
    names
}

/// Every GET route, with each query parameter its page uses (and `q`, `page`, `lang`), given
/// what no link of ours holds: a NUL is refused with 400 (PostgreSQL cannot store one, and a
/// handler passing it on answered 500), and bytes that are not UTF-8, markup, SQL
/// metacharacters and numbers out of range get no 5xx and no raw markup. Nothing changes.
#[tokio::test]
async fn every_get_route_refuses_a_nul_in_its_address_and_survives_odd_query_values() {
    let app = spawn_app().await;
    let admin = app.login("admin@vejle.overgang.test").await;
    let leader = app.login("leder@vejle.overgang.test").await;
    let anonymous = app.client();
    let f = fixture(&app).await;
    let odd = [
        "%FF%FE".to_string(),
        overgang::web::urlencode(SCRIPT),
        overgang::web::urlencode(SQL),
        "-1".into(),
        "99999999999999999999".into(),
    ];
    // Filling a class path makes the fixture's class: before the snapshot. The health probe
    // reads nothing of its address and sits outside the session layer.
    let mut paths = Vec::new();
    for (method, route) in routes_in_source() {
        if method == "GET" && route != "/healthz" {
            paths.push((fill(&app, &route, &f).await, route));
        }
    }
    let before = snapshot(&app).await;
    let mut run = Run {
        failures: Vec::new(),
        accepted: BTreeSet::new(),
    };
    let mut tried = 0;
    for (path, route) in &paths {
        for c in [&admin, &leader, &anonymous] {
            let (status, html) = c.get_text(path).await;
            let mut names = query_names(&html);
            names.extend(["q", "page", "lang"].map(String::from));
            for name in &names {
                let r = c.get(&format!("{path}?{name}=a%00b")).await;
                if r.status() != StatusCode::BAD_REQUEST {
                    run.fail(format!("GET {path}?{name}=a%00b: {}", r.status()));
                }
                if !status.is_success() {
                    continue;
                }
                for value in &odd {
                    run.check_page(c, route, &format!("{path}?{name}={value}"))
                        .await;
                    tried += 1;
                }
            }
        }
    }
    let diff = changed(&before, &snapshot(&app).await);
    if !diff.is_empty() {
        run.fail(format!("odd addresses changed {diff:?}"));
    }
    eprintln!("addresses: {tried} odd values on pages that answered 200");
    assert!(tried > 500, "only {tried} odd values were tried");
    assert!(
        run.failures.is_empty(),
        "{} failures:\n{}",
        run.failures.len(),
        run.failures.join("\n")
    );
}

/// Form bodies are read whole before their token is checked, and a visitor's token is anyone's
/// for the asking: what one client's bodies hold at once is bounded (`web::budget`). Sixteen
/// 500 KB posts to the login page, each held one byte short, fill one client's share; the next
/// is refused while it is still being sent, and the sixteen, once complete, are answered as
/// usual and give their bytes back.
#[tokio::test]
async fn form_bodies_held_at_once_are_bounded_for_each_client() {
    use std::time::Duration;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    use overgang::web::budget::PER_CLIENT;

    let (state, owner) = crate::common::state().await;
    let forms = state.forms.clone();
    let app = crate::common::serve(state, owner).await;
    let local = app.addr.ip();
    let visitor = "A".repeat(43);
    const LEN: usize = 500_000;
    let open = |i: usize, path: &'static str| {
        let visitor = &visitor;
        async move {
            let start = format!("_csrf={visitor}&email=u{i}%40b.dk&password=");
            let body = format!("{start}{}", "x".repeat(LEN - start.len()));
            let mut s = tokio::net::TcpStream::connect(app.addr).await.unwrap();
            let head = format!(
                "POST {path} HTTP/1.1\r\nHost: {}\r\nCookie: ov_csrf={visitor}\r\n\
                 Content-Type: application/x-www-form-urlencoded\r\nContent-Length: {LEN}\r\n\r\n",
                app.addr
            );
            s.write_all(head.as_bytes()).await.unwrap();
            s.write_all(&body.as_bytes()[..LEN - 1]).await.unwrap();
            s
        }
    };
    // the answer, to where the server closes the connection (it does, as the body is unread)
    // or the page ends
    let status = |mut s: tokio::net::TcpStream| async move {
        let mut answer = Vec::new();
        let mut buf = vec![0; 16 * 1024];
        while !String::from_utf8_lossy(&answer).contains("</html>") {
            let n = tokio::time::timeout(Duration::from_secs(10), s.read(&mut buf))
                .await
                .expect("an answer")
                .unwrap_or(0);
            if n == 0 {
                break;
            }
            answer.extend_from_slice(&buf[..n]);
        }
        String::from_utf8_lossy(&answer).to_string()
    };
    let until = |what: (usize, usize)| {
        let forms = &forms;
        async move {
            for _ in 0..500 {
                if forms.held(local) == what {
                    return;
                }
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            panic!("held {:?}, expected {what:?}", forms.held(local));
        }
    };
    let full = PER_CLIENT / LEN;
    let mut held = Vec::new();
    for i in 0..full {
        held.push(open(i, "/login").await);
    }
    until((full * (LEN - 1), full * (LEN - 1))).await;
    let answer = status(open(full, "/login").await).await;
    assert!(answer.starts_with("HTTP/1.1 429"), "{answer}");
    assert!(answer.contains("mange formularer"), "{answer}");
    // a parent is told in the language of the page
    let answer = status(open(full, "/foraelder/abc/consent?lang=en").await).await;
    assert!(answer.starts_with("HTTP/1.1 429"), "{answer}");
    assert!(answer.contains("receiving many forms"), "{answer}");
    assert_eq!(
        forms.held(local).1,
        full * (LEN - 1),
        "the refused body holds nothing"
    );
    for mut s in held {
        s.write_all(b"x").await.unwrap();
        let answer = status(s).await;
        assert!(
            answer.starts_with("HTTP/1.1 4") && !answer.starts_with("HTTP/1.1 429"),
            "{answer}"
        );
    }
    until((0, 0)).await;
    app.login("paedagog@vejle.overgang.test").await;
}

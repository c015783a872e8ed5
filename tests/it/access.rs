//! Every route, as every role and as users of the other municipality: the expected status.
//!
//! The routes are read from the source (`.route("…", get(…).post(…))`), so a new route without
//! a row in `EXPECTED` fails `every_route_has_an_expectation`. Ids in paths are Vejle's; the
//! Stevns users must get 404 for them (or their own data where the path has no id).

use std::collections::BTreeSet;

use reqwest::StatusCode;
use uuid::Uuid;

use crate::common::{spawn_app, Client, TestApp};

/// Who walks: anonymous, operator, then Vejle's six roles, then two Stevns users.
const ACTORS: [&str; 10] = [
    "",
    "operator@overgang.test",
    "admin@vejle.overgang.test",
    "leder@vejle.overgang.test",
    "paedagog@vejle.overgang.test",
    "laerer@vejle.overgang.test",
    "specialist@vejle.overgang.test",
    "analytiker@vejle.overgang.test",
    "admin@stevns.overgang.test",
    "paedagog@stevns.overgang.test",
];

/// (method, route pattern, expected status per actor in ACTORS order). POSTs carry a valid
/// CSRF token and no other field, so an authorised actor meets validation (400/422), never a
/// change; an unauthorised one must be stopped (403/404) or sent to log in (303).
#[rustfmt::skip]
const EXPECTED: &[(&str, &str, [u16; 10])] = &[
    //                                                     anon  op  adm lead staff teach spec anal sAdm sStaff
    ("GET", "/",                                           [303, 200, 200, 200, 200, 200, 200, 200, 200, 200]),
    ("GET", "/healthz",                                    [200, 200, 200, 200, 200, 200, 200, 200, 200, 200]),
    ("GET", "/tilgaengelighed",                            [200, 200, 200, 200, 200, 200, 200, 200, 200, 200]),
    ("GET", "/login",                                      [200, 303, 303, 303, 303, 303, 303, 303, 303, 303]),
    ("POST", "/login",                                     [422, 422, 422, 422, 422, 422, 422, 422, 422, 422]),
    ("POST", "/logout",                                    [303, 303, 303, 303, 303, 303, 303, 303, 303, 303]),
    ("GET", "/session/keepalive",                          [303, 204, 204, 204, 204, 204, 204, 204, 204, 204]),
    ("GET", "/platform/municipalities",                    [303, 200, 403, 403, 403, 403, 403, 403, 403, 403]),
    ("POST", "/platform/municipalities",                   [303, 422, 403, 403, 403, 403, 403, 403, 403, 403]),
    ("GET", "/platform/municipalities/new",                [303, 200, 403, 403, 403, 403, 403, 403, 403, 403]),
    ("GET", "/institutions",                               [303, 403, 200, 403, 403, 403, 403, 403, 200, 403]),
    ("POST", "/institutions",                              [303, 403, 422, 403, 403, 403, 403, 403, 422, 403]),
    ("GET", "/institutions/new",                           [303, 403, 200, 403, 403, 403, 403, 403, 200, 403]),
    ("GET", "/institutions/{id}",                          [303, 404, 200, 200, 200, 200, 200, 200, 404, 404]),
    ("POST", "/institutions/{id}",                         [303, 403, 422, 403, 403, 403, 403, 403, 404, 403]),
    ("GET", "/institutions/{id}/edit",                     [303, 403, 200, 403, 403, 403, 403, 403, 404, 403]),
    ("POST", "/institutions/{id}/active",                  [303, 403, 400, 403, 403, 403, 403, 403, 404, 403]),
    ("GET", "/clusters",                                   [303, 403, 200, 403, 403, 403, 403, 403, 200, 403]),
    ("POST", "/clusters",                                  [303, 403, 422, 403, 403, 403, 403, 403, 422, 403]),
    ("GET", "/clusters/new",                               [303, 403, 200, 403, 403, 403, 403, 403, 200, 403]),
    ("GET", "/clusters/{id}",                              [303, 403, 200, 403, 403, 403, 403, 403, 404, 403]),
    ("POST", "/clusters/{id}",                             [303, 403, 422, 403, 403, 403, 403, 403, 404, 403]),
    ("GET", "/import",                                     [303, 403, 200, 403, 403, 403, 403, 403, 200, 403]),
    ("POST", "/import/{kind}",                             [303, 403, 400, 403, 403, 403, 403, 403, 400, 403]),
    ("GET", "/import/{kind}/eksempel.csv",                 [303, 403, 200, 403, 403, 403, 403, 403, 200, 403]),
    ("POST", "/import/batch/{id}/confirm",                 [303, 403, 404, 403, 403, 403, 403, 403, 404, 403]),
    ("GET", "/children",                                   [303, 403, 200, 200, 200, 200, 403, 403, 200, 200]),
    ("GET", "/children/new",                               [303, 403, 200, 200, 200, 200, 403, 403, 200, 200]),
    ("GET", "/children/{id}",                              [303, 403, 200, 200, 200, 200, 403, 403, 404, 404]),
    ("GET", "/children/{id}/edit",                         [303, 403, 200, 200, 200, 404, 403, 403, 404, 404]),
    ("GET", "/children/{id}/export",                       [303, 403, 200, 403, 403, 403, 403, 403, 404, 403]),
    ("GET", "/children/{id}/export.json",                  [303, 403, 200, 403, 403, 403, 403, 403, 404, 403]),
    ("GET", "/children/{id}/enrolments/new",               [303, 403, 200, 200, 200, 404, 403, 403, 404, 404]),
    ("GET", "/children/{id}/enrolments/{eid}/end",         [303, 403, 200, 200, 200, 404, 403, 403, 404, 404]),
    ("GET", "/children/{id}/guardians/new",                [303, 403, 200, 200, 200, 404, 403, 403, 404, 404]),
    ("GET", "/children/{id}/guardians/{gid}/edit",         [303, 403, 200, 200, 200, 404, 403, 403, 404, 404]),
    ("POST", "/children",                                  [303, 403, 422, 422, 422, 422, 403, 403, 422, 422]),
    ("POST", "/children/search",                           [303, 403, 303, 303, 303, 303, 403, 403, 303, 303]),
    ("POST", "/children/{id}/delete",                      [303, 403, 303, 303, 303, 404, 403, 403, 404, 404]),
    ("POST", "/children/{id}/edit",                        [303, 403, 422, 422, 422, 404, 403, 403, 404, 404]),
    ("POST", "/children/{id}/enrolments",                  [303, 403, 422, 422, 422, 404, 403, 403, 404, 404]),
    // The leader and the pedagogue were sent back from deleting the child (a warning, 303: it
    // has a transition to Bakkeskolen, whose records would go with it), so it is still there.
    ("POST", "/children/{id}/enrolments/{eid}/delete",     [303, 403, 404, 303, 303, 404, 403, 403, 404, 404]),
    ("POST", "/children/{id}/enrolments/{eid}/end",        [303, 403, 422, 422, 422, 404, 403, 403, 404, 404]),
    ("POST", "/children/{id}/guardians",                   [303, 403, 422, 422, 422, 404, 403, 403, 404, 404]),
    ("POST", "/children/{id}/guardians/{gid}/delete",      [303, 403, 303, 303, 303, 404, 403, 403, 404, 404]),
    ("POST", "/children/{id}/guardians/{gid}/edit",        [303, 403, 422, 422, 422, 404, 403, 403, 404, 404]),
    ("GET", "/classes",                                    [303, 403, 200, 200, 200, 200, 403, 403, 200, 200]),
    ("POST", "/classes",                                   [303, 403, 422, 422, 403, 403, 403, 403, 422, 403]),
    ("POST", "/classes/delegates",                         [303, 403, 400, 400, 403, 403, 403, 403, 400, 403]),
    ("POST", "/classes/delegates/revoke",                  [303, 403, 400, 400, 403, 403, 403, 403, 400, 403]),
    // the fixture's class at Bakkeskolen has laerer@vejle as its teacher
    ("GET", "/classes/{id}",                               [303, 403, 200, 404, 404, 200, 403, 403, 404, 404]),
    ("POST", "/classes/{id}/children",                     [303, 403, 400, 404, 404, 403, 403, 403, 404, 404]),
    ("POST", "/classes/{id}/children/remove",              [303, 403, 400, 404, 404, 403, 403, 403, 404, 404]),
    ("POST", "/classes/{id}/teachers",                     [303, 403, 400, 404, 404, 403, 403, 403, 404, 404]),
    ("POST", "/classes/{id}/teachers/remove",              [303, 403, 400, 404, 404, 403, 403, 403, 404, 404]),
    ("GET", "/feedback",                                   [303, 403, 200, 200, 200, 200, 403, 403, 200, 200]),
    ("GET", "/feedback/{id}",                              [303, 403, 200, 403, 403, 200, 403, 403, 404, 404]),
    ("POST", "/feedback/{id}",                             [303, 403, 422, 403, 403, 422, 403, 403, 404, 404]),
    ("GET", "/templates",                                  [303, 403, 200, 403, 403, 403, 403, 403, 200, 403]),
    ("GET", "/templates/{id}",                             [303, 403, 200, 403, 403, 403, 403, 403, 404, 403]),
    ("GET", "/templates/{id}/edit",                        [303, 403, 409, 403, 403, 403, 403, 403, 404, 403]),
    ("GET", "/templates/{id}/questions/{question}",        [303, 403, 409, 403, 403, 403, 403, 403, 404, 403]),
    ("GET", "/templates/{id}/sections",                    [303, 403, 409, 403, 403, 403, 403, 403, 404, 403]),
    ("GET", "/templates/{id}/sections/{section}",          [303, 403, 409, 403, 403, 403, 403, 403, 404, 403]),
    ("GET", "/templates/{id}/sections/{section}/questions", [303, 403, 409, 403, 403, 403, 403, 403, 404, 403]),
    ("POST", "/templates/defaults",                        [303, 403, 303, 403, 403, 403, 403, 403, 303, 403]),
    ("POST", "/templates/{id}/delete",                     [303, 403, 409, 403, 403, 403, 403, 403, 404, 403]),
    ("POST", "/templates/{id}/edit",                       [303, 403, 409, 403, 403, 403, 403, 403, 404, 403]),
    ("POST", "/templates/{id}/new-version",                [303, 403, 303, 403, 403, 403, 403, 403, 404, 403]),
    ("POST", "/templates/{id}/publish",                    [303, 403, 409, 403, 403, 403, 403, 403, 404, 403]),
    ("POST", "/templates/{id}/questions/{question}",       [303, 403, 409, 403, 403, 403, 403, 403, 404, 403]),
    ("POST", "/templates/{id}/questions/{question}/delete", [303, 403, 409, 403, 403, 403, 403, 403, 404, 403]),
    ("POST", "/templates/{id}/questions/{question}/move",  [303, 403, 409, 403, 403, 403, 403, 403, 404, 403]),
    ("POST", "/templates/{id}/sections",                   [303, 403, 409, 403, 403, 403, 403, 403, 404, 403]),
    ("POST", "/templates/{id}/sections/{section}",         [303, 403, 409, 403, 403, 403, 403, 403, 404, 403]),
    ("POST", "/templates/{id}/sections/{section}/delete",  [303, 403, 409, 403, 403, 403, 403, 403, 404, 403]),
    ("POST", "/templates/{id}/sections/{section}/move",    [303, 403, 409, 403, 403, 403, 403, 403, 404, 403]),
    ("POST", "/templates/{id}/sections/{section}/questions", [303, 403, 409, 403, 403, 403, 403, 403, 404, 403]),
    ("GET", "/transitions",                                [303, 403, 200, 200, 200, 200, 403, 403, 200, 200]),
    ("POST", "/transitions",                               [303, 403, 422, 422, 422, 422, 403, 403, 422, 422]),
    ("GET", "/transitions/cohort",                         [303, 403, 200, 200, 403, 403, 403, 403, 200, 403]),
    ("POST", "/transitions/cohort",                        [303, 403, 422, 422, 403, 403, 403, 403, 422, 403]),
    ("GET", "/transitions/new",                            [303, 403, 200, 200, 200, 200, 403, 403, 200, 200]),
    ("GET", "/transitions/status",                         [303, 403, 200, 200, 403, 403, 403, 403, 200, 403]),
    ("GET", "/inbox",                                      [303, 403, 200, 200, 200, 200, 403, 403, 200, 200]),
    ("GET", "/transitions/{id}",                           [303, 403, 200, 200, 200, 200, 403, 403, 404, 404]),
    ("GET", "/transitions/{id}/feedback",                  [303, 403, 200, 200, 200, 403, 403, 403, 404, 404]),
    ("GET", "/transitions/{id}/form",                      [303, 403, 200, 200, 200, 403, 403, 403, 404, 404]),
    ("GET", "/transitions/{id}/meeting",                   [303, 403, 200, 200, 200, 200, 403, 403, 404, 404]),
    ("GET", "/transitions/{id}/print",                     [303, 403, 200, 200, 200, 403, 403, 403, 404, 404]),
    ("POST", "/transitions/{id}/acknowledge",              [303, 403, 403, 403, 403, 400, 403, 403, 404, 404]),
    ("POST", "/transitions/{id}/amendments",               [303, 403, 409, 409, 409, 403, 403, 403, 404, 404]),
    ("POST", "/transitions/{id}/recall",                   [303, 403, 400, 400, 400, 403, 403, 403, 404, 404]),
    ("POST", "/transitions/{id}/meeting",                  [303, 403, 400, 400, 400, 400, 403, 403, 404, 404]),
    ("POST", "/transitions/{id}/handover-wish",            [303, 403, 400, 400, 400, 403, 403, 403, 404, 404]),
    ("POST", "/transitions/{id}/meeting/agreements",       [303, 403, 409, 409, 409, 409, 403, 403, 404, 404]),
    ("POST", "/transitions/{id}/meeting/agreements/{agreement}/done", [303, 403, 404, 404, 404, 404, 403, 403, 404, 404]),
    ("POST", "/transitions/{id}/form",                     [303, 403, 400, 400, 400, 403, 403, 403, 404, 404]),
    ("POST", "/transitions/{id}/responsible",              [303, 403, 400, 400, 403, 403, 403, 403, 404, 404]),
    ("POST", "/transitions/{id}/status",                   [303, 403, 400, 400, 400, 403, 403, 403, 404, 404]),
    ("GET", "/transitions/{id}/parents",                   [303, 403, 200, 200, 200, 403, 403, 403, 404, 404]),
    ("POST", "/transitions/{id}/parents/consent",          [303, 403, 400, 400, 400, 403, 403, 403, 404, 404]),
    ("POST", "/transitions/{id}/parents/links",            [303, 403, 400, 400, 400, 403, 403, 403, 404, 404]),
    ("POST", "/transitions/{id}/parents/revoke",           [303, 403, 400, 400, 400, 403, 403, 403, 404, 404]),
    ("GET", "/transitions/{id}/corrections",               [303, 403, 200, 200, 200, 403, 403, 403, 404, 404]),
    ("POST", "/transitions/{id}/corrections",              [303, 403, 400, 400, 400, 403, 403, 403, 404, 404]),
    // transfers between municipalities; the fixture's transition is a draft, so nothing leaves it
    ("GET", "/transitions/{id}/package.json",              [303, 403, 409, 409, 409, 403, 403, 403, 404, 404]),
    ("GET", "/transitions/{id}/transfer",                  [303, 403, 409, 409, 403, 403, 403, 403, 404, 404]),
    ("POST", "/transitions/{id}/transfer",                 [303, 403, 409, 409, 403, 403, 403, 403, 404, 404]),
    ("GET", "/transfers",                                  [303, 403, 200, 403, 403, 403, 403, 403, 200, 403]),
    ("GET", "/transfers/import",                           [303, 403, 200, 403, 403, 403, 403, 403, 200, 403]),
    ("POST", "/transfers/import",                          [303, 403, 400, 403, 403, 403, 403, 403, 400, 403]),
    ("POST", "/transfers/{id}/accept",                     [303, 403, 404, 403, 403, 403, 403, 403, 404, 403]),
    ("POST", "/transfers/{id}/reject",                     [303, 403, 404, 403, 403, 403, 403, 403, 404, 403]),
    ("POST", "/transfers/{id}/destination",                [303, 403, 404, 403, 403, 403, 403, 403, 404, 403]),
    ("POST", "/transfers/{id}/close",                      [303, 403, 404, 403, 403, 403, 403, 403, 404, 403]),
    ("GET", "/transfers/received/{id}",                    [303, 403, 404, 404, 404, 404, 403, 403, 404, 404]),
    ("GET", "/insights",                                   [303, 403, 200, 200, 403, 403, 403, 200, 200, 403]),
    ("GET", "/insights/clusters/{id}",                     [303, 403, 200, 200, 403, 403, 403, 200, 404, 403]),
    ("GET", "/insights/clusters/{id}/report",              [303, 403, 200, 200, 403, 403, 403, 200, 404, 403]),
    ("GET", "/insights/institutions/{id}",                 [303, 403, 200, 200, 403, 403, 403, 200, 404, 403]),
    ("GET", "/settings",                                   [303, 403, 200, 403, 403, 403, 403, 403, 200, 403]),
    ("POST", "/settings",                                  [303, 403, 422, 403, 403, 403, 403, 403, 422, 403]),
    ("GET", "/settings/wording",                           [303, 403, 200, 403, 403, 403, 403, 403, 200, 403]),
    ("POST", "/settings/wording",                          [303, 403, 422, 403, 403, 403, 403, 403, 422, 403]),
    ("GET", "/settings/wording/{id}",                      [303, 403, 200, 403, 403, 403, 403, 403, 404, 403]),
    ("POST", "/settings/wording/{id}",                     [303, 403, 422, 403, 403, 403, 403, 403, 404, 403]),
    ("POST", "/settings/wording/{id}/delete",              [303, 403, 400, 403, 403, 403, 403, 403, 404, 403]),
    ("GET", "/users",                                      [303, 403, 200, 200, 403, 403, 403, 403, 200, 403]),
    ("GET", "/users/invite",                               [303, 403, 200, 200, 403, 403, 403, 403, 200, 403]),
    ("POST", "/users/invite",                              [303, 403, 422, 422, 403, 403, 403, 403, 422, 403]),
    ("GET", "/users/{id}",                                 [303, 403, 200, 200, 403, 403, 403, 403, 404, 403]),
    ("POST", "/users/{id}/roles",                          [303, 403, 422, 422, 403, 403, 403, 403, 404, 403]),
    ("POST", "/users/{id}/roles/{assignment}/remove",      [303, 403, 303, 303, 403, 403, 403, 403, 404, 403]),
    ("POST", "/users/{id}/deactivate",                     [303, 403, 303, 303, 403, 403, 403, 403, 404, 403]),
    ("POST", "/users/{id}/reactivate",                     [303, 403, 303, 303, 403, 403, 403, 403, 404, 403]),
    ("POST", "/users/{id}/resend",                         [303, 403, 409, 409, 403, 403, 403, 403, 404, 403]),
    ("GET", "/audit",                                      [303, 403, 200, 403, 403, 403, 403, 403, 200, 403]),
    ("POST", "/audit/search",                              [303, 403, 303, 403, 403, 403, 403, 403, 303, 403]),
    ("GET", "/audit.csv",                                  [303, 403, 200, 403, 403, 403, 403, 403, 200, 403]),
    ("GET", "/account",                                    [303, 200, 200, 200, 200, 200, 200, 200, 200, 200]),
    ("POST", "/account/password",                          [303, 422, 422, 422, 422, 422, 422, 422, 422, 422]),
    ("GET", "/invitation/{token}",                         [404, 404, 404, 404, 404, 404, 404, 404, 404, 404]),
    ("POST", "/invitation/{token}",                        [404, 404, 404, 404, 404, 404, 404, 404, 404, 404]),
    ("GET", "/password/forgot",                            [200, 200, 200, 200, 200, 200, 200, 200, 200, 200]),
    ("POST", "/password/forgot",                           [422, 422, 422, 422, 422, 422, 422, 422, 422, 422]),
    ("GET", "/password/reset/{token}",                     [404, 404, 404, 404, 404, 404, 404, 404, 404, 404]),
    ("POST", "/password/reset/{token}",                    [404, 404, 404, 404, 404, 404, 404, 404, 404, 404]),
    // a bogus parent link: the same "link does not work" page for everybody, logged in or not
    ("GET", "/foraelder/{token}",                          [404, 404, 404, 404, 404, 404, 404, 404, 404, 404]),
    ("POST", "/foraelder/{token}",                         [404, 404, 404, 404, 404, 404, 404, 404, 404, 404]),
    ("POST", "/foraelder/{token}/consent",                 [404, 404, 404, 404, 404, 404, 404, 404, 404, 404]),
    ("POST", "/foraelder/{token}/corrections",             [404, 404, 404, 404, 404, 404, 404, 404, 404, 404]),
];

/// (method, path) of every route in src/, read from the `.route(` calls.
pub(crate) fn routes_in_source() -> BTreeSet<(String, String)> {
    fn walk(dir: &std::path::Path, out: &mut Vec<String>) {
        for entry in std::fs::read_dir(dir).unwrap().flatten() {
            let path = entry.path();
            if path.is_dir() {
                walk(&path, out);
            } else if path.extension().is_some_and(|e| e == "rs") {
                out.push(std::fs::read_to_string(path).unwrap());
            }
        }
    }
    let mut sources = Vec::new();
    walk(
        &std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src"),
        &mut sources,
    );
    let mut routes = BTreeSet::new();
    for src in sources {
        for chunk in src.split(".route(").skip(1) {
            // The call's arguments: up to the parenthesis that closes `.route(`.
            let mut depth = 1;
            let end = chunk
                .char_indices()
                .find(|(_, c)| {
                    match c {
                        '(' => depth += 1,
                        ')' => depth -= 1,
                        _ => {}
                    }
                    depth == 0
                })
                .map(|(i, _)| i)
                .unwrap_or(chunk.len());
            let call = &chunk[..end];
            let Some(path) = call.split('"').nth(1) else {
                continue;
            };
            let handlers = call.split_once(',').map(|(_, h)| h).unwrap_or("");
            for (needle, method) in [("get(", "GET"), ("post(", "POST")] {
                if handlers.contains(needle) {
                    routes.insert((method.to_string(), path.to_string()));
                }
            }
        }
    }
    routes
}

#[test]
fn every_route_has_an_expectation() {
    let in_source = routes_in_source();
    let in_table: BTreeSet<(String, String)> = EXPECTED
        .iter()
        .map(|(m, p, _)| (m.to_string(), p.to_string()))
        .collect();
    let missing: Vec<_> = in_source.difference(&in_table).collect();
    let stale: Vec<_> = in_table.difference(&in_source).collect();
    assert!(
        missing.is_empty(),
        "routes without a row in EXPECTED: {missing:?}"
    );
    assert!(
        stale.is_empty(),
        "rows in EXPECTED for routes that no longer exist: {stale:?}"
    );
}

/// A Vejle child at Børnehaven Solsikken with a guardian and an enrolment, one per actor, so
/// that the deletes one actor may do leave the next actor's walk intact. The abuse suite
/// (abuse.rs) makes the same in Stevns for its foreign ids.
pub(crate) struct Fixture {
    pub(crate) child: Uuid,
    pub(crate) guardian: Uuid,
    pub(crate) enrolment: Uuid,
    /// A pedagogue at Solsikken and their role there.
    pub(crate) user: Uuid,
    pub(crate) assignment: Uuid,
    /// The child's transition from Solsikken to Bakkeskolen.
    pub(crate) transition: Uuid,
    /// An open feedback request on a second transition of the child, awaiting Bakkeskolen.
    pub(crate) feedback: Uuid,
    /// The kindergarten, the published kindergarten → school template and the pilot cluster
    /// the `/institutions/…`, `/templates/…` and `/clusters/…` paths point at.
    pub(crate) institution: Uuid,
    pub(crate) template: Uuid,
    pub(crate) cluster: Uuid,
}

pub(crate) async fn fixture(app: &TestApp) -> Fixture {
    fixture_at(app, "Børnehaven Solsikken", "Bakkeskolen").await
}

/// The fixture at `kindergarten`, with a transition to `school` (both in one municipality).
pub(crate) async fn fixture_at(app: &TestApp, kindergarten: &str, school: &str) -> Fixture {
    let mut conn = app.owner_conn().await;
    let (m, inst): (Uuid, Uuid) =
        sqlx::query_as("SELECT municipality_id, id FROM institutions WHERE name = $1")
            .bind(kindergarten)
            .fetch_one(&mut conn)
            .await
            .unwrap();
    let child: Uuid = sqlx::query_scalar(
        "INSERT INTO children (municipality_id, first_name, last_name, birth_date) VALUES ($1, 'Walk', 'Fixture', '2020-05-05') RETURNING id",
    )
    .bind(m)
    .fetch_one(&mut conn)
    .await
    .unwrap();
    let guardian: Uuid =
        sqlx::query_scalar("INSERT INTO guardians (municipality_id, child_id, name) VALUES ($1, $2, 'Walk Guardian') RETURNING id")
            .bind(m)
            .bind(child)
            .fetch_one(&mut conn)
            .await
            .unwrap();
    let enrolment: Uuid = sqlx::query_scalar(
        "INSERT INTO enrolments (municipality_id, child_id, institution_id, starts_on) VALUES ($1, $2, $3, '2023-08-01') RETURNING id",
    )
    .bind(m)
    .bind(child)
    .bind(inst)
    .fetch_one(&mut conn)
    .await
    .unwrap();
    let user: Uuid = sqlx::query_scalar(
        "INSERT INTO users (municipality_id, email, name, password_hash) VALUES ($1, $2, 'Walk Staff', 'x') RETURNING id",
    )
    .bind(m)
    .bind(format!("walk-{}@vejle.overgang.test", Uuid::new_v4()))
    .fetch_one(&mut conn)
    .await
    .unwrap();
    let assignment: Uuid = sqlx::query_scalar(
        "INSERT INTO role_assignments (municipality_id, user_id, role, institution_id) VALUES ($1, $2, 'staff', $3) RETURNING id",
    )
    .bind(m)
    .bind(user)
    .bind(inst)
    .fetch_one(&mut conn)
    .await
    .unwrap();
    let transition: Uuid = sqlx::query_scalar(
        "INSERT INTO transitions (municipality_id, child_id, sending_institution_id, receiving_institution_id,
                                  kind, planned_date, template_id)
         SELECT $1, $2, $3, r.id, 'kindergarten_school', DATE '2027-08-01', t.id
         FROM institutions r, form_templates t
         WHERE r.municipality_id = $1 AND r.name = $4
           AND t.municipality_id = $1 AND t.transition_kind = 'kindergarten_school' AND t.status = 'published'
         RETURNING id",
    )
    .bind(m)
    .bind(child)
    .bind(inst)
    .bind(school)
    .fetch_one(&mut conn)
    .await
    .unwrap();
    let template: Uuid = sqlx::query_scalar("SELECT template_id FROM transitions WHERE id = $1")
        .bind(transition)
        .fetch_one(&mut conn)
        .await
        .unwrap();
    let cluster: Uuid = sqlx::query_scalar(
        "SELECT id FROM clusters WHERE municipality_id = $1 AND name = 'Pilotklynge ' || $2",
    )
    .bind(m)
    .bind(school)
    .fetch_one(&mut conn)
    .await
    .unwrap();
    let feedback: Uuid = sqlx::query_scalar(
        "WITH t AS (
             INSERT INTO transitions (municipality_id, child_id, sending_institution_id,
                                      receiving_institution_id, kind, planned_date, template_id, status)
             SELECT municipality_id, child_id, sending_institution_id, receiving_institution_id,
                    kind, DATE '2025-08-01', template_id, 'feedback_requested'
             FROM transitions WHERE id = $1
             RETURNING municipality_id, id)
         INSERT INTO feedback_requests (municipality_id, transition_id, round, due_on)
         SELECT municipality_id, id, 1, DATE '2025-12-01' FROM t RETURNING id",
    )
    .bind(transition)
    .fetch_one(&mut conn)
    .await
    .unwrap();
    Fixture {
        child,
        guardian,
        enrolment,
        user,
        assignment,
        transition,
        feedback,
        institution: inst,
        template,
        cluster,
    }
}

/// Whether the actor's fixture is exactly as created.
async fn fixture_intact(app: &TestApp, f: &Fixture) -> bool {
    let mut conn = app.owner_conn().await;
    sqlx::query_scalar(
        "SELECT EXISTS (SELECT 1 FROM children c JOIN guardians g ON g.child_id = c.id JOIN enrolments e ON e.child_id = c.id
                        WHERE c.id = $1 AND g.id = $2 AND e.id = $3 AND e.ends_on IS NULL
                          AND c.first_name = 'Walk' AND g.name = 'Walk Guardian'
                          AND EXISTS (SELECT 1 FROM users u JOIN role_assignments r ON r.user_id = u.id
                                      WHERE u.id = $4 AND u.is_active AND r.id = $5))",
    )
    .bind(f.child)
    .bind(f.guardian)
    .bind(f.enrolment)
    .bind(f.user)
    .bind(f.assignment)
    .fetch_one(&mut conn)
    .await
    .unwrap()
}

pub(crate) async fn fill(app: &TestApp, pattern: &str, f: &Fixture) -> String {
    let mut conn = app.owner_conn().await;
    let id = if pattern.starts_with("/children/") {
        f.child
    } else if pattern.starts_with("/users/") {
        f.user
    } else if pattern.starts_with("/transitions/") {
        f.transition
    } else if pattern.starts_with("/feedback/") {
        f.feedback
    } else if pattern.starts_with("/insights/clusters/") {
        f.cluster
    } else if pattern.starts_with("/institutions/")
        || pattern.starts_with("/insights/institutions/")
    {
        f.institution
    } else if pattern.starts_with("/templates/") {
        f.template
    } else if pattern.starts_with("/clusters/") {
        f.cluster
    } else if pattern.starts_with("/classes/") {
        fixture_class(&mut conn, f).await
    } else if pattern.starts_with("/settings/wording/") {
        // a default entry of the fixture's municipality's wording list (not one the abuse
        // suite added, whose text a test would then post unchanged)
        sqlx::query_scalar(
            "SELECT w.id FROM wording_phrases w JOIN institutions i ON i.municipality_id = w.municipality_id
             WHERE i.id = $1 ORDER BY w.phrase_key = 'doven' DESC, w.phrase_key LIMIT 1",
        )
        .bind(f.institution)
        .fetch_one(&mut conn)
        .await
        .unwrap()
    } else {
        Uuid::new_v4()
    };
    let section: Uuid = sqlx::query_scalar(
        "SELECT id FROM template_sections WHERE template_id = $1 ORDER BY position LIMIT 1",
    )
    .bind(id)
    .fetch_optional(&mut conn)
    .await
    .unwrap()
    .unwrap_or_else(Uuid::new_v4);
    let question: Uuid = sqlx::query_scalar(
        "SELECT id FROM template_questions WHERE section_id = $1 ORDER BY position LIMIT 1",
    )
    .bind(section)
    .fetch_optional(&mut conn)
    .await
    .unwrap()
    .unwrap_or_else(Uuid::new_v4);
    pattern
        .replace("{id}", &id.to_string())
        .replace("{section}", &section.to_string())
        .replace("{question}", &question.to_string())
        .replace("{gid}", &f.guardian.to_string())
        .replace("{eid}", &f.enrolment.to_string())
        .replace("{assignment}", &f.assignment.to_string())
        .replace("{agreement}", &Uuid::new_v4().to_string())
        .replace("{token}", &"A".repeat(43))
        .replace("{kind}", "institutions")
}

/// Class "0.F" at the school of the fixture's transition, with the municipality's demo teacher
/// (laerer@…) as its teacher. Made for both fixture schools at once, so that the abuse suite's
/// Stevns fixture finds its class already there (it is filled after the suite's snapshot).
async fn fixture_class(conn: &mut sqlx::PgConnection, f: &Fixture) -> Uuid {
    sqlx::query(
        "WITH c AS (
             INSERT INTO school_classes (municipality_id, institution_id, school_year, name)
             SELECT municipality_id, id, 2027, '0.F' FROM institutions
             WHERE name IN ('Bakkeskolen', 'Strandskolen')
             ON CONFLICT DO NOTHING
             RETURNING municipality_id, id)
         INSERT INTO class_teachers (municipality_id, class_id, user_id)
         SELECT c.municipality_id, c.id, u.id FROM c
         JOIN users u ON u.municipality_id = c.municipality_id AND u.email LIKE 'laerer@%'",
    )
    .execute(&mut *conn)
    .await
    .unwrap();
    sqlx::query_scalar(
        "SELECT c.id FROM school_classes c JOIN transitions t
           ON t.municipality_id = c.municipality_id AND t.receiving_institution_id = c.institution_id
         WHERE t.id = $1 AND c.name = '0.F' AND c.school_year = 2027",
    )
    .bind(f.transition)
    .fetch_one(&mut *conn)
    .await
    .unwrap()
}

async fn snapshot(app: &TestApp) -> Vec<i64> {
    let mut conn = app.owner_conn().await;
    let mut counts = Vec::new();
    // Fixture users (walk-…) come and go with the walk; everything else must stay as it was.
    for sql in [
        "SELECT count(*) FROM municipalities",
        "SELECT count(*) FROM users WHERE email NOT LIKE 'walk-%'",
        "SELECT count(*) FROM users WHERE is_active AND email NOT LIKE 'walk-%'",
        "SELECT count(*) FROM role_assignments r JOIN users u ON u.id = r.user_id WHERE u.email NOT LIKE 'walk-%'",
        "SELECT count(*) FROM institutions",
        "SELECT count(*) FROM clusters",
        "SELECT count(*) FROM imports",
        "SELECT count(*) FROM user_tokens",
        // a POST with no fields must never move or reassign a transition
        "SELECT count(*) FROM transition_events",
        "SELECT count(*) FROM transitions WHERE version <> 1",
        "SELECT count(*) FROM parent_links",
        "SELECT count(*) FROM consent_records",
        "SELECT count(*) FROM feedback_requests WHERE answered_at IS NOT NULL",
    ] {
        counts.push(sqlx::query_scalar(sql).fetch_one(&mut conn).await.unwrap());
    }
    let names: i64 =
        sqlx::query_scalar("SELECT count(*) FROM institutions WHERE updated_at > created_at")
            .fetch_one(&mut conn)
            .await
            .unwrap();
    counts.push(names);
    counts
}

async fn call(c: &Client, anonymous: bool, method: &str, path: &str) -> StatusCode {
    if method == "GET" {
        return c.get(path).await.status();
    }
    // The token of a page this actor can open.
    let (_, html) = c.get_text(if anonymous { "/login" } else { "/" }).await;
    let token = crate::common::csrf_from(&html);
    c.post_form(path, &[("_csrf", &token)]).await.status()
}

#[tokio::test]
async fn every_route_answers_every_role_as_expected_and_refusals_change_nothing() {
    let app = spawn_app().await;
    let before = snapshot(&app).await;
    let mut failures = Vec::new();
    for (i, email) in ACTORS.iter().enumerate() {
        let c = if email.is_empty() {
            app.client()
        } else {
            app.login(email).await
        };
        let f = fixture(&app).await;
        // Deletes and logging out end an actor's walk, in this order (a removed enrolment takes
        // the child out of a pedagogue's scope, so the child's own delete comes before it).
        let mut rows: Vec<_> = EXPECTED.iter().collect();
        rows.sort_by_key(|(_, p, _)| match *p {
            "/children/{id}/guardians/{gid}/delete" | "/users/{id}/roles/{assignment}/remove" => 1,
            "/children/{id}/delete" => 2,
            "/children/{id}/enrolments/{eid}/delete" => 3,
            "/logout" => 4,
            _ => 0,
        });
        for (method, pattern, expected) in rows {
            let path = fill(&app, pattern, &f).await;
            let status = call(&c, email.is_empty(), method, &path).await;
            if status.as_u16() != expected[i] {
                failures.push(format!(
                    "{method} {pattern} as {:?}: got {status}, expected {}",
                    email, expected[i]
                ));
            }
        }
        // Administrators, the leader and the pedagogue at Solsikken may change the child.
        let may_change = [2, 3, 4].contains(&i);
        if !may_change && !fixture_intact(&app, &f).await {
            failures.push(format!("{email:?} changed a child they may not touch"));
        }
    }
    assert!(
        failures.is_empty(),
        "{} unexpected answers:\n{}",
        failures.len(),
        failures.join("\n")
    );
    assert_eq!(
        snapshot(&app).await,
        before,
        "a refused or invalid request changed data"
    );
}

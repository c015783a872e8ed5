//! Users: invitations by e-mail, roles per institution, deactivation, the own account with
//! password change, and password reset by e-mailed one-time link.
//!
//! Municipal administrators manage every user of their municipality; institution leaders manage
//! staff at the institutions they lead. Who may do what is decided by [`Reach`]; ids outside it
//! answer 404.

mod account;
mod admin;
mod links;
pub mod queries;

use askama::Template;
use axum::{
    routing::{get, post},
    Router,
};
use uuid::Uuid;

use crate::{
    auth::{CurrentUser, Permission, Role},
    state::AppState,
    web::{AppResult, FieldErrors},
};
use queries::{Institution, RoleRow};

/// How long an invitation link works.
pub const INVITE_VALID_SECS: f64 = 7.0 * 24.0 * 3600.0;
/// How long a password-reset link works.
pub const RESET_VALID_SECS: f64 = 3600.0;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/users", get(admin::list))
        .route("/users/invite", get(admin::invite_form).post(admin::invite))
        .route("/users/{id}", get(admin::show))
        .route("/users/{id}/roles", post(admin::add_role))
        .route(
            "/users/{id}/roles/{assignment}/remove",
            post(admin::remove_role),
        )
        .route("/users/{id}/deactivate", post(admin::deactivate))
        .route("/users/{id}/reactivate", post(admin::reactivate))
        .route("/users/{id}/resend", post(admin::resend_invitation))
        .route("/account", get(account::show))
        .route("/account/password", post(account::change_password))
        .route(
            "/invitation/{token}",
            get(links::invitation_form).post(links::accept_invitation),
        )
        .route(
            "/password/forgot",
            get(links::forgot_form).post(links::forgot),
        )
        .route(
            "/password/reset/{token}",
            get(links::reset_form).post(links::reset),
        )
}

/// Whose accounts the current user administers: the whole municipality (administrators) or the
/// staff of the institutions they lead (leaders).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Reach {
    Municipality,
    Institutions(Vec<Uuid>),
}

impl Reach {
    /// The permission check for every page here; users with neither permission get 403.
    pub fn of(user: &CurrentUser) -> AppResult<Reach> {
        if user.can(Permission::AdministerMunicipality) {
            return Ok(Reach::Municipality);
        }
        user.require(Permission::ManageOwnStaff)?;
        let mut ids: Vec<Uuid> = user.institutions_with(Role::InstitutionLeader).collect();
        ids.sort();
        ids.dedup();
        Ok(Reach::Institutions(ids))
    }

    pub fn is_municipality(&self) -> bool {
        matches!(self, Reach::Municipality)
    }

    /// Leaders only list users with a role at their institutions.
    pub fn list_within(&self) -> Option<Vec<Uuid>> {
        match self {
            Reach::Municipality => None,
            Reach::Institutions(ids) => Some(ids.clone()),
        }
    }

    /// The institutions offered in forms (`None` = all of the municipality).
    pub fn institution_filter(&self) -> Option<&[Uuid]> {
        match self {
            Reach::Municipality => None,
            Reach::Institutions(ids) => Some(ids),
        }
    }

    /// May give or take this role: a leader only `staff` at an institution they lead.
    pub fn can_manage_role(&self, role: Role, institution: Option<Uuid>) -> bool {
        match self {
            Reach::Municipality => true,
            Reach::Institutions(ids) => {
                role == Role::Staff && institution.is_some_and(|i| ids.contains(&i))
            }
        }
    }

    /// May open the user's page: the user has a role this reach manages.
    pub fn can_open(&self, roles: &[RoleRow]) -> bool {
        self.is_municipality()
            || roles
                .iter()
                .any(|r| self.can_manage_role(r.role, r.institution_id))
    }

    /// May (de)activate or re-invite the whole account. A leader only when every role the user
    /// has is staff at the leader's institutions: a leader must not lock out someone who also
    /// works elsewhere.
    pub fn can_manage_account(&self, roles: &[RoleRow]) -> bool {
        self.is_municipality()
            || (!roles.is_empty()
                && roles
                    .iter()
                    .all(|r| self.can_manage_role(r.role, r.institution_id)))
    }

    /// The roles this reach may hand out.
    pub fn assignable_roles(&self) -> Vec<Role> {
        match self {
            Reach::Municipality => Role::ALL.to_vec(),
            Reach::Institutions(_) => vec![Role::Staff],
        }
    }
}

/// An option for the `select` and `radio_group` macros.
pub struct Choice {
    pub value: String,
    pub label: String,
    pub selected: bool,
}

pub fn role_choices(roles: &[Role], selected: &str) -> Vec<Choice> {
    roles
        .iter()
        .map(|r| Choice {
            value: r.as_str().to_string(),
            label: r.label().to_string(),
            selected: r.as_str() == selected,
        })
        .collect()
}

pub fn institution_choices(institutions: &[Institution], selected: &str) -> Vec<Choice> {
    institutions
        .iter()
        .map(|i| Choice {
            value: i.id.to_string(),
            label: i.name.clone(),
            selected: i.id.to_string() == selected,
        })
        .collect()
}

/// Checks a role and institution picked in a form against the reach and the rule of
/// `role_assignments` (leaders and staff work at an institution, administrators and analysts
/// municipality-wide, specialists either way). `institutions` are the ones the form offered.
pub fn validate_role(
    errors: &mut FieldErrors,
    reach: &Reach,
    role: &str,
    institution: &str,
    institutions: &[Institution],
) -> Option<(Role, Option<Uuid>)> {
    let role = match Role::parse(role.trim()) {
        None => {
            errors.add("role", "Vælg en rolle.");
            None
        }
        Some(r) if !reach.assignable_roles().contains(&r) => {
            errors.add(
                "role",
                "Som leder kan du kun give rollen medarbejder ved din egen institution.",
            );
            None
        }
        Some(r) => Some(r),
    };
    let institution_id = match institution.trim() {
        "" => Some(None),
        raw => match Uuid::parse_str(raw)
            .ok()
            .filter(|id| institutions.iter().any(|i| i.id == *id))
        {
            Some(id) => Some(Some(id)),
            None => {
                errors.add("institution", "Vælg en institution fra listen.");
                None
            }
        },
    };
    let (role, institution_id) = (role?, institution_id?);
    match (role, institution_id) {
        (Role::InstitutionLeader | Role::Staff, None) => {
            errors.add(
                "institution",
                format!(
                    "Vælg den institution, hvor brugeren skal være {}.",
                    role.label().to_lowercase()
                ),
            );
            None
        }
        (Role::MunicipalAdmin | Role::Analyst, Some(_)) => {
            errors.add(
                "institution",
                format!(
                    "En {} arbejder på tværs af kommunen og knyttes ikke til en institution. Vælg “Ingen institution”.",
                    role.label().to_lowercase()
                ),
            );
            None
        }
        _ if !reach.can_manage_role(role, institution_id) => {
            errors.add(
                "institution",
                "Vælg en af de institutioner, du er leder af.",
            );
            None
        }
        ok => Some(ok),
    }
}

/// "Medarbejder ved Børnehaven Solsikken", "Kommunal administrator".
pub fn describe_role(role: Role, institution_name: Option<&str>) -> String {
    match institution_name {
        Some(name) => format!("{} ved {name}", role.label()),
        None => role.label().to_string(),
    }
}

#[derive(Template)]
#[template(path = "mail/invitation.txt")]
pub struct InvitationMail<'a> {
    pub name: &'a str,
    pub inviter: &'a str,
    pub municipality: &'a str,
    pub role: &'a str,
    pub email: &'a str,
    pub link: &'a str,
}

#[derive(Template)]
#[template(path = "mail/reset.txt")]
pub struct ResetMail<'a> {
    pub name: &'a str,
    pub link: &'a str,
}

pub const INVITATION_SUBJECT: &str = "Invitation til Overgang";
pub const RESET_SUBJECT: &str = "Ny adgangskode til Overgang";

#[cfg(test)]
mod tests {
    use super::*;

    fn role(role: Role, institution: Option<Uuid>) -> RoleRow {
        RoleRow {
            id: Uuid::new_v4(),
            role,
            institution_id: institution,
            institution_name: None,
        }
    }

    #[test]
    fn a_leader_reaches_only_staff_at_own_institutions() {
        let (mine, other) = (Uuid::new_v4(), Uuid::new_v4());
        let leader = Reach::Institutions(vec![mine]);
        assert!(leader.can_manage_role(Role::Staff, Some(mine)));
        assert!(!leader.can_manage_role(Role::Staff, Some(other)));
        assert!(!leader.can_manage_role(Role::InstitutionLeader, Some(mine)));
        assert!(!leader.can_manage_role(Role::Specialist, None));

        let staff_here = [role(Role::Staff, Some(mine))];
        let also_elsewhere = [
            role(Role::Staff, Some(mine)),
            role(Role::Staff, Some(other)),
        ];
        let co_leader = [role(Role::InstitutionLeader, Some(mine))];
        assert!(leader.can_open(&staff_here) && leader.can_manage_account(&staff_here));
        assert!(leader.can_open(&also_elsewhere) && !leader.can_manage_account(&also_elsewhere));
        assert!(!leader.can_open(&co_leader));
        assert!(!leader.can_open(&[]) && !leader.can_manage_account(&[]));
        assert!(Reach::Municipality.can_manage_account(&co_leader));
    }

    #[test]
    fn role_and_institution_rules() {
        let school = Institution {
            id: Uuid::new_v4(),
            name: "Skolen".into(),
        };
        let sid = school.id.to_string();
        let list = [school];
        let check = |reach: &Reach, r: &str, i: &str| {
            let mut e = FieldErrors::default();
            let ok = validate_role(&mut e, reach, r, i, &list);
            (ok, e)
        };
        let admin = Reach::Municipality;
        assert!(check(&admin, "staff", &sid).0.is_some());
        assert!(check(&admin, "specialist", "").0.is_some());
        assert!(check(&admin, "specialist", &sid).0.is_some());
        assert!(check(&admin, "municipal_admin", "").0.is_some());
        let (ok, e) = check(&admin, "staff", "");
        assert!(ok.is_none() && e.msg("institution").contains("medarbejder"));
        let (ok, e) = check(&admin, "analyst", &sid);
        assert!(ok.is_none() && e.msg("institution").contains("Ingen institution"));
        let (ok, e) = check(&admin, "boss", &sid);
        assert!(ok.is_none() && e.msg("role") == "Vælg en rolle.");
        let (ok, e) = check(&admin, "staff", &Uuid::new_v4().to_string());
        assert!(ok.is_none() && !e.msg("institution").is_empty());

        let leader = Reach::Institutions(vec![list[0].id]);
        assert!(check(&leader, "staff", &sid).0.is_some());
        let (ok, e) = check(&leader, "institution_leader", &sid);
        assert!(ok.is_none() && !e.msg("role").is_empty());
    }

    #[test]
    fn mails_are_plain_text() {
        let body = InvitationMail {
            name: "Ib & Co",
            inviter: "Mette",
            municipality: "Vejle",
            role: "Medarbejder ved Børnehaven <Sol>",
            email: "ib@x.dk",
            link: "http://h/invitation/abc",
        }
        .render()
        .unwrap();
        assert!(body.contains("Ib & Co") && body.contains("<Sol>"), "{body}");
        assert!(body.contains("http://h/invitation/abc"));
    }
}

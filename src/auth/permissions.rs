//! Permissions as data: which role may do what. Handlers ask `user.require(..)`; links are
//! hidden by the same rules, but hiding a link is never the protection.

use super::user::{CurrentUser, Role};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Permission {
    /// Create municipalities and their first administrator.
    ManageMunicipalities,
    /// Institutions, clusters, all users and roles, imports of the own municipality.
    AdministerMunicipality,
    /// Invite staff to, and remove staff from, an institution the user leads (scoped by
    /// `CurrentUser::leads`).
    ManageOwnStaff,
    /// Children within `CurrentUser::child_scope`.
    ViewChildren,
    /// Create and edit children (and guardians, enrolments) within the child scope.
    EditChildren,
    /// Aggregated figures, never a child.
    ViewInsights,
    /// The audit log of the own municipality.
    ViewAuditLog,
    /// Export everything stored about one child (a data-subject access request).
    ExportChildData,
    /// The class overview of incoming children: a teacher's own classes; leaders, their
    /// delegates and administrators also place children and teachers (scoped by `classes`).
    ViewClasses,
}

const GRANTS: &[(Role, &[Permission])] = &[
    (
        Role::MunicipalAdmin,
        &[
            Permission::AdministerMunicipality,
            Permission::ViewChildren,
            Permission::EditChildren,
            Permission::ViewInsights,
            Permission::ViewAuditLog,
            Permission::ExportChildData,
            Permission::ViewClasses,
        ],
    ),
    (
        Role::InstitutionLeader,
        &[
            Permission::ManageOwnStaff,
            Permission::ViewChildren,
            Permission::EditChildren,
            Permission::ViewInsights,
            Permission::ViewClasses,
        ],
    ),
    (
        Role::Staff,
        &[
            Permission::ViewChildren,
            Permission::EditChildren,
            Permission::ViewClasses,
        ],
    ),
    (Role::Specialist, &[]),
    (Role::Analyst, &[Permission::ViewInsights]),
];

pub fn allows(user: &CurrentUser, permission: Permission) -> bool {
    if user.is_platform_operator {
        return permission == Permission::ManageMunicipalities;
    }
    user.roles.iter().any(|assignment| {
        GRANTS
            .iter()
            .any(|(role, perms)| *role == assignment.role && perms.contains(&permission))
    })
}

/// The main navigation: (path, label) for what the user may open.
pub fn navigation(user: &CurrentUser) -> Vec<(&'static str, &'static str)> {
    let mut nav = vec![("/", "Forside")];
    if user.can(Permission::ManageMunicipalities) {
        nav.push(("/platform/municipalities", "Kommuner"));
    }
    if user.can(Permission::ViewChildren) {
        nav.push(("/children", "Børn"));
        nav.push(("/transitions", "Overgange"));
        nav.push(("/inbox", "Indbakke"));
        nav.push(("/feedback", "Tilbagemeldinger"));
    }
    if user.can(Permission::ViewClasses) {
        nav.push(("/classes", "Klasser"));
    }
    // The daily work first, then administration: DKFDS folds what does not fit into "Mere".
    if user.can(Permission::ViewInsights) {
        nav.push(("/insights", "Indsigt"));
    }
    if user.can(Permission::AdministerMunicipality) || user.can(Permission::ManageOwnStaff) {
        nav.push(("/users", "Brugere"));
    }
    if user.can(Permission::AdministerMunicipality) {
        nav.push(("/institutions", "Institutioner"));
        nav.push(("/clusters", "Klynger"));
        nav.push(("/templates", "Skabeloner"));
        nav.push(("/import", "Import"));
        nav.push(("/transfers", "Flytninger"));
        nav.push(("/settings", "Indstillinger"));
    }
    if user.can(Permission::ViewAuditLog) {
        nav.push(("/audit", "Adgangslog"));
    }
    nav.push(("/account", "Min konto"));
    nav
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::user::RoleAssignment;
    use uuid::Uuid;

    fn user(roles: &[Role], operator: bool) -> CurrentUser {
        CurrentUser {
            id: Uuid::nil(),
            name: "x".into(),
            email: "x@y".into(),
            municipality_id: (!operator).then(Uuid::nil),
            municipality_name: None,
            is_platform_operator: operator,
            roles: roles
                .iter()
                .map(|r| RoleAssignment {
                    role: *r,
                    institution_id: None,
                    institution_name: None,
                })
                .collect(),
        }
    }

    #[test]
    fn grants() {
        assert!(user(&[], true).can(Permission::ManageMunicipalities));
        assert!(
            !user(&[], true).can(Permission::ViewInsights),
            "the operator sees no tenant data"
        );
        assert!(user(&[Role::MunicipalAdmin], false).can(Permission::AdministerMunicipality));
        assert!(!user(&[Role::MunicipalAdmin], false).can(Permission::ManageMunicipalities));
        assert!(user(&[Role::Analyst], false).can(Permission::ViewInsights));
        assert!(!user(&[Role::Staff], false).can(Permission::ViewInsights));
        assert!(!user(&[Role::Analyst], false).can(Permission::AdministerMunicipality));
        assert!(
            !user(&[Role::Analyst], false).can(Permission::ViewChildren),
            "analysts never see a child"
        );
        assert!(!user(&[Role::Specialist], false).can(Permission::ViewChildren));
        assert!(user(&[Role::Staff], false).can(Permission::EditChildren));
        assert!(!user(&[Role::Staff], false).can(Permission::ManageOwnStaff));
        assert!(user(&[Role::Staff], false).can(Permission::ViewClasses));
        assert!(!user(&[Role::Analyst], false).can(Permission::ViewClasses));
        assert!(!user(&[Role::Specialist], false).can(Permission::ViewClasses));
    }
}

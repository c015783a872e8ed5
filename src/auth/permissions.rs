//! Permissions as data: which role may do what. Handlers ask `user.require(..)`; links are
//! hidden by the same rules, but hiding a link is never the protection.

use super::user::{CurrentUser, Role};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Permission {
    /// Create municipalities and their first administrator.
    ManageMunicipalities,
    /// Institutions, clusters, users and roles of the own municipality.
    AdministerMunicipality,
    /// Aggregated figures, never a child.
    ViewInsights,
    /// The audit log of the own municipality.
    ViewAuditLog,
}

const GRANTS: &[(Role, &[Permission])] = &[
    (
        Role::MunicipalAdmin,
        &[
            Permission::AdministerMunicipality,
            Permission::ViewInsights,
            Permission::ViewAuditLog,
        ],
    ),
    (Role::InstitutionLeader, &[Permission::ViewInsights]),
    (Role::Staff, &[]),
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
    }
}

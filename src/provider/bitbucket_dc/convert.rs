//! Wire shapes to model resources, and the project default's two flags to one value.

use crate::model::{Address, Principal, Resource, ResourceId, UserAttrs};

use super::wire;

pub fn user(target: &str, u: wire::User) -> (Address, Resource) {
    (
        Address::new(target, ResourceId::User { name: u.name }),
        Resource::User(UserAttrs::new(u.display_name, u.email_address)),
    )
}

/// Where a permission list was read.
#[derive(Debug, Clone)]
pub enum Scope {
    Global,
    Project(String),
    Repo(String, String),
}

impl Scope {
    pub fn id(&self, principal: Principal) -> ResourceId {
        match self {
            Scope::Global => ResourceId::GlobalPermission { principal },
            Scope::Project(p) => ResourceId::ProjectPermission {
                project: p.clone(),
                principal,
            },
            Scope::Repo(p, r) => ResourceId::RepoPermission {
                project: p.clone(),
                repo: r.clone(),
                principal,
            },
        }
    }
}

pub fn user_grant(target: &str, scope: &Scope, p: wire::PermittedUser) -> (Address, Resource) {
    (
        Address::new(target, scope.id(Principal::User(p.user.name))),
        Resource::Permission {
            permission: p.permission,
        },
    )
}

pub fn group_grant(target: &str, scope: &Scope, p: wire::PermittedGroup) -> (Address, Resource) {
    (
        Address::new(target, scope.id(Principal::Group(p.group.name))),
        Resource::Permission {
            permission: p.permission,
        },
    )
}

/// The all-users default is two independent flags in the API; write access implies read,
/// so the stronger one wins. No default is no resource at all.
pub fn project_default(target: &str, project: &str, read: bool, write: bool) -> Option<(Address, Resource)> {
    let permission = if write {
        "PROJECT_WRITE"
    } else if read {
        "PROJECT_READ"
    } else {
        return None;
    };
    Some((
        Address::new(
            target,
            ResourceId::ProjectDefault {
                project: project.to_owned(),
            },
        ),
        Resource::ProjectDefault {
            permission: Some(permission.to_owned()),
        },
    ))
}

//! Wire shapes to model resources, and the project default's two flags to one value.

use crate::model::{self, Address, Principal, Resource, ResourceId, UserAttrs};

use super::wire;

pub fn user(target: &str, u: wire::User) -> (Address, Resource) {
    (
        Address::new(target, ResourceId::User { name: u.name.into() }),
        Resource::User(Box::new(UserAttrs::new(u.display_name, u.email_address))),
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
    /// The model's scope path: root, `[project]` or `[project, repo]`.
    pub fn path(&self) -> model::Scope {
        match self {
            Scope::Global => model::Scope::root(),
            Scope::Project(p) => model::Scope::root().child(PROJECT, p),
            Scope::Repo(p, r) => model::Scope::root().child(PROJECT, p).child(REPO, r),
        }
    }

    /// A model scope path as Bitbucket addresses it, if it is one of its three.
    pub fn from_path(path: &model::Scope) -> Option<Scope> {
        match path.segments() {
            [] => Some(Scope::Global),
            [p] if p.kind == PROJECT => Some(Scope::Project(p.name.to_string())),
            [p, r] if p.kind == PROJECT && r.kind == REPO => Some(Scope::Repo(p.name.to_string(), r.name.to_string())),
            _ => None,
        }
    }

    pub fn id(&self, principal: Principal) -> ResourceId {
        ResourceId::Grant {
            scope: self.path(),
            principal,
        }
    }
}

/// The segment kinds of Bitbucket's scopes, as the platform spec names them.
pub const PROJECT: &str = "project";
pub const REPO: &str = "repo";

pub fn user_grant(target: &str, scope: &Scope, p: wire::PermittedUser) -> (Address, Resource) {
    (
        Address::new(target, scope.id(Principal::User(p.user.name.into()))),
        Resource::Permission {
            permission: p.permission,
        },
    )
}

pub fn group_grant(target: &str, scope: &Scope, p: wire::PermittedGroup) -> (Address, Resource) {
    (
        Address::new(target, scope.id(Principal::Group(p.group.name.into()))),
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
            ResourceId::Default {
                scope: Scope::Project(project.to_owned()).path(),
            },
        ),
        Resource::Default {
            permission: Some(permission.to_owned()),
        },
    ))
}

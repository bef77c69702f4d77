//! The domain model shared by every stage: addresses, resources and the state maps that
//! `resolve` (desired) and the providers (live) produce and `plan` compares.
//!
//! Nothing here knows a vendor's JSON. Permission values are the target platform's own
//! names (`PROJECT_WRITE`), because resolve has already translated portable role words.

use std::collections::{BTreeMap, HashMap};
use std::fmt;

use serde::{Deserialize, Serialize};

/// Who holds a permission.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(tag = "kind", content = "name", rename_all = "snake_case")]
pub enum Principal {
    User(String),
    Group(String),
}

impl Principal {
    /// The user's or group's name on the target.
    pub fn name(&self) -> &str {
        match self {
            Principal::User(n) | Principal::Group(n) => n,
        }
    }

    /// The user or group itself, as a resource.
    pub fn id(&self) -> ResourceId {
        match self {
            Principal::User(name) => ResourceId::User { name: name.clone() },
            Principal::Group(name) => ResourceId::Group { name: name.clone() },
        }
    }

    fn segment(&self) -> String {
        match self {
            Principal::User(u) => format!("user[{}]", quote(u)),
            Principal::Group(g) => format!("group[{}]", quote(g)),
        }
    }
}

/// What a resource is, within one target. The variant order is the display order of a
/// plan: principals first, then what hangs off them.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ResourceId {
    User {
        name: String,
    },
    Group {
        name: String,
    },
    Membership {
        group: String,
        user: String,
    },
    GlobalPermission {
        principal: Principal,
    },
    /// The permission every licensed user has on a project.
    ProjectDefault {
        project: String,
    },
    ProjectPermission {
        project: String,
        principal: Principal,
    },
    RepoPermission {
        project: String,
        repo: String,
        principal: Principal,
    },
}

impl ResourceId {
    /// The kind, as `policy.prune` names it.
    pub fn kind(&self) -> Kind {
        match self {
            ResourceId::User { .. } => Kind::Users,
            ResourceId::Group { .. } => Kind::Groups,
            ResourceId::Membership { .. } => Kind::Memberships,
            ResourceId::GlobalPermission { .. }
            | ResourceId::ProjectDefault { .. }
            | ResourceId::ProjectPermission { .. }
            | ResourceId::RepoPermission { .. } => Kind::Permissions,
        }
    }

    /// The principal a membership or grant refers to, for dependency ordering.
    pub fn principals(&self) -> Vec<Principal> {
        match self {
            ResourceId::Membership { group, user } => {
                vec![Principal::Group(group.clone()), Principal::User(user.clone())]
            }
            ResourceId::GlobalPermission { principal }
            | ResourceId::ProjectPermission { principal, .. }
            | ResourceId::RepoPermission { principal, .. } => vec![principal.clone()],
            ResourceId::User { .. } | ResourceId::Group { .. } | ResourceId::ProjectDefault { .. } => Vec::new(),
        }
    }

    /// The same id with user and group names passed through `user` and `group`.
    pub fn map_names(&self, user: &dyn Fn(&str) -> String, group: &dyn Fn(&str) -> String) -> ResourceId {
        let principal = |p: &Principal| match p {
            Principal::User(u) => Principal::User(user(u)),
            Principal::Group(g) => Principal::Group(group(g)),
        };
        match self {
            ResourceId::User { name } => ResourceId::User { name: user(name) },
            ResourceId::Group { name } => ResourceId::Group { name: group(name) },
            ResourceId::Membership { group: g, user: u } => ResourceId::Membership {
                group: group(g),
                user: user(u),
            },
            ResourceId::GlobalPermission { principal: p } => ResourceId::GlobalPermission {
                principal: principal(p),
            },
            ResourceId::ProjectDefault { project } => ResourceId::ProjectDefault {
                project: project.clone(),
            },
            ResourceId::ProjectPermission { project, principal: p } => ResourceId::ProjectPermission {
                project: project.clone(),
                principal: principal(p),
            },
            ResourceId::RepoPermission {
                project,
                repo,
                principal: p,
            } => ResourceId::RepoPermission {
                project: project.clone(),
                repo: repo.clone(),
                principal: principal(p),
            },
        }
    }

    /// The principal that owns this relation for pruning: a membership belongs to its
    /// group, a grant to its holder. A project default has none.
    pub fn owner(&self) -> Option<Principal> {
        match self {
            ResourceId::Membership { group, .. } => Some(Principal::Group(group.clone())),
            ResourceId::GlobalPermission { principal }
            | ResourceId::ProjectPermission { principal, .. }
            | ResourceId::RepoPermission { principal, .. } => Some(principal.clone()),
            ResourceId::User { .. } | ResourceId::Group { .. } | ResourceId::ProjectDefault { .. } => None,
        }
    }

    /// The principal this resource *is*, if it is a user or a group.
    pub fn as_principal(&self) -> Option<Principal> {
        match self {
            ResourceId::User { name } => Some(Principal::User(name.clone())),
            ResourceId::Group { name } => Some(Principal::Group(name.clone())),
            _ => None,
        }
    }
}

/// The kinds of object that ownership policy distinguishes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    Users,
    Groups,
    Memberships,
    Permissions,
}

impl Kind {
    pub const ALL: [Kind; 4] = [Kind::Users, Kind::Groups, Kind::Memberships, Kind::Permissions];

    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Users => "users",
            Kind::Groups => "groups",
            Kind::Memberships => "memberships",
            Kind::Permissions => "permissions",
        }
    }
}

/// A stable, printable name for one resource: `bitbucket.project["PLAT"].group["devops"]`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Address {
    pub target: String,
    pub id: ResourceId,
}

impl Address {
    pub fn new(target: &str, id: ResourceId) -> Self {
        Address {
            target: target.to_owned(),
            id,
        }
    }
}

impl fmt::Display for Address {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.", self.target)?;
        match &self.id {
            ResourceId::User { name } => write!(f, "user[{}]", quote(name)),
            ResourceId::Group { name } => write!(f, "group[{}]", quote(name)),
            ResourceId::Membership { group, user } => {
                write!(f, "group[{}].member[{}]", quote(group), quote(user))
            }
            ResourceId::GlobalPermission { principal } => write!(f, "global.{}", principal.segment()),
            ResourceId::ProjectDefault { project } => {
                write!(f, "project[{}].all_users", quote(project))
            }
            ResourceId::ProjectPermission { project, principal } => {
                write!(f, "project[{}].{}", quote(project), principal.segment())
            }
            ResourceId::RepoPermission {
                project,
                repo,
                principal,
            } => write!(
                f,
                "repo[{}].{}",
                quote(&format!("{project}/{repo}")),
                principal.segment()
            ),
        }
    }
}

impl Serialize for Address {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_string())
    }
}

fn quote(s: &str) -> String {
    // Names are validated to a safe character set before they get here, but a live
    // object may carry anything; escaping keeps an address unambiguous either way.
    serde_json::to_string(s).unwrap_or_else(|_| format!("\"{s}\""))
}

/// The value of one resource: the attributes rollcall manages on it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Resource {
    User(UserAttrs),
    Group,
    Membership,
    /// A granted permission, by the platform's own name.
    Permission {
        permission: String,
    },
    /// The all-users default of a project: the platform's permission name, or `None`
    /// for no default access.
    ProjectDefault {
        permission: Option<String>,
    },
}

/// A user's managed attributes. `active` and `external_id` are `None` on platforms that
/// have no such attribute (Bitbucket Data Center), so they neither show nor diff there.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserAttrs {
    pub display_name: String,
    pub email: String,
    /// SCIM's `active`: `false` is a deactivated account.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub active: Option<bool>,
    /// SCIM's `externalId`: the person's rollcall name, for stable matching.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub external_id: Option<String>,
}

impl UserAttrs {
    /// Attributes of a platform without `active` or `externalId`.
    pub fn new(display_name: impl Into<String>, email: impl Into<String>) -> Self {
        UserAttrs {
            display_name: display_name.into(),
            email: email.into(),
            active: None,
            external_id: None,
        }
    }

    /// Deactivated: present but without access.
    pub fn is_inactive(&self) -> bool {
        self.active == Some(false)
    }
}

impl Resource {
    /// The attributes as name/value pairs, in a fixed order, for attribute-level diffs.
    pub fn attributes(&self) -> Vec<(&'static str, String)> {
        match self {
            Resource::User(u) => {
                let mut out = vec![("display_name", u.display_name.clone()), ("email", u.email.clone())];
                if let Some(id) = &u.external_id {
                    out.push(("external_id", id.clone()));
                }
                if let Some(active) = u.active {
                    out.push(("active", active.to_string()));
                }
                out
            }
            Resource::Group | Resource::Membership => Vec::new(),
            Resource::Permission { permission } => vec![("permission", permission.clone())],
            Resource::ProjectDefault { permission } => {
                vec![("permission", permission.clone().unwrap_or_else(|| "none".to_owned()))]
            }
        }
    }
}

/// Bitbucket Data Center's global permissions that make a user an administrator.
pub const ADMIN_PERMISSIONS: [&str; 2] = ["ADMIN", "SYS_ADMIN"];

/// A set of resources keyed by address; both desired and live state take this shape, so
/// the diff is a merge of two sorted maps.
pub type ResourceMap = BTreeMap<Address, Resource>;

/// Spellings of user and group names, keyed by their lower-case form.
#[derive(Debug, Default)]
pub struct Spellings {
    users: HashMap<String, String>,
    groups: HashMap<String, String>,
}

impl Spellings {
    /// Learns the spelling of every principal an id names.
    pub fn learn(&mut self, id: &ResourceId) {
        let principals = id.as_principal().into_iter().chain(id.principals());
        for p in principals {
            let (map, name) = match p {
                Principal::User(n) => (&mut self.users, n),
                Principal::Group(n) => (&mut self.groups, n),
            };
            map.insert(name.to_lowercase(), name);
        }
    }

    /// Live state with user and group names spelled as learned.
    ///
    /// Bitbucket matches user and group names without regard to case, so a live `Dave` is
    /// the manifest's `dave`: comparing spellings would plan a create that fails with 409
    /// and, with pruning on, delete the real account.
    pub fn respell(&self, live: &ResourceMap) -> ResourceMap {
        let user = |n: &str| {
            self.users
                .get(&n.to_lowercase())
                .cloned()
                .unwrap_or_else(|| n.to_owned())
        };
        let group = |n: &str| {
            self.groups
                .get(&n.to_lowercase())
                .cloned()
                .unwrap_or_else(|| n.to_owned())
        };
        live.iter()
            .map(|(a, r)| (Address::new(&a.target, a.id.map_names(&user, &group)), r.clone()))
            .collect()
    }
}

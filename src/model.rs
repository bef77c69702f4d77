//! The domain model shared by every stage: addresses, resources and the state maps that
//! `resolve` (desired) and the providers (live) produce and `plan` compares.
//!
//! Nothing here knows a vendor's JSON. Permission values are the target platform's own
//! names (`PROJECT_WRITE`), because resolve has already translated portable role words.

mod overlay;

use std::collections::{BTreeMap, HashMap};
use std::fmt;

use serde::{Deserialize, Serialize};

pub use overlay::Overlay;

/// A user, group, target or scope segment name. Names are short, and a million
/// memberships each name a target, a group and a user: a `CompactString` keeps a name of
/// up to 24 bytes inside itself, where a `String` would allocate each one on its own
/// (three allocations per membership, twice over in desired and live state).
pub type Name = compact_str::CompactString;

/// Who holds a permission.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(tag = "kind", content = "name", rename_all = "snake_case")]
pub enum Principal {
    User(Name),
    Group(Name),
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

/// Where a grant applies: a path of segments from the root of a target (the instance, the
/// workspace, the organisation), such as `[project PLAT, repo api]`. The root itself is the
/// empty path. Segment kinds are the platform's own words; nothing outside a provider
/// interprets them, so any depth and any vocabulary fit.
#[derive(Debug, Clone, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Scope(Vec<Segment>);

/// One step of a scope path: `project` `PLAT`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Segment {
    pub kind: Name,
    pub name: Name,
}

impl Scope {
    /// The root of a target: instance-wide (Bitbucket's global permissions).
    pub fn root() -> Scope {
        Scope(Vec::new())
    }

    /// This scope extended by one segment.
    pub fn child(&self, kind: &str, name: &str) -> Scope {
        let mut path = self.0.clone();
        path.push(Segment {
            kind: kind.into(),
            name: name.into(),
        });
        Scope(path)
    }

    pub fn is_root(&self) -> bool {
        self.0.is_empty()
    }

    pub fn segments(&self) -> &[Segment] {
        &self.0
    }

    /// The segment kinds from the root down: `["project", "repo"]`. A platform declares
    /// its role words per such path.
    pub fn kinds(&self) -> Vec<&str> {
        self.0.iter().map(|s| s.kind.as_str()).collect()
    }

    /// The name of the segment of this kind, if the path has one.
    pub fn name_of(&self, kind: &str) -> Option<&str> {
        self.0.iter().find(|s| s.kind == kind).map(|s| s.name.as_str())
    }
}

impl fmt::Display for Scope {
    /// `global` for the root; otherwise the innermost kind with the whole path, as people
    /// name it: `project["PLAT"]`, `repo["PLAT/api"]`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0.last() {
            None => f.write_str("global"),
            Some(last) => {
                let path: Vec<&str> = self.0.iter().map(|s| s.name.as_str()).collect();
                write!(f, "{}[{}]", last.kind, quote(&path.join("/")))
            }
        }
    }
}

/// What a resource is, within one target. The variant order is the display order of a
/// plan: principals first, then what hangs off them.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ResourceId {
    User {
        name: Name,
    },
    Group {
        name: Name,
    },
    Membership {
        group: Name,
        user: Name,
    },
    /// What every user of the target has on a scope (Bitbucket's "all users" default of
    /// a project).
    Default {
        scope: Scope,
    },
    /// A permission a user or group holds on a scope.
    Grant {
        scope: Scope,
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
            ResourceId::Grant { .. } | ResourceId::Default { .. } => Kind::Permissions,
        }
    }

    /// The principal a membership or grant refers to, for dependency ordering.
    pub fn principals(&self) -> Vec<Principal> {
        match self {
            ResourceId::Membership { group, user } => {
                vec![Principal::Group(group.clone()), Principal::User(user.clone())]
            }
            ResourceId::Grant { principal, .. } => vec![principal.clone()],
            ResourceId::User { .. } | ResourceId::Group { .. } | ResourceId::Default { .. } => Vec::new(),
        }
    }

    /// The same id with user and group names passed through `user` and `group`.
    pub fn map_names(&self, user: &dyn Fn(&str) -> String, group: &dyn Fn(&str) -> String) -> ResourceId {
        match self {
            ResourceId::User { name } => ResourceId::User {
                name: user(name).into(),
            },
            ResourceId::Group { name } => ResourceId::Group {
                name: group(name).into(),
            },
            ResourceId::Membership { group: g, user: u } => ResourceId::Membership {
                group: group(g).into(),
                user: user(u).into(),
            },
            ResourceId::Grant { scope, principal } => ResourceId::Grant {
                scope: scope.clone(),
                principal: match principal {
                    Principal::User(u) => Principal::User(user(u).into()),
                    Principal::Group(g) => Principal::Group(group(g).into()),
                },
            },
            ResourceId::Default { scope } => ResourceId::Default { scope: scope.clone() },
        }
    }

    /// The same id with user and group names passed through `user` and `group`, which
    /// return a new name or `None` to keep the name; `None` when no name changes. Renaming
    /// live state this way allocates only for what it renames.
    pub fn renamed(
        &self,
        user: &dyn Fn(&str) -> Option<Name>,
        group: &dyn Fn(&str) -> Option<Name>,
    ) -> Option<ResourceId> {
        match self {
            ResourceId::User { name } => user(name).map(|name| ResourceId::User { name }),
            ResourceId::Group { name } => group(name).map(|name| ResourceId::Group { name }),
            ResourceId::Membership { group: g, user: u } => match (group(g), user(u)) {
                (None, None) => None,
                (new_g, new_u) => Some(ResourceId::Membership {
                    group: new_g.unwrap_or_else(|| g.clone()),
                    user: new_u.unwrap_or_else(|| u.clone()),
                }),
            },
            ResourceId::Grant { scope, principal } => {
                let principal = match principal {
                    Principal::User(u) => Principal::User(user(u)?),
                    Principal::Group(g) => Principal::Group(group(g)?),
                };
                Some(ResourceId::Grant {
                    scope: scope.clone(),
                    principal,
                })
            }
            ResourceId::Default { .. } => None,
        }
    }

    /// The principal that owns this relation for pruning: a membership belongs to its
    /// group, a grant to its holder. A default has none.
    pub fn owner(&self) -> Option<Principal> {
        match self {
            ResourceId::Membership { group, .. } => Some(Principal::Group(group.clone())),
            ResourceId::Grant { principal, .. } => Some(principal.clone()),
            ResourceId::User { .. } | ResourceId::Group { .. } | ResourceId::Default { .. } => None,
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

    /// The scope of a grant or default.
    pub fn scope(&self) -> Option<&Scope> {
        match self {
            ResourceId::Grant { scope, .. } | ResourceId::Default { scope } => Some(scope),
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
    pub target: Name,
    pub id: ResourceId,
}

impl Address {
    pub fn new(target: &str, id: ResourceId) -> Self {
        Address {
            target: target.into(),
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
            ResourceId::Grant { scope, principal } => write!(f, "{scope}.{}", principal.segment()),
            ResourceId::Default { scope } => write!(f, "{scope}.all_users"),
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

/// Named attributes of a group or a membership (a team's `description` or `privacy`, a
/// member's `role`), as the platform names their values. Only the attributes a platform
/// declares are ever set, so an empty map means "nothing managed" and diffs as equal.
pub type Attributes = BTreeMap<String, String>;

/// The value of one resource: the attributes rollcall manages on it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Resource {
    /// Boxed: a user's attributes are three times the size of any other resource's, and
    /// every entry of a resource map is as large as its largest variant.
    User(Box<UserAttrs>),
    Group {
        #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
        attributes: Attributes,
    },
    Membership {
        #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
        attributes: Attributes,
    },
    /// A granted permission, by the platform's own name.
    Permission { permission: String },
    /// The default every user has on a scope: the platform's permission name, or `None`
    /// for no default access.
    Default { permission: Option<String> },
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
    /// A group with no managed attributes.
    pub fn group() -> Resource {
        Resource::Group {
            attributes: Attributes::new(),
        }
    }

    /// A membership with no managed attributes.
    pub fn membership() -> Resource {
        Resource::Membership {
            attributes: Attributes::new(),
        }
    }

    /// The attributes as name/value pairs, in a fixed order, for attribute-level diffs.
    pub fn attributes(&self) -> Vec<(String, String)> {
        let pair = |k: &str, v: String| (k.to_owned(), v);
        match self {
            Resource::User(u) => {
                let mut out = vec![
                    pair("display_name", u.display_name.clone()),
                    pair("email", u.email.clone()),
                ];
                if let Some(id) = &u.external_id {
                    out.push(pair("external_id", id.clone()));
                }
                if let Some(active) = u.active {
                    out.push(pair("active", active.to_string()));
                }
                out
            }
            Resource::Group { attributes } | Resource::Membership { attributes } => {
                attributes.iter().map(|(k, v)| (k.clone(), v.clone())).collect()
            }
            Resource::Permission { permission } => vec![pair("permission", permission.clone())],
            Resource::Default { permission } => {
                vec![pair(
                    "permission",
                    permission.clone().unwrap_or_else(|| "none".to_owned()),
                )]
            }
        }
    }
}

/// A set of resources keyed by address; both desired and live state take this shape, so
/// the diff is a merge of two sorted maps.
pub type ResourceMap = BTreeMap<Address, Resource>;

/// Spellings of user and group names, keyed by their lower-case form.
#[derive(Debug, Default)]
pub struct Spellings {
    users: HashMap<Name, Name>,
    groups: HashMap<Name, Name>,
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

    /// Live state with user and group names spelled as learned: a view of `live`, which
    /// holds a copy of only the entries it respells.
    ///
    /// Bitbucket matches user and group names without regard to case, so a live `Dave` is
    /// the manifest's `dave`: comparing spellings would plan a create that fails with 409
    /// and, with pruning on, delete the real account.
    pub fn respell<'a>(&self, live: &'a ResourceMap) -> Overlay<'a> {
        let user = |n: &str| spelled(&self.users, n);
        let group = |n: &str| spelled(&self.groups, n);
        Overlay::new(live).renamed(|id| id.renamed(&user, &group))
    }
}

/// The learned spelling of `name`, if it is another.
fn spelled(spellings: &HashMap<Name, Name>, name: &str) -> Option<Name> {
    // Most names are lower-case ASCII already: looked up as they are, without a copy.
    let found = if name.bytes().all(|b| b.is_ascii() && !b.is_ascii_uppercase()) {
        spellings.get(name)
    } else {
        spellings.get(name.to_lowercase().as_str())
    };
    found.filter(|s| *s != name).cloned()
}

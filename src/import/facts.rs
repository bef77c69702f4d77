//! What one target has, in import's own terms: accounts, groups, memberships and grants.
//!
//! `read` is the only place in `import` that looks inside the model's `ResourceId` and
//! `Resource`: when the model changes, this function is what follows it, and the rest of
//! import keeps working on these facts.

use std::collections::{BTreeMap, BTreeSet};

use crate::model::{Attributes, Principal, Resource, ResourceId, ResourceMap, Scope};
use crate::provider::Findings;

/// Everything read from one target.
#[derive(Debug, Default)]
pub(super) struct Facts {
    /// By username, as the target spells it.
    pub accounts: BTreeMap<String, Account>,
    pub groups: BTreeSet<String>,
    /// Each group's attributes as the platform stores them (a team's `privacy`), where
    /// it has any.
    pub settings: BTreeMap<String, Attributes>,
    /// (group, username).
    pub members: BTreeSet<(String, String)>,
    /// The attributes of the memberships that have any (a team member's `role`), by
    /// (group, username).
    pub roles: BTreeMap<(String, String), Attributes>,
    pub grants: Vec<Grant>,
    /// Live objects of a kind import does not know, by address: never dropped in silence.
    pub unknown: Vec<String>,
    /// Users and groups whose grants and memberships the platform fixes (a workspace's
    /// owner, a group an identity provider syncs), with why: the provider's findings.
    pub fixed: BTreeMap<Holder, String>,
}

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub(super) struct Account {
    pub display_name: String,
    pub email: String,
    /// `None` where the platform has no such flag.
    pub active: Option<bool>,
    pub external_id: Option<String>,
}

impl Account {
    pub(super) fn is_inactive(&self) -> bool {
        self.active == Some(false)
    }
}

/// Who holds a permission.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub(super) enum Holder {
    User(String),
    Group(String),
    /// A scope's default for everyone (Bitbucket Data Center's all-users permission).
    Everyone,
}

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub(super) struct Grant {
    pub scope: Scope,
    pub holder: Holder,
    /// The platform's own name for it.
    pub permission: String,
}

fn holder(p: &Principal) -> Holder {
    match p {
        Principal::User(name) => Holder::User(name.to_string()),
        Principal::Group(name) => Holder::Group(name.to_string()),
    }
}

/// The facts of `target` in a live state, with what its provider found fixed.
pub(super) fn read(target: &str, live: &ResourceMap, findings: Option<&Findings>) -> Facts {
    let mut facts = Facts::default();
    for (principal, why) in findings.map(|f| f.fixed.as_slice()).unwrap_or_default() {
        facts.fixed.insert(holder(principal), why.clone());
    }
    for (address, resource) in live.iter().filter(|(a, _)| a.target == target) {
        let grant = |scope: Scope, holder: Holder, permission: &str| Grant {
            scope,
            holder,
            permission: permission.to_owned(),
        };
        match (&address.id, resource) {
            (ResourceId::User { name }, Resource::User(attrs)) => {
                facts.accounts.insert(
                    name.to_string(),
                    Account {
                        display_name: attrs.display_name.clone(),
                        email: attrs.email.clone(),
                        active: attrs.active,
                        external_id: attrs.external_id.clone(),
                    },
                );
            }
            (ResourceId::Group { name }, Resource::Group { attributes }) => {
                facts.groups.insert(name.to_string());
                if !attributes.is_empty() {
                    facts.settings.insert(name.to_string(), attributes.clone());
                }
            }
            (ResourceId::Membership { group, user }, Resource::Membership { attributes }) => {
                let key = (group.to_string(), user.to_string());
                if !attributes.is_empty() {
                    facts.roles.insert(key.clone(), attributes.clone());
                }
                facts.members.insert(key);
            }
            (ResourceId::Grant { scope, principal }, Resource::Permission { permission }) => {
                facts.grants.push(grant(scope.clone(), holder(principal), permission));
            }
            (
                ResourceId::Default { scope },
                Resource::Default {
                    permission: Some(permission),
                },
            ) => {
                facts.grants.push(grant(scope.clone(), Holder::Everyone, permission));
            }
            // No default: nothing to declare, and leaving the default out keeps it so.
            (ResourceId::Default { .. }, Resource::Default { permission: None }) => {}
            _ => facts.unknown.push(address.to_string()),
        }
    }
    facts.grants.sort();
    facts
}

//! The Google Workspace sandbox's state file (`kind: google-workspace`): the customer
//! and its domains, the service accounts allowed domain-wide delegation (the public half
//! of each key and the scopes delegated to it), the per-user query quota, the people and
//! the groups with their direct members (people, nested groups, the whole customer, or
//! people from outside the account).

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

use crate::sandbox::faults::FaultConfig;
use crate::sandbox::state::StateFile;

/// What the state files of this emulator say at their top.
pub const KIND: &str = "google-workspace";

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GoogleState {
    pub kind: String,
    /// The account's customer id (`C0…`), which `customer=my_customer` stands for.
    pub customer_id: String,
    /// The account's domains, the primary first.
    pub domains: Vec<String>,
    #[serde(default)]
    pub service_accounts: Vec<ServiceAccount>,
    #[serde(default)]
    pub quota: Quota,
    #[serde(default)]
    pub users: Vec<User>,
    #[serde(default)]
    pub groups: Vec<Group>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub faults: Option<FaultConfig>,
}

/// A service account with domain-wide delegation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServiceAccount {
    pub client_email: String,
    /// The public half of its key, PEM: `PUBLIC KEY` (what `openssl rsa -pubout` writes)
    /// or `RSA PUBLIC KEY`.
    pub public_key: String,
    /// The scopes delegated to it in the Admin console.
    pub scopes: Vec<String>,
}

/// Google's per-user query quota (2,400 a minute by default); tests shorten the window.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Quota {
    pub queries: u32,
    pub per_seconds: u64,
}

impl Default for Quota {
    fn default() -> Self {
        Quota {
            queries: 2_400,
            per_seconds: 60,
        }
    }
}

/// A person, with the fields the emulator renders (`users.list` shows more, fixed).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct User {
    pub id: String,
    pub primary_email: String,
    pub given_name: String,
    pub family_name: String,
    #[serde(default, skip_serializing_if = "is_false")]
    pub is_admin: bool,
    #[serde(default, skip_serializing_if = "is_false")]
    pub suspended: bool,
    #[serde(default, skip_serializing_if = "is_false")]
    pub archived: bool,
    #[serde(default = "root_unit")]
    pub org_unit_path: String,
    /// The primary organization's department and title.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub department: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    /// An `externalIds` entry of type `organization`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub employee_id: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub aliases: Vec<String>,
}

fn is_false(b: &bool) -> bool {
    !b
}

fn root_unit() -> String {
    "/".to_owned()
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Group {
    pub id: String,
    pub email: String,
    pub name: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub description: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub aliases: Vec<String>,
    #[serde(default)]
    pub members: Vec<Member>,
}

/// A direct member. `type` is found from the email when left out: a person or a group of
/// the state, else a `USER` from outside the account (another domain).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Member {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    #[serde(default = "member_role")]
    pub role: String,
    #[serde(rename = "type", default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
}

fn member_role() -> String {
    "MEMBER".to_owned()
}

impl StateFile for GoogleState {
    fn faults(&self) -> Option<&FaultConfig> {
        self.faults.as_ref()
    }

    fn check(&mut self) -> Result<(), String> {
        if self.kind != KIND {
            return Err(format!("kind must be `{KIND}`, not `{}`", self.kind));
        }
        if self.domains.is_empty() {
            return Err("domains: the account has at least its primary domain".to_owned());
        }
        if self.quota.queries == 0 || self.quota.per_seconds == 0 {
            return Err("quota: queries and per_seconds must be at least 1".to_owned());
        }
        for account in &self.service_accounts {
            super::token::public_key_der(&account.public_key)
                .map_err(|e| format!("service account `{}`: {e}", account.client_email))?;
        }
        let mut ids = BTreeSet::new();
        let mut emails = BTreeSet::new();
        let users = self
            .users
            .iter()
            .map(|u| (&u.id, std::iter::once(&u.primary_email).chain(&u.aliases)));
        let groups = self
            .groups
            .iter()
            .map(|g| (&g.id, std::iter::once(&g.email).chain(&g.aliases)));
        for (id, addresses) in users.chain(groups) {
            if !ids.insert(id.clone()) {
                return Err(format!("the id `{id}` is used twice"));
            }
            for address in addresses {
                if !emails.insert(address.to_lowercase()) {
                    return Err(format!("the address `{address}` is used twice"));
                }
            }
        }
        let user_emails: BTreeSet<String> = self.users.iter().map(|u| u.primary_email.to_lowercase()).collect();
        let group_emails: BTreeSet<String> = self.groups.iter().map(|g| g.email.to_lowercase()).collect();
        for group in &mut self.groups {
            for member in &mut group.members {
                if !["OWNER", "MANAGER", "MEMBER"].contains(&member.role.as_str()) {
                    return Err(format!(
                        "group `{}`: role `{}` is not OWNER, MANAGER or MEMBER",
                        group.email, member.role
                    ));
                }
                let email = member.email.as_deref().map(str::to_lowercase);
                let kind = match (member.kind.as_deref(), email.as_deref()) {
                    (Some("CUSTOMER"), _) => "CUSTOMER",
                    (Some("GROUP"), Some(e)) if group_emails.contains(e) => "GROUP",
                    (Some("USER") | None, Some(e)) if !group_emails.contains(e) => "USER",
                    (None, Some(e)) if group_emails.contains(e) => "GROUP",
                    (Some("EXTERNAL"), Some(e)) if !user_emails.contains(e) && !group_emails.contains(e) => "EXTERNAL",
                    _ => {
                        return Err(format!(
                            "group `{}`: a member needs an email of a person or group (or `type: CUSTOMER`), and a type that fits it",
                            group.email
                        ))
                    }
                };
                member.kind = Some(kind.to_owned());
            }
        }
        // Google refuses memberships that make a cycle; a state cannot hold one.
        let nested: BTreeMap<String, Vec<String>> = self
            .groups
            .iter()
            .map(|g| {
                let inner = g
                    .members
                    .iter()
                    .filter(|m| m.kind.as_deref() == Some("GROUP"))
                    .filter_map(|m| m.email.as_deref().map(str::to_lowercase))
                    .collect();
                (g.email.to_lowercase(), inner)
            })
            .collect();
        for start in nested.keys() {
            let mut stack = nested.get(start).cloned().unwrap_or_default();
            let mut seen = BTreeSet::new();
            while let Some(next) = stack.pop() {
                if &next == start {
                    return Err(format!("group `{start}` contains itself through nested groups"));
                }
                if seen.insert(next.clone()) {
                    stack.extend(nested.get(&next).cloned().unwrap_or_default());
                }
            }
        }
        Ok(())
    }
}

impl GoogleState {
    /// The person with this primary email, alias or id.
    pub fn user(&self, key: &str) -> Option<&User> {
        let key = key.to_lowercase();
        self.users.iter().find(|u| {
            u.id == key || u.primary_email.to_lowercase() == key || u.aliases.iter().any(|a| a.to_lowercase() == key)
        })
    }

    /// The group with this email, alias or id.
    pub fn group(&self, key: &str) -> Option<&Group> {
        let key = key.to_lowercase();
        self.groups
            .iter()
            .find(|g| g.id == key || g.email.to_lowercase() == key || g.aliases.iter().any(|a| a.to_lowercase() == key))
    }
}

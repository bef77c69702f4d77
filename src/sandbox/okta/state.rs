//! The state file of the Okta emulator: the org's users (id, status, profile) and groups
//! (id, name, type, members), and the per-minute rate limit its buckets keep.
//!
//! ```yaml
//! kind: okta
//! rate_limit: { requests: 600, per_seconds: 60 }   # optional
//! users:
//!   - id: 00u1alice00000000000
//!     status: ACTIVE
//!     profile: { login: alice@example.com, email: alice@example.com, firstName: Alice, lastName: Ng }
//! groups:
//!   - id: 00g1engineering00000
//!     name: Engineering
//!     members: [00u1alice00000000000, bob@example.com]   # ids or logins
//! ```
//!
//! `check` holds a hand-edited file to what Okta itself would never hold: unique ids and
//! logins, a status and group type from the description's enums, and members that exist.

use std::collections::{BTreeMap, HashMap, HashSet};

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::sandbox::faults::FaultConfig;
use crate::sandbox::state::StateFile;

/// The `kind` this emulator's state files name.
pub const KIND: &str = "okta";

/// `UserStatus` in the description.
pub const USER_STATUSES: &[&str] = &[
    "ACTIVE",
    "DEPROVISIONED",
    "LOCKED_OUT",
    "PASSWORD_EXPIRED",
    "PROVISIONED",
    "RECOVERY",
    "STAGED",
    "SUSPENDED",
];

/// `GroupType` in the description.
pub const GROUP_TYPES: &[&str] = &["APP_GROUP", "BUILT_IN", "OKTA_GROUP"];

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OktaState {
    pub kind: String,
    /// Each bucket's quota; Okta's figures depend on the org's plan and endpoint.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rate_limit: Option<RateLimit>,
    #[serde(default)]
    pub users: Vec<OktaUser>,
    #[serde(default)]
    pub groups: Vec<OktaGroup>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub faults: Option<FaultConfig>,
}

/// `requests` per window of `per_seconds` (Okta's windows are a minute; a test shortens
/// them so that waiting for a reset takes a second, not a minute).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RateLimit {
    pub requests: u32,
    #[serde(default = "minute")]
    pub per_seconds: u64,
}

fn minute() -> u64 {
    60
}

/// 600 a minute per bucket: the figure third-party summaries give for `/api/v1/users`
/// on a standard org (Okta publishes the numbers per plan, not in the description).
pub const DEFAULT_RATE_LIMIT: RateLimit = RateLimit {
    requests: 600,
    per_seconds: 60,
};

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OktaUser {
    pub id: String,
    #[serde(default = "active")]
    pub status: String,
    /// `UserProfile`: `login` and `email` required, any other attribute (custom ones
    /// included) as the org's schema has it.
    pub profile: BTreeMap<String, Value>,
}

fn active() -> String {
    "ACTIVE".to_owned()
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OktaGroup {
    pub id: String,
    /// `profile.name`.
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(default = "okta_group", rename = "type")]
    pub kind: String,
    /// Direct members by user id or login (Okta has no nested groups).
    #[serde(default)]
    pub members: Vec<String>,
}

fn okta_group() -> String {
    "OKTA_GROUP".to_owned()
}

impl OktaUser {
    pub fn login(&self) -> &str {
        self.profile.get("login").and_then(Value::as_str).unwrap_or_default()
    }
}

impl OktaState {
    pub fn rate_limit(&self) -> RateLimit {
        self.rate_limit.unwrap_or(DEFAULT_RATE_LIMIT)
    }

    /// A user by id or login (logins compare without case, as Okta's do).
    pub fn user(&self, key: &str) -> Option<&OktaUser> {
        self.users
            .iter()
            .find(|u| u.id == key)
            .or_else(|| self.users.iter().find(|u| u.login().eq_ignore_ascii_case(key)))
    }

    pub fn group(&self, id: &str) -> Option<&OktaGroup> {
        self.groups.iter().find(|g| g.id == id)
    }

    /// A group's members, each once, in id order (the order Okta's cursor walks).
    pub fn members(&self, group: &OktaGroup) -> Vec<&OktaUser> {
        let mut users: Vec<&OktaUser> = group.members.iter().filter_map(|m| self.user(m)).collect();
        users.sort_by(|a, b| a.id.cmp(&b.id));
        users.dedup_by(|a, b| a.id == b.id);
        users
    }
}

impl StateFile for OktaState {
    fn faults(&self) -> Option<&FaultConfig> {
        self.faults.as_ref()
    }

    fn check(&mut self) -> Result<(), String> {
        if self.kind != KIND {
            return Err(format!("kind must be `{KIND}`, not `{}`", self.kind));
        }
        if let Some(limit) = self.rate_limit {
            if limit.requests == 0 || limit.per_seconds == 0 {
                return Err("rate_limit: requests and per_seconds must be at least 1".to_owned());
            }
        }
        let mut ids = HashSet::new();
        let mut logins = HashMap::new();
        for user in &self.users {
            if user.id.trim().is_empty() || !ids.insert(user.id.as_str()) {
                return Err(format!("users: the id `{}` is empty or repeated", user.id));
            }
            if !USER_STATUSES.contains(&user.status.as_str()) {
                return Err(format!(
                    "users: `{}` has status `{}`; Okta's are {}",
                    user.id,
                    user.status,
                    USER_STATUSES.join(", ")
                ));
            }
            for required in ["login", "email"] {
                if !user.profile.get(required).is_some_and(Value::is_string) {
                    return Err(format!("users: `{}` has no profile.{required}", user.id));
                }
            }
            if let Some(other) = logins.insert(user.login().to_lowercase(), user.id.as_str()) {
                return Err(format!(
                    "users: `{other}` and `{}` share the login `{}`",
                    user.id,
                    user.login()
                ));
            }
        }
        let mut group_ids = HashSet::new();
        for group in &self.groups {
            if group.id.trim().is_empty() || !group_ids.insert(group.id.as_str()) || ids.contains(group.id.as_str()) {
                return Err(format!("groups: the id `{}` is empty or repeated", group.id));
            }
            if !GROUP_TYPES.contains(&group.kind.as_str()) {
                return Err(format!(
                    "groups: `{}` has type `{}`; Okta's are {}",
                    group.name,
                    group.kind,
                    GROUP_TYPES.join(", ")
                ));
            }
            if let Some(missing) = group.members.iter().find(|m| self.user(m).is_none()) {
                return Err(format!(
                    "groups: `{}` lists `{missing}`, who is not among the users",
                    group.name
                ));
            }
        }
        Ok(())
    }
}

//! The state file of the Microsoft Entra ID emulator: one tenant (its id and domain), the
//! one app registration whose client secret is the run's token (set when the emulator
//! starts, never in the file), and the directory: users
//! under Graph's property names, groups with their direct members (users, groups, other
//! objects), and the objects that are neither (devices, service principals, contacts).
//!
//! `check` holds a hand-edited file to what the directory itself would never hold: ids
//! used twice, and members that name nothing.

use std::collections::{HashMap, HashSet};
use std::time::Instant;

use secrecy::SecretString;
use serde::{Deserialize, Serialize};

use crate::sandbox::faults::FaultConfig;
use crate::sandbox::state::StateFile;

/// The `kind` this emulator's state files name.
pub const KIND: &str = "entra-id";

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EntraState {
    pub kind: String,
    pub tenant: Tenant,
    /// The app registration's application (client) id the token endpoint knows.
    pub client_id: String,
    /// `expires_in` of the tokens issued; Microsoft's are good for about an hour.
    #[serde(default = "default_lifetime")]
    pub token_lifetime_secs: u64,
    /// Graph's resource units per 10 seconds for this app and tenant; by default the
    /// vendor's figure for the tenant's size (3,500 under 50 users, 5,000 up to 500,
    /// 8,000 above).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resource_units: Option<u32>,
    #[serde(default)]
    pub users: Vec<User>,
    #[serde(default)]
    pub groups: Vec<DirectoryGroup>,
    /// Directory objects that are neither users nor groups.
    #[serde(default)]
    pub objects: Vec<OtherObject>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub faults: Option<FaultConfig>,
    /// Access tokens issued, and when each expires. Not saved: a token outlives no run.
    #[serde(skip)]
    pub issued: HashMap<String, Instant>,
    /// The app registration's client secret: the run's token, set by whoever starts the
    /// emulator (`entra::shared`, the registry's launch). The token endpoint is open (the
    /// secret comes in the request body, where the host's gate does not look), so the
    /// endpoint checks it itself. Neither read from nor written to the file; with none,
    /// every secret is refused.
    #[serde(skip)]
    pub client_secret: Option<SecretString>,
}

fn default_lifetime() -> u64 {
    3599
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Tenant {
    /// The directory (tenant) id, a GUID.
    pub id: String,
    /// Its initial domain, `contoso.onmicrosoft.com`, which names it as well as its id.
    pub domain: String,
}

/// A user, each field under Graph's property name (`microsoft.graph.user`).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct User {
    pub id: String,
    pub user_principal_name: String,
    pub display_name: String,
    #[serde(default = "enabled")]
    pub account_enabled: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mail: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub department: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub given_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub surname: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub job_title: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub employee_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub employee_type: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub company_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub office_location: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub city: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub country: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub usage_location: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub preferred_language: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mail_nickname: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub on_premises_sam_account_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_type: Option<String>,
}

fn enabled() -> bool {
    true
}

/// A group and its direct members, by object id: users, groups (nested), other objects.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct DirectoryGroup {
    pub id: String,
    pub display_name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mail_nickname: Option<String>,
    #[serde(default = "enabled")]
    pub security_enabled: bool,
    #[serde(default)]
    pub mail_enabled: bool,
    #[serde(default)]
    pub group_types: Vec<String>,
    #[serde(default)]
    pub members: Vec<String>,
}

/// A directory object that is not a person: its Graph type (`device`,
/// `servicePrincipal`, `orgContact`) and name.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct OtherObject {
    pub id: String,
    #[serde(rename = "type")]
    pub kind: String,
    pub display_name: String,
}

/// The kinds of `OtherObject` Graph lists among a group's members.
pub const OTHER_KINDS: &[&str] = &["device", "servicePrincipal", "orgContact"];

impl EntraState {
    /// The resource units per 10 seconds in force.
    pub fn resource_units(&self) -> u32 {
        self.resource_units.unwrap_or(match self.users.len() {
            0..50 => 3_500,
            50..=500 => 5_000,
            _ => 8_000,
        })
    }

    /// Whether `name` (an id or a domain, as a token request's path names it) is this
    /// tenant.
    pub fn is_tenant(&self, name: &str) -> bool {
        name.eq_ignore_ascii_case(&self.tenant.id) || name.eq_ignore_ascii_case(&self.tenant.domain)
    }

    pub fn group(&self, id: &str) -> Option<&DirectoryGroup> {
        self.groups.iter().find(|g| g.id.eq_ignore_ascii_case(id))
    }
}

impl StateFile for EntraState {
    fn faults(&self) -> Option<&FaultConfig> {
        self.faults.as_ref()
    }

    fn check(&mut self) -> Result<(), String> {
        if self.kind != KIND {
            return Err(format!("`kind` must be `{KIND}`, not `{}`", self.kind));
        }
        if self.token_lifetime_secs == 0 {
            return Err("token_lifetime_secs must be at least 1".to_owned());
        }
        if self.resource_units == Some(0) {
            return Err("resource_units must be at least 1".to_owned());
        }
        let mut ids = HashSet::new();
        let all = self
            .users
            .iter()
            .map(|u| &u.id)
            .chain(self.groups.iter().map(|g| &g.id))
            .chain(self.objects.iter().map(|o| &o.id));
        for id in all {
            if !ids.insert(id.to_lowercase()) {
                return Err(format!("object id `{id}` appears twice"));
            }
        }
        let mut upns = HashSet::new();
        for user in &self.users {
            if !upns.insert(user.user_principal_name.to_lowercase()) {
                return Err(format!(
                    "users: userPrincipalName `{}` appears twice",
                    user.user_principal_name
                ));
            }
        }
        for object in &self.objects {
            if !OTHER_KINDS.contains(&object.kind.as_str()) {
                return Err(format!(
                    "objects: `{}` has type `{}`, not one of {}",
                    object.id,
                    object.kind,
                    OTHER_KINDS.join(", ")
                ));
            }
        }
        for group in &self.groups {
            for member in &group.members {
                if !ids.contains(&member.to_lowercase()) {
                    return Err(format!(
                        "groups: `{}` has member `{member}`, which is no user, group or object",
                        group.display_name
                    ));
                }
            }
        }
        Ok(())
    }
}

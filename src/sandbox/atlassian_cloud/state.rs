//! The state file of the Atlassian Cloud emulator: one organization with its one managed
//! directory (accounts and groups, as the Organizations REST API sees them) and one
//! Bitbucket Cloud workspace (projects, repositories and their explicit grants), in one
//! file, because Bitbucket reads its people and groups from that directory: a group
//! created through the Organizations API is the group a Bitbucket grant names.
//!
//! Grants name groups by their Bitbucket slug (`slug`), users by Atlassian account id.
//! `check` holds a hand-edited file to what the service itself would never hold: unique
//! ids, names and keys, and references that resolve.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::time::Instant;

use serde::{Deserialize, Serialize};

use crate::sandbox::faults::FaultConfig;
use crate::sandbox::state::StateFile;

/// The `kind` this emulator's state files name.
pub const KIND: &str = "atlassian-cloud";

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CloudState {
    pub kind: String,
    pub organization: Named,
    /// The organization's one managed directory.
    pub directory: Named,
    /// The account id of the API token's user, a workspace admin; its email is the Basic
    /// username.
    pub operator: String,
    /// The API token's scopes; by default every scope the served Bitbucket operations need.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scopes: Option<Vec<String>>,
    /// How long a directory change (a group created or a membership added or removed)
    /// takes to show in Bitbucket.
    #[serde(default)]
    pub propagation_ms: u64,
    /// Bitbucket's limiter: by default the vendor's 1,000 requests an hour per user.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rate_limit: Option<RateLimit>,
    /// The plan's user limit: a grant that would give more people access answers 402.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seat_limit: Option<usize>,
    #[serde(default)]
    pub users: Vec<DirectoryUser>,
    #[serde(default)]
    pub groups: Vec<DirectoryGroup>,
    pub workspace: Workspace,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub faults: Option<FaultConfig>,
    /// When each directory change was made, while it is still on its way to Bitbucket.
    /// Not saved: a state read from a file has long arrived everywhere.
    #[serde(skip)]
    pub clock: Propagation,
}

/// An organization or a directory: an opaque id and a display name.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Named {
    pub id: String,
    pub name: String,
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RateLimit {
    pub requests: u32,
    pub per_seconds: u64,
}

/// The vendor's documented quota: 1,000 requests in a rolling hour, per user.
pub const DEFAULT_RATE_LIMIT: RateLimit = RateLimit {
    requests: 1000,
    per_seconds: 3600,
};

/// A directory account (`MultiDirectoryUser`), which Bitbucket shows as a `user`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DirectoryUser {
    pub account_id: String,
    pub name: String,
    pub email: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nickname: Option<String>,
    /// Bitbucket's `{uuid}` for the account; derived from the account id when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub uuid: Option<String>,
    #[serde(default)]
    pub status: UserStatus,
}

/// The directory's `Status` values.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum UserStatus {
    #[default]
    Active,
    Suspended,
    NotInvited,
    Deactivated,
    ForDeletion,
}

impl UserStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            UserStatus::Active => "active",
            UserStatus::Suspended => "suspended",
            UserStatus::NotInvited => "not_invited",
            UserStatus::Deactivated => "deactivated",
            UserStatus::ForDeletion => "for_deletion",
        }
    }
}

/// A directory group (`MultiDirectoryGroup`).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DirectoryGroup {
    pub id: String,
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Managed by an identity provider (SCIM): read-only in the Organizations API.
    #[serde(default)]
    pub synced: bool,
    /// Account ids.
    #[serde(default)]
    pub members: Vec<String>,
}

/// The Bitbucket Cloud workspace linked to the organization.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Workspace {
    pub slug: String,
    pub name: String,
    pub uuid: String,
    /// The owner's account id: admin everywhere, and never given an explicit grant.
    pub owner: String,
    /// Directory groups, by name, whose members have access to the workspace (the
    /// product access centralized user management grants).
    #[serde(default)]
    pub access_groups: Vec<String>,
    /// Accounts with access by other means (invited directly).
    #[serde(default)]
    pub members: Vec<String>,
    #[serde(default)]
    pub projects: Vec<Project>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Project {
    pub key: String,
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub uuid: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Explicit grants to groups, by Bitbucket group slug.
    #[serde(default)]
    pub groups: BTreeMap<String, Level>,
    /// Explicit grants to users, by account id.
    #[serde(default)]
    pub users: BTreeMap<String, Level>,
    #[serde(default)]
    pub repos: Vec<Repo>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Repo {
    pub slug: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub uuid: Option<String>,
    #[serde(default)]
    pub groups: BTreeMap<String, Level>,
    #[serde(default)]
    pub users: BTreeMap<String, Level>,
}

/// A permission level, ordered: admin ⊃ create-repo ⊃ write ⊃ read. `create-repo` is a
/// project level only.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Level {
    Read,
    Write,
    CreateRepo,
    Admin,
}

impl Level {
    pub fn as_str(self) -> &'static str {
        match self {
            Level::Read => "read",
            Level::Write => "write",
            Level::CreateRepo => "create-repo",
            Level::Admin => "admin",
        }
    }

    pub fn parse(text: &str) -> Option<Level> {
        match text {
            "read" => Some(Level::Read),
            "write" => Some(Level::Write),
            "create-repo" => Some(Level::CreateRepo),
            "admin" => Some(Level::Admin),
            _ => None,
        }
    }

    /// What a project level gives on the project's repositories: creating repositories
    /// is writing to them.
    pub fn on_repos(self) -> Level {
        if self == Level::CreateRepo {
            Level::Write
        } else {
            self
        }
    }
}

/// When directory changes were made, so that Bitbucket sees each only `propagation_ms`
/// later. Entries are dropped once they have arrived (`settle`).
#[derive(Debug, Clone, Default)]
pub struct Propagation {
    /// Group id → when it was created.
    pub created: HashMap<String, Instant>,
    /// (group id, account id) → when the account joined the group.
    pub joined: HashMap<(String, String), Instant>,
    /// (group id, account id) → when the account left the group: it still counts as a
    /// member in Bitbucket until the change arrives.
    pub left: HashMap<(String, String), Instant>,
}

/// A directory group's slug in Bitbucket: its name lower-cased, spaces turned into dashes.
/// This is the rule Bitbucket documented for its own (1.0) groups; the rule it applies to
/// organization directory groups is not documented, so a client should read slugs back
/// from `permissions-config` rather than rely on this one.
pub fn slug(name: &str) -> String {
    name.to_lowercase().replace(' ', "-")
}

/// Bitbucket's `{uuid}` for an account that has none in the state: a stable value derived
/// from the account id (FNV-1a, spread over the 128 bits), so it reads the same every run.
pub fn derived_uuid(seed: &str) -> String {
    let mut a: u64 = 0xcbf2_9ce4_8422_2325;
    let mut b: u64 = 0x8422_2325_cbf2_9ce4;
    for byte in seed.bytes() {
        a = (a ^ u64::from(byte)).wrapping_mul(0x0100_0000_01b3);
        b = (b ^ u64::from(byte)).wrapping_mul(0x0000_0100_0000_01b3 ^ 0x5bd1);
    }
    let hex = format!("{a:016x}{b:016x}");
    format!(
        "{{{}-{}-{}-{}-{}}}",
        &hex[0..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..32]
    )
}

impl DirectoryUser {
    pub fn uuid(&self) -> String {
        self.uuid.clone().unwrap_or_else(|| derived_uuid(&self.account_id))
    }
}

impl CloudState {
    pub fn user(&self, account_id: &str) -> Option<&DirectoryUser> {
        self.users.iter().find(|u| u.account_id == account_id)
    }

    /// An account by account id or by `{uuid}`, as Bitbucket's user parameters take them.
    pub fn user_by_any_id(&self, id: &str) -> Option<&DirectoryUser> {
        if id.starts_with('{') {
            self.users.iter().find(|u| u.uuid() == id)
        } else {
            self.user(id)
        }
    }

    pub fn group(&self, id: &str) -> Option<&DirectoryGroup> {
        self.groups.iter().find(|g| g.id == id)
    }

    /// The operator's email: the Basic username of its API token.
    pub fn operator_email(&self) -> Option<&str> {
        self.user(&self.operator).map(|u| u.email.as_str())
    }

    pub fn rate_limit(&self) -> RateLimit {
        self.rate_limit.unwrap_or(DEFAULT_RATE_LIMIT)
    }
}

impl StateFile for CloudState {
    fn faults(&self) -> Option<&FaultConfig> {
        self.faults.as_ref()
    }

    fn check(&mut self) -> Result<(), String> {
        if self.kind != KIND {
            return Err(format!("`kind` must be `{KIND}`, not `{}`", self.kind));
        }
        if let Some(limit) = self.rate_limit {
            if limit.requests == 0 || limit.per_seconds == 0 {
                return Err("rate_limit: `requests` and `per_seconds` must be at least 1".to_owned());
            }
        }
        let mut accounts = HashSet::new();
        let mut emails = HashSet::new();
        for user in &self.users {
            if !accounts.insert(user.account_id.as_str()) {
                return Err(format!("users: account id `{}` appears twice", user.account_id));
            }
            if !emails.insert(user.email.to_lowercase()) {
                return Err(format!("users: email `{}` appears twice", user.email));
            }
        }
        let account = |what: &str, id: &str| -> Result<(), String> {
            if accounts.contains(id) {
                Ok(())
            } else {
                Err(format!("{what}: no user has account id `{id}`"))
            }
        };
        account("operator", &self.operator)?;
        account("workspace.owner", &self.workspace.owner)?;
        let mut group_ids = HashSet::new();
        let mut slugs = HashSet::new();
        for group in &self.groups {
            if !group_ids.insert(group.id.as_str()) {
                return Err(format!("groups: id `{}` appears twice", group.id));
            }
            // Names are unique case-insensitively in the directory, and so are slugs.
            if !slugs.insert(slug(&group.name)) {
                return Err(format!("groups: a second group is named `{}`", group.name));
            }
            let mut members = HashSet::new();
            for member in &group.members {
                account(&format!("groups `{}` members", group.name), member)?;
                if !members.insert(member) {
                    return Err(format!("groups `{}`: member `{member}` appears twice", group.name));
                }
            }
        }
        for name in &self.workspace.access_groups {
            if !self.groups.iter().any(|g| g.name == *name) {
                return Err(format!("workspace.access_groups: no group is named `{name}`"));
            }
        }
        for member in &self.workspace.members {
            account("workspace.members", member)?;
        }
        let grants = |what: &str, groups: &BTreeMap<String, Level>, users: &BTreeMap<String, Level>, repo: bool| {
            for (group, level) in groups {
                if !slugs.contains(group) {
                    return Err(format!("{what}: no group has the slug `{group}`"));
                }
                if repo && *level == Level::CreateRepo {
                    return Err(format!("{what}: `create-repo` is a project permission"));
                }
            }
            for (user, level) in users {
                account(what, user)?;
                if *user == self.workspace.owner {
                    return Err(format!("{what}: the workspace owner `{user}` has no explicit grants"));
                }
                if repo && *level == Level::CreateRepo {
                    return Err(format!("{what}: `create-repo` is a project permission"));
                }
            }
            Ok(())
        };
        let mut keys = HashSet::new();
        let mut repos = HashSet::new();
        for project in &self.workspace.projects {
            if !keys.insert(project.key.to_uppercase()) {
                return Err(format!("workspace.projects: key `{}` appears twice", project.key));
            }
            grants(
                &format!("project `{}`", project.key),
                &project.groups,
                &project.users,
                false,
            )?;
            for repo in &project.repos {
                if !repos.insert(repo.slug.to_lowercase()) {
                    return Err(format!("workspace: repository `{}` appears twice", repo.slug));
                }
                grants(&format!("repository `{}`", repo.slug), &repo.groups, &repo.users, true)?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::{derived_uuid, slug};

    #[test]
    fn slugs_and_uuids() {
        assert_eq!(slug("Viewer Release Management"), "viewer-release-management");
        let uuid = derived_uuid("557058:a");
        assert_eq!(uuid.len(), 38, "{uuid}");
        assert_eq!(uuid, derived_uuid("557058:a"));
        assert_ne!(uuid, derived_uuid("557058:b"));
    }
}

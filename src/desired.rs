//! `Desired`: a resolved, checked manifest. Only `resolve` builds one, so everything the
//! planner sees has valid names, known references and native permission names.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use crate::model::{Kind, ResourceMap};
use crate::provider::scim::ProfileName;

#[derive(Debug, Clone)]
pub struct Desired {
    pub targets: BTreeMap<String, TargetConfig>,
    /// Every resource the manifest declares, on every target.
    pub resources: ResourceMap,
    /// Per target, the usernames of declared but inactive people: their account is
    /// kept, every membership and direct permission they hold is removed.
    pub offboarded: BTreeMap<String, BTreeSet<String>>,
    pub policy: Policy,
    /// Per target, groups the manifest renamed: old name to new name.
    pub renames: BTreeMap<String, BTreeMap<String, String>>,
    /// `sha256:…` over every manifest file's path and content, so a plan names exactly
    /// the manifests it was made from.
    pub manifest_digest: String,
    /// The directory the manifests were loaded from.
    pub manifest_dir: std::path::PathBuf,
    /// `policy.protect` entries the manifests declare no person or group for: they must
    /// name a user or group live on some target, or they protect nothing (a typo).
    pub protect_undeclared: BTreeSet<String>,
}

#[derive(Debug, Clone)]
pub struct TargetConfig {
    pub name: String,
    pub platform: Platform,
    pub endpoint: Endpoint,
    /// The URL as the manifest wrote it, for display (a sandbox path stays relative).
    pub url: String,
    pub auth: Option<AuthConfig>,
    /// The account rollcall works as: the Basic username, or a Bearer token's `account`.
    /// Unknown only for a sandbox, whose state file names it.
    pub account: Option<String>,
    pub notify_new_users: bool,
    /// What the provider reads beyond the instance-wide lists.
    pub scope: ReadScope,
}

/// The per-container lists a provider reads. Instance-wide lists (users, groups, global
/// permissions) are always read; these are the lists that cost a request per container,
/// so only those the plan can need are read.
#[derive(Debug, Clone, Default)]
pub struct ReadScope {
    /// Projects and, per project, the repositories whose permissions are read: the ones
    /// the manifest names.
    pub projects: BTreeMap<String, BTreeSet<String>>,
    /// Groups whose members are read: the declared ones (matched without regard to case).
    pub member_groups: BTreeSet<String>,
    /// Read the members of every group. Set when groups or users are pruned, so the plan
    /// can list the memberships each deleted principal takes along.
    pub all_group_members: bool,
    /// Users whose groups are read: the offboarded, whose every membership is removed.
    pub member_users: BTreeSet<String>,
    /// Read everything the target has, whatever the manifest names: every project and
    /// repository (listed from the target) and the members of every group. `rollcall
    /// import` sets it; a SCIM read is whole already (two lists, members inside groups).
    pub everything: bool,
}

impl ReadScope {
    /// The scope of a read that misses nothing: what `rollcall import` needs.
    pub fn everything() -> ReadScope {
        ReadScope {
            everything: true,
            all_group_members: true,
            ..ReadScope::default()
        }
    }
}

/// What a target is, and with it what it can do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Platform {
    BitbucketDatacenter,
    Scim(ProfileName),
}

/// What the planner needs to know of a platform: which changes exist there at all.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Capabilities {
    /// Users have `active`: an offboarded person is deactivated, not just stripped.
    pub user_active: bool,
    /// Deleting a user only deactivates it, so pruning is planned as a deactivation.
    pub delete_user_deactivates: bool,
    /// A group can be renamed in place, keeping its members and grants.
    pub group_rename: bool,
    /// A user's username can change: an account found by its externalId under another
    /// username is renamed rather than created again.
    pub user_rename: bool,
}

impl Platform {
    /// The target kind as the manifest and the plan name it.
    pub fn kind(self) -> &'static str {
        match self {
            Platform::BitbucketDatacenter => "bitbucket-datacenter",
            Platform::Scim(_) => "scim",
        }
    }

    /// The kind, with the profile of a SCIM target: `scim/atlassian`.
    pub fn label(self) -> String {
        match self {
            Platform::BitbucketDatacenter => self.kind().to_owned(),
            Platform::Scim(p) => format!("scim/{}", p.as_str()),
        }
    }

    pub fn profile(self) -> Option<ProfileName> {
        match self {
            Platform::BitbucketDatacenter => None,
            Platform::Scim(p) => Some(p),
        }
    }

    /// The platform of a kind and profile as a plan file names them.
    pub fn parse(kind: &str, profile: Option<&str>) -> Option<Platform> {
        match (kind, profile) {
            ("bitbucket-datacenter", None) => Some(Platform::BitbucketDatacenter),
            ("scim", Some(p)) => ProfileName::parse(p).map(Platform::Scim),
            _ => None,
        }
    }

    pub fn capabilities(self) -> Capabilities {
        match self {
            // Bitbucket Data Center has no group rename in its REST API, and its users
            // are deleted, not deactivated, through it.
            Platform::BitbucketDatacenter => Capabilities {
                user_active: false,
                delete_user_deactivates: false,
                group_rename: false,
                user_rename: false,
            },
            Platform::Scim(p) => {
                let p = p.profile();
                Capabilities {
                    user_active: true,
                    delete_user_deactivates: p.delete_user_deactivates,
                    group_rename: p.group_rename,
                    // SCIM's userName is readWrite (RFC 7643 §4.1.1).
                    user_rename: true,
                }
            }
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Endpoint {
    /// A real server: `https://…`, or `http://` on loopback.
    Url(url::Url),
    /// The built-in emulator, seeded from (and saved back to) this state file.
    Sandbox(PathBuf),
}

#[derive(Debug, Clone)]
pub struct AuthConfig {
    pub username: Option<String>,
    pub token: SecretRef,
}

/// Where a secret lives. The manifest only ever holds the reference.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SecretRef {
    Env(String),
    File(PathBuf),
}

impl SecretRef {
    /// The reference as the manifest writes it: `${env:NAME}` or `${file:PATH}`.
    pub fn to_reference(&self) -> String {
        match self {
            SecretRef::Env(var) => format!("${{env:{var}}}"),
            SecretRef::File(path) => format!("${{file:{}}}", path.display()),
        }
    }

    pub fn parse(reference: &str) -> Option<SecretRef> {
        let inner = reference.trim().strip_prefix("${")?.strip_suffix('}')?;
        match inner.split_once(':')? {
            ("env", var) if !var.is_empty() && var.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') => {
                Some(SecretRef::Env(var.to_owned()))
            }
            ("file", path) if !path.is_empty() => Some(SecretRef::File(PathBuf::from(path))),
            _ => None,
        }
    }
}

/// `sha256:` and the hex digest of `bytes`.
pub fn digest(bytes: &[u8]) -> String {
    use sha2::Digest;
    let hash = sha2::Sha256::digest(bytes);
    let hex: String = hash.iter().map(|b| format!("{b:02x}")).collect();
    format!("sha256:{hex}")
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Policy {
    pub prune: BTreeSet<Kind>,
    /// Names of users and groups never changed, as written (matched without regard to case).
    pub protect: BTreeSet<String>,
    pub limits: Limits,
    pub min_admins: usize,
}

/// Delete limits, as `policy.limits` sets them (defaults as octoDNS has them).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Limits {
    pub max_deletes: Option<usize>,
    pub max_delete_percent: u32,
    pub min_existing: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_deletes: None,
            max_delete_percent: 30,
            min_existing: 10,
        }
    }
}

impl Policy {
    pub fn prunes(&self, kind: Kind) -> bool {
        self.prune.contains(&kind)
    }
}

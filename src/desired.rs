//! `Desired`: a resolved, checked manifest. Only `resolve` builds one, so everything the
//! planner sees has valid names, known references and native permission names.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use crate::model::{Kind, ResourceMap, Scope};
pub use crate::platform::Platform;

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
    /// The identity sources the manifests declare and what they ask of them; None when
    /// they declare none.
    pub sourcing: Option<crate::source::spec::Sourcing>,
    /// What the sources answered, once read: a `Desired` with `sourcing` and without
    /// this cannot be planned (its sourced people and members are missing).
    pub sourced: Option<std::sync::Arc<crate::source::select::Sourced>>,
    /// Why an object is wanted, where a source is the reason: `in okta:eng-backend`.
    pub provenance: BTreeMap<crate::model::Address, String>,
    /// Groups that follow source groups, with them (`okta:eng-backend`): their
    /// memberships are the sources' and the manifest's alone, pruned or not.
    pub followed: BTreeMap<String, Vec<String>>,
    /// Per target, each declared person's username there, by the manifest's name for
    /// them: `carol` is `cdiaz` on one target. Effective access names people this way.
    pub usernames: BTreeMap<String, BTreeMap<String, String>>,
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
    /// The platform's own options with a text value (`workspace`, `organization`,
    /// `directory`), by name, as the manifest set them; the platform lists which it
    /// takes and which it requires.
    pub settings: BTreeMap<String, String>,
    /// What the provider reads beyond the instance-wide lists.
    pub scope: ReadScope,
    /// The target that creates the users and groups this one's grants and memberships
    /// name (a directory that feeds a platform without its own groups), if another one
    /// does: its changes to them are ordered before the changes here that refer to them.
    pub principals_from: Option<String>,
}

/// The per-container lists a provider reads. Instance-wide lists (users, groups, global
/// permissions) are always read; these are the lists that cost a request per container,
/// so only those the plan can need are read.
#[derive(Debug, Clone, Default)]
pub struct ReadScope {
    /// The scopes whose grants are read: the ones the manifest's `access` names, so a
    /// scope the manifest empties is still read and its grants pruned.
    pub scopes: BTreeSet<Scope>,
    /// The scopes whose default (what every user holds there) is read: those the
    /// manifest gives a default, and every one of `scopes` that has one on its platform
    /// when permissions are pruned.
    /// A default nobody declares and nothing prunes can change nothing in a plan, so a
    /// provider that pays a request for it skips it; where it is not read it is not
    /// there for the plan at all (not "none"), and the plan proposes nothing on it.
    pub defaults: BTreeSet<Scope>,
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
    /// On a platform whose users are made elsewhere (`KindRules::external`), the people
    /// the manifest declares, by their name on the target, with their email: the
    /// platform finds their accounts by email, and only theirs.
    pub people: BTreeMap<String, String>,
    /// On a platform with identifiers of its own for groups (`Spec::group_ids`), each
    /// declared group's identifier there, by group name.
    pub group_ids: BTreeMap<String, GroupId>,
    /// The scopes where the manifest declares grants. A provider that pays a request per
    /// scope's grant list may skip a named scope outside this set unless `all_grants` is
    /// set or someone is offboarded (`member_users`): nothing there could be planned.
    pub grant_scopes: BTreeSet<Scope>,
    /// The plan compares the grants of every named scope: permissions are pruned, or a
    /// renamed group's grants may move.
    pub all_grants: bool,
}

/// A group's identifier on a target that names groups its own way.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupId {
    pub id: String,
    /// Set by the group's `ids` in the manifest, rather than derived from its name.
    pub declared: bool,
}

impl ReadScope {
    /// The scope of a read that misses nothing: what `rollcall import` needs.
    pub fn everything() -> ReadScope {
        ReadScope::default().whole()
    }

    /// This scope, widened to miss nothing, keeping what tells the provider who the
    /// declared people and groups are (`people`, `group_ids`): what `rollcall access
    /// --live` reads.
    pub fn whole(self) -> ReadScope {
        ReadScope {
            everything: true,
            all_group_members: true,
            ..self
        }
    }
}

#[cfg(test)]
impl TargetConfig {
    /// A target on a sandbox state file, for unit tests.
    pub(crate) fn sandbox(name: &str, platform: Platform) -> TargetConfig {
        TargetConfig {
            name: name.to_owned(),
            platform,
            endpoint: Endpoint::Sandbox("state.yaml".into()),
            url: "sandbox:state.yaml".into(),
            auth: None,
            account: None,
            notify_new_users: false,
            settings: BTreeMap::new(),
            scope: ReadScope::default(),
            principals_from: None,
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

impl Desired {
    /// What the identity sources gave, as a plan keeps it; None without sources.
    pub fn sources_summary(&self) -> Option<crate::plan::sources::SourcesSummary> {
        let sourced = self.sourced.as_ref()?;
        let policy = self.sourcing.as_ref().map(|s| s.policy).unwrap_or_default();
        Some(crate::plan::sources::SourcesSummary::of(
            sourced,
            &self.followed,
            policy,
        ))
    }
}

impl Policy {
    pub fn prunes(&self, kind: Kind) -> bool {
        self.prune.contains(&kind)
    }
}

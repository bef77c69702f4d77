//! `Desired`: a resolved, checked manifest. Only `resolve` builds one, so everything the
//! planner sees has valid names, known references and native permission names.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;

use crate::model::{Kind, ResourceMap};

#[derive(Debug, Clone)]
pub struct Desired {
    pub targets: BTreeMap<String, TargetConfig>,
    /// Every resource the manifest declares, on every target.
    pub resources: ResourceMap,
    /// Per target, the usernames of declared but inactive people: their account is
    /// kept, every membership and direct permission they hold is removed.
    pub offboarded: BTreeMap<String, BTreeSet<String>>,
    pub policy: Policy,
}

#[derive(Debug, Clone)]
pub struct TargetConfig {
    pub name: String,
    pub endpoint: Endpoint,
    /// The URL as the manifest wrote it, for display (a sandbox path stays relative).
    pub url: String,
    pub auth: Option<AuthConfig>,
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

#[derive(Debug, Clone, Default)]
pub struct Policy {
    pub prune: BTreeSet<Kind>,
}

impl Policy {
    pub fn prunes(&self, kind: Kind) -> bool {
        self.prune.contains(&kind)
    }
}

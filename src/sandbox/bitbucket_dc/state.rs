//! The Bitbucket Data Center sandbox's state file: what the emulator holds in memory and
//! writes back after an apply.
//!
//! The file is YAML, meant to be read and edited by a person trying rollcall out. It is the
//! emulator's own model of a Bitbucket instance and deliberately shares nothing with the
//! provider's wire types: the two are independent readings of the vendor's description.
//! Reading, checking the `faults` section and saving are the host's (`StateFile`).

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

use crate::sandbox::faults::FaultConfig;
use crate::sandbox::state::StateFile;

/// The value of the `kind` key that marks a Data Center state file: the manifest's kind
/// of target it stands in for.
pub const KIND: &str = "bitbucket-datacenter";

/// Everything a sandboxed Bitbucket Data Center instance knows.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DcState {
    /// Always `bitbucket-datacenter`, so the file says what it is. A file written before
    /// the marker leaves it out and is read as Data Center's all the same; saving adds it.
    #[serde(default = "default_kind")]
    pub kind: String,
    /// The account the sandbox's token authenticates as. It must exist in `users` and
    /// should hold `SYS_ADMIN`, as the account rollcall runs as would in production.
    #[serde(default = "default_operator")]
    pub operator: String,
    /// The licence's user tier: granting a licence to more users than this fails with
    /// 403, as on a real instance. Absent means unlimited.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub licence_limit: Option<usize>,
    #[serde(default)]
    pub users: BTreeMap<String, DcUser>,
    /// Group name to the names of its members.
    #[serde(default)]
    pub groups: BTreeMap<String, BTreeSet<String>>,
    #[serde(default)]
    pub global: Grants,
    #[serde(default)]
    pub projects: BTreeMap<String, DcProject>,
    /// Faults to inject (latency, 429, 503, dropped connections); absent means none. See
    /// `sandbox::faults`; `ROLLCALL_SANDBOX_FAULTS` overrides it without changing the file.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub faults: Option<FaultConfig>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DcUser {
    pub display_name: String,
    pub email: String,
    #[serde(default = "yes", skip_serializing_if = "is_true")]
    pub active: bool,
}

/// Permissions granted directly to users and to groups, by name, as the API's
/// permission names (`LICENSED_USER`, `PROJECT_WRITE`, `REPO_ADMIN`, ...).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Grants {
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub users: BTreeMap<String, String>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub groups: BTreeMap<String, String>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DcProject {
    #[serde(default)]
    pub name: String,
    /// The permissions every licensed user has on the project (`PROJECT_READ`,
    /// `PROJECT_WRITE`), as set with `POST .../permissions/{permission}/all`.
    #[serde(default, skip_serializing_if = "BTreeSet::is_empty")]
    pub all_users: BTreeSet<String>,
    #[serde(default, flatten)]
    pub grants: Grants,
    #[serde(default)]
    pub repos: BTreeMap<String, DcRepo>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DcRepo {
    #[serde(default, flatten)]
    pub grants: Grants,
}

impl Default for DcState {
    fn default() -> Self {
        DcState {
            kind: default_kind(),
            operator: default_operator(),
            licence_limit: None,
            users: BTreeMap::new(),
            groups: BTreeMap::new(),
            global: Grants::default(),
            projects: BTreeMap::new(),
            faults: None,
        }
    }
}

fn default_kind() -> String {
    KIND.to_owned()
}
fn default_operator() -> String {
    "admin".to_owned()
}
fn yes() -> bool {
    true
}
fn is_true(b: &bool) -> bool {
    *b
}

impl StateFile for DcState {
    fn faults(&self) -> Option<&FaultConfig> {
        self.faults.as_ref()
    }

    fn check(&mut self) -> Result<(), String> {
        if self.kind != KIND {
            return Err(format!("kind must be `{KIND}`, not `{}`", self.kind));
        }
        Ok(())
    }
}

impl DcState {
    /// `StateFile::parse`, callable without the trait in scope, as the manifest loader and
    /// the tests call it.
    pub fn parse(text: &str) -> Result<Self, String> {
        <Self as StateFile>::parse(text)
    }
}

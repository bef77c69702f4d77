//! Effective access: what each person can do, and through what, on every target, worked
//! out with each platform's own rules (which grants a scope inherits, the "everyone"
//! default, who is an administrator), all of them data the platform declares.
//!
//! It answers from any state of a target: the manifest's (`rollcall access DIR`), live
//! (`--live`), or live with a plan's changes made (the plan's "Effect on people").

pub mod html;

use serde::Serialize;

/// Everyone's access on the targets asked about, as `rollcall access` reports it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Report {
    /// What the report answers from: `manifest` or `live`.
    pub from: String,
    /// The digest of the manifests the report was made from (`sha256:…`).
    pub manifest_digest: String,
    /// When the report was made, RFC 3339 in UTC (`SOURCE_DATE_EPOCH` fixes it).
    pub generated_at: String,
    /// The filters it was made with, as given (`--who`, `--on`), for the reader.
    pub filters: Vec<String>,
    /// Sorted by person, then target, then resource.
    pub entries: Vec<Entry>,
}

/// One person's access to one resource of one target.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct Entry {
    /// The person's name on the target.
    pub person: String,
    /// Their email, where the target knows it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    pub target: String,
    /// The resource, as `--on` names it after `TARGET:`: `global`, `API`, `API/payments`,
    /// a group's name on a platform whose access is membership, `account`.
    pub resource: String,
    /// What the resource is, in the platform's words: `project`, `repository`, `group`.
    pub noun: String,
    /// `read`, `write` or `admin`; `member` where access is membership.
    pub level: String,
    /// Everything that gives the person this level here, strongest first.
    pub reasons: Vec<Reason>,
}

/// One way a person holds their level on a resource.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct Reason {
    /// The grant, default or membership, in the platform's own words: `PROJECT_WRITE on
    /// project API`, `all users: PROJECT_READ on project PLAT`, `ADMIN (global)`.
    pub grant: String,
    /// The group it comes through, if not held directly.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub via: Option<String>,
}

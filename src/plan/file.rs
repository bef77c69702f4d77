//! The plan as a JSON document: what `plan --json` prints, what `plan --out` saves and
//! what `apply FILE` and `show FILE` read back. The shape is documented in
//! `docs/plan-json.md`; bump `FORMAT_VERSION` on any change that could break a reader.
//!
//! A saved plan says how to reach each target again (URL, token *reference*, account),
//! which manifests it was made from (their directory, relative to the file, and their
//! digest), and for each change the live object it expects to find (`before`). It never
//! holds a secret. The policy, the live counts and the refusals are written for people
//! and tools to read, but never read back: `apply FILE` takes the policy from the
//! manifests and checks the safety rules against live state afresh.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Component, Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::desired::{AuthConfig, Endpoint, Platform, Policy, ReadScope, SecretRef, TargetConfig};
use crate::model::{Address, Resource, ResourceId};
use crate::plan::{graph, Action, Change, Held, Note, Plan, PlannedTarget, Summary, Unmanaged};
use crate::safety::{Existing, Refusal};

pub const FORMAT_VERSION: u32 = 3;

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Document {
    format_version: u32,
    rollcall_version: String,
    manifest_digest: String,
    /// The manifest directory, relative to the directory the document is written for.
    manifests: String,
    summary: Summary,
    targets: Vec<DocTarget>,
    policy: Policy,
    existing: Existing,
    refusals: Vec<Refusal>,
    changes: Vec<DocChange>,
    unmanaged: Vec<DocUnmanaged>,
    /// Changes held back, for readers; never read back (the fresh plan holds its own).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    held: Vec<DocHeld>,
    /// What the plan says besides its changes, for readers; never read back.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    notes: Vec<DocNote>,
    /// What the changes do to people's effective access, for readers; never read back
    /// by `apply` (the fresh plan works out its own), read by `show`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    effects: Vec<crate::access::effect::Effect>,
    /// What the identity sources gave: `apply` reads the sources again and refuses if
    /// any person's fingerprint moved.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    sources: Option<crate::plan::sources::SourcesSummary>,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct DocHeld {
    address: String,
    target: String,
    resource: ResourceId,
    action: Action,
    after: Option<Resource>,
    why: String,
    hint: String,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct DocNote {
    target: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    address: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    resource: Option<ResourceId>,
    text: String,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct DocTarget {
    name: String,
    kind: String,
    /// The dialect of a kind with profiles (SCIM's `rfc`, `atlassian`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    profile: Option<String>,
    /// The target that creates the users and groups this one names, if another does.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    principals_from: Option<String>,
    endpoint: String,
    account: Option<String>,
    connection: Connection,
    summary: Summary,
}

/// How to reach a target again: the URL to connect to (`sandbox:PATH` as the manifest
/// wrote it, relative to the manifest directory), the token as a reference, and
/// creation settings.
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Connection {
    url: String,
    username: Option<String>,
    token: Option<String>,
    notify_new_users: bool,
    /// The platform's own options (`workspace`, `organization`, `directory`).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    settings: BTreeMap<String, String>,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct DocChange {
    address: String,
    target: String,
    resource: ResourceId,
    action: Action,
    /// The live object the change expects to find; `null` for a create.
    before: Option<Resource>,
    after: Option<Resource>,
    reason: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    renamed_from: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    renamed_to: Option<String>,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct DocUnmanaged {
    address: String,
    target: String,
    resource: ResourceId,
    current: Resource,
}

/// The plan as pretty JSON with a trailing newline.
pub fn to_json(plan: &Plan) -> String {
    let summaries = plan.summaries();
    let doc = Document {
        format_version: FORMAT_VERSION,
        rollcall_version: env!("CARGO_PKG_VERSION").to_owned(),
        manifest_digest: plan.manifest_digest.clone(),
        manifests: relative(&plan.base, &plan.manifest_dir),
        summary: plan.summary(),
        targets: plan
            .targets
            .iter()
            .map(|t| DocTarget {
                name: t.name.clone(),
                kind: t.config.platform.kind().to_owned(),
                profile: t.config.platform.profile().map(str::to_owned),
                principals_from: t.config.principals_from.clone(),
                endpoint: t.endpoint.clone(),
                account: t.account.clone(),
                connection: connection(&t.config, &plan.manifest_dir),
                summary: summaries.get(&t.name).copied().unwrap_or_default(),
            })
            .collect(),
        policy: plan.policy.clone(),
        existing: plan.existing.clone(),
        refusals: plan.refusals.clone(),
        sources: plan.sources.clone(),
        changes: plan
            .changes
            .iter()
            .map(|c| DocChange {
                address: c.address.to_string(),
                target: c.address.target.to_string(),
                resource: c.address.id.clone(),
                action: c.action,
                before: c.before.clone(),
                after: c.after.clone(),
                reason: c.reason.clone(),
                renamed_from: c.renamed_from.clone(),
                renamed_to: c.renamed_to.clone(),
            })
            .collect(),
        unmanaged: plan
            .unmanaged
            .iter()
            .map(|u| DocUnmanaged {
                address: u.address.to_string(),
                target: u.address.target.to_string(),
                resource: u.address.id.clone(),
                current: u.current.clone(),
            })
            .collect(),
        held: plan
            .held
            .iter()
            .map(|h| DocHeld {
                address: h.change.address.to_string(),
                target: h.change.address.target.to_string(),
                resource: h.change.address.id.clone(),
                action: h.change.action,
                after: h.change.after.clone(),
                why: h.why.clone(),
                hint: h.hint.clone(),
            })
            .collect(),
        notes: plan
            .notes
            .iter()
            .map(|n| DocNote {
                target: n.target.clone(),
                address: n.address.as_ref().map(ToString::to_string),
                resource: n.address.as_ref().map(|a| a.id.clone()),
                text: n.text.clone(),
            })
            .collect(),
        effects: plan.effects.clone(),
    };
    // Serialising plain structs and strings cannot fail; fall back to an error object
    // rather than panic should that ever change.
    let mut text = serde_json::to_string_pretty(&doc)
        .unwrap_or_else(|e| format!("{{\"format_version\":{FORMAT_VERSION},\"error\":{:?}}}", e.to_string()));
    text.push('\n');
    text
}

/// Why a file is not a plan rollcall can apply.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct FileError(String);

/// Reads a plan back; relative paths in it are taken from `base`, the directory the file
/// is in. Anything a hand edit could make inconsistent is checked; the changes are put in
/// dependency order again rather than trusting the file's order. The policy is kept only
/// to be compared with the manifests'; the live counts and refusals are not read.
pub fn from_json(text: &str, base: &Path) -> Result<Plan, FileError> {
    let value: serde_json::Value =
        serde_json::from_str(text).map_err(|e| FileError(format!("not a rollcall plan (invalid JSON: {e})")))?;
    match value.get("format_version").and_then(serde_json::Value::as_u64) {
        Some(v) if v == u64::from(FORMAT_VERSION) => {}
        Some(v) => {
            return Err(FileError(format!(
                "the plan has format_version {v}; this rollcall reads version {FORMAT_VERSION}: plan again with this version"
            )))
        }
        None => return Err(FileError("not a rollcall plan (no format_version)".to_owned())),
    }
    // From the text, not the value: a key given twice is an error, not the last one wins.
    let doc: Document = serde_json::from_str(text).map_err(|e| FileError(format!("not a valid rollcall plan: {e}")))?;
    // rollcall writes it relative to the file; an absolute one was put there by hand.
    if Path::new(&doc.manifests).is_absolute() {
        return Err(FileError(format!(
            "`manifests` is the absolute path `{}`; rollcall writes it relative to the plan file",
            doc.manifests
        )));
    }
    let manifest_dir = base.join(&doc.manifests);
    let mut targets = Vec::new();
    for t in doc.targets {
        let found = crate::provider::registry::find(&t.kind, t.profile.as_deref());
        // A profile left out is the kind's default, which a plan file always names.
        let Some(platform) = found.filter(|p| p.profile().is_some() == t.profile.is_some()) else {
            return Err(FileError(format!(
                "target `{}` has unknown kind `{}`{}",
                t.name,
                t.kind,
                t.profile.map(|p| format!(" with profile `{p}`")).unwrap_or_default()
            )));
        };
        let mut config = target_config(
            &t.name,
            platform,
            &t.endpoint,
            t.account.clone(),
            t.connection,
            &manifest_dir,
        )?;
        config.principals_from = t.principals_from;
        targets.push(PlannedTarget {
            name: t.name,
            endpoint: t.endpoint,
            account: t.account,
            config,
            invited: BTreeSet::new(),
        });
    }
    let mut names = BTreeSet::new();
    for t in &targets {
        if !names.insert(t.name.as_str()) {
            return Err(FileError(format!("target `{}` is listed twice", t.name)));
        }
    }
    for t in &targets {
        if let Some(from) = t.config.principals_from.as_deref().filter(|f| !names.contains(f)) {
            return Err(FileError(format!(
                "target `{}` takes its users and groups from `{from}`, which the plan does not list",
                t.name
            )));
        }
    }
    let mut seen = BTreeSet::new();
    let mut changes = Vec::new();
    for c in doc.changes {
        if !names.contains(c.target.as_str()) {
            return Err(FileError(format!(
                "a change names target `{}`, which the plan does not list",
                c.target
            )));
        }
        let address = Address::new(&c.target, c.resource);
        // The address is what people read; the resource is what runs. They must agree.
        if address.to_string() != c.address {
            return Err(FileError(format!(
                "the change `{}` does not match its resource ({address})",
                c.address
            )));
        }
        if !seen.insert(address.clone()) {
            return Err(FileError(format!("{address} has more than one change")));
        }
        let consistent = match c.action {
            Action::Create => c.before.is_none() && c.after.is_some(),
            Action::Update => c.before.is_some() && c.after.is_some(),
            Action::Delete => c.before.is_some() && c.after.is_none(),
        };
        if !consistent {
            return Err(FileError(format!(
                "the change to {address} has `before`/`after` that do not fit its action"
            )));
        }
        let may_rename = match address.id {
            ResourceId::Group { .. } => c.action != Action::Delete,
            ResourceId::User { .. } => c.action == Action::Update,
            _ => false,
        };
        if c.renamed_from.is_some() && !may_rename {
            return Err(FileError(format!(
                "the change to {address} has `renamed_from`, which only a group's create or update, or a user's update, may have"
            )));
        }
        let is_group_delete = matches!(address.id, ResourceId::Group { .. }) && c.action == Action::Delete;
        if c.renamed_to.is_some() && !is_group_delete {
            return Err(FileError(format!(
                "the change to {address} has `renamed_to`, which only a group's delete may have"
            )));
        }
        changes.push(Change {
            address,
            action: c.action,
            before: c.before,
            after: c.after,
            reason: c.reason,
            renamed_from: c.renamed_from,
            renamed_to: c.renamed_to,
        });
    }
    check_renames(&targets, &changes)?;
    let unmanaged = doc
        .unmanaged
        .into_iter()
        .map(|u| Unmanaged {
            address: Address::new(&u.target, u.resource),
            current: u.current,
        })
        .collect();
    let changes = graph::order(changes, &targets).map_err(|e| FileError(e.to_string()))?;
    // Held changes and notes are for display: `apply FILE` plans again and holds and
    // notes what that plan does; they are read so that `show FILE` prints them.
    let held = doc
        .held
        .into_iter()
        .map(|h| Held {
            change: Change {
                address: Address::new(&h.target, h.resource),
                action: h.action,
                before: None,
                after: h.after,
                reason: None,
                renamed_from: None,
                renamed_to: None,
            },
            why: h.why,
            hint: h.hint,
        })
        .collect();
    let notes = doc
        .notes
        .into_iter()
        .map(|n| Note {
            address: n.resource.map(|r| Address::new(&n.target, r)),
            target: n.target,
            text: n.text,
        })
        .collect();
    Ok(Plan {
        targets,
        changes,
        unmanaged,
        held,
        notes,
        effects: doc.effects,
        policy: doc.policy,
        existing: Existing::default(),
        manifest_digest: doc.manifest_digest,
        manifest_dir,
        base: base.to_owned(),
        refusals: Vec::new(),
        file_digest: None,
        sources: doc.sources,
        allow_shrink: std::collections::BTreeSet::new(),
    })
}

/// A rename must be one the target can make: in place only where its platform renames
/// that kind of object, and a replacing create only beside the deletion of the group it
/// replaces (which carries the order of the members' move).
fn check_renames(targets: &[PlannedTarget], changes: &[Change]) -> Result<(), FileError> {
    for c in changes {
        let Some(target) = targets.iter().find(|t| t.name == c.address.target) else {
            continue;
        };
        let platform = target.config.platform;
        let can = match c.address.id {
            ResourceId::User { .. } => platform.users().rename,
            _ => platform.groups().rename,
        };
        if c.renames().is_some() && !can {
            return Err(FileError(format!(
                "{} renames in place, which a {} target cannot do",
                c.address,
                target.config.platform.label()
            )));
        }
        if let (Action::Create, Some(old), ResourceId::Group { name: new }) = (c.action, &c.renamed_from, &c.address.id)
        {
            let deleted = changes.iter().any(|o| {
                o.address.target == c.address.target
                    && o.action == Action::Delete
                    && matches!(&o.address.id, ResourceId::Group { name } if name == old)
                    && o.renamed_to.as_deref() == Some(new.as_str())
            });
            if !deleted {
                return Err(FileError(format!(
                    "{} replaces `{old}`, which the plan does not delete as renamed",
                    c.address
                )));
            }
        }
    }
    Ok(())
}

/// A target's connection, its files (sandbox state, token file) named as the manifest
/// wrote them: relative to the manifest directory, which is relative to the plan file.
fn connection(config: &TargetConfig, manifest_dir: &Path) -> Connection {
    Connection {
        url: match &config.endpoint {
            Endpoint::Url(u) => u.to_string(),
            Endpoint::Sandbox(_) => config.url.clone(),
        },
        username: config.auth.as_ref().and_then(|a| a.username.clone()),
        token: config.auth.as_ref().map(|a| match &a.token {
            SecretRef::File(path) => SecretRef::File(as_written(manifest_dir, path).to_owned()).to_reference(),
            SecretRef::Env(_) => a.token.to_reference(),
        }),
        notify_new_users: config.notify_new_users,
        settings: config.settings.clone(),
    }
}

/// A path the manifests name, as they wrote it: `resolve` joined it to the manifest
/// directory (an absolute path stays as it was).
pub fn as_written<'a>(manifest_dir: &Path, path: &'a Path) -> &'a Path {
    path.strip_prefix(manifest_dir).unwrap_or(path)
}

fn target_config(
    name: &str,
    platform: Platform,
    shown: &str,
    account: Option<String>,
    c: Connection,
    manifest_dir: &Path,
) -> Result<TargetConfig, FileError> {
    let endpoint = match c.url.strip_prefix("sandbox:") {
        Some(path) => Endpoint::Sandbox(manifest_dir.join(path)),
        None => {
            let url =
                url::Url::parse(&c.url).map_err(|e| FileError(format!("target `{name}` has an invalid URL: {e}")))?;
            let loopback = crate::resolve::is_loopback(&url);
            if url.scheme() != "https" && !(url.scheme() == "http" && loopback) {
                return Err(FileError(format!(
                    "target `{name}`: only https:// (or http:// to loopback) is allowed"
                )));
            }
            if !url.username().is_empty() || url.password().is_some() {
                return Err(FileError(format!("target `{name}` has credentials in its URL")));
            }
            Endpoint::Url(url)
        }
    };
    let auth = match c.token {
        Some(reference) => Some(AuthConfig {
            username: c.username,
            token: match SecretRef::parse(&reference) {
                Some(SecretRef::File(path)) => SecretRef::File(manifest_dir.join(path)),
                Some(env) => env,
                None => {
                    return Err(FileError(format!(
                        "target `{name}`: the token must be a reference (`${{env:NAME}}` or `${{file:PATH}}`)"
                    )))
                }
            },
        }),
        None => None,
    };
    if auth.is_none() && matches!(endpoint, Endpoint::Url(_)) {
        return Err(FileError(format!("target `{name}` has no token reference")));
    }
    // The same rules as the manifest's: the account is the Basic username, and a Bearer
    // token names its account, so the own-account rule cannot be edited away.
    match auth.as_ref().map(|a| &a.username) {
        Some(Some(user)) if account.as_deref() != Some(user.as_str()) => {
            return Err(FileError(format!(
                "target `{name}`: `account` must be the Basic username `{user}`"
            )));
        }
        Some(None) if account.is_none() && platform.spec().bearer_names_account => {
            return Err(FileError(format!(
                "target `{name}` has a Bearer token but no `account`"
            )));
        }
        _ => {}
    }
    // What people were shown (`endpoint`) is where apply goes.
    let agrees = match &endpoint {
        Endpoint::Url(url) => url::Url::parse(shown).is_ok_and(|u| &u == url),
        Endpoint::Sandbox(_) => shown == c.url,
    };
    if !agrees {
        return Err(FileError(format!(
            "target `{name}`: the connection URL does not match the endpoint `{shown}` the plan shows"
        )));
    }
    Ok(TargetConfig {
        name: name.to_owned(),
        platform,
        endpoint,
        url: shown.to_owned(),
        auth,
        account,
        notify_new_users: c.notify_new_users,
        settings: c.settings,
        scope: ReadScope::default(),
        principals_from: None,
    })
}

/// `path` relative to `base`, both made absolute first (through the file system where
/// they exist), with `/` between components so a plan reads the same on every system.
fn relative(base: &Path, path: &Path) -> String {
    let (base, path) = (absolute(base), absolute(path));
    let mut base_parts = base.components().peekable();
    let mut path_parts = path.components().peekable();
    while let (Some(a), Some(b)) = (base_parts.peek(), path_parts.peek()) {
        if a != b {
            break;
        }
        base_parts.next();
        path_parts.next();
    }
    let mut parts: Vec<String> = base_parts.map(|_| "..".to_owned()).collect();
    parts.extend(path_parts.map(|c| c.as_os_str().to_string_lossy().into_owned()));
    if parts.is_empty() {
        ".".to_owned()
    } else {
        parts.join("/")
    }
}

/// The canonical path where it exists; otherwise the path joined to the current
/// directory with `.` and `..` taken lexically.
fn absolute(path: &Path) -> PathBuf {
    if let Ok(p) = path.canonicalize() {
        return p;
    }
    let cwd = std::env::current_dir()
        .and_then(|d| d.canonicalize())
        .unwrap_or_default();
    let mut out = PathBuf::new();
    for c in cwd.join(path).components() {
        match c {
            Component::CurDir => {}
            Component::ParentDir => {
                out.pop();
            }
            other => out.push(other),
        }
    }
    out
}

//! The engine: load → resolve → read → plan → review → apply, callable without the CLI.
//! Each step returns the library's one `Error`; the CLI is a thin face that prints what
//! these return and maps error kinds to exit codes.
//!
//! ```text
//! let desired = engine::load(dir)?;                 // manifests, resolved and checked
//! let live = engine::read(&desired).await?;         // every target at once
//! let plan = engine::plan(&desired, &live)?;        // diff and order
//! match engine::review(plan, &live, None) {         // the safety rules
//!     Ok(reviewed) => engine::apply(&reviewed, &live, 4, &stop, |_| {}).await,
//!     Err(refused) => …,                             // shown, never applied
//! }
//! ```

mod error;
pub mod saved;

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::atomic::AtomicBool;

use futures_util::future::join_all;

pub use error::{Error, ErrorKind};

use crate::apply::ApplyReport;
use crate::connect::{connect, Connected};
use crate::desired::{Desired, Platform, TargetConfig};
use crate::http::activity;
use crate::model::ResourceMap;
use crate::plan::{Plan, Refused, Reviewed};

/// Loads and resolves a manifest directory. Every problem of every file is reported at
/// once: the files that parsed are still resolved.
///
/// Identity sources are not read: a `Desired` of manifests that declare sources has
/// their people and members missing, and cannot be planned ([`plan`] refuses it); use
/// [`load_sourced`] to plan. This is what `validate` checks offline.
pub fn load(dir: &Path) -> Result<Desired, Error> {
    load_parts(dir).map(|(_, desired)| desired)
}

fn load_parts(dir: &Path) -> Result<(crate::manifest::Loaded, Desired), Error> {
    let (loaded, mut problems) = crate::manifest::load_dir(dir).map_err(|e| {
        Error::new(
            ErrorKind::Input,
            format!("cannot read the manifest directory {}: {e}", dir.display()),
        )
        .at(dir.display().to_string())
        .hint("pass the directory that holds your manifests, e.g. rollcall plan manifests/")
        .caused_by(e)
    })?;
    // While some file is missing, references to names it may declare are not checked.
    match crate::resolve::resolve(&loaded) {
        Ok(desired) if problems.is_empty() => Ok((loaded, desired)),
        Ok(_) => Err(Error::manifest(problems)),
        Err(more) => {
            problems.extend(more);
            Err(Error::manifest(problems))
        }
    }
}

/// Loads a manifest directory and reads its identity sources, all at once: the people
/// and members they provide are merged into the manifests and resolved with them. A
/// source that cannot be read fails the load (never taken for an empty one); two people
/// a source would give one name are manifest problems, at the source.
pub async fn load_sourced(dir: &Path, tuning: Tuning) -> Result<Desired, Error> {
    let (mut loaded, first) = load_parts(dir)?;
    let Some(sourcing) = first.sourcing.clone() else {
        return Ok(first);
    };
    let sourced = read_sources(dir, &loaded, &sourcing, tuning).await?;
    crate::resolve::inject_sourced(&mut loaded, &sourcing, sourced);
    crate::resolve::resolve(&loaded).map_err(Error::manifest)
}

/// What the manifests' identity sources give, read and selected, without touching any
/// target (`rollcall sources`); None when the manifests declare no source.
pub async fn expand_sources(
    dir: &Path,
    tuning: Tuning,
) -> Result<Option<(crate::source::spec::Sourcing, crate::source::select::Sourced)>, Error> {
    let (loaded, first) = load_parts(dir)?;
    let Some(sourcing) = first.sourcing else {
        return Ok(None);
    };
    let sourced = read_sources(dir, &loaded, &sourcing, tuning).await?;
    Ok(Some((sourcing, sourced)))
}

/// Reads every source at once and selects their people and members; adds who left
/// since the record of the last apply.
async fn read_sources(
    dir: &Path,
    loaded: &crate::manifest::Loaded,
    sourcing: &crate::source::spec::Sourcing,
    tuning: Tuning,
) -> Result<crate::source::select::Sourced, Error> {
    let answers = crate::source::read::read_all(sourcing, tuning.parallelism.max(1))
        .await
        .map_err(|errors| {
            let messages: Vec<&str> = errors.iter().map(|e| e.message.as_str()).collect();
            let names: Vec<&str> = errors.iter().map(|e| e.source_name.as_str()).collect();
            let mut err = Error::new(
                ErrorKind::Target,
                format!("cannot read the identity sources: {}", messages.join("; ")),
            )
            .at(names.join(", "))
            .hint("nothing was planned: a source that cannot be read is never taken for an empty one");
            for e in errors {
                err.hints.extend(e.hint);
            }
            err
        })?;
    let mut sourced = crate::source::select::select(sourcing, &answers.snapshots).map_err(|problems| {
        Error::manifest(
            problems
                .into_iter()
                .map(|p| loaded.sources.diagnostic(p.at, p.message).with_hint(p.hint))
                .collect(),
        )
    })?;
    sourced.requests = answers.requests;
    let record = crate::source::record::Record::load(&crate::source::record::path(dir)).map_err(|e| {
        Error::new(ErrorKind::Input, e)
            .hint("remove the record to start afresh: the people who left since it was written are then not offboarded")
    })?;
    if let Some(record) = record {
        let mut leavers = record.leavers(&sourced);
        // Declared at their source; where the manifests no longer declare it, at the
        // first source, so nobody who left is forgotten with it.
        let first = sourcing.sources.values().next().map(|s| s.at);
        for p in leavers.values_mut() {
            p.at = sourcing.sources.get(&p.source).map(|s| s.at).or(first);
        }
        sourced.leavers = leavers;
        sourced.before = record.counts;
    }
    Ok(sourced)
}

/// How hard the engine drives the targets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Tuning {
    /// The most requests in flight to one target at once, and the most changes applied
    /// at once. Each provider caps it by its platform, and the limit adapts below it to
    /// how the server answers.
    pub parallelism: usize,
}

/// `--parallelism`'s default: room for the adaptive limit to find a fast server's pace.
pub const DEFAULT_PARALLELISM: usize = 32;

impl Default for Tuning {
    fn default() -> Self {
        Tuning {
            parallelism: DEFAULT_PARALLELISM,
        }
    }
}

/// Live state of every target, and the connections it was read through (sandboxes
/// included), which `apply` uses and `shutdown` lets go of.
pub struct Live {
    pub connected: Connected,
    pub states: BTreeMap<String, ResourceMap>,
    /// What each provider found while reading, beyond live state.
    pub findings: BTreeMap<String, crate::provider::Findings>,
}

impl Live {
    /// The account each target works as, where known.
    pub fn accounts(&self) -> &BTreeMap<String, String> {
        &self.connected.accounts
    }

    pub async fn shutdown(self) {
        self.connected.shutdown().await;
    }
}

/// Reads the live state of the manifests' targets, all at once, and checks what only
/// live state can tell about the manifests: every `policy.protect` entry names someone.
pub async fn read(desired: &Desired) -> Result<Live, Error> {
    read_with(desired, Tuning::default()).await
}

/// [`read`], tuned.
pub async fn read_with(desired: &Desired, tuning: Tuning) -> Result<Live, Error> {
    let live = read_targets(&desired.targets, tuning).await?;
    let unknown = crate::safety::unknown_protected(desired, &live.states);
    if unknown.is_empty() {
        return Ok(live);
    }
    live.shutdown().await;
    let names: Vec<String> = unknown.iter().map(|(n, _)| format!("`{n}`")).collect();
    let mut err = Error::new(
        ErrorKind::Input,
        format!(
            "policy.protect lists {}, which the manifests do not declare and no target has as a user or group",
            names.join(", ")
        ),
    )
    .hint("a misspelt name protects nothing: list users and groups as the manifest or the target names them");
    for (name, suggestion) in unknown {
        if let Some(s) = suggestion {
            err = err.hint(format!("for `{name}`, did you mean `{s}`?"));
        }
    }
    Err(err)
}

/// Connects to these targets and reads live state, all at once, checking nothing about
/// the manifests (`import` reads targets with a scope of its own). A target that fails is
/// named with the HTTP status and the vendor's message, never the token.
pub async fn read_targets(targets: &BTreeMap<String, TargetConfig>, tuning: Tuning) -> Result<Live, Error> {
    let connected = connect(targets, tuning.parallelism.max(1)).await?;
    let reads = connected.providers.iter().map(|(name, p)| async move {
        activity::begin(name, activity::Role::Target);
        let state = p.read().await;
        activity::end(name);
        (name.clone(), state)
    });
    let mut states = BTreeMap::new();
    let mut errors = Vec::new();
    let mut hints = std::collections::BTreeSet::new();
    for (name, result) in join_all(reads).await {
        match result {
            Ok(state) => {
                states.insert(name, state);
            }
            Err(e) => {
                let platform = targets.get(&name).map(|t| t.platform);
                hints.extend(platform.and_then(|p| read_hint(p, &e)));
                errors.push((name, e.to_string()));
            }
        }
    }
    if errors.is_empty() {
        let findings = connected
            .providers
            .iter()
            .map(|(name, p)| (name.clone(), p.findings()))
            .filter(|(_, f)| *f != crate::provider::Findings::default())
            .collect();
        return Ok(Live {
            connected,
            states,
            findings,
        });
    }
    connected.shutdown().await;
    let messages: Vec<&str> = errors.iter().map(|(_, m)| m.as_str()).collect();
    let targets: Vec<&str> = errors.iter().map(|(t, _)| t.as_str()).collect();
    let mut err = Error::new(
        ErrorKind::Target,
        format!("cannot read live state: {}", messages.join("; ")),
    )
    .at(targets.join(", "));
    err.hints.extend(hints.into_iter().map(str::to_owned));
    Err(err)
}

/// What to check when reading a target of this platform failed this way.
fn read_hint(platform: Platform, e: &crate::provider::ProviderError) -> Option<&'static str> {
    let crate::provider::ProviderError::Http(e) = e else {
        return None;
    };
    let hints = &platform.spec().hints;
    match e.status? {
        401 | 403 => Some(hints.unauthorized),
        404 => Some(hints.not_found),
        _ => None,
    }
}

/// The plan that makes live state match the manifests, not yet reviewed.
pub fn plan(desired: &Desired, live: &Live) -> Result<Plan, Error> {
    if desired.sourcing.is_some() && desired.sourced.is_none() {
        return Err(Error::new(
            ErrorKind::Input,
            "the manifests take people from identity sources that were not read",
        )
        .hint("load them with engine::load_sourced, which reads the sources"));
    }
    Ok(crate::plan::build_with(desired, &live.states, &live.findings)?)
}

/// Checks the safety rules against live state as read: a `Reviewed` plan, or the plan
/// `Refused` with its reasons.
pub fn review(plan: Plan, live: &Live, allow_deletes: Option<usize>) -> Result<Reviewed, Refused> {
    plan.review(live.accounts(), &live.states, allow_deletes)
}

/// Applies a reviewed plan through the connections it was read with, `parallelism`
/// requests at a time; `stop` lets the changes in flight finish and starts no more.
/// `on_event` hears each step before it is sent and each change's outcome.
pub async fn apply(
    plan: &Reviewed,
    live: &Live,
    parallelism: usize,
    stop: &AtomicBool,
    on_event: impl FnMut(crate::apply::Event<'_>),
) -> ApplyReport {
    crate::apply::execute_until(plan, &live.connected.providers, parallelism, stop, on_event).await
}

//! Saved plans, as `apply FILE` and `show FILE` both check them: the file is read with a
//! size cap, its digest can be pinned, and it is compared with what the manifests it was
//! made from give against live state now. The file's policy and refusals are never used:
//! the plan that runs is the fresh one, whose changes were just shown to be the file's.

use std::io::Read;
use std::path::{Path, PathBuf};

use super::{Error, ErrorKind, Live};
use crate::plan::{stale, verify, Plan, Refused, Reviewed};

/// Plans rollcall writes are far smaller; anything bigger is not one, and must not be
/// read into memory whole (`show /dev/zero`).
const MAX_PLAN_BYTES: u64 = 64 * 1024 * 1024;

/// A plan file as read: the plan it holds and the digest of its bytes.
pub struct SavedPlan {
    pub plan: Plan,
    pub digest: String,
}

/// Reads and checks a plan file; paths in it are relative to the file's directory. With
/// `expected`, a file whose digest is another is refused before it is even parsed. The
/// reading blocks (a pipe may never end), so it runs off the runtime, where Ctrl-C is
/// still heard.
pub async fn read(path: &Path, expected: Option<&str>) -> Result<SavedPlan, Error> {
    let path = path.to_owned();
    let expected = expected.map(str::to_owned);
    tokio::task::spawn_blocking(move || read_blocking(&path, expected.as_deref()))
        .await
        .map_err(|e| input(format!("cannot read the plan file: {e}")))?
}

fn input(message: String) -> Error {
    Error::new(ErrorKind::Input, message)
}

fn read_blocking(path: &Path, expected: Option<&str>) -> Result<SavedPlan, Error> {
    let at = path.display().to_string();
    let cannot = |e: std::io::Error| input(format!("cannot read the plan file {}: {e}", path.display())).at(&at);
    let file = std::fs::File::open(path).map_err(cannot)?;
    let mut bytes = Vec::new();
    file.take(MAX_PLAN_BYTES + 1).read_to_end(&mut bytes).map_err(cannot)?;
    let not_a_plan = "a plan file is written by `rollcall plan --out FILE`";
    if bytes.len() as u64 > MAX_PLAN_BYTES {
        return Err(input(format!(
            "{} is larger than {} MiB, so it is not a plan rollcall wrote",
            path.display(),
            MAX_PLAN_BYTES / (1024 * 1024)
        ))
        .at(&at)
        .hint(not_a_plan));
    }
    let digest = crate::desired::digest(&bytes);
    if let Some(expected) = expected {
        expect_digest(&digest, expected)?;
    }
    let text = std::str::from_utf8(&bytes).map_err(|_| {
        input(format!("{}: not a rollcall plan (not UTF-8 text)", path.display()))
            .at(&at)
            .hint(not_a_plan)
    })?;
    // Paths in the file are relative to where it really is, not to a link to it.
    let real = path.canonicalize().unwrap_or_else(|_| path.to_owned());
    let base = match real.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    let mut plan = crate::plan::file::from_json(text, base).map_err(|e| {
        input(format!("{}: {e}", path.display()))
            .at(&at)
            .hint(not_a_plan)
            .caused_by(e)
    })?;
    plan.file_digest = Some(digest.clone());
    Ok(SavedPlan { plan, digest })
}

/// Refuses unless the file is the one whose digest a reviewer saw.
fn expect_digest(digest: &str, expected: &str) -> Result<(), Error> {
    if digest == expected.trim() {
        return Ok(());
    }
    Err(Error::refused(
        vec![format!(
            "the plan file's digest is {digest}, not the expected {}",
            expected.trim()
        )],
        "apply the plan file whose digest was reviewed (`plan --out` prints it, the Markdown shows it)",
    ))
}

/// A saved plan checked against its manifests and live state now.
pub struct Checked {
    /// The fresh plan, whose changes are the file's, reviewed against the safety rules.
    pub plan: Result<Reviewed, Refused>,
    pub live: Live,
    /// The manifest directory used, and its digest.
    pub manifests: PathBuf,
    pub manifest_digest: String,
    /// What the identity sources gave, where the manifests take people from them.
    pub sourced: Option<std::sync::Arc<crate::source::select::Sourced>>,
}

/// Loads the manifests the plan was made from (`manifests` overrides the directory the
/// file names), reads live state, and refuses on any difference between the file and
/// what those manifests give now.
pub async fn check(
    saved: &SavedPlan,
    manifests: Option<&Path>,
    allow_deletes: Option<usize>,
    allow_shrink: &std::collections::BTreeSet<String>,
    tuning: super::Tuning,
) -> Result<Checked, Error> {
    let dir = manifests.unwrap_or(&saved.plan.manifest_dir);
    let hint = |e: Error| {
        e.hint(format!(
            "a plan is checked against the manifests it was made from ({}, as the plan file names them); pass --manifests DIR if they are elsewhere",
            dir.display()
        ))
    };
    // The manifests first, without the sources: other manifests are named as such, not
    // hidden behind a source that cannot be read.
    let offline = super::load(dir).map_err(hint)?;
    let setup = verify::against_manifests(&saved.plan, &offline);
    if !setup.is_empty() {
        return Err(Error::refused(
            setup,
            "apply the plan with the manifests it was made from (the commit `plan --out` ran on), or plan again and review the new plan",
        ));
    }
    let desired = super::load_sourced(dir, tuning).await.map_err(hint)?;
    // Every other difference would follow from other manifests: name that one alone.
    let setup = verify::against_manifests(&saved.plan, &desired);
    if !setup.is_empty() {
        return Err(Error::refused(
            setup,
            "apply the plan with the manifests it was made from (the commit `plan --out` ran on), or plan again and review the new plan",
        ));
    }
    let sources = verify::against_sources(&saved.plan, &desired);
    if !sources.is_empty() {
        return Err(Error::refused(
            sources,
            "the identity sources changed since the plan was made: plan again (`rollcall plan --out FILE`) and review who the sources give now",
        ));
    }
    let live = super::read_with(&desired, tuning).await?;
    let accounts = verify::against_accounts(&saved.plan, live.accounts());
    if !accounts.is_empty() {
        return refuse(
            live,
            accounts,
            "the plan file was edited: apply the file as `plan --out` wrote it",
        )
        .await;
    }
    let stale = stale::check(&saved.plan, &live.states);
    if !stale.is_empty() {
        let hint = stale_hint(&stale, saved.plan.changes.len());
        let reasons = stale
            .iter()
            .map(|s| {
                format!(
                    "{} changed since the plan was made: expected {}, found {}{}",
                    s.address,
                    s.expected,
                    s.found,
                    if s.done { ", as the plan would leave it" } else { "" }
                )
            })
            .collect();
        return refuse(live, reasons, &hint).await;
    }
    let mut fresh = match super::plan(&desired, &live) {
        Ok(plan) => plan,
        Err(e) => {
            live.shutdown().await;
            return Err(e);
        }
    };
    fresh.base = saved.plan.base.clone();
    fresh.file_digest = saved.plan.file_digest.clone();
    let differences = verify::against_fresh(&saved.plan, &fresh);
    if !differences.is_empty() {
        let hint = "the plan file is not what its manifests give against live state now: it was edited, or live state moved; plan again (`rollcall plan --out FILE`) and review the new plan";
        return refuse(live, differences, hint).await;
    }
    fresh.allow_shrink = allow_shrink.clone();
    Ok(Checked {
        plan: super::review(fresh, &live, allow_deletes),
        live,
        manifests: dir.to_owned(),
        manifest_digest: desired.manifest_digest,
        sourced: desired.sourced,
    })
}

/// What to do about a stale plan, with how much of it is already in place: all of it,
/// part of it (after a run that failed or was stopped part-way), or none.
fn stale_hint(stale: &[stale::Stale], total: usize) -> String {
    let done = stale.iter().filter(|s| s.done).count();
    let verb = if done == 1 { "is" } else { "are" };
    let replan = "plan again (`rollcall plan --out FILE`) and review the new plan";
    if done > 0 && done == total && stale.iter().all(|s| s.done) {
        format!(
            "every change of this plan ({total}) is already in place (it was applied, or made by hand): plan again to see whether anything remains"
        )
    } else if done > 0 && stale.iter().all(|s| s.done) {
        format!(
            "{done} of {total} changes of this plan {verb} already in place (part of it was applied, or made by hand) and the rest {} not: {replan}, which holds only what remains",
            if total - done == 1 { "is" } else { "are" }
        )
    } else if done > 0 {
        format!("the saved plan is stale, and {done} of {total} changes of this plan {verb} already in place: {replan}")
    } else {
        format!("the saved plan is stale: {replan}")
    }
}

/// Lets go of the targets and refuses the plan, nothing changed.
async fn refuse<T>(live: Live, reasons: Vec<String>, hint: &str) -> Result<T, Error> {
    live.shutdown().await;
    Err(Error::refused(reasons, hint))
}

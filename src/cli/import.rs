//! `rollcall import`: writes manifests from what the targets have now.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use super::error::{CliError, EXIT_OK};
use super::ManifestDir;
use crate::desired::{Desired, ReadScope, TargetConfig};
use crate::import::{Imported, Place};

/// Write manifests from what the targets have now
///
/// Reads everything on the targets DIR declares (all of them, or those --target names):
/// every user, group and membership; on Bitbucket Data Center and Cloud the permissions
/// of every project and repository; on Buildkite every pending invitation, team setting
/// and team's pipeline access. Writes manifests into OUT that plan to no changes
/// against it: targets.yaml (tokens by reference, as DIR has them), people.yaml,
/// groups.yaml, access/TARGET.yaml and policy.yaml, with pruning off. People on several
/// targets (the same email) become one user, with `ids` where usernames differ. What a
/// manifest cannot state exactly is left unmanaged and written as a `# not imported:`
/// comment, each also listed on stderr. Nothing is written unless the files, planned
/// against the state just read, show no changes.
///
/// Refuses an OUT that already holds manifest files, unless --force: then it overwrites
/// the files it writes and shows a unified diff of each one it changes.
#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(flatten)]
    manifest: ManifestDir,
    /// Directory to write the imported manifests into; created if missing
    #[arg(long, value_name = "OUT")]
    out: PathBuf,
    /// Import this target only; repeat it (or list names with commas) for several.
    /// Default: every target DIR declares
    #[arg(long = "target", value_name = "NAME", value_delimiter = ',')]
    targets: Vec<String>,
    /// Overwrite the files import writes in OUT, showing a diff of each changed one
    #[arg(long)]
    force: bool,
}

pub async fn run(args: Args) -> Result<u8, CliError> {
    let desired = crate::engine::load(&args.manifest.dir)?;
    let mut targets = chosen(&desired, &args.targets)?;
    check_out(&args.manifest.dir, &args.out, args.force)?;
    let reading = super::progress::Reading::start();
    let (live, findings) = read(&mut targets).await?;
    drop(reading);
    let place = Place {
        manifests: &args.manifest.dir,
        out: &args.out,
    };
    let imported = crate::import::build_with(&targets, &live, &findings, &place).map_err(|e| match e {
        crate::import::ImportError::Path(message) => CliError::new(message),
        round_trip => CliError::new(format!("{round_trip}\nNothing was written."))
            .hint("this is a fault in rollcall import: please report it with the output above"),
    })?;
    for note in &imported.notes {
        super::log::note("note: ", note, serde_json::Map::new());
    }
    let stale = write(&args.out, &imported)?;
    summary(&args.out, &targets, &imported, &stale);
    Ok(EXIT_OK)
}

type States = BTreeMap<String, crate::model::ResourceMap>;
type Findings = BTreeMap<String, crate::provider::Findings>;

/// Reads the targets in two rounds: first those that make their own people and groups
/// (a directory among them), then those that take them from one of these
/// (`principals_from`), each given the people and groups import will declare from it, so
/// that their grants name people and groups as the directory does: a Bitbucket Cloud
/// workspace finds its members only by the emails it is asked about, and names a group
/// by a slug. A target whose source is not imported is read in the first round, alone.
/// So is one that finds people by email (a Buildkite organization), given everyone the
/// first round's targets declare, so that its members are the same people under the same
/// keys; read alone, its people are named by their emails.
async fn read(targets: &mut BTreeMap<String, TargetConfig>) -> Result<(States, Findings), CliError> {
    let by_email = |c: &TargetConfig| c.platform.spec().users_by_email;
    let borrows = |c: &TargetConfig| c.principals_from.as_ref().is_some_and(|f| targets.contains_key(f));
    let some_first = targets.values().any(|c| !borrows(c) && !by_email(c));
    let later: BTreeSet<String> = targets
        .iter()
        .filter(|(_, c)| borrows(c) || (some_first && by_email(c)))
        .map(|(name, _)| name.clone())
        .collect();
    let first: BTreeMap<String, TargetConfig> = targets
        .iter()
        .filter(|(name, _)| !later.contains(*name))
        .map(|(n, c)| (n.clone(), c.clone()))
        .collect();
    let (mut states, mut findings) = read_round(&first).await?;
    if later.is_empty() {
        return Ok((states, findings));
    }
    let mut second = BTreeMap::new();
    for name in &later {
        let Some(config) = targets.get_mut(name) else {
            continue;
        };
        if let Some(from) = config.principals_from.as_ref().and_then(|f| first.get_key_value(f)) {
            let source = BTreeMap::from([(from.0.clone(), from.1.clone())]);
            crate::import::principals(&source, &states, &findings).give(config);
        } else if config.platform.spec().users_by_email {
            crate::import::principals(&first, &states, &findings).give(config);
        }
        second.insert(name.clone(), config.clone());
    }
    let (more, found) = read_round(&second).await?;
    states.extend(more);
    findings.extend(found);
    Ok((states, findings))
}

async fn read_round(targets: &BTreeMap<String, TargetConfig>) -> Result<(States, Findings), CliError> {
    let crate::engine::Live {
        connected,
        states,
        findings,
    } = crate::engine::read_targets(targets, crate::engine::Tuning::default()).await?;
    connected.shutdown().await;
    Ok((states, findings))
}

/// The targets to import, each set to read everything it has.
fn chosen(desired: &Desired, names: &[String]) -> Result<BTreeMap<String, TargetConfig>, CliError> {
    let wanted: Vec<&String> = if names.is_empty() {
        desired.targets.keys().collect()
    } else {
        names.iter().collect()
    };
    let mut out = BTreeMap::new();
    for name in wanted {
        let Some(config) = desired.targets.get(name) else {
            let declared: Vec<String> = desired.targets.keys().map(|t| format!("`{t}`")).collect();
            let err = CliError::new(format!(
                "--target `{name}`: the manifests declare no target of that name"
            ));
            return Err(match crate::resolve::did_you_mean(name, desired.targets.keys()) {
                Some(s) => err.hint(format!("did you mean `{s}`?")),
                None => err.hint(format!("the targets declared are {}", declared.join(", "))),
            });
        };
        let mut config = config.clone();
        config.scope = ReadScope::everything();
        out.insert(name.clone(), config);
    }
    Ok(out)
}

/// OUT must not be a file, overlap the manifests imported from, or (without --force)
/// hold manifest files already.
fn check_out(dir: &Path, out: &Path, force: bool) -> Result<(), CliError> {
    if out.exists() && !out.is_dir() {
        return Err(CliError::new(format!("--out {}: not a directory", out.display())));
    }
    if let (Ok(d), Ok(o)) = (crate::import::resolved(dir), crate::import::resolved(out)) {
        if o.starts_with(&d) || d.starts_with(&o) {
            return Err(CliError::new(format!(
                "--out {} and the manifests {} contain one another: every manifest file under a directory is read, so each would declare everything twice",
                out.display(),
                dir.display()
            ))
            .hint("write the import to a directory of its own, beside the manifests"));
        }
    }
    if force {
        return Ok(());
    }
    let existing = manifest_files(out);
    if existing.is_empty() {
        return Ok(());
    }
    let names: Vec<String> = existing.iter().map(|p| p.display().to_string()).collect();
    Err(CliError::new(format!(
        "{} already holds manifest files ({}); nothing was read or written",
        out.display(),
        names.join(", ")
    ))
    .hint("run again with --force to overwrite the files import writes (it shows a diff of each), or choose an empty --out"))
}

/// Every `*.yaml` and `*.yml` under `dir`, relative to it, as a manifest load finds them.
fn manifest_files(dir: &Path) -> BTreeSet<PathBuf> {
    let mut found = BTreeSet::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(next) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&next) else {
            continue;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            if entry.file_name().to_string_lossy().starts_with('.') {
                continue;
            }
            if path.is_dir() {
                stack.push(path);
            } else if path.extension().is_some_and(|e| e == "yaml" || e == "yml") {
                found.insert(path.strip_prefix(dir).unwrap_or(&path).to_path_buf());
            }
        }
    }
    found
}

/// Writes the files, printing a unified diff of each one that changes. Returns the other
/// manifest files OUT holds.
fn write(out: &Path, imported: &Imported) -> Result<Vec<PathBuf>, CliError> {
    let written: BTreeSet<PathBuf> = imported.files.keys().map(PathBuf::from).collect();
    let stale: Vec<PathBuf> = manifest_files(out).difference(&written).cloned().collect();
    for (name, text) in &imported.files {
        let path = out.join(name);
        let before = match std::fs::read(&path) {
            Ok(bytes) => Some(bytes),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
            Err(e) => return Err(CliError::new(format!("cannot read {}: {e}", path.display()))),
        };
        let status = match &before {
            None => "created",
            Some(bytes) if bytes == text.as_bytes() => {
                anstream::println!("unchanged {}", path.display());
                continue;
            }
            Some(_) => "changed",
        };
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent)
                .map_err(|e| CliError::new(format!("cannot create the directory {}: {e}", parent.display())))?;
        }
        std::fs::write(&path, text).map_err(|e| CliError::new(format!("cannot write {}: {e}", path.display())))?;
        anstream::println!("{status} {}", path.display());
        if let Some(bytes) = before {
            let old = String::from_utf8_lossy(&bytes);
            let shown = path.display().to_string();
            let diff = similar::TextDiff::from_lines(old.as_ref(), text.as_str())
                .unified_diff()
                .context_radius(3)
                .header(&format!("{shown} (before)"), &format!("{shown} (imported)"))
                .to_string();
            anstream::print!("{diff}");
        }
    }
    Ok(stale)
}

fn summary(out: &Path, targets: &BTreeMap<String, TargetConfig>, imported: &Imported, stale: &[PathBuf]) {
    let c = imported.counts;
    let names: Vec<String> = targets.keys().map(|t| format!("`{t}`")).collect();
    // Accounts only where the targets hold them: on Bitbucket Cloud and the Atlassian
    // directory people are found by email, and "0 user accounts" would read as none found.
    let accounts = if c.accounts > 0 {
        format!(" ({} user account(s))", c.accounts)
    } else {
        String::new()
    };
    anstream::println!(
        "Imported {} into {}: {} person(s){accounts}, {} group(s), {} membership(s), {} permission(s).",
        names.join(", "),
        out.display(),
        c.people,
        c.groups,
        c.memberships,
        c.permissions
    );
    if !imported.notes.is_empty() {
        anstream::println!(
            "{} thing(s) could not be stated exactly and are left unmanaged, each as a `# not imported:` comment (listed above on stderr).",
            imported.notes.len()
        );
    }
    anstream::println!(
        "Planned against the state just read: no changes, {} unmanaged object(s) (pruning is off).",
        c.unmanaged
    );
    for path in stale {
        super::log::warn(
            &format!(
                "{} also holds {}, which this import did not write; `rollcall plan` reads it too",
                out.display(),
                path.display()
            ),
            super::log::fields([("file", path.display().to_string().into())]),
        );
    }
}

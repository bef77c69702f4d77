//! The command line: one file per command. This module holds only the argument enum, the
//! dispatch, and the steps several commands share (load + resolve, read + plan).

mod apply;
pub mod error;
mod import;
mod interrupt;
mod plan;
mod sandbox;
mod saved;
mod schema;
mod show;
mod validate;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use clap::{Parser, Subcommand};
use futures_util::future::join_all;

use crate::connect::{connect, Connected};
use crate::desired::{Desired, TargetConfig};
use crate::model::ResourceMap;
use error::CliError;

/// Manage who has access to what on Bitbucket and SCIM services, as code
///
/// rollcall reads a directory of YAML manifests (users, groups, memberships and
/// permissions), compares it with the live state of every target (Bitbucket Data Center,
/// any SCIM 2.0 service such as Atlassian's directory) and shows or applies the
/// difference.
#[derive(Debug, Parser)]
#[command(
    name = "rollcall",
    version,
    propagate_version = true,
    after_help = concat_help()
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

fn concat_help() -> String {
    format!(
        "{}\n\nDocumentation: README.md and docs/ in the source tree.",
        error::EXIT_CODES_HELP
    )
}

#[derive(Debug, Subcommand)]
pub enum Command {
    #[command(after_help = error::EXIT_CODES_HELP)]
    Validate(validate::Args),
    #[command(after_help = error::EXIT_CODES_HELP)]
    Plan(plan::Args),
    #[command(after_help = error::EXIT_CODES_HELP)]
    Apply(apply::Args),
    #[command(after_help = error::EXIT_CODES_HELP)]
    Show(show::Args),
    #[command(after_help = error::EXIT_CODES_HELP)]
    Import(import::Args),
    #[command(after_help = error::EXIT_CODES_HELP)]
    Schema(schema::Args),
    #[command(subcommand)]
    Sandbox(sandbox::Command),
}

/// Runs a parsed command and returns the exit code.
pub async fn run(cli: Cli) -> Result<u8, CliError> {
    match cli.command {
        // Apply winds down on a signal; the sandbox saves and exits 0, the way a server
        // is meant to stop. Everything else only reads, and stops at once.
        Command::Apply(args) => apply::run(args).await,
        Command::Sandbox(cmd) => sandbox::run(cmd).await,
        command => tokio::select! {
            result = run_reading(command) => result,
            () = interrupt::signalled() => Err(CliError::Interrupted),
        },
    }
}

async fn run_reading(command: Command) -> Result<u8, CliError> {
    match command {
        Command::Validate(args) => validate::run(args),
        Command::Plan(args) => plan::run(args).await,
        Command::Show(args) => show::run(args).await,
        Command::Import(args) => import::run(args).await,
        Command::Schema(args) => schema::run(args),
        Command::Apply(args) => apply::run(args).await,
        Command::Sandbox(cmd) => sandbox::run(cmd).await,
    }
}

/// The manifest directory argument every command takes.
#[derive(Debug, clap::Args)]
pub struct ManifestDir {
    /// Directory of manifest files (*.yaml, searched recursively)
    #[arg(default_value = ".")]
    pub dir: PathBuf,
}

/// Loads and resolves a manifest directory, with every problem reported at once.
pub fn load(dir: &Path) -> Result<Desired, CliError> {
    let (loaded, mut problems) = crate::manifest::load_dir(dir).map_err(|e| {
        CliError::new(format!("cannot read the manifest directory {}: {e}", dir.display()))
            .hint("pass the directory that holds your manifests, e.g. rollcall plan manifests/")
    })?;
    // The files that parsed are still resolved, so one run shows every problem; while
    // some file is missing, references to names it may declare are not checked.
    match crate::resolve::resolve(&loaded) {
        Ok(desired) if problems.is_empty() => Ok(desired),
        Ok(_) => Err(CliError::Manifest(problems)),
        Err(more) => {
            problems.extend(more);
            Err(CliError::Manifest(problems))
        }
    }
}

/// How many deletes `--allow-deletes` admits, shared by `plan` and `apply`.
#[derive(Debug, clap::Args)]
pub struct AllowDeletes {
    /// Let a plan with up to N deletes through the delete limits (policy.limits), after
    /// review. The other safety rules cannot be waived.
    #[arg(long, value_name = "N")]
    pub allow_deletes: Option<usize>,
}

/// What to check when reading a target of this platform failed this way.
fn read_hint(platform: crate::desired::Platform, e: &crate::provider::ProviderError) -> Option<&'static str> {
    use crate::desired::Platform;
    let crate::provider::ProviderError::Http(e) = e else {
        return None;
    };
    match (platform, e.status?) {
        (Platform::BitbucketDatacenter, 401 | 403) => {
            Some("check that the target's token is valid and belongs to an account with ADMIN or SYS_ADMIN")
        }
        (Platform::BitbucketDatacenter, 404) => Some(
            "a project or repository named in `access` may not exist on the target: create it there first, or fix the key",
        ),
        (Platform::Scim(_), 401 | 403) => Some(
            "check that the target's token is a valid SCIM bearer token for this service (for Atlassian, the directory's API key)",
        ),
        (Platform::Scim(_), 404) => Some(
            "check the target's url: it is the SCIM base URL, to which /Users and /Groups are appended (for Atlassian, https://api.atlassian.com/scim/directory/DIRECTORY_ID)",
        ),
        _ => None,
    }
}

/// Reads the live state of the manifests' targets, and checks what only live state can
/// tell about the manifests: every `policy.protect` entry names someone.
pub async fn read_live_for(desired: &Desired) -> Result<(Connected, BTreeMap<String, ResourceMap>), CliError> {
    let (connected, live) = read_live(&desired.targets).await?;
    let unknown = crate::safety::unknown_protected(desired, &live);
    if unknown.is_empty() {
        return Ok((connected, live));
    }
    connected.shutdown().await;
    let names: Vec<String> = unknown.iter().map(|(n, _)| format!("`{n}`")).collect();
    let mut err = CliError::new(format!(
        "policy.protect lists {}, which the manifests do not declare and no target has as a user or group",
        names.join(", ")
    ))
    .hint("a misspelt name protects nothing: list users and groups as the manifest or the target names them");
    for (name, suggestion) in unknown {
        if let Some(s) = suggestion {
            err = err.hint(format!("for `{name}`, did you mean `{s}`?"));
        }
    }
    Err(err)
}

/// Connects to every target and reads live state, all targets at once.
pub async fn read_live(
    targets: &BTreeMap<String, TargetConfig>,
) -> Result<(Connected, BTreeMap<String, ResourceMap>), CliError> {
    let connected = connect(targets).await?;
    let reads = connected
        .providers
        .iter()
        .map(|(name, p)| async move { (name.clone(), p.read().await) });
    let mut live = BTreeMap::new();
    let mut errors = Vec::new();
    let mut hints = std::collections::BTreeSet::new();
    for (name, result) in join_all(reads).await {
        match result {
            Ok(state) => {
                live.insert(name, state);
            }
            Err(e) => {
                let platform = targets.get(&name).map(|t| t.platform);
                hints.extend(platform.and_then(|p| read_hint(p, &e)));
                errors.push(e.to_string());
            }
        }
    }
    if errors.is_empty() {
        return Ok((connected, live));
    }
    connected.shutdown().await;
    let mut err = CliError::new(format!("cannot read live state: {}", errors.join("; ")));
    for hint in hints {
        err = err.hint(hint);
    }
    Err(err)
}

//! The command line: one file per command, a thin face over `engine`. This module holds
//! only the argument enum, the dispatch, and the arguments several commands share.

/// A note on stderr (what was read, saved or checked, progress), which `--quiet` silences;
/// errors and warnings are written always. As text, or one JSON line with
/// `--log-format json` (`log`).
macro_rules! note {
    ($($arg:tt)*) => {
        if !$crate::cli::quiet() {
            $crate::cli::log::emit(
                $crate::cli::log::Level::Info,
                "",
                &format!($($arg)*),
                serde_json::Map::new(),
            );
        }
    };
}

mod access;
mod apply;
mod completions;
pub mod error;
mod import;
mod interrupt;
pub mod log;
mod man;
mod plan;
pub mod progress;
mod sandbox;
mod schema;
mod show;
mod sources;
mod validate;

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};

use clap::{Parser, Subcommand};

use error::CliError;

/// Manage who has access to what on Bitbucket, Buildkite and SCIM services, as code
///
/// rollcall reads a directory of YAML manifests (users, groups, memberships and
/// permissions), compares it with the live state of every target (Bitbucket Data Center,
/// Bitbucket Cloud, the Atlassian organization directory, any SCIM 2.0 service, a
/// Buildkite organization) and shows or applies the difference. People and group members may come from identity sources
/// (Okta, Entra ID, Google Workspace, LDAP), which are read, never written.
#[derive(Debug, Parser)]
#[command(
    name = "rollcall",
    version = env!("ROLLCALL_VERSION"),
    propagate_version = true,
    after_help = concat_help()
)]
pub struct Cli {
    /// Say nothing on stderr but errors and warnings: no progress, no notes of what was
    /// read, saved or checked. What a command prints on stdout, and what --verbose asks
    /// for, are unchanged
    #[arg(long, short, global = true)]
    pub quiet: bool,
    /// How to write to stderr: `text` for people, or `json`, one JSON object a line
    /// (level, message, target, fields, timestamp) for notes, warnings, errors and the
    /// ROLLCALL_LOG events alike; stdout is unchanged. JSON also turns off live progress
    #[arg(long, global = true, value_enum, value_name = "FORMAT", env = log::ENV, default_value_t = log::LogFormat::Text)]
    pub log_format: log::LogFormat,
    #[command(subcommand)]
    pub command: Command,
}

/// `--quiet`, for the whole run: a note may come from deep in a command, and the flag is
/// the process's, set once before the command runs.
static QUIET: AtomicBool = AtomicBool::new(false);

/// Whether `--quiet` was given.
pub fn quiet() -> bool {
    QUIET.load(Ordering::Relaxed)
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
    Access(access::Args),
    #[command(after_help = error::EXIT_CODES_HELP)]
    Sources(sources::Args),
    #[command(after_help = error::EXIT_CODES_HELP)]
    Import(import::Args),
    #[command(after_help = error::EXIT_CODES_HELP)]
    Schema(schema::Args),
    #[command(subcommand)]
    Sandbox(sandbox::Command),
    Completions(completions::Args),
    Man(man::Args),
}

/// Runs a parsed command and returns the exit code.
pub async fn run(cli: Cli) -> Result<u8, CliError> {
    QUIET.store(cli.quiet, Ordering::Relaxed);
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
        Command::Sources(args) => sources::run(args).await,
        Command::Show(args) => show::run(args).await,
        Command::Access(args) => access::run(args).await,
        Command::Import(args) => import::run(args).await,
        Command::Schema(args) => schema::run(args),
        Command::Completions(args) => completions::run(args),
        Command::Man(args) => man::run(args),
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
#[derive(Debug, clap::Args)]
pub struct AllowDeletes {
    /// Let a plan with up to N deletes through the delete limits (policy.limits), after
    /// review. The other safety rules cannot be waived, but for the one below.
    #[arg(long, value_name = "N")]
    pub allow_deletes: Option<usize>,
    /// Let this group shrink past policy.sources (a source group as SOURCE:GROUP, or a
    /// manifest group that follows one; `*` for every one) this run, after checking
    /// the source is right. Repeatable.
    #[arg(long, value_name = "GROUP")]
    pub allow_source_shrink: Vec<String>,
}

impl AllowDeletes {
    /// The groups `--allow-source-shrink` names.
    pub fn shrink(&self) -> std::collections::BTreeSet<String> {
        self.allow_source_shrink.iter().map(|g| g.trim().to_owned()).collect()
    }

    /// The plan, with this run's allowances for the rules to weigh.
    pub fn onto(&self, mut plan: crate::plan::Plan) -> crate::plan::Plan {
        plan.allow_shrink = self.shrink();
        plan
    }
}

/// How long the Markdown may be, for `plan` and `show`.
#[derive(Debug, clap::Args)]
pub struct MaxChars {
    /// With --markdown: cut the plan to at most N characters, at a line boundary, closing
    /// open code blocks and saying what was left out and where the whole plan is. The
    /// default fits a GitHub comment (65,536); a Buildkite annotation or GitHub's step
    /// summary takes 1 MiB
    #[arg(long, value_name = "N", requires = "markdown", conflicts_with = "json",
          default_value_t = crate::render::fit::DEFAULT_MAX_CHARS,
          value_parser = clap::value_parser!(u32).range(i64::from(crate::render::fit::MIN_MAX_CHARS)..))]
    pub max_chars: u32,
}

impl MaxChars {
    pub fn get(&self) -> usize {
        self.max_chars as usize
    }
}

/// How hard to drive the targets, and whether to say how it went.
#[derive(Debug, clap::Args)]
pub struct Traffic {
    /// The most requests in flight to one target at once (and, for apply, the most steps
    /// of changes under way at once). The limit adapts below it to how each server
    /// answers, and each platform caps it
    #[arg(long, value_name = "N", default_value_t = crate::engine::DEFAULT_PARALLELISM as u16,
          value_parser = clap::value_parser!(u16).range(1..=256))]
    pub parallelism: u16,
    /// Say on stderr, per target, how many requests reading (and applying) took, how many
    /// were sent again, and the most that were in flight at once
    #[arg(long, short)]
    pub verbose: bool,
}

impl Traffic {
    pub fn tuning(&self) -> crate::engine::Tuning {
        crate::engine::Tuning {
            parallelism: usize::from(self.parallelism),
        }
    }

    /// What each target's read cost against its vendor's quota, where it has one: said
    /// without --verbose (but not with --quiet), on stderr, since a quota spent is what
    /// decides when the next run may go.
    pub fn usage(&self, live: &crate::engine::Live) {
        for (target, findings) in &live.findings {
            if let Some(usage) = &findings.usage {
                log::note(
                    "",
                    &format!("{target}: {usage}"),
                    log::fields([("target_name", target.as_str().into())]),
                );
            }
        }
    }

    /// What the identity sources gave and what reading them took, on stderr: a plan's
    /// people come from them, so the reviewer sees how many and from where.
    pub fn sources(&self, sourced: Option<&crate::source::select::Sourced>) {
        let Some(sourced) = sourced else { return };
        let mut per_source: std::collections::BTreeMap<&str, (usize, usize)> = std::collections::BTreeMap::new();
        for p in sourced.people.values() {
            let entry = per_source.entry(p.source.as_str()).or_default();
            entry.0 += 1;
            entry.1 += usize::from(!p.active);
        }
        for (source, requests) in &sourced.requests {
            let (people, inactive) = per_source.get(source.as_str()).copied().unwrap_or_default();
            log::note(
                "",
                &format!("source {source}: {people} people ({inactive} inactive) in {requests} requests"),
                log::fields([
                    ("source", source.as_str().into()),
                    ("people", people.into()),
                    ("inactive", inactive.into()),
                    ("requests", (*requests).into()),
                ]),
            );
        }
        if !sourced.leavers.is_empty() {
            note!(
                "sources: {} people have left them (since the last apply or before) and are offboarded",
                sourced.leavers.len()
            );
        }
    }

    /// With `--verbose`, what `phase` (reading, applying) took on each target so far.
    pub fn report(&self, live: &crate::engine::Live, phase: &str, took: std::time::Duration) {
        if !self.verbose {
            return;
        }
        for (target, provider) in &live.connected.providers {
            let reached = provider.concurrency();
            let message = format!(
                "{target}: {} requests so far, {} sent again, up to {} in flight (limit now {} of {}); {phase} took {:.1} s",
                provider.request_count(),
                provider.retry_count(),
                reached.peak,
                reached.limit,
                reached.cap,
                took.as_secs_f64()
            );
            let fields = log::fields([
                ("target_name", target.as_str().into()),
                ("phase", phase.into()),
                ("requests", provider.request_count().into()),
                ("retries", provider.retry_count().into()),
                ("peak_in_flight", reached.peak.into()),
                ("limit", reached.limit.into()),
                ("cap", reached.cap.into()),
                ("seconds", took.as_secs_f64().into()),
            ]);
            log::emit(log::Level::Info, "", &message, fields);
        }
    }
}

/// Writes generated text to stdout; a closed pipe (`rollcall man | head`) is the reader's
/// choice, not an error worth a message.
fn write_stdout(bytes: &[u8]) -> Result<(), CliError> {
    use std::io::Write as _;
    let mut out = std::io::stdout().lock();
    match out.write_all(bytes).and_then(|()| out.flush()) {
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => {
            Err(CliError::new(format!("cannot write to standard output: {e}")))
        }
        _ => Ok(()),
    }
}

/// A saved plan names its manifests: say which were used, since only --expect-digest (or
/// --manifests) ties a file to what was reviewed.
fn checked_against(dir: &std::path::Path, digest: &str) {
    note!("Checked against the manifests in {} ({digest}).", dir.display());
}

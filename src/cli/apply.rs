//! `rollcall apply`: makes live state match the manifests, or applies a saved plan exactly.

use std::io::{BufRead, IsTerminal, Write};
use std::path::PathBuf;

use super::error::{CliError, EXIT_OK};
use super::AllowDeletes;
use crate::apply::{execute, ApplyReport, Outcome};
use crate::audit::AuditLog;
use crate::connect::Connected;
use crate::plan::{Change, Plan};
use crate::render::text;

/// Make live state match the manifests, or apply a saved plan
///
/// With a manifest directory: shows the plan and asks for confirmation (unless
/// --auto-approve), then applies it. With a plan file from `rollcall plan --out`: re-reads
/// only the objects the plan touches, refuses if any is no longer as the plan expected,
/// and otherwise applies exactly that plan, without asking (it was reviewed).
///
/// Changes run in dependency order; a failed change skips what depends on it and the
/// rest goes on. The safety rules are checked again first. Exits 1 if any change failed
/// or was skipped, 3 if the plan was refused.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// A manifest directory, or a plan file saved by `rollcall plan --out`
    #[arg(default_value = ".")]
    path: PathBuf,
    /// Apply without asking for confirmation
    #[arg(long)]
    auto_approve: bool,
    /// How many changes may run at the same time
    #[arg(long, default_value_t = 4, value_parser = clap::value_parser!(u16).range(1..=64))]
    parallelism: u16,
    #[command(flatten)]
    allow: AllowDeletes,
    /// Append one JSON line per change to this file (see docs/audit-log.md)
    #[arg(long, value_name = "PATH")]
    audit_log: Option<PathBuf>,
}

pub async fn run(args: Args) -> Result<u8, CliError> {
    if !args.path.exists() {
        return Err(CliError::new(format!("{} does not exist", args.path.display()))
            .hint("pass a manifest directory, or a plan file saved by `rollcall plan --out FILE`"));
    }
    let saved = args.path.is_file();
    let (plan, connected, plan_digest) = if saved {
        from_file(&args).await?
    } else {
        from_manifests(&args).await?
    };
    if plan.is_empty() {
        connected.shutdown().await;
        return Ok(EXIT_OK);
    }
    if !saved && !args.auto_approve && !confirm()? {
        connected.shutdown().await;
        println!("Apply cancelled. Nothing was changed.");
        return Ok(EXIT_OK);
    }
    let mut audit = match &args.audit_log {
        Some(path) => match AuditLog::open(path, &plan_digest) {
            Ok(log) => Some(log),
            Err(e) => {
                connected.shutdown().await;
                return Err(CliError::new(format!(
                    "cannot open the audit log {}: {e}; nothing was changed",
                    path.display()
                )));
            }
        },
        None => None,
    };
    println!("\nApplying plan {plan_digest}.");
    let progress = Progress::new(plan.changes.len());
    let report = execute(&plan, &connected.providers, usize::from(args.parallelism), |c, o| {
        if let Some(log) = audit.as_mut() {
            log.record(c, o);
        }
        progress.done(c, o);
    })
    .await;
    progress.finish();
    let retries: usize = connected.providers.values().map(|p| p.retry_count()).sum();
    // A sandbox keeps whatever was applied, failed run or not: that is the live state.
    let sandboxes_saved = connected.save_sandboxes();
    connected.shutdown().await;
    print_report(&report, retries);
    sandboxes_saved?;
    if let Some(e) = audit.and_then(|log| log.error) {
        return Err(CliError::new(e));
    }
    if report.succeeded() {
        Ok(EXIT_OK)
    } else {
        Err(CliError::ApplyIncomplete)
    }
}

/// Plans from the manifests, shows the plan, and checks the safety rules.
async fn from_manifests(args: &Args) -> Result<(Plan, Connected, String), CliError> {
    let desired = super::load(&args.path)?;
    let (connected, live) = super::read_live(&desired.targets).await?;
    let mut plan = crate::plan::build(&desired, &live);
    plan.review(&connected.accounts, &live, args.allow.allow_deletes);
    anstream::print!("{}", text::render(&plan));
    if !plan.refusals.is_empty() {
        connected.shutdown().await;
        return Err(CliError::refused(&plan.refusals));
    }
    let digest = crate::render::plan_digest(&plan);
    Ok((plan, connected, digest))
}

/// Reads a saved plan, re-reads what it touches, and refuses it if it went stale or
/// breaks a safety rule now.
async fn from_file(args: &Args) -> Result<(Plan, Connected, String), CliError> {
    let (mut plan, digest) = super::read_plan_file(&args.path)?;
    let scopes = crate::plan::file::touched_scope(&plan);
    let targets = plan
        .targets
        .iter()
        .map(|t| {
            let mut config = t.config.clone();
            config.scope = scopes.get(&t.name).cloned().unwrap_or_default();
            (t.name.clone(), config)
        })
        .collect();
    let (connected, live) = super::read_live(&targets).await?;
    let stale = crate::plan::stale::check(&plan, &live);
    if !stale.is_empty() {
        connected.shutdown().await;
        let hint = if stale.iter().all(|s| s.done) {
            "every change of this plan is already in place (it was applied, or made by hand): plan again to see what remains"
        } else {
            "the saved plan is stale: plan again (`rollcall plan --out FILE`) and review the new plan"
        };
        return Err(CliError::Refused {
            reasons: stale
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
                .collect(),
            hints: vec![hint.to_owned()],
        });
    }
    plan.review(&connected.accounts, &live, args.allow.allow_deletes);
    anstream::print!("{}", text::render(&plan));
    if !plan.refusals.is_empty() {
        connected.shutdown().await;
        return Err(CliError::refused(&plan.refusals));
    }
    Ok((plan, connected, digest))
}

/// Asks on the terminal; only `yes` goes ahead, like Terraform.
fn confirm() -> Result<bool, CliError> {
    print!("\nApply these changes? Only 'yes' is accepted: ");
    let _ = std::io::stdout().flush();
    let mut answer = String::new();
    let read = std::io::stdin()
        .lock()
        .read_line(&mut answer)
        .map_err(|e| CliError::new(format!("cannot read the answer: {e}")))?;
    if read == 0 {
        return Err(CliError::new("no confirmation: standard input is closed")
            .hint("pass --auto-approve to apply without asking (for CI), after reviewing the plan"));
    }
    Ok(answer.trim() == "yes")
}

/// A progress bar on a terminal; plain lines when output is piped or logged.
struct Progress {
    bar: Option<indicatif::ProgressBar>,
}

impl Progress {
    fn new(total: usize) -> Self {
        let bar = std::io::stderr().is_terminal().then(|| {
            let bar = indicatif::ProgressBar::new(total as u64);
            if let Ok(style) = indicatif::ProgressStyle::with_template("{bar:30} {pos}/{len} changes  {msg}") {
                bar.set_style(style);
            }
            bar
        });
        Progress { bar }
    }

    fn done(&self, change: &Change, outcome: &Outcome) {
        let line = format!("{:<8} {} {}", label(outcome), change.action.symbol(), change.address);
        match &self.bar {
            Some(bar) => {
                bar.inc(1);
                if !matches!(outcome, Outcome::Applied) {
                    bar.println(line);
                }
                bar.set_message(change.address.to_string());
            }
            None => println!("{line}"),
        }
    }

    fn finish(&self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }
}

fn label(o: &Outcome) -> &'static str {
    match o {
        Outcome::Applied => "applied",
        Outcome::Failed(_) => "FAILED",
        Outcome::Skipped { .. } => "skipped",
    }
}

fn print_report(report: &ApplyReport, retries: usize) {
    let (applied, failed, skipped) = (report.applied(), report.failed(), report.skipped());
    if retries > 0 {
        println!("\nRetried {retries} requests after rate limits, server errors or dropped connections.");
    }
    if report.succeeded() {
        println!("\nApply complete: {applied} applied, 0 failed, 0 skipped.");
        return;
    }
    println!("\nApply incomplete: {applied} applied, {failed} failed, {skipped} skipped.");
    println!("\nFailed (unchanged on the target):");
    for (c, o) in &report.outcomes {
        if let Outcome::Failed(e) = o {
            println!("  {} {}\n      {e}", c.action.symbol(), c.address);
        }
    }
    if skipped > 0 {
        println!("\nSkipped because a change they depend on failed (unchanged on the target):");
        for (c, o) in &report.outcomes {
            if let Outcome::Skipped { because } = o {
                println!("  {} {}  (needs {because})", c.action.symbol(), c.address);
            }
        }
    }
    println!("\nEverything else was applied. Fix the cause and run `rollcall plan` to see what remains.");
}

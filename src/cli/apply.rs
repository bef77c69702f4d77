//! `rollcall apply`: makes live state match the manifests.

use std::io::{BufRead, IsTerminal, Write};

use super::error::{CliError, EXIT_OK};
use super::ManifestDir;
use crate::apply::{execute, ApplyReport, Outcome};
use crate::plan::Change;
use crate::render::text;

/// Make live state match the manifests
///
/// Shows the plan and asks for confirmation (unless --auto-approve), then applies the
/// changes in dependency order. A failed change skips what depends on it; the rest goes
/// on. Exits 1 if any change failed or was skipped.
#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(flatten)]
    manifest: ManifestDir,
    /// Apply without asking for confirmation
    #[arg(long)]
    auto_approve: bool,
    /// How many changes may run at the same time
    #[arg(long, default_value_t = 4, value_parser = clap::value_parser!(u16).range(1..=64))]
    parallelism: u16,
}

pub async fn run(args: Args) -> Result<u8, CliError> {
    let desired = super::load(&args.manifest.dir)?;
    let (connected, live) = super::read_live(&desired).await?;
    let plan = crate::plan::build(&desired, &live);
    anstream::print!("{}", text::render(&plan));
    if plan.is_empty() {
        connected.shutdown().await;
        return Ok(EXIT_OK);
    }
    if !args.auto_approve && !confirm()? {
        connected.shutdown().await;
        println!("Apply cancelled. Nothing was changed.");
        return Ok(EXIT_OK);
    }
    println!();
    let progress = Progress::new(plan.changes.len());
    let report = execute(&plan, &connected.providers, usize::from(args.parallelism), |c, o| {
        progress.done(c, o)
    })
    .await;
    progress.finish();
    // A sandbox keeps whatever was applied, failed run or not: that is the live state.
    let saved = connected.save_sandboxes();
    connected.shutdown().await;
    print_report(&report);
    saved?;
    if report.succeeded() {
        Ok(EXIT_OK)
    } else {
        Err(CliError::ApplyIncomplete)
    }
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

fn print_report(report: &ApplyReport) {
    let (applied, failed, skipped) = (report.applied(), report.failed(), report.skipped());
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

//! `rollcall apply`: makes live state match the manifests, or applies a saved plan exactly.

use std::io::{BufRead, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;

use super::error::{CliError, EXIT_OK};
use super::{interrupt, AllowDeletes};
use crate::apply::{ApplyReport, Event, Outcome};
use crate::audit::{AuditLog, Reconciled, Verdict};
use crate::engine::{self, saved, Live};
use crate::plan::{Change, Refused, Reviewed};
use crate::render::text;

/// Make live state match the manifests, or apply a saved plan
///
/// With a manifest directory: shows the plan and asks for confirmation (unless
/// --auto-approve), then applies it. With a plan file from `rollcall plan --out`: plans
/// again from the manifests the file was made from, refuses unless that gives exactly the
/// file's changes against live state now, and otherwise applies them without asking (the
/// plan was reviewed).
///
/// Changes run in dependency order; a failed change skips what depends on it and the
/// rest goes on. The safety rules are checked again first, with the manifests' policy.
/// Ctrl-C stops starting changes, lets those in flight finish and lists the rest.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// A manifest directory, or a plan file saved by `rollcall plan --out`
    #[arg(default_value = ".")]
    path: PathBuf,
    /// Apply without asking for confirmation
    #[arg(long)]
    auto_approve: bool,
    #[command(flatten)]
    traffic: super::Traffic,
    #[command(flatten)]
    allow: AllowDeletes,
    /// Append JSON lines to this file: each change's intent before it is sent, its
    /// outcome after (see docs/audit-log.md)
    #[arg(long, value_name = "PATH")]
    audit_log: Option<PathBuf>,
    /// With a plan file: the manifests it was made from, if not where the file says
    #[arg(long, value_name = "DIR")]
    manifests: Option<PathBuf>,
    /// With a plan file: refuse unless the file's digest is this one (the digest the
    /// reviewed plan showed, `sha256:…`)
    #[arg(long, value_name = "DIGEST")]
    expect_digest: Option<String>,
}

pub async fn run(args: Args) -> Result<u8, CliError> {
    if !args.path.exists() {
        return Err(CliError::new(format!("{} does not exist", args.path.display()))
            .hint("pass a manifest directory, or a plan file saved by `rollcall plan --out FILE`"));
    }
    // Anything but a directory is read as a plan file (a pipe or device too, up to the cap).
    let saved = !args.path.is_dir();
    if !saved && (args.manifests.is_some() || args.expect_digest.is_some()) {
        return Err(
            CliError::new("--manifests and --expect-digest go with a plan file, not a manifest directory").hint(
                "save the plan with `rollcall plan --out FILE`, then `rollcall apply FILE --expect-digest sha256:…`",
            ),
        );
    }
    // One listener for the whole run, so no signal falls between its phases. Until the
    // first change starts, an interruption loses nothing: stop at once.
    let mut signals = interrupt::Signals::new();
    let prepared = tokio::select! {
        prepared = prepare(&args, saved) => prepared?,
        () = signals.recv() => return Err(CliError::Interrupted),
    };
    let (plan, live, plan_digest, sourced) = prepared;
    // A log that exists is settled first, before anything is asked or done (the changes
    // a killed run left open may be exactly what made the plan empty, and may change the
    // answer); a new one is created only once there is something to apply.
    let open_log = |path: &std::path::Path| {
        AuditLog::open(path, &plan_digest).map_err(|e| {
            CliError::new(format!(
                "cannot open the audit log {}: {e}; nothing was changed",
                path.display()
            ))
        })
    };
    let mut audit = None;
    if let Some(path) = args.audit_log.as_ref().filter(|p| p.exists()) {
        match open_log(path) {
            Ok(mut log) => {
                report_reconciled(path, &log.reconcile(&live.states));
                audit = Some(log);
            }
            Err(e) => {
                live.shutdown().await;
                return Err(e);
            }
        }
    }
    if plan.is_empty() {
        live.shutdown().await;
        return match audit.and_then(AuditLog::finish) {
            Some(e) => Err(CliError::new(e)),
            None => remember(sourced.as_ref()).map(|()| EXIT_OK),
        };
    }
    // Asked after what a killed run left open is shown, which may change the answer.
    let approval = tokio::select! {
        approval = approved(&args, saved) => approval,
        () = signals.recv() => Err(CliError::Interrupted),
    };
    if let Err(e) = approval {
        live.shutdown().await;
        return Err(e);
    }
    if let (None, Some(path)) = (&audit, &args.audit_log) {
        match open_log(path) {
            Ok(log) => audit = Some(log),
            Err(e) => {
                live.shutdown().await;
                return Err(e);
            }
        }
    }
    let stop = signals.into_flag();
    println!("\nApplying plan {plan_digest}.");
    let progress = Progress::new(plan.changes.len());
    let started = std::time::Instant::now();
    let report = engine::apply(
        &plan,
        &live,
        usize::from(args.traffic.parallelism),
        &stop,
        |event| match event {
            Event::Started(changes) => {
                // A change whose intent is not on record is not sent: stop as on Ctrl-C.
                // Other failures to write (an outcome) are reported at the end.
                if audit.as_mut().is_some_and(|log| log.started(changes).is_err()) {
                    stop.store(true, Ordering::SeqCst);
                }
            }
            Event::Done(i, c, o) => {
                if let Some(log) = audit.as_mut() {
                    log.record(i, c, o);
                }
                progress.done(c, o);
            }
        },
    )
    .await;
    progress.finish();
    args.traffic.report(&live, "applying", started.elapsed());
    let retries: usize = live.connected.providers.values().map(|p| p.retry_count()).sum();
    // A sandbox keeps whatever was applied, failed run or not: that is the live state. A
    // run where no request went out (interrupted before the first) leaves the file as it
    // was, comments and all.
    let sent = report
        .outcomes
        .iter()
        .any(|(_, o)| matches!(o, Outcome::Applied | Outcome::Carried { .. } | Outcome::Failed(_)));
    let sandboxes_saved = if sent { live.connected.save_sandboxes() } else { Ok(()) };
    live.shutdown().await;
    print_report(&report, retries);
    sandboxes_saved.map_err(engine::Error::from)?;
    if let Some(e) = audit.and_then(AuditLog::finish) {
        return Err(CliError::new(e));
    }
    if report.succeeded() {
        remember(sourced.as_ref()).map(|()| EXIT_OK)
    } else if report.interrupted() > 0 {
        Err(CliError::Interrupted)
    } else {
        Err(CliError::ApplyIncomplete)
    }
}

/// The manifest directory and what its identity sources gave, for the record an apply
/// that left nothing undone writes.
type Sourced = Option<(PathBuf, std::sync::Arc<crate::source::select::Sourced>)>;

/// Records what the sources gave, once live state matches it: the next run offboards
/// whoever leaves them and judges shrinking groups against it.
fn remember(sourced: Option<&(PathBuf, std::sync::Arc<crate::source::select::Sourced>)>) -> Result<(), CliError> {
    let Some((dir, sourced)) = sourced else { return Ok(()) };
    let path = crate::source::record::path(dir);
    crate::source::record::Record::of(sourced).save(&path).map_err(|e| {
        CliError::new(format!(
            "the changes were applied, but the record of the sources was not written: {e}"
        ))
        .hint("the next plan cannot tell who left the sources since; fix the path's permissions and run apply again")
    })
}

/// The plan (fresh or saved and checked), shown and reviewed.
async fn prepare(args: &Args, saved: bool) -> Result<(Reviewed, Live, String, Sourced), CliError> {
    if saved {
        from_file(args).await
    } else {
        from_manifests(args).await
    }
}

/// Asks before applying a fresh plan, unless told not to; a saved plan was reviewed.
async fn approved(args: &Args, saved: bool) -> Result<(), CliError> {
    if saved || args.auto_approve {
        return Ok(());
    }
    // The prompt blocks a thread; off the runtime's, so Ctrl-C is still heard.
    let answer = tokio::task::spawn_blocking(confirm)
        .await
        .map_err(|e| CliError::new(format!("cannot read the answer: {e}")))?;
    match answer? {
        true => Ok(()),
        false => Err(CliError::Cancelled),
    }
}

/// Plans from the manifests, shows the plan, and checks the safety rules.
async fn from_manifests(args: &Args) -> Result<(Reviewed, Live, String, Sourced), CliError> {
    let reading = super::progress::Reading::start();
    let desired = engine::load_sourced(&args.path, args.traffic.tuning()).await?;
    args.traffic.sources(desired.sourced.as_deref());
    let sourced = desired.sourced.clone().map(|s| (args.path.clone(), s));
    let started = std::time::Instant::now();
    let live = engine::read_with(&desired, args.traffic.tuning()).await?;
    drop(reading);
    args.traffic.usage(&live);
    args.traffic.report(&live, "reading", started.elapsed());
    let plan = match engine::plan(&desired, &live) {
        Ok(plan) => plan,
        Err(e) => {
            live.shutdown().await;
            return Err(e.into());
        }
    };
    let reviewed = engine::review(args.allow.onto(plan), &live, args.allow.allow_deletes);
    shown(reviewed, live).await.map(|(plan, live)| {
        let digest = crate::render::plan_digest(&plan);
        (plan, live, digest, sourced)
    })
}

/// Shows the plan; a refused one ends the run with nothing changed.
async fn shown(reviewed: Result<Reviewed, Refused>, live: Live) -> Result<(Reviewed, Live), CliError> {
    match reviewed {
        Ok(plan) => {
            anstream::print!("{}", text::render(&plan));
            Ok((plan, live))
        }
        Err(Refused(plan)) => {
            anstream::print!("{}", text::render(&plan));
            live.shutdown().await;
            Err(CliError::refused(&plan.refusals))
        }
    }
}

/// Reads a saved plan and checks it against its manifests and live state
/// (`saved::check`); the plan that runs has the file's changes and the manifests' policy.
async fn from_file(args: &Args) -> Result<(Reviewed, Live, String, Sourced), CliError> {
    let file = saved::read(&args.path, args.expect_digest.as_deref()).await?;
    let started = std::time::Instant::now();
    let reading = super::progress::Reading::start();
    let checked = saved::check(
        &file,
        args.manifests.as_deref(),
        args.allow.allow_deletes,
        &args.allow.shrink(),
        args.traffic.tuning(),
    )
    .await?;
    drop(reading);
    args.traffic.sources(checked.sourced.as_deref());
    let sourced = checked.sourced.clone().map(|s| (checked.manifests.clone(), s));
    args.traffic.usage(&checked.live);
    args.traffic.report(&checked.live, "reading", started.elapsed());
    super::checked_against(&checked.manifests, &checked.manifest_digest);
    let (plan, live) = shown(checked.plan, checked.live).await?;
    Ok((plan, live, file.digest, sourced))
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

/// A progress bar on a terminal; plain lines on stdout when output is piped or logged,
/// with `--quiet`, which keeps stderr for errors and warnings, or with JSON logs, whose
/// stderr lines are all JSON (`progress::shown`).
struct Progress {
    bar: Option<indicatif::ProgressBar>,
    // After the bar: the display is let go of once the bar is done with.
    _screen: Option<super::progress::Screen>,
}

impl Progress {
    fn new(total: usize) -> Self {
        let screen = super::progress::Screen::open();
        let bar = screen.as_ref().map(|screen| {
            let bar = screen.add(indicatif::ProgressBar::new(total as u64));
            if let Ok(style) = indicatif::ProgressStyle::with_template("{bar:30} {pos}/{len} changes  {msg}") {
                bar.set_style(style);
            }
            bar
        });
        Progress { bar, _screen: screen }
    }

    fn done(&self, change: &Change, outcome: &Outcome) {
        let line = format!("{:<8} {} {}", label(outcome), change.action.symbol(), change.address);
        match &self.bar {
            Some(bar) => {
                bar.inc(1);
                if !outcome.done() {
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
        Outcome::Applied | Outcome::Carried { .. } => "applied",
        Outcome::Failed(_) => "FAILED",
        Outcome::Skipped { .. } => "skipped",
        Outcome::Interrupted => "not run",
        Outcome::Blocked(_) => "not run",
    }
}

fn print_report(report: &ApplyReport, retries: usize) {
    let (applied, failed, skipped) = (report.applied(), report.failed(), report.skipped());
    let interrupted = report.interrupted();
    if retries > 0 {
        println!("\nRetried {retries} requests after rate limits, server errors or dropped connections.");
    }
    if report.succeeded() {
        println!("\nApply complete: {applied} applied, 0 failed, 0 skipped.");
        return;
    }
    if let Some(error) = report.blocked() {
        println!("\nNothing applied: a check before the first change failed, so no change was sent.\n  {error}");
        return;
    }
    let headline = if interrupted > 0 { "interrupted" } else { "incomplete" };
    print!("\nApply {headline}: {applied} applied, {failed} failed, {skipped} skipped");
    if interrupted > 0 {
        print!(", {interrupted} not started");
    }
    println!(".");
    if failed > 0 {
        println!("\nFailed (unchanged on the target):");
        for (c, o) in &report.outcomes {
            if let Outcome::Failed(e) = o {
                println!("  {} {}\n      {e}", c.action.symbol(), c.address);
            }
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
    if interrupted > 0 {
        println!("\nNot started because the apply was interrupted (unchanged on the target):");
        for (c, o) in &report.outcomes {
            if matches!(o, Outcome::Interrupted) {
                println!("  {} {}", c.action.symbol(), c.address);
            }
        }
    }
    println!("\nEverything else was applied. Run `rollcall plan` to see what remains.");
}

/// Names the changes an earlier apply sent without recording an outcome (it was killed),
/// with what this run's read found of each.
fn report_reconciled(log: &Path, settled: &[Reconciled]) {
    if settled.is_empty() {
        return;
    }
    let count = |v: Verdict| settled.iter().filter(|r| r.verdict == v).count();
    let word = |r: &Reconciled| match r.verdict {
        Verdict::FoundApplied => "applied",
        Verdict::FoundNotApplied => "not applied",
        Verdict::Unknown => "unknown",
    };
    let headline = format!(
        "the audit log {} holds {} {} an earlier apply sent without recording the outcome (it was stopped before the answer came); the live state read now shows {} applied, {} not applied, {} unknown",
        log.display(),
        settled.len(),
        if settled.len() == 1 { "change" } else { "changes" },
        count(Verdict::FoundApplied),
        count(Verdict::FoundNotApplied),
        count(Verdict::Unknown),
    );
    let footer = "each now has a `reconciled` line in the log; the plan above already accounts for what was applied";
    if super::log::json() {
        let changes: Vec<serde_json::Value> = settled
            .iter()
            .map(|r| {
                serde_json::json!({
                    "found": word(r),
                    "action": r.action.symbol(),
                    "address": r.address.to_string(),
                    "run": r.run,
                    "change": r.change,
                })
            })
            .collect();
        let fields = super::log::fields([
            ("audit_log", log.display().to_string().into()),
            ("changes", changes.into()),
            ("note", footer.into()),
        ]);
        super::log::warn(&headline, fields);
        return;
    }
    super::progress::suspend(|| {
        anstream::eprintln!("warning: {headline}:");
        for r in settled {
            anstream::eprintln!(
                "  {:<12} {} {}  (run {}, change {})",
                word(r),
                r.action.symbol(),
                r.address,
                r.run,
                r.change
            );
        }
        anstream::eprintln!("  {footer}");
    });
}

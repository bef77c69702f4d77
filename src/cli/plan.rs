//! `rollcall plan`: shows what apply would change, and can save it for `apply FILE`.

use std::path::PathBuf;

use super::error::{CliError, EXIT_CHANGES, EXIT_OK};
use super::{AllowDeletes, ManifestDir, MaxChars, Traffic};
use crate::plan::Refused;
use crate::render::{render_within, Format};

/// Show what apply would change, without changing anything
///
/// Reads the live state of every target, compares it with the manifests and prints the
/// changes: `+` create, `~` change, `-` delete, and the unmanaged objects left alone.
/// The safety rules are checked here too, so a refused plan shows on the pull request.
/// What reading cost against a vendor's quota (Bitbucket Cloud's requests an hour,
/// Buildkite's complexity points) is said on stderr, never in the plan.
#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(flatten)]
    manifest: ManifestDir,
    /// Print the plan as JSON (see docs/plan-json.md)
    #[arg(long, conflicts_with = "markdown")]
    json: bool,
    /// Print the plan as Markdown, for a pull-request comment
    #[arg(long)]
    markdown: bool,
    #[command(flatten)]
    max_chars: MaxChars,
    /// Also save the plan as JSON, for `rollcall apply FILE` and `rollcall show FILE`
    #[arg(long, value_name = "FILE")]
    out: Option<PathBuf>,
    #[command(flatten)]
    allow: AllowDeletes,
    /// Exit 0 when there are no changes, 2 when there are (or some are held until they can
    /// run), 1 on error (3 when refused)
    #[arg(long)]
    detailed_exitcode: bool,
    #[command(flatten)]
    traffic: Traffic,
}

pub async fn run(args: Args) -> Result<u8, CliError> {
    let reading = super::progress::Reading::start();
    let desired = crate::engine::load_sourced(&args.manifest.dir, args.traffic.tuning()).await?;
    args.traffic.sources(desired.sourced.as_deref());
    let started = std::time::Instant::now();
    let live = crate::engine::read_with(&desired, args.traffic.tuning()).await?;
    drop(reading);
    args.traffic.usage(&live);
    args.traffic.report(&live, "reading", started.elapsed());
    let planned = crate::engine::plan(&desired, &live);
    let reviewed = planned.map(|plan| crate::engine::review(args.allow.onto(plan), &live, args.allow.allow_deletes));
    live.shutdown().await;
    let mut plan = match reviewed? {
        Ok(reviewed) => reviewed.into_plan(),
        Err(Refused(plan)) => *plan,
    };
    if let Some(path) = &args.out {
        // Paths in the file are relative to it, so it can be applied from anywhere.
        plan.base = match path.parent() {
            Some(p) if !p.as_os_str().is_empty() => p.to_owned(),
            _ => PathBuf::from("."),
        };
        // The file names the manifest directory as text; a name that is not UTF-8 would
        // be written as another name, and the plan could never be checked.
        for dir in [&plan.base, &plan.manifest_dir] {
            if dir.canonicalize().unwrap_or_else(|_| dir.clone()).to_str().is_none() {
                return Err(CliError::new(format!(
                    "cannot save the plan: the path {} is not UTF-8 text, which a plan file must name it as",
                    dir.display()
                ))
                .hint("save the plan, and keep the manifests, under directories whose names are UTF-8"));
            }
        }
        // Written even when refused: `apply FILE --allow-deletes N` may admit it later.
        let json = crate::plan::file::to_json(&plan);
        std::fs::write(path, &json)
            .map_err(|e| CliError::new(format!("cannot write the plan file {}: {e}", path.display())))?;
        // On stderr, so `--json` or `--markdown` output stays clean.
        note!(
            "Saved the plan to {} ({}).",
            path.display(),
            crate::desired::digest(json.as_bytes())
        );
    }
    let format = Format::from_flags(args.json, args.markdown);
    // Where a reader of a cut Markdown plan finds the whole of it.
    let full = match &args.out {
        Some(path) => format!("`rollcall show {} --offline`", path.display()),
        None => format!("`rollcall plan {}`", args.manifest.dir.display()),
    };
    anstream::print!("{}", render_within(&plan, format, args.max_chars.get(), &full));
    if !plan.refusals.is_empty() {
        return Err(CliError::refused(&plan.refusals));
    }
    Ok(
        if args.detailed_exitcode && !(plan.is_empty() && plan.held.is_empty()) {
            EXIT_CHANGES
        } else {
            EXIT_OK
        },
    )
}

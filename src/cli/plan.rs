//! `rollcall plan`: shows what apply would change.

use super::error::{CliError, EXIT_CHANGES, EXIT_OK};
use super::ManifestDir;
use crate::render::{render, Format};

/// Show what apply would change, without changing anything
///
/// Reads the live state of every target, compares it with the manifests and prints the
/// changes: `+` create, `~` change, `-` delete, and the unmanaged objects left alone.
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
    /// Exit 0 when there are no changes, 2 when there are, 1 on error
    #[arg(long)]
    detailed_exitcode: bool,
}

pub async fn run(args: Args) -> Result<u8, CliError> {
    let desired = super::load(&args.manifest.dir)?;
    let (connected, live) = super::read_live(&desired).await?;
    connected.shutdown().await;
    let plan = crate::plan::build(&desired, &live);
    let format = if args.json {
        Format::Json
    } else if args.markdown {
        Format::Markdown
    } else {
        Format::Text
    };
    anstream::print!("{}", render(&plan, format));
    Ok(if args.detailed_exitcode && !plan.is_empty() {
        EXIT_CHANGES
    } else {
        EXIT_OK
    })
}

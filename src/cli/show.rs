//! `rollcall show`: renders a saved plan, with the refusals `apply FILE` would make now.

use std::path::PathBuf;

use super::error::{CliError, EXIT_OK};
use super::AllowDeletes;
use crate::engine::saved;
use crate::plan::{Plan, Refused};
use crate::render::{render, Format};

/// Show a saved plan (from `rollcall plan --out FILE`) as text, JSON or Markdown
///
/// Checks the plan as `apply FILE` would: against the manifests it was made from and the
/// live state of its targets, with the manifests' safety policy. Exits 3 if apply would
/// refuse it, with the reasons. --offline only renders the file.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The plan file
    file: PathBuf,
    /// Print the plan as JSON
    #[arg(long, conflicts_with = "markdown")]
    json: bool,
    /// Print the plan as Markdown, for a pull-request comment
    #[arg(long)]
    markdown: bool,
    /// The manifests the plan was made from, if not where the file says
    #[arg(long, value_name = "DIR")]
    manifests: Option<PathBuf>,
    #[command(flatten)]
    allow: AllowDeletes,
    /// Render the file without checking it (no manifests, no targets read): what apply
    /// would refuse is then not shown
    #[arg(long, conflicts_with_all = ["manifests", "allow_deletes"])]
    offline: bool,
}

pub async fn run(args: Args) -> Result<u8, CliError> {
    let file = saved::read(&args.file, None).await?;
    let digest = &file.digest;
    let format = Format::from_flags(args.json, args.markdown);
    if args.offline {
        print(&file.plan, &file.digest, format);
        if format == Format::Text {
            println!("Not checked (--offline): `rollcall apply` checks it against its manifests and live state.");
        }
        return Ok(EXIT_OK);
    }
    let tuning = crate::engine::Tuning::default();
    let reading = super::progress::Reading::start();
    let checked = saved::check(
        &file,
        args.manifests.as_deref(),
        args.allow.allow_deletes,
        &args.allow.shrink(),
        tuning,
    )
    .await;
    drop(reading);
    match checked {
        Ok(checked) => {
            checked.live.shutdown().await;
            super::checked_against(&checked.manifests, &checked.manifest_digest);
            match checked.plan {
                Ok(reviewed) => {
                    print(&reviewed, digest, format);
                    Ok(EXIT_OK)
                }
                Err(Refused(plan)) => {
                    print(&plan, digest, format);
                    Err(CliError::refused(&plan.refusals))
                }
            }
        }
        // Still worth reading: the error says why apply would not run it.
        Err(e) => {
            print(&file.plan, digest, format);
            Err(CliError::from(e).hint("`rollcall show FILE --offline` renders the plan without checking it"))
        }
    }
}

fn print(plan: &Plan, digest: &str, format: Format) {
    anstream::print!("{}", render(plan, format));
    if format == Format::Text {
        println!("Plan file digest: {digest}\nManifest digest:  {}", plan.manifest_digest);
    }
}

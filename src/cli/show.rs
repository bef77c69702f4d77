//! `rollcall show`: renders a saved plan, with the refusals `apply FILE` would make now.

use std::path::PathBuf;

use super::error::{CliError, EXIT_OK};
use super::{AllowDeletes, MaxChars};
use crate::engine::saved;
use crate::plan::{Plan, Refused};
use crate::render::{render_within, Format};

/// Show a saved plan (from `rollcall plan --out FILE`) as text, JSON or Markdown
///
/// Checks the plan as `apply FILE` would: against the manifests it was made from and the
/// live state of its targets, with the manifests' safety policy. Exits 3 if apply would
/// refuse it, with the reasons. --offline only renders the file; --digest only prints
/// its digest.
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
    #[command(flatten)]
    max_chars: MaxChars,
    /// Print only the file's digest (`sha256:…`, what `apply FILE --expect-digest` takes),
    /// after checking that the file is a plan; reads nothing else
    #[arg(long, conflicts_with_all = ["json", "markdown", "manifests", "allow_deletes", "offline"])]
    digest: bool,
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
    if args.digest {
        println!("{}", file.digest);
        return Ok(EXIT_OK);
    }
    let digest = &file.digest;
    let format = Format::from_flags(args.json, args.markdown);
    let out = Output {
        format,
        max_chars: args.max_chars.get(),
        full: format!("`rollcall show {} --offline`", args.file.display()),
    };
    if args.offline {
        out.print(&file.plan, &file.digest);
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
                    out.print(&reviewed, digest);
                    Ok(EXIT_OK)
                }
                Err(Refused(plan)) => {
                    out.print(&plan, digest);
                    Err(CliError::refused(&plan.refusals))
                }
            }
        }
        // Still worth reading: the error says why apply would not run it.
        Err(e) => {
            out.print(&file.plan, digest);
            Err(CliError::from(e).hint("`rollcall show FILE --offline` renders the plan without checking it"))
        }
    }
}

/// How to print the plan: the format, and for Markdown its limit and where the whole is.
struct Output {
    format: Format,
    max_chars: usize,
    full: String,
}

impl Output {
    fn print(&self, plan: &Plan, digest: &str) {
        anstream::print!("{}", render_within(plan, self.format, self.max_chars, &self.full));
        if self.format == Format::Text {
            println!("Plan file digest: {digest}\nManifest digest:  {}", plan.manifest_digest);
        }
    }
}

//! `rollcall show`: renders a saved plan without contacting any target.

use std::path::PathBuf;

use super::error::{CliError, EXIT_OK};
use crate::render::{render, Format};

/// Show a saved plan (from `rollcall plan --out FILE`) as text, JSON or Markdown
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
}

pub fn run(args: Args) -> Result<u8, CliError> {
    let (plan, digest) = super::read_plan_file(&args.file)?;
    let format = Format::from_flags(args.json, args.markdown);
    anstream::print!("{}", render(&plan, format));
    if format == Format::Text {
        println!("Plan file digest: {digest}\nManifest digest:  {}", plan.manifest_digest);
    }
    Ok(EXIT_OK)
}

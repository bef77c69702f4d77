//! `rollcall schema`: prints the manifest's JSON Schema.

use super::error::{CliError, EXIT_OK};

/// Print the JSON Schema of a manifest file
///
/// Editors use it for completion and checking; the same file is committed in
/// schemas/manifest.schema.json.
#[derive(Debug, clap::Args)]
pub struct Args {}

pub fn run(_: Args) -> Result<u8, CliError> {
    print!("{}", manifest_schema());
    Ok(EXIT_OK)
}

/// The schema as pretty JSON with a trailing newline.
pub fn manifest_schema() -> String {
    let schema = schemars::schema_for!(crate::manifest::RawFile);
    let mut text = serde_json::to_string_pretty(&schema).unwrap_or_default();
    text.push('\n');
    text
}

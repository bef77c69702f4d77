//! `rollcall validate`: checks a manifest directory offline.

use super::error::{CliError, EXIT_OK};
use super::ManifestDir;
use crate::model::{Kind, ResourceId};

/// Check the manifests without contacting any target
///
/// Reports every problem at once, each with file, line, column and a hint. Exits 0 when
/// the manifests are valid and 1 otherwise.
#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(flatten)]
    manifest: ManifestDir,
}

pub fn run(args: Args) -> Result<u8, CliError> {
    let desired = crate::engine::load(&args.manifest.dir)?;
    let count = |k: Kind| desired.resources.keys().filter(|a| a.id.kind() == k).count();
    // People a target finds by email (its users are made elsewhere) are accounts there
    // too, though not objects of its plan.
    let found: usize = desired.targets.values().map(|t| t.scope.people.len()).sum();
    let users = desired
        .resources
        .keys()
        .filter(|a| matches!(a.id, ResourceId::User { .. }))
        .count()
        + found;
    println!(
        "The manifest is valid: {} target(s), {} user account(s), {} group(s), {} membership(s), {} permission(s).",
        desired.targets.len(),
        users,
        count(Kind::Groups),
        count(Kind::Memberships),
        count(Kind::Permissions),
    );
    if let Some(sourcing) = &desired.sourcing {
        println!(
            "Identity sources were not read ({} declared): the people and members they give are checked when `rollcall plan` or `rollcall sources` reads them.",
            sourcing.sources.len()
        );
    }
    Ok(EXIT_OK)
}

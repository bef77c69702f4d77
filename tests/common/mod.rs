//! Helpers the end-to-end test files share.

#![allow(dead_code, clippy::unwrap_used)]

use std::path::Path;

pub mod openapi;
mod scim_server;

// Only the test binaries that talk to scim2-server use these.
#[allow(unused_imports)]
pub use scim_server::{scim2_server_log, scim2_server_tenant, Tenant};

/// Copies a directory tree, for a private copy of an example that a test may change.
pub fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).unwrap();
        }
    }
}

/// The plan as the safety rules pass it with nothing live to weigh against: the reviewed
/// plan `apply` takes, for tests whose safety checks are not the point.
#[allow(dead_code)]
pub fn approved(plan: &rollcall::plan::Plan) -> rollcall::plan::Reviewed {
    let (accounts, live) = (std::collections::BTreeMap::new(), std::collections::BTreeMap::new());
    plan.clone()
        .review(&accounts, &live, None)
        .expect("no rule refuses a plan with nothing live")
}

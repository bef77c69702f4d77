//! Helpers the end-to-end test files share.

#![allow(dead_code, clippy::unwrap_used)]

use std::path::Path;

pub mod openapi;
mod scim_server;
pub mod webdriver;

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

/// A private copy of `examples/NAME`, and its manifest directory in it.
pub fn example(name: &str) -> (tempfile::TempDir, std::path::PathBuf) {
    let tmp = tempfile::tempdir().unwrap();
    copy_dir(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("examples").join(name),
        tmp.path(),
    );
    let manifests = tmp.path().join("manifests");
    (tmp, manifests)
}

/// Runs the `rollcall` binary in `dir` with a clean environment, no colour, and the time
/// a report says fixed (`SOURCE_DATE_EPOCH`, 2023-11-14T22:13:20Z): the exit code, stdout
/// and stderr.
pub fn run_in(dir: &Path, args: &[&str]) -> (Option<i32>, String, String) {
    run_in_env(dir, &[], args)
}

/// [`run_in`], with these variables added to the clean environment.
pub fn run_in_env(dir: &Path, env: &[(&str, &str)], args: &[&str]) -> (Option<i32>, String, String) {
    let out = assert_cmd::Command::cargo_bin("rollcall")
        .unwrap()
        .env_clear()
        .env("NO_COLOR", "1")
        .env("SOURCE_DATE_EPOCH", "1700000000")
        .envs(env.iter().copied())
        .current_dir(dir)
        .args(args)
        .output()
        .unwrap();
    (
        out.status.code(),
        String::from_utf8(out.stdout).unwrap(),
        String::from_utf8(out.stderr).unwrap(),
    )
}

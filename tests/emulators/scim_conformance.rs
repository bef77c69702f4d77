//! scim2-tester (the Python SCIM conformance checker) against the SCIM emulator, over real
//! HTTP. `scripts/test` installs it into `.venv` and exports `ROLLCALL_PYTHON`; without
//! that interpreter this test fails and says so, rather than passing unchecked.

use std::path::PathBuf;
use std::process::Command;

use rollcall::sandbox::scim::{serve, ScimState, Shared};

const TOKEN: &str = "conformance-token";

/// The interpreter with scim2-tester: `ROLLCALL_PYTHON`, else the repository's `.venv`.
fn python() -> PathBuf {
    let path = std::env::var_os("ROLLCALL_PYTHON")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(".venv/bin/python"));
    assert!(
        path.exists(),
        "no Python with scim2-tester at {}: run scripts/test, which creates .venv and installs it \
         (or set ROLLCALL_PYTHON to such an interpreter)",
        path.display()
    );
    path
}

/// Runs the checker against a fresh emulator over `state`; returns its report lines.
async fn run_tester(state: &str, excluded: &[&str]) -> (bool, String) {
    let python = python();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let running = serve(
        Shared::new(ScimState::parse(state).unwrap(), TOKEN.to_owned()),
        listener,
    )
    .await
    .unwrap();
    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/scim/conformance.py");
    let url = running.scim_url.clone();
    let excluded: Vec<String> = excluded.iter().map(|s| (*s).to_owned()).collect();
    // The checker blocks; run it off the runtime's threads so the emulator keeps serving.
    let output = tokio::task::spawn_blocking(move || {
        Command::new(python)
            .arg(script)
            .arg(url)
            .arg(TOKEN)
            .args(excluded)
            .output()
            .unwrap()
    })
    .await
    .unwrap();
    running.shutdown().await;
    let report = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    (output.status.success(), report)
}

fn count(report: &str, status: &str) -> usize {
    report.lines().filter(|l| l.starts_with(&format!("{status}\t"))).count()
}

#[tokio::test(flavor = "multi_thread")]
async fn rfc_profile_passes_every_check() {
    let (ok, report) = run_tester("kind: scim\nprofile: rfc\n", &[]).await;
    let failures: Vec<&str> = report.lines().filter(|l| !l.starts_with("SUCCESS")).collect();
    assert!(ok, "scim2-tester found errors:\n{}", failures.join("\n"));
    // Everything but root `/.search` (answered 501, optional in RFC 7644) is checked.
    assert!(count(&report, "SUCCESS") >= 60, "{report}");
    assert_eq!(count(&report, "ERROR"), 0, "{report}");
}

/// The Atlassian profile departs from the RFC where the vendor does: a deactivated user
/// answers 404 (so PATCH `active: false` makes the resource vanish) and a group cannot be
/// renamed. The checks that exercise those are excluded; the rest must pass.
#[tokio::test(flavor = "multi_thread")]
async fn atlassian_profile_passes_the_checks_it_supports() {
    let excluded = [
        "crud:read:attributes",
        "crud:update",
        "patch:add",
        "patch:remove",
        "patch:replace",
    ];
    let (ok, report) = run_tester("kind: scim\nprofile: atlassian\ndirectory_id: d1\n", &excluded).await;
    let failures: Vec<&str> = report.lines().filter(|l| !l.starts_with("SUCCESS")).collect();
    assert!(ok, "scim2-tester found errors:\n{}", failures.join("\n"));
    // Discovery, and create, read (without projection) and delete of users and groups:
    // with the discovery checks dropped, as an `exclude_tags` run drops them, nothing
    // past discovery would be checked and far fewer would succeed.
    assert!(count(&report, "SUCCESS") >= 30, "{report}");
    assert!(
        report.lines().any(|l| l.starts_with("SUCCESS\tobject_creation\tUser")),
        "{report}"
    );
}

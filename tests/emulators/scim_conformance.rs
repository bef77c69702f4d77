//! scim2-tester (the Python SCIM conformance checker) against the SCIM emulator, over real
//! HTTP. `scripts/test` installs it into `.venv` and exports `ROLLCALL_PYTHON`; without
//! that interpreter this test fails and says so, rather than passing unchecked.
//!
//! Every check runs, for both profiles, and the test asserts the exact set of results: the
//! ones expected to succeed are listed in `tests/scim/conformance-<profile>.txt`, and every
//! other one is a named departure below, with the status it is expected to have and why.
//! A result that appears, vanishes or changes status fails the test with a list of what
//! changed; so does a departure that starts to pass, so the list stays true.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::Command;

use rollcall::sandbox::scim::{serve, ScimState, Shared};

const TOKEN: &str = "conformance-token";

/// A result that is known not to be SUCCESS, and why.
struct Departure {
    /// The result as `check [resource type] [target]`, as the expected-results files
    /// write it.
    result: &'static str,
    /// The status scim2-tester gives it.
    status: &'static str,
    /// Why, with the source that says so.
    reason: &'static str,
}

/// Root `/.search` is answered 501 by both profiles, and scim2-tester 0.5.2 reports its
/// `/.search` checks as skipped on a 501.
const SEARCH_RFC: &str = "the emulator answers root `POST /.search` with 501: RFC 7644 \
    §3.4.3 makes querying by POST a MAY and §3.12 gives 501 for an operation the service \
    provider does not support; the tester then skips the check";
const SEARCH_ATLASSIAN: &str = "Atlassian's description has no `/.search` path \
    (atlassian-user-provisioning.openapi.json, `paths`), so the emulator answers 501 as the \
    rfc profile does; the tester then skips the check";
/// The tester's (seeded) value for `active` is `false`.
const DEACTIVATED: &str = "the value set is `active: false`, which the emulator reads as the \
    deactivation `DELETE /Users/{userId}` performs, and then \"any future operation for the \
    deactivated user returns the 404 (resource not found) error\" \
    (atlassian-user-provisioning.openapi.json, `DELETE /Users/{userId}`), so reading the \
    user back is 404";
const NO_RENAME: &str = "the tester changes the group's displayName, and Atlassian does not \
    rename groups: \"Renaming groups after they've synced to your Atlassian organization \
    isn't supported\" (atlassian-user-provisioning.openapi.json, `PATCH /Groups/{id}`) and \
    displayName \"is immutable, required, and read-only\" (`ScimGroup`); 400 `mutability`";

const RFC_DEPARTURES: &[Departure] = &[
    Departure {
        result: "search_with_attributes Group",
        status: "SKIPPED",
        reason: SEARCH_RFC,
    },
    Departure {
        result: "search_with_attributes User",
        status: "SKIPPED",
        reason: SEARCH_RFC,
    },
];

const ATLASSIAN_DEPARTURES: &[Departure] = &[
    Departure {
        result: "check_add_attribute User active",
        status: "ERROR",
        reason: DEACTIVATED,
    },
    Departure {
        result: "check_replace_attribute Group displayName",
        status: "ERROR",
        reason: NO_RENAME,
    },
    Departure {
        result: "check_replace_attribute User active",
        status: "ERROR",
        reason: DEACTIVATED,
    },
    Departure {
        result: "object_replacement Group",
        status: "ERROR",
        reason: NO_RENAME,
    },
    Departure {
        result: "search_with_attributes Group",
        status: "SKIPPED",
        reason: SEARCH_ATLASSIAN,
    },
    Departure {
        result: "search_with_attributes User",
        status: "SKIPPED",
        reason: SEARCH_ATLASSIAN,
    },
];

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

/// One result as scim2-tester reported it.
struct Reported {
    status: String,
    detail: String,
}

/// Runs every check against a fresh emulator over `state`; returns the results by
/// `check [resource type] [target]`.
async fn run_tester(state: &str) -> BTreeMap<String, Reported> {
    let python = python();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let running = serve(
        Shared::new(ScimState::parse(state).unwrap(), TOKEN.to_owned()),
        listener,
    )
    .await
    .unwrap();
    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/scim/conformance.py");
    let url = running.api_url.clone();
    // The checker blocks; run it off the runtime's threads so the emulator keeps serving.
    let output =
        tokio::task::spawn_blocking(move || Command::new(python).arg(script).arg(url).arg(TOKEN).output().unwrap())
            .await
            .unwrap();
    running.shutdown().await;
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "scim2-tester did not run:\n{stdout}{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let mut results = BTreeMap::new();
    let mut total = None;
    for line in stdout.lines() {
        let fields: Vec<&str> = line.split('\t').collect();
        match fields.as_slice() {
            ["TOTAL", n] => total = Some(n.parse::<usize>().unwrap()),
            [status, check, resource, target, detail] => {
                let key = [*check, *resource, *target]
                    .into_iter()
                    .filter(|f| !f.is_empty())
                    .collect::<Vec<_>>()
                    .join(" ");
                let reported = Reported {
                    status: (*status).to_owned(),
                    detail: (*detail).to_owned(),
                };
                // Two results under one name could hide each other's status.
                assert!(
                    results.insert(key.clone(), reported).is_none(),
                    "two results named {key}:\n{stdout}"
                );
            }
            _ => panic!("unexpected line from the checker: {line:?}"),
        }
    }
    assert_eq!(total, Some(results.len()), "{stdout}");
    results
}

/// The expected results: the `SUCCESS` ones from the profile's file, and the departures.
fn expected(profile: &str, departures: &[Departure]) -> BTreeMap<String, String> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(format!("tests/scim/conformance-{profile}.txt"));
    let text = std::fs::read_to_string(&path).unwrap();
    let lines: Vec<&str> = text.lines().filter(|l| !l.is_empty() && !l.starts_with('#')).collect();
    // Sorted and without repeats, so that the file reads as a list and a diff of it is small.
    assert!(
        lines.windows(2).all(|w| w[0] < w[1]),
        "{} is not sorted (LC_ALL=C) or repeats a line",
        path.display()
    );
    let mut out: BTreeMap<String, String> = lines.iter().map(|l| ((*l).to_owned(), "SUCCESS".to_owned())).collect();
    for d in departures {
        assert_ne!(
            d.status, "SUCCESS",
            "{}: a departure is a result that is not SUCCESS",
            d.result
        );
        let previous = out.insert(d.result.to_owned(), d.status.to_owned());
        assert!(
            previous.is_none(),
            "{} is both expected to succeed and a departure",
            d.result
        );
    }
    out
}

/// Compares what the tester reported with what is expected; panics with what changed.
fn assert_results(profile: &str, reported: &BTreeMap<String, Reported>, departures: &[Departure]) {
    let expected = expected(profile, departures);
    let why = |key: &str| {
        departures
            .iter()
            .find(|d| d.result == key)
            .map(|d| format!(" (departure: {})", d.reason))
            .unwrap_or_default()
    };
    let mut changes = Vec::new();
    for (key, status) in &expected {
        match reported.get(key) {
            None => changes.push(format!("  vanished: {key}: expected {status}{}", why(key))),
            Some(r) if r.status != *status => changes.push(format!(
                "  changed:  {key}: expected {status}, got {}: {}{}",
                r.status,
                r.detail,
                why(key)
            )),
            Some(_) => {}
        }
    }
    for (key, r) in reported {
        if !expected.contains_key(key) {
            changes.push(format!("  new:      {key}: {}: {}", r.status, r.detail));
        }
    }
    assert!(
        changes.is_empty(),
        "scim2-tester's results for the {profile} profile are not the expected ones \
         (tests/scim/conformance-{profile}.txt lists the successes, scim_conformance.rs the \
         departures):\n{}",
        changes.join("\n")
    );
}

fn count(reported: &BTreeMap<String, Reported>, status: &str) -> usize {
    reported.values().filter(|r| r.status == status).count()
}

#[tokio::test(flavor = "multi_thread")]
async fn rfc_profile_gives_the_expected_results() {
    let reported = run_tester("kind: scim\nprofile: rfc\n").await;
    assert_results("rfc", &reported, RFC_DEPARTURES);
    // The counts docs/sandbox.md gives.
    assert_eq!((reported.len(), count(&reported, "SUCCESS")), (67, 65));
}

/// The Atlassian profile departs from the RFC where the vendor's description does; group
/// membership PATCHes (add and replace of `members`), which rollcall's provider sends, are
/// among the checks and pass. (Removing members is tested in emulator_scim.rs: the tester
/// only removes members a POST gave, and Atlassian's POST keeps none.)
#[tokio::test(flavor = "multi_thread")]
async fn atlassian_profile_gives_the_expected_results() {
    let reported = run_tester("kind: scim\nprofile: atlassian\ndirectory_id: d1\n").await;
    assert_results("atlassian", &reported, ATLASSIAN_DEPARTURES);
    // The counts docs/sandbox.md gives.
    assert_eq!((reported.len(), count(&reported, "SUCCESS")), (64, 58));
}

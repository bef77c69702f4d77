//! A Buildkite organization that signs in with SSO, whose identity provider may set
//! members' roles and teams at each login: the plan says so, and with `sso_assigns` on
//! the target rollcall leaves those kinds of change to it, listing each as left out.

use crate::common;

use std::path::Path;

/// The Northwind example with SSO on in its Buildkite sandbox, and `sso_assigns` set to
/// `words` on the target (none when empty).
fn with_sso(words: &str) -> (tempfile::TempDir, std::path::PathBuf) {
    let (tmp, dir) = common::example("northwind");
    let state = tmp.path().join("sandbox/buildkite.yaml");
    let text = std::fs::read_to_string(&state).unwrap();
    std::fs::write(
        &state,
        text.replace("sso: { enabled: false }", "sso: { enabled: true }"),
    )
    .unwrap();
    if !words.is_empty() {
        let targets = dir.join("targets.yaml");
        let mut text = std::fs::read_to_string(&targets).unwrap();
        text.push_str(&format!("    sso_assigns: {words}\n"));
        std::fs::write(&targets, text).unwrap();
    }
    (tmp, dir)
}

/// The plan's Buildkite part.
fn plan(dir: &Path) -> String {
    let (code, out, stderr) = common::run_in(dir, &["plan"]);
    assert_eq!(code, Some(0), "{stderr}");
    let from = out.find("buildkite (buildkite at").unwrap();
    let to = out.find("directory (scim/atlassian at").unwrap();
    out[from..to].to_owned()
}

#[test]
fn sso_is_named_and_what_it_sets_is_left_to_it_when_the_target_says_so() {
    // Not said: every change planned, and a note that SSO may undo them.
    let (_tmp, dir) = with_sso("");
    let out = plan(&dir);
    assert!(
        out.contains("  + buildkite.group[\"mobile\"].member[\"ivan\"]\n"),
        "{out}"
    );
    assert!(
        out.contains("signs in with SSO: its identity provider may set members' roles (its `admin` attribute) and teams (its `teams` attribute) at each login, undoing changes made here; if it does, add role, teams to the target's `sso_assigns`"),
        "{out}"
    );

    // `teams`: memberships are the identity provider's, each change said, not planned;
    // everything else still is, and the note names only what is left unsaid.
    let (_tmp, dir) = with_sso("teams");
    let out = plan(&dir);
    assert!(
        !out.contains("  + buildkite.group[\"mobile\"].member[\"ivan\"]\n"),
        "{out}"
    );
    assert!(
        out.contains("* buildkite.group[\"mobile\"].member[\"ivan\"]: left out of the plan (a create): organization `northwind`'s SSO sets team memberships at each login (`sso_assigns: teams`); change them in the identity provider"),
        "{out}"
    );
    assert!(
        out.contains("* buildkite.group[\"backend\"].member[\"frank\"]: left out of the plan (a change)"),
        "{out}"
    );
    assert!(
        out.contains("  ~ buildkite.group[\"platform\"]\n        privacy:"),
        "{out}"
    );
    assert!(
        out.contains("  + buildkite.pipeline[\"payments\"].group[\"release-managers\"]"),
        "{out}"
    );
    assert!(out.contains("add role to the target's `sso_assigns`"), "{out}");

    // Both: nothing left unsaid, so no remark; making erin an admin is left alone too.
    let (_tmp, dir) = with_sso("role, teams");
    let access = dir.join("access.yaml");
    let text = std::fs::read_to_string(&access).unwrap();
    std::fs::write(
        &access,
        text.replace("users: { alice: admin }", "users: { alice: admin, erin: admin }"),
    )
    .unwrap();
    let out = plan(&dir);
    assert!(!out.contains("signs in with SSO"), "{out}");
    assert!(
        out.contains("* buildkite.global.user[\"erin\"]: left out of the plan (a create to `ADMIN`): organization `northwind`'s SSO sets roles at each login (`sso_assigns: role`)"),
        "{out}"
    );
}

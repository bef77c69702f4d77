//! Sandbox state files as rollcall reads them: the emulator a file is for is the one its
//! `kind` names, whatever the file's size, and a file that cannot be read is refused with
//! its name and the reason, never handed to another emulator.

use std::path::Path;

use rollcall::provider::registry::sandbox_of;
use rollcall::sandbox::scim::state::{Email, Member, Meta, ScimGroup, ScimUser};
use rollcall::sandbox::scim::ScimState;
use rollcall::sandbox::state::{marker, DcState, StateFile as _};

/// A SCIM state of `users` users in groups of a thousand: at 20 000 users its YAML holds
/// far more than the 250 000 values one manifest file may.
fn big_scim_state(users: usize) -> ScimState {
    let mut state = ScimState::default();
    for n in 0..users {
        state.users.push(ScimUser {
            id: format!("u{n}"),
            user_name: format!("user{n:05}"),
            external_id: Some(format!("user{n:05}")),
            name: None,
            display_name: Some(format!("User {n}")),
            emails: vec![Email {
                value: format!("user{n}@example.com"),
                kind: Some("work".into()),
                primary: Some(true),
            }],
            active: Some(true),
            meta: Meta::new("2026-01-01T00:00:00Z".into()),
        });
    }
    for g in 0..users / 1000 {
        state.groups.push(ScimGroup {
            id: format!("g{g}"),
            display_name: format!("team{g}"),
            external_id: None,
            members: (g * 1000..(g + 1) * 1000)
                .map(|n| Member { value: format!("u{n}") })
                .collect(),
            meta: Meta::new("2026-01-01T00:00:00Z".into()),
        });
    }
    state
}

fn write(dir: &Path, name: &str, text: &str) -> std::path::PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path
}

#[test]
fn a_scim_state_past_the_manifest_limit_is_read_back_as_scim() {
    let dir = tempfile::tempdir().unwrap();
    let state = big_scim_state(20_000);
    for file in ["directory.yaml", "directory.json"] {
        let path = dir.path().join(file);
        state.save(&path).unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(
            text.lines().count() > 250_000 || file.ends_with(".json"),
            "{file} is large"
        );
        assert_eq!(sandbox_of(&text).map(|r| r.platform.kind()), Ok("scim"), "{file}");
        assert_eq!(ScimState::load(&path).unwrap(), state, "{file}");
    }
}

#[test]
fn which_emulator_reads_a_file_is_what_its_kind_says() {
    let kind_of = |text: &str| sandbox_of(text).map(|r| r.platform.kind());
    assert_eq!(kind_of("kind: scim\n"), Ok("scim"));
    assert_eq!(kind_of("# notes\nusers: {}\nkind: scim\n"), Ok("scim"));
    assert_eq!(kind_of("{\"kind\": \"scim\", \"users\": []}"), Ok("scim"));
    assert_eq!(kind_of("kind: bitbucket-datacenter\n"), Ok("bitbucket-datacenter"));
    // Written before the marker: Data Center's, the only emulator whose files had none.
    assert_eq!(kind_of("operator: admin\nusers: {}\n"), Ok("bitbucket-datacenter"));
    // A `kind` inside another key is not the file's.
    assert_eq!(marker("users:\n  kind: scim\n"), Ok(None));
    assert_eq!(kind_of("kind: buildkite\n"), Ok("buildkite"));
    let unknown = kind_of("kind: gitlab\n").unwrap_err();
    assert!(
        unknown.contains("`kind: gitlab`") && unknown.contains("`scim`") && unknown.contains("`buildkite`"),
        "{unknown}"
    );
    let nested = kind_of("kind: { name: scim }\n").unwrap_err();
    assert!(nested.contains("`kind` must be a name"), "{nested}");
}

#[test]
fn a_broken_scim_state_is_reported_as_scim_and_never_read_as_another() {
    // Unreadable before any `kind`: no emulator claims it, and the parser says why.
    let broken = sandbox_of("users: [\nkind: scim\n")
        .map(|r| r.platform.kind())
        .unwrap_err();
    assert!(!broken.is_empty(), "{broken}");
    // Unreadable after `kind: scim`: SCIM's, and SCIM's parse says why.
    let truncated = "kind: scim\nusers: [\n";
    assert_eq!(sandbox_of(truncated).map(|r| r.platform.kind()), Ok("scim"));
    assert!(ScimState::parse(truncated).is_err());
    // Readable, of the right kind, and wrong: SCIM's own error, not Data Center's.
    let text = "kind: scim\nusres: []\n";
    assert_eq!(sandbox_of(text).map(|r| r.platform.kind()), Ok("scim"));
    let message = ScimState::parse(text).unwrap_err();
    assert!(message.contains("usres"), "{message}");
    assert!(!message.contains("operator"), "{message}");
}

#[test]
fn a_data_center_state_is_saved_with_its_kind_and_read_without_it() {
    let dir = tempfile::tempdir().unwrap();
    let legacy = write(dir.path(), "bitbucket.yaml", "# notes\noperator: admin\nusers: {}\n");
    let state = DcState::load(&legacy).unwrap();
    state.save(&legacy).unwrap();
    let saved = std::fs::read_to_string(&legacy).unwrap();
    assert!(saved.starts_with("# notes\nkind: bitbucket-datacenter\n"), "{saved}");
    assert_eq!(DcState::load(&legacy).unwrap(), state);
    let wrong = DcState::parse("kind: scim\noperator: admin\n").unwrap_err();
    assert!(wrong.contains("kind must be `bitbucket-datacenter`"), "{wrong}");
}

//! A Buildkite organization through the binary, on a sandbox: a person invited and not
//! a member yet is listed as such, and a change naming them (joining another team) is
//! held, with what to do, and `--detailed-exitcode` exits 2; once they accept, the same
//! plan makes it a plain change.

use std::path::Path;

use rollcall::sandbox::buildkite::BkState;
use rollcall::sandbox::state::StateFile as _;

use crate::common;

const TARGETS: &str = "targets:
  bk:
    kind: buildkite
    url: sandbox:../sandbox/bk.yaml
    organization: acme
";

/// carol is invited into Platform as a maintainer, as the manifest says; it also puts
/// her in Web, which only a member can join.
const MANIFEST: &str = "users:
  olivia: { name: Olivia Operator, email: olivia@acme.example }
  ada: { name: Ada Lovelace, email: ada@acme.example }
  bob: { name: Bob Builder, email: bob@acme.example }
  carol: { name: Carol Jones, email: carol@acme.example }
groups:
  Platform:
    members: [olivia]
    maintainers: [ada, carol]
  Web:
    members: [carol]
access:
  bk:
    organization:
      users: { olivia: admin }
";

fn setup() -> (tempfile::TempDir, std::path::PathBuf) {
    let tmp = tempfile::tempdir().unwrap();
    let manifests = tmp.path().join("manifests");
    let sandbox = tmp.path().join("sandbox");
    std::fs::create_dir_all(&manifests).unwrap();
    std::fs::create_dir_all(&sandbox).unwrap();
    std::fs::copy(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/buildkite-sandbox.yaml"),
        sandbox.join("bk.yaml"),
    )
    .unwrap();
    std::fs::write(manifests.join("targets.yaml"), TARGETS).unwrap();
    std::fs::write(manifests.join("manifest.yaml"), MANIFEST).unwrap();
    (tmp, manifests)
}

#[test]
fn a_change_naming_an_invited_person_is_held_until_they_accept() {
    let (tmp, dir) = setup();
    let (code, text, stderr) = common::run_in(&dir, &["plan", "--detailed-exitcode"]);
    assert_eq!(code, Some(2), "{text}{stderr}");
    assert!(text.contains("  no changes\n"), "{text}");
    assert!(
        text.contains(
            "    + bk.group[\"Web\"].member[\"carol\"]  (user `carol` is invited, not a member yet: the invitation to carol@acme.example has not been accepted)\n        hint: it is made once they accept; plan again then"
        ),
        "{text}"
    );
    assert!(
        text.contains("* bk.user[\"carol\"]: invited, not a member yet: the invitation to carol@acme.example has not been accepted"),
        "{text}"
    );
    assert!(text.contains("1 change held until they can run"), "{text}");

    // carol accepts: a member now, in Platform as her invitation said.
    let path = tmp.path().join("sandbox/bk.yaml");
    let mut state = BkState::load(&path).unwrap();
    state.accept_invitation("carol@acme.example", "Carol Jones").unwrap();
    std::fs::write(&path, state.to_yaml().unwrap()).unwrap();
    let (code, text, stderr) = common::run_in(&dir, &["plan", "--detailed-exitcode"]);
    assert_eq!(code, Some(2), "{text}{stderr}");
    assert!(text.contains("  + bk.group[\"Web\"].member[\"carol\"]\n"), "{text}");
    assert!(!text.contains("held"), "{text}");
    assert!(!text.contains("invited"), "{text}");
    assert!(text.contains("bk: 1 to create, 0 to change, 0 to delete"), "{text}");
}

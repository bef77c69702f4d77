//! What an installed binary offers besides its commands: shell completions and the manual
//! page, both generated from the argument definitions, so every command and flag is in
//! them.

use crate::common;

use std::path::PathBuf;
use std::process::Command;

use clap::CommandFactory as _;

fn rollcall(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(PathBuf::from(env!("CARGO_BIN_EXE_rollcall")))
        .args(args)
        .env_clear()
        .env("NO_COLOR", "1")
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// The user-facing subcommands, as the argument definitions declare them.
fn subcommands() -> Vec<String> {
    rollcall::cli::Cli::command()
        .get_subcommands()
        .map(|c| c.get_name().to_owned())
        .collect()
}

#[test]
fn the_bash_completion_knows_the_commands_and_their_flags() {
    let (code, script, err) = rollcall(&["completions", "bash"]);
    assert_eq!(code, 0, "{err}");
    assert!(
        script.contains("complete -F"),
        "not a bash completion script:\n{script}"
    );
    for name in subcommands() {
        assert!(script.contains(&name), "the bash completion lacks `{name}`");
    }
    assert!(script.contains("--detailed-exitcode"));
    assert!(script.contains("--expect-digest"));
}

#[test]
fn every_documented_shell_gets_a_script() {
    for shell in ["bash", "zsh", "fish", "powershell", "elvish"] {
        let (code, script, err) = rollcall(&["completions", shell]);
        assert_eq!(code, 0, "{shell}: {err}");
        assert!(script.contains("plan"), "{shell}: no `plan` in\n{script}");
    }
    let (code, _, err) = rollcall(&["completions", "tcsh"]);
    assert_eq!(code, 1, "an unknown shell is a usage error");
    assert!(err.contains("possible values"), "{err}");
}

#[test]
fn the_man_page_is_roff_and_names_every_command() {
    let (code, page, err) = rollcall(&["man"]);
    assert_eq!(code, 0, "{err}");
    // clap_mangen puts two lines defining a quote string first; the title is the first macro after them.
    let first = page.lines().find(|l| !l.starts_with(".ie") && !l.starts_with(".el"));
    assert!(
        first.is_some_and(|l| l.starts_with(".TH rollcall 1")),
        "no title line first:\n{page}"
    );
    for name in subcommands() {
        // roff escapes the hyphen in a page reference.
        assert!(
            page.contains(&format!("rollcall\\-{name}(1)")),
            "the page lacks `{name}`"
        );
    }
    assert!(!page.contains("rollcall\\-help(1)"), "help has no page of its own");
    // The exit codes as tagged paragraphs, not help text roff would refill.
    let status = page
        .split(".SH \"EXIT STATUS\"")
        .nth(1)
        .expect("an EXIT STATUS section");
    for code in ["0", "1", "2", "3", "130"] {
        assert!(
            status.contains(&format!(".TP\n{code}\n")),
            "no exit code {code} in:\n{status}"
        );
    }
    assert!(!page.contains(".SH EXTRA"), "{page}");
}

#[test]
fn man_with_a_directory_writes_a_page_per_command() {
    let dir = tempfile::tempdir().unwrap();
    let (code, out, err) = rollcall(&["man", "--dir", dir.path().to_str().unwrap()]);
    assert_eq!((code, out.as_str()), (0, ""), "{err}");
    let mut pages = vec!["rollcall.1".to_owned(), "rollcall-sandbox-serve.1".to_owned()];
    pages.extend(subcommands().iter().map(|name| format!("rollcall-{name}.1")));
    for page in pages {
        let text = std::fs::read_to_string(dir.path().join(&page)).unwrap_or_default();
        assert!(text.contains(".TH "), "{page} missing or not a manual page");
    }
    let plan = std::fs::read_to_string(dir.path().join("rollcall-plan.1")).unwrap();
    assert!(plan.contains("detailed\\-exitcode"), "{plan}");
    assert!(plan.contains("EXIT STATUS") && !plan.contains(".SH EXTRA"), "{plan}");
}

#[test]
fn the_version_names_the_package_version_and_then_the_commit() {
    let (code, out, err) = rollcall(&["--version"]);
    assert_eq!(code, 0, "{err}");
    let expected = concat!("rollcall ", env!("CARGO_PKG_VERSION"));
    assert!(out.starts_with(expected), "{out}");
    // From a checkout (the tests run in one, or in a packaged crate that recorded its
    // commit), the commit follows, abbreviated: `rollcall 0.1.0 (abc123def456)`.
    let rest = out[expected.len()..].trim_end();
    assert!(
        rest.is_empty()
            || (rest.len() == 15
                && rest.starts_with(" (")
                && rest.ends_with(')')
                && rest[2..14].chars().all(|c| c.is_ascii_hexdigit())),
        "{out}"
    );
}

/// `--quiet` (anywhere on the line) leaves stderr to errors and warnings: the notes of
/// what the sources gave, where the plan was saved and what it was checked against go,
/// and stdout is the same.
#[test]
fn quiet_silences_the_notes_but_not_stdout_or_errors() {
    let (tmp, _) = common::example("group-sync");
    let dir = tmp.path();
    let (code, loud_out, loud_err) = common::run_in(dir, &["plan", "manifests", "--out", "loud.json"]);
    assert_eq!(code, Some(0), "{loud_err}");
    assert!(
        loud_err.contains("source okta:") && loud_err.contains("Saved the plan"),
        "{loud_err}"
    );
    let (code, out, err) = common::run_in(dir, &["--quiet", "plan", "manifests", "--out", "plan.json"]);
    assert_eq!((code, err.as_str()), (Some(0), ""));
    assert_eq!(out, loud_out);

    let (code, out, err) = common::run_in(dir, &["show", "plan.json", "-q"]);
    assert_eq!((code, err.as_str()), (Some(0), ""), "no `Checked against` note");
    assert!(!out.is_empty());

    let (code, out, err) = common::run_in(dir, &["apply", "plan.json", "--auto-approve", "-q"]);
    assert_eq!((code, err.as_str()), (Some(0), ""));
    assert!(out.contains("Apply complete"), "{out}");

    let (code, _, err) = common::run_in(dir, &["-q", "plan", "missing"]);
    assert_eq!(code, Some(1));
    assert!(err.starts_with("error: "), "errors are still said: {err}");

    let (_, help, _) = common::run_in(dir, &["plan", "--help"]);
    assert!(help.contains("--quiet"), "{help}");
}

//! The Markdown plan cut to a comment's size (`--max-chars`) on a large generated plan,
//! and `show FILE --digest`, the two things the CI recipes rely on.

use crate::common;

use std::fmt::Write as _;
use std::path::Path;

/// A copy of the quickstart with `people` more people to create, each with a display
/// name of several non-ASCII characters (so characters and bytes differ), and as many
/// unmanaged accounts live: a plan far over any comment's size.
fn large_project(people: usize) -> tempfile::TempDir {
    let tmp = tempfile::tempdir().unwrap();
    common::copy_dir(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/quickstart"),
        tmp.path(),
    );
    let mut manifest = String::from("users:\n");
    let mut state = String::new();
    for i in 0..people {
        let _ = writeln!(
            manifest,
            "  newcomer{i}: {{ name: Zoë Ørsted-Łukasiewicz {i}, email: newcomer{i}@northwind.example }}"
        );
        let _ = writeln!(
            state,
            "  stranger{i}: {{ display_name: Søren Ångström {i}, email: stranger{i}@agency.example }}"
        );
    }
    std::fs::write(tmp.path().join("manifests/generated.yaml"), manifest).unwrap();
    let path = tmp.path().join("sandbox/bitbucket.yaml");
    let seed = std::fs::read_to_string(&path).unwrap();
    std::fs::write(&path, seed.replacen("users:\n", &format!("users:\n{state}"), 1)).unwrap();
    tmp
}

/// Whether every code fence is closed and every `<details>` too.
fn balanced(markdown: &str) -> bool {
    let mut fence = false;
    let mut details = 0i32;
    for line in markdown.lines() {
        if line.starts_with("```") {
            fence = !fence;
        } else if !fence && line.starts_with("<details") {
            details += 1;
        } else if !fence && line.starts_with("</details>") {
            details -= 1;
        }
    }
    !fence && details == 0
}

#[test]
fn a_large_plan_is_cut_to_the_limit_in_characters_balanced_and_keeps_its_digests() {
    let tmp = large_project(3_000);
    let root = tmp.path();
    let (code, whole, stderr) = common::run_in(root, &["plan", "manifests", "--markdown", "--max-chars", "4000000"]);
    assert_eq!(code, Some(0), "{stderr}");
    assert!(whole.chars().count() > 200_000, "{}", whole.chars().count());
    assert!(!whole.contains("Cut to fit"));
    for (limit, args) in [
        (
            60_000,
            vec![
                "plan",
                "manifests",
                "--markdown",
                "--out",
                "plan.json",
                "--detailed-exitcode",
            ],
        ),
        (
            5_000,
            vec![
                "plan",
                "manifests",
                "--markdown",
                "--out",
                "plan.json",
                "--max-chars",
                "5000",
            ],
        ),
    ] {
        let (code, md, stderr) = common::run_in(root, &args);
        assert!(code == Some(2) || code == Some(0), "{stderr}");
        let chars = md.chars().count();
        assert!(chars <= limit, "{chars} characters over {limit}");
        assert!(chars > limit - 500, "{chars} characters: the cut left room unused");
        // Characters are counted, not bytes: the names make the bytes more.
        assert!(md.len() > chars);
        assert!(balanced(&md), "{md}");
        let (_, digest, _) = common::run_in(root, &["show", "plan.json", "--digest"]);
        let digest = digest.trim();
        assert!(digest.starts_with("sha256:") && digest.len() == 71, "{digest}");
        // The headline, the digests and the summary table come first and stay.
        assert!(
            md.starts_with("### rollcall plan\n\n**3022 to create, 4 to change, 3 to delete.**"),
            "{md}"
        );
        assert!(md.contains(&format!("plan `{digest}`")), "{md}");
        assert!(md.contains("| `bitbucket` | 3022 | 4 | 3 | 3008 |"), "{md}");
        // What is left out, and where the whole plan is.
        let missing = whole.lines().count() - md.lines().count();
        // The sections cut away are named: the rest of the target's changes, the effect on
        // people (folded, so by its summary), the unmanaged objects.
        assert!(md.contains("more lines not shown** (the rest of `bitbucket`; "), "{md}");
        assert!(md.contains("; Effect on people: 6009 people gain access"), "{md}");
        assert!(md.contains("; 3008 unmanaged objects"), "{md}");
        assert!(
            md.ends_with(". The whole plan: `rollcall show plan.json --offline`.\n"),
            "{md}"
        );
        assert!(missing > 0);
        // Every change line kept is whole: the cut falls between lines.
        let kept: Vec<&str> = md.lines().filter(|l| l.starts_with("+ bitbucket.user[")).collect();
        assert!(kept.len() > 10 && kept.iter().all(|l| l.ends_with("\"]")));
    }
    // `show` takes the same limit.
    let (code, md, stderr) = common::run_in(
        root,
        &["show", "plan.json", "--offline", "--markdown", "--max-chars", "3000"],
    );
    assert_eq!(code, Some(0), "{stderr}");
    assert!(md.chars().count() <= 3_000 && balanced(&md));
    assert!(
        md.ends_with("The whole plan: `rollcall show plan.json --offline`.\n"),
        "{md}"
    );
}

#[test]
fn max_chars_goes_with_markdown_and_has_a_floor() {
    let (_tmp, dir) = common::example("quickstart");
    for args in [
        &["plan", "--max-chars", "5000"][..],
        &["plan", "--json", "--max-chars", "5000"][..],
        &["plan", "--markdown", "--max-chars", "999"][..],
        &["plan", "--markdown", "--max-chars", "many"][..],
    ] {
        let (code, out, stderr) = common::run_in(&dir, args);
        assert_eq!(code, Some(1), "{args:?}: {stderr}");
        assert!(out.is_empty());
    }
    // The quickstart's plan is far under the default: printed whole.
    let (code, md, _) = common::run_in(&dir, &["plan", "--markdown"]);
    assert_eq!(code, Some(0));
    assert!(!md.contains("Cut to fit") && md.contains("8 unmanaged objects"));
}

#[test]
fn show_digest_prints_the_files_digest_alone_and_checks_it_is_a_plan() {
    let (tmp, _) = common::example("quickstart");
    let root = tmp.path();
    let (code, _, stderr) = common::run_in(root, &["-q", "plan", "manifests", "--out", "plan.json"]);
    assert_eq!(code, Some(0), "{stderr}");
    assert!(stderr.is_empty(), "{stderr}");
    let (code, out, stderr) = common::run_in(root, &["show", "plan.json", "--digest"]);
    assert_eq!(code, Some(0), "{stderr}");
    assert!(stderr.is_empty(), "{stderr}");
    // The same digest `plan --out` names and `apply --expect-digest` takes.
    let (_, _, saved) = common::run_in(root, &["plan", "manifests", "--out", "plan.json"]);
    assert!(saved.contains(&format!("({})", out.trim())), "{saved}");
    let (code, _, stderr) = common::run_in(root, &["apply", "plan.json", "--expect-digest", out.trim()]);
    assert_eq!(code, Some(0), "{stderr}");
    // Not a plan: an error, no digest.
    std::fs::write(root.join("other.json"), "{}").unwrap();
    let (code, out, _) = common::run_in(root, &["show", "other.json", "--digest"]);
    assert_eq!((code, out.as_str()), (Some(1), ""));
    let (code, _, _) = common::run_in(root, &["show", "plan.json", "--digest", "--json"]);
    assert_eq!(code, Some(1));
}

//! Build script: puts the commit the binary was built from into `--version`
//! (`rollcall 0.1.0 (abc123def456)`), through the `ROLLCALL_VERSION` variable.
//!
//! From a git checkout (a clone or a worktree) the commit is `git rev-parse HEAD`; from a
//! packaged crate it is the one `cargo package` recorded in `.cargo_vcs_info.json`; with
//! neither (or no git), the version is the package's alone. A checkout's uncommitted
//! changes are not marked: telling would mean reading every file on every build.

use std::path::Path;
use std::process::Command;

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    let version = env!("CARGO_PKG_VERSION");
    let commit = from_checkout().or_else(from_package);
    match commit {
        Some(commit) => println!("cargo:rustc-env=ROLLCALL_VERSION={version} ({commit})"),
        None => println!("cargo:rustc-env=ROLLCALL_VERSION={version}"),
    }
}

/// Runs git here and returns its first line of output, if it succeeded.
fn git(args: &[&str]) -> Option<String> {
    let out = Command::new("git").args(args).output().ok()?;
    if !out.status.success() {
        return None;
    }
    let text = String::from_utf8(out.stdout).ok()?;
    let line = text.lines().next()?.trim().to_owned();
    (!line.is_empty()).then_some(line)
}

/// The commit of the checkout this package is the root of. A crate unpacked inside some
/// other repository (vendored, say) is not that repository's commit.
fn from_checkout() -> Option<String> {
    let top = git(&["rev-parse", "--show-toplevel"])?;
    let here = std::env::var("CARGO_MANIFEST_DIR").ok()?;
    let same = |a: &str, b: &str| match (Path::new(a).canonicalize(), Path::new(b).canonicalize()) {
        (Ok(a), Ok(b)) => a == b,
        _ => false,
    };
    if !same(&top, &here) {
        return None;
    }
    let commit = git(&["rev-parse", "--short=12", "HEAD"])?;
    // Run again when HEAD moves: a checkout rewrites HEAD itself, a commit the ref it
    // names (a loose file, or packed-refs once git has packed it). Only files that exist
    // are named, since cargo reruns a script on every build while a named file is missing.
    // Paths come from git, since a worktree's HEAD and its refs live in different places.
    let mut watched = vec!["HEAD".to_owned(), "packed-refs".to_owned()];
    if let Some(branch) = git(&["symbolic-ref", "-q", "HEAD"]) {
        watched.push(branch);
    }
    for name in watched {
        if let Some(path) = git(&["rev-parse", "--git-path", &name]) {
            let path = Path::new(&here).join(path);
            if path.exists() {
                println!("cargo:rerun-if-changed={}", path.display());
            }
        }
    }
    Some(commit)
}

/// The commit `cargo package` recorded, in a crate built outside a checkout.
fn from_package() -> Option<String> {
    let here = std::env::var("CARGO_MANIFEST_DIR").ok()?;
    let info = Path::new(&here).join(".cargo_vcs_info.json");
    let text = std::fs::read_to_string(&info).ok()?;
    println!("cargo:rerun-if-changed={}", info.display());
    // `"sha1": "<40 hex digits>"`; a dependency for one field would cost every build.
    let rest = &text[text.find("\"sha1\"")? + "\"sha1\"".len()..];
    let start = rest.find('"')? + 1;
    let sha: String = rest[start..].chars().take_while(char::is_ascii_hexdigit).collect();
    (sha.len() >= 12).then(|| sha[..12].to_owned())
}

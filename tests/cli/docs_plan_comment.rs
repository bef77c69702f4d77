//! docs/ci/plan-comment.md shows the comment the CI recipes post, as `rollcall plan
//! examples/quickstart/manifests --markdown` prints it from the repository's root. This
//! test runs that command and requires the page's ````markdown block to be its output,
//! byte for byte, so the page cannot fall behind the renderer. When the output changes
//! on purpose, `ROLLCALL_BLESS=1 cargo test --test cli docs_plan_comment` writes it into
//! the page; read the diff before committing it.

use std::path::Path;
use std::process::Command;

const PAGE: &str = "docs/ci/plan-comment.md";
const COMMAND: &str = "rollcall plan examples/quickstart/manifests --markdown";

#[test]
fn the_plan_comment_page_shows_what_the_command_prints() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let page = std::fs::read_to_string(root.join(PAGE)).unwrap();
    assert!(page.contains(COMMAND), "{PAGE} no longer names the command it shows");
    let out = Command::new(env!("CARGO_BIN_EXE_rollcall"))
        .args(COMMAND.split(' ').skip(1))
        .env_clear()
        .env("NO_COLOR", "1")
        .current_dir(root)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let fresh = String::from_utf8(out.stdout).unwrap();

    // The block: from the line "````markdown" to the next line "````".
    let open = "````markdown\n";
    let start = page
        .find(open)
        .unwrap_or_else(|| panic!("{PAGE} has no ````markdown block"))
        + open.len();
    let rest = &page[start..];
    let close = if rest.starts_with("````\n") {
        Some(0)
    } else {
        rest.find("\n````\n").map(|i| i + 1)
    };
    let end = start + close.unwrap_or_else(|| panic!("{PAGE}: the ````markdown block is not closed"));
    let shown = &page[start..end];
    if shown == fresh {
        return;
    }
    if std::env::var_os("ROLLCALL_BLESS").is_some_and(|v| v == "1") {
        let updated = format!("{}{fresh}{}", &page[..start], &page[end..]);
        std::fs::write(root.join(PAGE), updated).unwrap();
        eprintln!("{PAGE}: rewrote the example with the command's output");
        return;
    }
    let diff = similar::TextDiff::from_lines(shown, fresh.as_str())
        .unified_diff()
        .header(PAGE, COMMAND)
        .to_string();
    panic!("{PAGE} shows another output than `{COMMAND}` prints now; if the change is meant, run ROLLCALL_BLESS=1 cargo test --test cli docs_plan_comment\n{diff}");
}

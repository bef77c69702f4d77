//! `rollcall sandbox serve` as a person runs it: in memory unless told to save, saying so
//! truthfully, and never rewriting a state file it was not asked to; an explicit save keeps
//! the file's opening comments. Runs the binary with a cleared environment.

use crate::common;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

const TOKEN: &str = "serve-token";

/// A running `sandbox serve`, its URL and everything it printed so far.
struct Served {
    child: Child,
    url: String,
    printed: Vec<String>,
    lines: std::io::Lines<BufReader<std::process::ChildStdout>>,
}

fn serve(state: &Path, flags: &[&str]) -> Served {
    let mut child = Command::new(env!("CARGO_BIN_EXE_rollcall"))
        .args(["sandbox", "serve", state.to_str().unwrap(), "--port", "0"])
        .args(flags)
        .env_clear()
        .env("ROLLCALL_SANDBOX_TOKEN", TOKEN)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let first = lines.next().unwrap().unwrap();
    let url = first
        .split_whitespace()
        .find_map(|w| w.strip_prefix("http://"))
        .and_then(|rest| rest.split('/').next())
        .map(|authority| format!("http://{authority}"))
        .unwrap();
    let printed = vec![first, lines.next().unwrap().unwrap()];
    Served {
        child,
        url,
        printed,
        lines,
    }
}

impl Served {
    /// SIGTERM, as a process manager or Ctrl-C would stop it; returns all it printed.
    fn stop(mut self) -> String {
        let pid = self.child.id();
        let status = Command::new("sh")
            .args(["-c", &format!("kill -TERM {pid}")])
            .status()
            .unwrap();
        assert!(status.success());
        assert!(self.child.wait().unwrap().success(), "exits cleanly");
        self.printed.extend(self.lines.by_ref().map_while(Result::ok));
        self.printed.join("\n")
    }
}

/// One HTTP/1.1 request with the sandbox token; returns the status code.
fn send(url: &str, method: &str, path: &str) -> u16 {
    let authority = url.trim_start_matches("http://");
    let mut stream = TcpStream::connect(authority).unwrap();
    write!(
        stream,
        "{method} {path} HTTP/1.1\r\nHost: {authority}\r\nAuthorization: Bearer {TOKEN}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut answer = String::new();
    stream.read_to_string(&mut answer).unwrap();
    answer.split_whitespace().nth(1).unwrap().parse().unwrap()
}

/// A private copy of an example's sandbox directory, and the state file in it.
fn example_state(example: &str, file: &str) -> (tempfile::TempDir, PathBuf) {
    let tmp = tempfile::tempdir().unwrap();
    let from = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("examples")
        .join(example)
        .join("sandbox");
    common::copy_dir(&from, tmp.path());
    let path = tmp.path().join(file);
    (tmp, path)
}

const CREATE_GROUP: &str = "/rest/api/latest/admin/groups?name=newcomers";

#[test]
fn serving_changes_nothing_on_disk_unless_asked() {
    let (_tmp, state) = example_state("quickstart", "bitbucket.yaml");
    let before = std::fs::read(&state).unwrap();
    for flags in [&[][..], &["--no-save"][..]] {
        let served = serve(&state, flags);
        assert_eq!(send(&served.url, "POST", CREATE_GROUP), 200);
        let printed = served.stop();
        assert!(
            printed.contains("changes are kept in memory only"),
            "{flags:?}: {printed}"
        );
        assert!(
            !printed.contains("written") && !printed.contains("saves"),
            "{flags:?}: {printed}"
        );
        assert_eq!(
            std::fs::read(&state).unwrap(),
            before,
            "{flags:?}: the state file changed"
        );
    }
}

#[test]
fn a_scim_sandbox_is_served_in_memory_too() {
    let (_tmp, state) = example_state("northwind", "directory.yaml");
    let before = std::fs::read(&state).unwrap();
    let served = serve(&state, &[]);
    let users = "/scim/directory/northwind/Users/u-mallory";
    assert_eq!(send(&served.url, "DELETE", users), 204);
    let printed = served.stop();
    assert!(printed.contains("changes are kept in memory only"), "{printed}");
    assert_eq!(std::fs::read(&state).unwrap(), before);
}

#[test]
fn save_writes_back_and_keeps_the_opening_comments() {
    let (_tmp, state) = example_state("quickstart", "bitbucket.yaml");
    let before = std::fs::read_to_string(&state).unwrap();
    let header: String = before
        .lines()
        .take_while(|l| l.starts_with('#'))
        .map(|l| format!("{l}\n"))
        .collect();
    assert!(!header.is_empty(), "the example opens with comments");
    let served = serve(&state, &["--save"]);
    assert_eq!(send(&served.url, "POST", CREATE_GROUP), 200);
    let printed = served.stop();
    assert!(
        printed.contains(&format!("writes the state to {}", state.display())),
        "{printed}"
    );
    assert!(
        printed.contains(&format!("State written to {}", state.display())),
        "{printed}"
    );
    let after = std::fs::read_to_string(&state).unwrap();
    assert!(after.starts_with(&header), "{after}");
    assert!(after.contains("newcomers"), "{after}");
}

#[test]
fn save_to_leaves_the_state_file_alone() {
    let (tmp, state) = example_state("quickstart", "bitbucket.yaml");
    let before = std::fs::read(&state).unwrap();
    let elsewhere = tmp.path().join("after.yaml");
    let served = serve(&state, &["--save-to", elsewhere.to_str().unwrap()]);
    assert_eq!(send(&served.url, "POST", CREATE_GROUP), 200);
    let printed = served.stop();
    assert!(
        printed.contains(&format!("State written to {}", elsewhere.display())),
        "{printed}"
    );
    assert_eq!(std::fs::read(&state).unwrap(), before);
    let saved = std::fs::read_to_string(&elsewhere).unwrap();
    assert!(saved.contains("newcomers"), "{saved}");
    rollcall::sandbox::state::DcState::parse(&saved).unwrap();
}

/// `apply` on a sandbox target writes the live state back; the file's notes survive.
#[test]
fn apply_keeps_the_state_files_opening_comments() {
    let tmp = tempfile::tempdir().unwrap();
    common::copy_dir(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/northwind"),
        tmp.path(),
    );
    let files = [
        "sandbox/bitbucket.yaml",
        "sandbox/directory.yaml",
        "sandbox/buildkite.yaml",
    ];
    let headers: Vec<String> = files
        .iter()
        .map(|f| {
            let text = std::fs::read_to_string(tmp.path().join(f)).unwrap();
            text.lines()
                .take_while(|l| l.starts_with('#'))
                .map(|l| format!("{l}\n"))
                .collect()
        })
        .collect();
    let out = Command::new(env!("CARGO_BIN_EXE_rollcall"))
        .args(["apply", "manifests", "--auto-approve"])
        .env_clear()
        .current_dir(tmp.path())
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    for (file, header) in files.iter().zip(&headers) {
        assert!(!header.is_empty());
        let after = std::fs::read_to_string(tmp.path().join(file)).unwrap();
        assert!(after.starts_with(header.as_str()), "{file}: {after}");
    }
}

/// A SCIM state past the 250 000 values one manifest file may hold (as an apply of a large
/// directory leaves it) is still served as SCIM: the file's `kind` says so, and its size
/// is no reason to read it as another emulator's.
#[test]
fn a_scim_state_past_the_manifest_limit_is_served_as_scim() {
    let tmp = tempfile::tempdir().unwrap();
    let mut text = String::from("kind: scim\nusers:\n");
    for n in 0..25_000 {
        text.push_str(&format!(
            "  - {{ id: u{n}, userName: user{n}, emails: [{{ value: user{n}@example.com, primary: true }}] }}\n"
        ));
    }
    let path = tmp.path().join("directory.yaml");
    std::fs::write(&path, text).unwrap();
    let served = serve(&path, &[]);
    assert!(served.printed[0].starts_with("SCIM sandbox"), "{:?}", served.printed);
    served.stop();
}

/// A state that cannot be read, or is of the right kind and wrong, is refused with the
/// file's name and the reason, in that kind's words.
#[test]
fn an_unreadable_state_names_the_file_and_the_reason() {
    let tmp = tempfile::tempdir().unwrap();
    for (file, text, reason) in [
        (
            "broken.yaml",
            "users: [\nkind: scim\n",
            "not a sandbox state rollcall can start",
        ),
        ("truncated.yaml", "kind: scim\nusers: [\n", "is not valid"),
        ("typo.yaml", "kind: scim\nusres: []\n", "unknown field `usres`"),
        ("other.yaml", "kind: gitlab\n", "`kind: gitlab`"),
    ] {
        let path = tmp.path().join(file);
        std::fs::write(&path, text).unwrap();
        let out = Command::new(env!("CARGO_BIN_EXE_rollcall"))
            .args(["sandbox", "serve", path.to_str().unwrap(), "--port", "0"])
            .env_clear()
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{file}: {stderr}");
        assert!(stderr.contains(file) && stderr.contains(reason), "{file}: {stderr}");
    }
}

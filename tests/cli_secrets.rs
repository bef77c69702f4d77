//! The token never leaves the process: the binary runs plan, apply (with a change that
//! fails) and a wrong-token plan against an emulator over loopback, and the token appears
//! in none of their output.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::Path;

use assert_cmd::Command;
use rollcall::sandbox::bitbucket_dc::{serve, Shared};
use rollcall::sandbox::state::DcState;

const TOKEN: &str = "tok-9f8e7d6c5b4a-do-not-print";

const STATE: &str = r#"
operator: admin
licence_limit: 2
users:
  admin: { display_name: Admin, email: admin@example.com }
  ann: { display_name: Ann, email: ann@example.com }
global:
  users: { admin: SYS_ADMIN }
projects:
  PLAT: { name: Platform }
"#;

fn manifest(dir: &Path, url: &str) {
    let text = format!(
        "targets:\n  bb:\n    kind: bitbucket-datacenter\n    url: {url}\n    notify_new_users: false\n    auth:\n      username: admin\n      token: ${{env:BB_TOKEN}}\n\
         users:\n  ann: {{ name: Ann, email: ann@example.com }}\n  bo: {{ name: Bo, email: bo@example.com }}\n\
         access:\n  bb:\n    global:\n      users: {{ ann: read, bo: read }}\n    projects:\n      PLAT: {{ users: {{ ann: admin }} }}\n"
    );
    std::fs::write(dir.join("manifest.yaml"), text).unwrap();
}

fn run(dir: &Path, token: &str, args: &[&str]) -> (Option<i32>, String) {
    let out = Command::cargo_bin("rollcall")
        .unwrap()
        .env_clear()
        .env("BB_TOKEN", token)
        .env("ROLLCALL_LOG", "debug")
        .current_dir(dir)
        .args(args)
        .output()
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.code(), text)
}

#[tokio::test(flavor = "multi_thread")]
async fn the_token_appears_in_no_output() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let emulator = serve(Shared::new(DcState::parse(STATE).unwrap(), TOKEN.to_owned()), listener)
        .await
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    manifest(dir.path(), &emulator.base_url);
    let path = dir.path().to_path_buf();

    let outputs = tokio::task::spawn_blocking(move || {
        vec![
            run(&path, TOKEN, &["validate"]),
            run(&path, TOKEN, &["plan"]),
            run(&path, TOKEN, &["plan", "--json"]),
            run(&path, TOKEN, &["plan", "--markdown"]),
            // The licence allows two users: granting bo one fails with 403.
            run(&path, TOKEN, &["apply", "--auto-approve"]),
            run(&path, "wrong-token-5555", &["plan"]),
        ]
    })
    .await
    .unwrap();
    let (code, apply) = &outputs[4];
    assert_eq!(*code, Some(1), "{apply}");
    assert!(apply.contains("FAILED") && apply.contains("HTTP 403"), "{apply}");
    assert!(outputs[5].1.contains("HTTP 401"), "{}", outputs[5].1);
    for (_, text) in &outputs {
        assert!(!text.contains(TOKEN), "{text}");
        assert!(!text.contains("wrong-token-5555"), "{text}");
    }
    emulator.shutdown().await;
}

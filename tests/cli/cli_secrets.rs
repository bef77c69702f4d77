//! The token never leaves the process: the binary runs every command (validate, plan in
//! each format and saved, show, apply from the manifests and from a saved plan with an
//! audit log, a refused stale plan, a refused unsafe plan, a change that fails, retries
//! under injected faults with debug logging, a wrong token) against an emulator over
//! loopback, with the token given as Basic and as Bearer from the environment and from a
//! file; the token appears in no stdout, stderr, plan file or audit log.

use std::path::Path;

use assert_cmd::Command;
use rollcall::sandbox::bitbucket_dc::{serve, Shared};
use rollcall::sandbox::faults::FaultConfig;
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

fn manifest(dir: &Path, url: &str, auth: &str) {
    let text = format!(
        "targets:\n  bb:\n    kind: bitbucket-datacenter\n    url: {url}\n    notify_new_users: false\n    auth:\n{auth}\
         users:\n  ann: {{ name: Ann, email: ann@example.com }}\n  bo: {{ name: Bo, email: bo@example.com }}\n\
         access:\n  bb:\n    global:\n      users: {{ ann: read, bo: read }}\n    projects:\n      PLAT: {{ users: {{ ann: admin }} }}\n"
    );
    std::fs::write(dir.join("manifest.yaml"), text).unwrap();
}

fn run(dir: &Path, token: &str, args: &[&str]) -> (Option<i32>, String) {
    std::fs::write(dir.join("token.txt"), format!("{token}\n")).unwrap();
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

const BASIC_ENV: &str = "      username: admin\n      token: ${env:BB_TOKEN}\n";
const BEARER_FILE: &str = "      account: admin\n      token: ${file:token.txt}\n";

#[tokio::test(flavor = "multi_thread")]
async fn the_token_appears_in_no_output_plan_file_or_audit_log() {
    for auth in [BASIC_ENV, BEARER_FILE] {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let state = DcState::parse(STATE).unwrap();
        let shared = Shared::new(state, TOKEN.to_owned());
        // Faults make the client retry, and log each retry at debug level.
        let faults =
            FaultConfig::parse_compact("seed=3,rate_limited=0.1,unavailable=0.1,dropped=0.05,retry_after_secs=0");
        shared.instruments().set_faults(faults.unwrap()).unwrap();
        let emulator = serve(shared, listener).await.unwrap();
        let dir = tempfile::tempdir().unwrap();
        manifest(dir.path(), &emulator.base_url, auth);
        let path = dir.path().to_path_buf();
        let p = path.clone();
        let shared = emulator.shared.clone();

        let outputs = tokio::task::spawn_blocking(move || {
            let mut out = vec![
                run(&p, TOKEN, &["validate"]),
                run(&p, TOKEN, &["plan"]),
                run(&p, TOKEN, &["plan", "--json"]),
                run(&p, TOKEN, &["plan", "--markdown", "--out", "plan.json"]),
                run(&p, TOKEN, &["show", "plan.json"]),
                run(&p, TOKEN, &["show", "plan.json", "--json"]),
            ];
            // Live state moves under the saved plan: refused as stale.
            shared.with_state(|s| {
                s.users.remove("ann");
            });
            out.push(run(&p, TOKEN, &["apply", "plan.json", "--audit-log", "audit.jsonl"]));
            out.push(run(&p, TOKEN, &["plan", "--out", "plan.json"]));
            // The licence allows two users: granting bo one fails with 403.
            out.push(run(&p, TOKEN, &["apply", "plan.json", "--audit-log", "audit.jsonl"]));
            out.push(run(
                &p,
                TOKEN,
                &["apply", "--auto-approve", "--audit-log", "audit.jsonl"],
            ));
            // Deleting the account rollcall works as is refused.
            let text = std::fs::read_to_string(p.join("manifest.yaml")).unwrap();
            std::fs::write(
                p.join("manifest.yaml"),
                format!("{text}policy:\n  prune: {{ users: true }}\n  limits: {{ max_delete_percent: 100 }}\n"),
            )
            .unwrap();
            out.push(run(&p, TOKEN, &["plan", "--out", "refused.json"]));
            out.push(run(&p, "wrong-token-5555", &["plan"]));
            out
        })
        .await
        .unwrap();
        let codes: Vec<Option<i32>> = outputs.iter().map(|(c, _)| *c).collect();
        assert_eq!(codes, [0, 0, 0, 0, 0, 0, 3, 0, 1, 1, 3, 1].map(Some), "{outputs:#?}");
        let (_, apply) = &outputs[8];
        assert!(apply.contains("FAILED") && apply.contains("HTTP 403"), "{apply}");
        assert!(outputs[11].1.contains("HTTP 401"), "{}", outputs[11].1);
        assert!(
            outputs.iter().any(|(_, t)| t.contains("retry")),
            "faults were retried and logged"
        );
        let mut texts: Vec<String> = outputs.into_iter().map(|(_, t)| t).collect();
        for file in ["plan.json", "refused.json", "audit.jsonl"] {
            texts.push(std::fs::read_to_string(path.join(file)).unwrap());
        }
        for text in &texts {
            assert!(!text.contains(TOKEN), "{text}");
            assert!(!text.contains("wrong-token-5555"), "{text}");
        }
        emulator.shutdown().await;
    }
}

/// The same for a SCIM target: its bearer token (Atlassian's directory key) appears nowhere,
/// through retries, a saved plan, an apply with an audit log, a stale plan and a 401.
#[tokio::test(flavor = "multi_thread")]
async fn a_scim_token_appears_in_no_output_plan_file_or_audit_log() {
    use rollcall::sandbox::scim::{serve as serve_scim, ScimState, Shared as ScimShared};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let shared = ScimShared::new(
        ScimState::parse("kind: scim\nprofile: atlassian\n").unwrap(),
        TOKEN.to_owned(),
    );
    let faults = FaultConfig::parse_compact("seed=5,rate_limited=0.1,unavailable=0.1,dropped=0.05,retry_after_secs=0");
    shared.instruments().set_faults(faults.unwrap()).unwrap();
    let emulator = serve_scim(shared, listener).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let text = format!(
        "targets:\n  idp:\n    kind: scim\n    profile: atlassian\n    url: {}\n    auth:\n      token: ${{env:BB_TOKEN}}\n\
         users:\n  ann: {{ name: Ann Lee, email: ann@example.com }}\n  bo: {{ name: Bo Ek, email: bo@example.com }}\n\
         groups:\n  devs: {{ members: [ann, bo] }}\n",
        emulator.api_url
    );
    std::fs::write(dir.path().join("manifest.yaml"), text).unwrap();
    let p = dir.path().to_path_buf();
    let outputs = tokio::task::spawn_blocking(move || {
        vec![
            run(&p, TOKEN, &["validate"]),
            run(&p, TOKEN, &["plan", "--json"]),
            run(&p, TOKEN, &["plan", "--markdown", "--out", "plan.json"]),
            run(&p, TOKEN, &["show", "plan.json"]),
            run(&p, TOKEN, &["apply", "plan.json", "--audit-log", "audit.jsonl"]),
            // Applied already: the saved plan is refused as stale.
            run(&p, TOKEN, &["apply", "plan.json", "--audit-log", "audit.jsonl"]),
            run(&p, "wrong-token-5555", &["plan"]),
        ]
    })
    .await
    .unwrap();
    let codes: Vec<Option<i32>> = outputs.iter().map(|(c, _)| *c).collect();
    assert_eq!(codes, [0, 0, 0, 0, 0, 3, 1].map(Some), "{outputs:#?}");
    assert!(outputs[6].1.contains("HTTP 401"), "{}", outputs[6].1);
    let mut texts: Vec<String> = outputs.into_iter().map(|(_, t)| t).collect();
    for file in ["plan.json", "audit.jsonl"] {
        texts.push(std::fs::read_to_string(dir.path().join(file)).unwrap());
    }
    for text in &texts {
        assert!(!text.contains(TOKEN) && !text.contains("wrong-token-5555"), "{text}");
    }
    emulator.shutdown().await;
}

//! The CI recipes in `examples/ci/`: each file is checked by its CI's schema
//! (`check-jsonschema`'s builtin vendor schemas), the GitHub workflows by `actionlint`
//! (with ShellCheck over their `run:` scripts), the other files' scripts by ShellCheck;
//! and the scripts themselves run for real against the quickstart's sandbox, with
//! stand-ins for `gh`, `buildkite-agent` and `curl` on PATH (`ci_recipes/stubs.rs`)
//! that keep what they were sent, so the exit-code handling, the comment upsert and the digest hand-over are
//! exercised as CI would run them.
//!
//! The tools come from `.venv` (`scripts/test` installs them, pinned), found as
//! `tests/common/scim_server.rs` finds its Python: next to `ROLLCALL_PYTHON`, else in the
//! repository's `.venv`. Missing tools fail the tests, with that hint; they never skip.

use crate::common;

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::{json, Value};

mod stubs;
use stubs::{BUILDKITE_AGENT, CURL, GH};

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// A tool installed into `.venv/bin` by `scripts/test`.
fn tool(name: &str) -> PathBuf {
    let python = std::env::var_os("ROLLCALL_PYTHON")
        .map(PathBuf::from)
        .unwrap_or_else(|| root().join(".venv/bin/python"));
    // Not canonicalized: `.venv/bin/python` links out of the venv; the tools are beside it.
    let path = python.parent().map(|d| d.join(name)).unwrap_or_default();
    assert!(
        path.is_file(),
        "no {name} at {}: run scripts/test, which creates .venv and installs it (or set \
         ROLLCALL_PYTHON to an interpreter whose bin directory has it)",
        path.display()
    );
    path
}

fn recipe(path: &str) -> Value {
    let text = std::fs::read_to_string(root().join("examples/ci").join(path)).unwrap();
    serde_saphyr::from_str(&text).unwrap_or_else(|e| panic!("examples/ci/{path}: {e}"))
}

fn output(cmd: &mut Command) -> (i32, String) {
    let out = cmd.output().unwrap_or_else(|e| panic!("{cmd:?}: {e}"));
    (
        out.status.code().unwrap_or(-1),
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
    )
}

// ---------------------------------------------------------------------------------------
// Static checks

#[test]
fn the_github_workflows_pass_actionlint_and_shellcheck() {
    let shellcheck = tool("shellcheck");
    let (code, out) = output(
        Command::new(tool("actionlint"))
            .arg("-shellcheck")
            .arg(&shellcheck)
            .args(["-pyflakes", "", "-oneline", "github/rollcall.yml", "github/drift.yml"])
            .current_dir(root().join("examples/ci")),
    );
    assert_eq!(code, 0, "actionlint:\n{out}");
}

#[test]
fn every_recipe_matches_its_ci_schema() {
    for (file, schema) in [
        ("github/rollcall.yml", "vendor.github-workflows"),
        ("github/drift.yml", "vendor.github-workflows"),
        ("bitbucket-pipelines.yml", "vendor.bitbucket-pipelines"),
        ("buildkite/pipeline.yml", "vendor.buildkite"),
    ] {
        let (code, out) = output(
            Command::new(tool("check-jsonschema"))
                .args(["--builtin-schema", schema, file])
                .current_dir(root().join("examples/ci")),
        );
        assert_eq!(code, 0, "{file} against {schema}:\n{out}");
    }
}

/// Buildkite's commands, as the agent runs them: `$$` is Buildkite's escape for `$`.
fn buildkite_command(key: &str) -> String {
    let pipeline = recipe("buildkite/pipeline.yml");
    let step = pipeline["steps"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["key"] == key)
        .unwrap_or_else(|| panic!("no step {key}"));
    step["command"].as_str().unwrap().replace("$$", "$")
}

/// A Bitbucket step's script items, run one after the other in one shell.
fn bitbucket_script(pipeline: &str) -> String {
    let file = recipe("bitbucket-pipelines.yml");
    let steps = match pipeline {
        "pull-requests" => &file["pipelines"]["pull-requests"]["**"],
        _ => &file["pipelines"]["branches"][pipeline],
    };
    let script = steps[0]["step"]["script"].as_array().unwrap();
    script.iter().map(|s| format!("{}\n", s.as_str().unwrap())).collect()
}

/// A GitHub Actions step's script, by the step's `id` or `name`.
fn github_run(file: &str, job: &str, step: &str) -> String {
    let workflow = recipe(file);
    let steps = workflow["jobs"][job]["steps"].as_array().unwrap();
    let found = steps
        .iter()
        .find(|s| s["id"] == step || s["name"] == step)
        .unwrap_or_else(|| panic!("{file}: no step {step} in {job}"));
    found["run"].as_str().unwrap().to_owned()
}

#[test]
fn the_buildkite_and_bitbucket_scripts_pass_shellcheck() {
    let scripts = [
        ("buildkite plan", buildkite_command("plan")),
        ("buildkite apply", buildkite_command("apply")),
        ("bitbucket pull-requests", bitbucket_script("pull-requests")),
        ("bitbucket main", bitbucket_script("main")),
    ];
    for (name, script) in scripts {
        let mut child = Command::new(tool("shellcheck"))
            .args(["--shell", "bash", "-"])
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        std::io::Write::write_all(&mut child.stdin.take().unwrap(), script.as_bytes()).unwrap();
        let out = child.wait_with_output().unwrap();
        assert!(
            out.status.success(),
            "{name}:\n{}\n{script}",
            String::from_utf8_lossy(&out.stdout)
        );
    }
}

// ---------------------------------------------------------------------------------------
// The scripts, run

/// A CI workspace: a checkout of the quickstart, a directory of stand-ins first on PATH
/// (with `rollcall` itself), and a directory where the stand-ins keep their state.
struct Workspace {
    _tmp: tempfile::TempDir,
    checkout: PathBuf,
    bin: PathBuf,
    state: PathBuf,
}

impl Workspace {
    fn new() -> Workspace {
        let tmp = tempfile::tempdir().unwrap();
        let checkout = tmp.path().join("checkout");
        common::copy_dir(&root().join("examples/quickstart"), &checkout);
        let bin = tmp.path().join("bin");
        let state = tmp.path().join("state");
        std::fs::create_dir_all(&bin).unwrap();
        std::fs::create_dir_all(&state).unwrap();
        std::os::unix::fs::symlink(env!("CARGO_BIN_EXE_rollcall"), bin.join("rollcall")).unwrap();
        Workspace {
            _tmp: tmp,
            checkout,
            bin,
            state,
        }
    }

    fn stub(&self, name: &str, script: &str) {
        use std::os::unix::fs::PermissionsExt as _;
        let path = self.bin.join(name);
        std::fs::write(&path, script).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
    }

    /// Runs `script` with bash as the CI would (`flags`), in the checkout, with `env`.
    fn run(&self, flags: &[&str], script: &str, env: &[(&str, &str)]) -> (i32, String) {
        let path = format!("{}:/usr/local/bin:/usr/bin:/bin", self.bin.display());
        output(
            Command::new("bash")
                .args(flags)
                .arg("-c")
                .arg(script)
                .env_clear()
                .env("PATH", path)
                .env("HOME", self.state.as_os_str())
                .env("NO_COLOR", "1")
                .env("STATE", &self.state)
                .envs(env.iter().copied())
                .current_dir(&self.checkout),
        )
    }

    fn read(&self, name: &str) -> String {
        std::fs::read_to_string(self.state.join(name)).unwrap_or_default()
    }

    fn write(&self, name: &str, text: &str) {
        std::fs::write(self.state.join(name), text).unwrap();
    }

    /// What `rollcall` prints in the checkout (stdout only).
    fn rollcall(&self, args: &[&str]) -> String {
        let out = Command::new(env!("CARGO_BIN_EXE_rollcall"))
            .args(args)
            .env_clear()
            .env("NO_COLOR", "1")
            .current_dir(&self.checkout)
            .output()
            .unwrap();
        String::from_utf8(out.stdout).unwrap()
    }
}

#[test]
fn buildkite_plan_annotates_by_exit_code_and_apply_runs_exactly_that_file() {
    let ws = Workspace::new();
    ws.stub("buildkite-agent", BUILDKITE_AGENT);
    let env = [("ROLLCALL_MANIFESTS", "manifests")];
    let (code, out) = ws.run(&["-e"], &buildkite_command("plan"), &env);
    // Changes (2) pass the step; the annotation is the plan, styled as news.
    assert_eq!(code, 0, "{out}");
    let markdown = ws.rollcall(&["plan", "manifests", "--markdown"]);
    assert_eq!(ws.read("annotation-rollcall-plan.md"), markdown);
    assert_eq!(ws.read("annotation-rollcall-plan.style").trim(), "info");
    let digest = ws.rollcall(&["show", "plan.json", "--digest"]);
    assert_eq!(ws.read("meta-rollcall-plan-digest"), digest.trim());
    assert_eq!(ws.read("meta-rollcall-plan-exit"), "2");

    // The apply step on another agent: a fresh checkout, the plan step's artifact.
    let other = Workspace::new();
    other.stub("buildkite-agent", BUILDKITE_AGENT);
    std::fs::create_dir_all(other.state.join("artifacts")).unwrap();
    for name in ["meta-rollcall-plan-digest", "meta-rollcall-plan-exit"] {
        other.write(name, &ws.read(name));
    }
    // A plan file that is not the planned one is refused, and nothing changes.
    let mut forged = std::fs::read_to_string(ws.checkout.join("plan.json")).unwrap();
    forged.push('\n');
    std::fs::write(other.state.join("artifacts/plan.json"), forged).unwrap();
    let (code, out) = other.run(&["-e"], &buildkite_command("apply"), &env);
    assert_eq!(code, 3, "{out}");
    assert_eq!(other.read("annotation-rollcall-apply.style").trim(), "error");
    assert!(other
        .read("annotation-rollcall-apply.md")
        .starts_with("### rollcall apply (exit 3)"));
    std::fs::copy(ws.checkout.join("plan.json"), other.state.join("artifacts/plan.json")).unwrap();
    let (code, out) = other.run(&["-e"], &buildkite_command("apply"), &env);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("Apply complete: 29 applied"), "{out}");
    assert_eq!(other.read("annotation-rollcall-apply.style").trim(), "success");
    assert!(other.read("annotation-rollcall-apply.md").contains(digest.trim()));
    assert!(other.checkout.join("audit.jsonl").is_file());

    // Applied: the next plan has no changes (0), a success, and the apply step has
    // nothing to do.
    let (code, out) = other.run(&["-e"], &buildkite_command("plan"), &env);
    assert_eq!(code, 0, "{out}");
    assert_eq!(other.read("annotation-rollcall-plan.style").trim(), "success");
    assert!(other.read("annotation-rollcall-plan.md").contains("**No changes.**"));
    let (code, out) = other.run(&["-e"], &buildkite_command("apply"), &env);
    assert_eq!((code, out.trim()), (0, "No changes: nothing to apply."));
}

#[test]
fn buildkite_plan_fails_the_step_on_an_error_or_a_refusal_and_still_annotates() {
    let ws = Workspace::new();
    ws.stub("buildkite-agent", BUILDKITE_AGENT);
    let (code, out) = ws.run(
        &["-e"],
        &buildkite_command("plan"),
        &[("ROLLCALL_MANIFESTS", "missing")],
    );
    assert_eq!(code, 1, "{out}");
    assert_eq!(ws.read("annotation-rollcall-plan.style").trim(), "error");
    assert!(ws
        .read("annotation-rollcall-plan.md")
        .contains("**The plan failed** (exit 1)"));
    assert_eq!(ws.read("meta-rollcall-plan-digest"), "");
    // A safety rule refuses the plan: exit 3, the refusal shown.
    std::fs::write(
        ws.checkout.join("manifests/policy.yaml"),
        "policy:\n  protect: [judy]\n",
    )
    .unwrap();
    let (code, out) = ws.run(
        &["-e"],
        &buildkite_command("plan"),
        &[("ROLLCALL_MANIFESTS", "manifests")],
    );
    assert_eq!(code, 3, "{out}");
    assert_eq!(ws.read("annotation-rollcall-plan.style").trim(), "error");
    assert!(ws.read("annotation-rollcall-plan.md").contains("**Refused:**"));
}

/// The environment GitHub gives a run, for repository `acme/access`.
fn github_env<'a>(ws: &'a Workspace, extra: &[(&'a str, &'a str)]) -> Vec<(&'a str, String)> {
    let mut env = vec![
        ("ROLLCALL_MANIFESTS", "manifests".to_owned()),
        ("ROLLCALL_LABEL", "access".to_owned()),
        ("GITHUB_REPOSITORY", "acme/access".to_owned()),
        ("GITHUB_SERVER_URL", "https://github.com".to_owned()),
        ("GITHUB_RUN_ID", "42".to_owned()),
        ("GITHUB_OUTPUT", ws.state.join("output").display().to_string()),
        ("GITHUB_STEP_SUMMARY", ws.state.join("summary.md").display().to_string()),
        ("GH_TOKEN", "token".to_owned()),
    ];
    env.extend(extra.iter().map(|(k, v)| (*k, (*v).to_owned())));
    env
}

/// GitHub runs `run:` scripts with `bash --noprofile --norc -eo pipefail`.
fn github_step(ws: &Workspace, file: &str, job: &str, step: &str, extra: &[(&str, &str)]) -> (i32, String) {
    let env = github_env(ws, extra);
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    ws.run(
        &["--noprofile", "--norc", "-eo", "pipefail"],
        &github_run(file, job, step),
        &env,
    )
}

fn comments(ws: &Workspace) -> Vec<Value> {
    serde_json::from_str::<Value>(&ws.read("comments.json"))
        .unwrap()
        .as_array()
        .unwrap()
        .clone()
}

#[test]
fn github_plan_posts_one_comment_with_the_digest_and_the_merge_applies_that_plan() {
    let ws = Workspace::new();
    ws.stub("gh", GH);
    // Someone else's comment that imitates the marker is never taken for the plan's.
    let forged = "<!-- rollcall:plan:access digest=sha256:0000000000000000000000000000000000000000000000000000000000000000 -->\nlooks legit";
    ws.write(
        "comments.json",
        &json!([{ "id": 1, "user": { "login": "mallory" }, "body": forged }]).to_string(),
    );
    let pr = [("PR_NUMBER", "7")];
    let rollcall = "github/rollcall.yml";
    let (code, out) = github_step(&ws, rollcall, "plan", "plan", &pr);
    assert_eq!(code, 0, "{out}");
    assert_eq!(ws.read("output"), "code=2\n");
    let (code, out) = github_step(&ws, rollcall, "plan", "Comment on the pull request", &pr);
    assert_eq!(code, 0, "{out}");
    let digest = ws.rollcall(&["show", "plan.json", "--digest"]).trim().to_owned();
    let markdown = ws.rollcall(&["plan", "manifests", "--markdown"]);
    let body = format!("<!-- rollcall:plan:access digest={digest} -->\n{markdown}");
    let posted = comments(&ws);
    assert_eq!(posted.len(), 2);
    assert_eq!(posted[0]["body"], forged);
    assert_eq!(posted[1]["body"], body.as_str());
    // The step summary has the plan, with the same digest.
    assert!(ws.read("summary.md").contains(&format!("plan `{digest}`")));
    // Planned again (another push to the pull request): the same comment, updated.
    let (code, out) = github_step(&ws, rollcall, "plan", "plan", &pr);
    assert_eq!(code, 0, "{out}");
    let (code, out) = github_step(&ws, rollcall, "plan", "Comment on the pull request", &pr);
    assert_eq!(code, 0, "{out}");
    assert_eq!(comments(&ws).len(), 2);
    assert!(ws
        .read("gh.log")
        .contains("--method PATCH repos/acme/access/issues/comments/1001"));
    // The job's result: changes pass, a refusal or an error fail.
    for (exit, expect) in [("2", 0), ("0", 0), ("3", 3), ("1", 1), ("130", 1)] {
        let (code, out) = github_step(&ws, rollcall, "plan", "Result", &[("CODE", exit)]);
        assert_eq!(code, expect, "exit {exit}: {out}");
    }

    // Merged: the commit's pull request is #7; the digest is the bot's comment's.
    ws.write(
        "pulls.json",
        &json!([{ "number": 7, "merged_at": "2026-11-02T10:00:00Z", "base": { "ref": "main" } }]).to_string(),
    );
    std::fs::remove_file(ws.state.join("output")).unwrap();
    let push = [("EVENT", "push"), ("GITHUB_SHA", "abc123"), ("INPUT_DIGEST", "")];
    let (code, out) = github_step(&ws, rollcall, "apply", "reviewed", &push);
    assert_eq!(code, 0, "{out}");
    assert_eq!(ws.read("output"), format!("digest={digest}\n"));
    std::fs::remove_file(ws.checkout.join("plan.json")).unwrap();
    let (code, out) = github_step(
        &ws,
        rollcall,
        "apply",
        "Plan again and apply the reviewed plan",
        &[("DIGEST", &digest)],
    );
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("Apply complete: 29 applied"), "{out}");
    // Applied: planning again finds nothing to do.
    let (code, out) = github_step(
        &ws,
        rollcall,
        "apply",
        "Plan again and apply the reviewed plan",
        &[("DIGEST", &digest)],
    );
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("No changes: nothing to apply."), "{out}");
}

#[test]
fn github_apply_refuses_a_plan_other_than_the_reviewed_one() {
    let ws = Workspace::new();
    ws.stub("gh", GH);
    ws.write("comments.json", "[]");
    ws.write("pulls.json", "[]");
    // No pull request for the commit (a push straight to main): nothing was reviewed.
    let push = [("EVENT", "push"), ("GITHUB_SHA", "abc123"), ("INPUT_DIGEST", "")];
    let (code, out) = github_step(&ws, "github/rollcall.yml", "apply", "reviewed", &push);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("was not merged from a pull request"), "{out}");
    // A pull request whose only marker is someone else's.
    ws.write(
        "pulls.json",
        &json!([{ "number": 7, "merged_at": "2026-11-02T10:00:00Z", "base": { "ref": "main" } }]).to_string(),
    );
    ws.write(
        "comments.json",
        &json!([{ "id": 1, "user": { "login": "mallory" }, "body": "<!-- rollcall:plan:access digest=sha256:0000000000000000000000000000000000000000000000000000000000000000 -->" }]).to_string(),
    );
    let (code, out) = github_step(&ws, "github/rollcall.yml", "apply", "reviewed", &push);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("carries no rollcall plan comment"), "{out}");
    // A digest that is not the plan's (the manifests or live state moved since the
    // review): refused, nothing changed.
    let before = std::fs::read_to_string(ws.checkout.join("sandbox/bitbucket.yaml")).unwrap();
    let stale = [(
        "DIGEST",
        "sha256:1111111111111111111111111111111111111111111111111111111111111111",
    )];
    let (code, out) = github_step(
        &ws,
        "github/rollcall.yml",
        "apply",
        "Plan again and apply the reviewed plan",
        &stale,
    );
    assert_eq!(code, 3, "{out}");
    assert_eq!(
        std::fs::read_to_string(ws.checkout.join("sandbox/bitbucket.yaml")).unwrap(),
        before
    );
    // By hand without a digest: plans and says which digest to give.
    let (code, out) = github_step(
        &ws,
        "github/rollcall.yml",
        "apply",
        "Plan again and apply the reviewed plan",
        &[("DIGEST", "")],
    );
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("::notice::planned sha256:"), "{out}");
}

fn issues(ws: &Workspace) -> Vec<Value> {
    serde_json::from_str::<Value>(&ws.read("issues.json"))
        .unwrap()
        .as_array()
        .unwrap()
        .clone()
}

#[test]
fn github_drift_opens_one_issue_updates_it_and_closes_it_when_the_drift_is_gone() {
    let ws = Workspace::new();
    ws.stub("gh", GH);
    // An issue someone else opened with the marker and the label is not the workflow's.
    ws.write(
        "issues.json",
        &json!([{ "number": 1, "state": "open", "labels": ["rollcall-drift"], "user": { "login": "mallory" }, "body": "<!-- rollcall:drift:access -->\nfake" }]).to_string(),
    );
    let step = "Plan, and open, update or close the drift issue";
    let (code, out) = github_step(&ws, "github/drift.yml", "drift", step, &[]);
    assert_eq!(code, 0, "{out}");
    let markdown = ws.rollcall(&["plan", "manifests", "--markdown"]);
    let all = issues(&ws);
    assert_eq!(all.len(), 2, "{all:?}");
    assert_eq!(all[1]["labels"], json!(["rollcall-drift"]));
    assert_eq!(all[1]["title"], "rollcall: live state has drifted from manifests");
    let body = all[1]["body"].as_str().unwrap();
    assert!(
        body.starts_with(&format!("<!-- rollcall:drift:access -->\n{markdown}")),
        "{body}"
    );
    // Still drifted: the same issue, updated.
    let (code, out) = github_step(&ws, "github/drift.yml", "drift", step, &[]);
    assert_eq!(code, 0, "{out}");
    assert_eq!(issues(&ws).len(), 2);
    assert!(out.contains("Updated issue #2."), "{out}");
    // Applied: no drift, so the issue is closed with a comment; mallory's stays open.
    let (code, _, stderr) = common::run_in(&ws.checkout, &["apply", "manifests", "--auto-approve"]);
    assert_eq!(code, Some(0), "{stderr}");
    let (code, out) = github_step(&ws, "github/drift.yml", "drift", step, &[]);
    assert_eq!(code, 0, "{out}");
    let all = issues(&ws);
    assert_eq!(
        (all[0]["state"].as_str(), all[1]["state"].as_str()),
        (Some("open"), Some("closed"))
    );
    assert_eq!(all[1]["state_reason"], "completed");
    assert!(ws.read("issue-comments.txt").starts_with("No drift any more"));
    let (code, out) = github_step(&ws, "github/drift.yml", "drift", step, &[]);
    assert_eq!((code, out.trim()), (0, "No drift."));
    // A plan that fails is the run's failure, and touches no issue.
    let before = ws.read("issues.json");
    let (code, out) = github_step(
        &ws,
        "github/drift.yml",
        "drift",
        step,
        &[("ROLLCALL_MANIFESTS", "missing")],
    );
    assert_eq!(code, 1, "{out}");
    assert_eq!(ws.read("issues.json"), before);
}

#[test]
fn bitbucket_plan_upserts_its_comment_and_main_applies_the_plan_it_carried() {
    let ws = Workspace::new();
    ws.stub("curl", CURL);
    // The recipe's manifest directory is `access`.
    std::fs::rename(ws.checkout.join("manifests"), ws.checkout.join("access")).unwrap();
    let forged =
        "<!-- rollcall:plan:access digest=sha256:0000000000000000000000000000000000000000000000000000000000000000 -->";
    ws.write(
        "bb-comments.json",
        &json!([
            { "id": 1, "user": { "uuid": "{someone}" }, "content": { "raw": "LGTM" } },
            { "id": 2, "user": { "uuid": "{mallory}" }, "content": { "raw": forged } },
            { "id": 3, "user": { "uuid": "{bot}" }, "deleted": true, "content": { "raw": forged } },
        ])
        .to_string(),
    );
    let env = [
        ("BITBUCKET_REPO_FULL_NAME", "acme/access"),
        ("BITBUCKET_PR_ID", "7"),
        ("BITBUCKET_BRANCH", "main"),
        ("BITBUCKET_COMMIT", "abcdef1234567890abcdef1234567890abcdef12"),
        ("ROLLCALL_PR_TOKEN", "pr-token"),
        ("ROLLCALL_COMMENTER", "{bot}"),
    ];
    let script = bitbucket_script("pull-requests");
    let (code, out) = ws.run(&["-e"], &script, &env);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("Plan comment 103 by {bot}"), "{out}");
    let digest = ws.rollcall(&["show", "plan.json", "--digest"]).trim().to_owned();
    let markdown = ws.rollcall(&["plan", "access", "--markdown"]);
    let read = |ws: &Workspace| serde_json::from_str::<Value>(&ws.read("bb-comments.json")).unwrap();
    let posted = read(&ws);
    assert_eq!(posted.as_array().unwrap().len(), 4);
    assert_eq!(
        posted[3]["content"]["raw"],
        format!("<!-- rollcall:plan:access digest={digest} -->\n{markdown}").as_str()
    );
    // Again: the same comment, updated in place.
    let (code, out) = ws.run(&["-e"], &script, &env);
    assert_eq!(code, 0, "{out}");
    assert_eq!(read(&ws).as_array().unwrap().len(), 4);
    assert!(ws.read("curl.log").contains("-X PUT"), "{}", ws.read("curl.log"));

    // Merged as abcdef123456: pull request 7; its comment by {bot} carries the digest.
    ws.write(
        "bb-merged.json",
        &json!({ "values": [
            { "id": 6, "merge_commit": { "hash": "0123456789ab" } },
            { "id": 7, "merge_commit": { "hash": "abcdef123456" } },
        ] })
        .to_string(),
    );
    std::fs::remove_file(ws.checkout.join("plan.json")).unwrap();
    let main = bitbucket_script("main");
    let without: Vec<(&str, &str)> = env
        .iter()
        .copied()
        .filter(|(k, _)| *k != "ROLLCALL_COMMENTER")
        .collect();
    let (code, out) = ws.run(&["-e"], &main, &without);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("ROLLCALL_COMMENTER is not set"), "{out}");
    let (code, out) = ws.run(&["-e"], &main, &env);
    assert_eq!(code, 0, "{out}");
    assert!(
        out.contains(&format!("Pull request #7 showed the plan {digest}")),
        "{out}"
    );
    assert!(out.contains("Apply complete: 29 applied"), "{out}");
    assert!(ws.read("bb-query").contains("q=destination.branch.name=\"main\""));
    // Nothing left: planning again ends the step.
    let (code, out) = ws.run(&["-e"], &main, &env);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("No changes: nothing to apply."), "{out}");
}

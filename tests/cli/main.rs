//! End-to-end tests of the `rollcall` binary: exit codes, the examples, saved plans, secrets,
//! the sandbox command, import, every documented snippet, manifest diagnostics, JSON logs
//! and the live progress on a terminal.
//! One test binary for all of them: each links the whole crate, so fewer binaries
//! build faster.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[path = "../common/mod.rs"]
mod common;

mod access_report_browser;
mod ci_recipes;
mod cli_access;
mod cli_audit_log;
mod cli_bitbucket_cloud;
mod cli_buildkite;
mod cli_buildkite_sso;
mod cli_exit_codes;
mod cli_group_sync;
mod cli_import;
mod cli_install;
mod cli_logs;
mod cli_markdown_limit;
mod cli_quickstart;
mod cli_sandbox_serve;
mod cli_saved_plans;
mod cli_secrets;
mod cli_two_targets;
mod docs_plan_comment;
mod docs_snippets;
mod manifest_diagnostics;

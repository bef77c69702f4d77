//! `rollcall sandbox serve`: runs an emulator for people and other tools, on loopback
//! only. The state file says which: the registry's emulator whose `kind` the file names
//! at its top (`kind: scim`).

use std::path::PathBuf;

use super::error::{CliError, EXIT_OK};
use super::interrupt::Signals;

/// Run the built-in emulators
#[derive(Debug, clap::Subcommand)]
pub enum Command {
    Serve(ServeArgs),
}

/// Serve a sandbox (any built-in emulator) on 127.0.0.1 until interrupted
///
/// The state file's `kind` says which: Bitbucket Data Center (the REST API under
/// http://127.0.0.1:PORT/rest; a state without `kind` is one), SCIM (`kind: scim`, under
/// /scim/v2, or /scim/directory/ID for the atlassian profile), Atlassian Cloud (Bitbucket
/// Cloud under /2.0, the Organizations API under /admin), Buildkite (GraphQL at POST /v1,
/// the REST call that enables teams under /v2), or an identity source (Okta, Entra ID,
/// Google Workspace). Its first lines say where it listens and how to authenticate with
/// the token from ROLLCALL_SANDBOX_TOKEN, as the vendor's clients do (Bearer for most).
/// Ctrl-C (or SIGTERM) stops it. Changes live in memory only unless --save (write them
/// back to STATE) or --save-to PATH is given. Faults (latency, 429, 503, dropped
/// connections) come from the state's `faults` section or ROLLCALL_SANDBOX_FAULTS, e.g.
/// seed=7,latency_ms=5,rate_limited=0.1,dropped=0.05.
#[derive(Debug, clap::Args)]
pub struct ServeArgs {
    /// Sandbox state file (YAML)
    path: PathBuf,
    /// Port to listen on (0 picks a free one)
    #[arg(long, default_value_t = 7990)]
    port: u16,
    /// Token the sandbox accepts
    #[arg(
        long,
        env = "ROLLCALL_SANDBOX_TOKEN",
        hide_env_values = true,
        default_value = "sandbox"
    )]
    token: String,
    /// Write the state back to STATE when stopped (comments at its top are kept)
    #[arg(long, conflicts_with = "save_to")]
    save: bool,
    /// Write the state to PATH when stopped, leaving STATE as it is
    #[arg(long, value_name = "PATH")]
    save_to: Option<PathBuf>,
    /// Keep changes in memory only (the default; kept for scripts that pass it)
    #[arg(long = "no-save", hide = true, conflicts_with_all = ["save", "save_to"])]
    _no_save: bool,
}

impl ServeArgs {
    /// Where the state goes when the server stops, if anywhere. Serving is in memory by
    /// default: following the documentation against a committed example must not rewrite it.
    fn save_path(&self) -> Option<&std::path::Path> {
        match (&self.save_to, self.save) {
            (Some(path), _) => Some(path),
            (None, true) => Some(&self.path),
            (None, false) => None,
        }
    }

    /// The line printed at startup that says what happens to changes on exit.
    fn on_stop(&self) -> String {
        match self.save_path() {
            Some(path) => format!("Ctrl-C stops it and writes the state to {}.", path.display()),
            None => format!(
                "Ctrl-C stops it; changes are kept in memory only and {} is not changed (--save writes them back).",
                self.path.display()
            ),
        }
    }
}

pub async fn run(cmd: Command) -> Result<u8, CliError> {
    let Command::Serve(args) = cmd;
    let text = std::fs::read_to_string(&args.path)
        .map_err(|e| CliError::new(format!("cannot read sandbox state {}: {e}", args.path.display())))?;
    let kind = crate::provider::registry::sandbox_kind_of(&text).map_err(|reason| {
        CliError::new(format!(
            "{} is not a sandbox state rollcall can start: {reason}",
            args.path.display()
        ))
    })?;
    let listener = listen(args.port).await?;
    // Listening before the server says it is ready: a signal sent right after that line
    // would otherwise kill the process unsaved.
    let mut stop = Signals::new();
    let launched = (kind.start)(&args.path, &text, args.token.clone(), listener, None)
        .await
        .map_err(CliError::new)?;
    println!(
        "{} at {} (state: {})",
        launched.name,
        launched.api_url,
        args.path.display()
    );
    println!(
        "Authenticate with {} from ROLLCALL_SANDBOX_TOKEN (default: sandbox). {}",
        launched.credentials,
        args.on_stop()
    );
    let running = launched.emulator;
    let faults = running.instruments().faults();
    if faults.is_active() {
        println!("Faults on: {faults}");
    }
    stop.recv().await;
    if faults.is_active() {
        println!("Faults: {}", running.instruments().fault_counts());
    }
    let saved = args.save_path().map(|path| running.save(path).map(|()| path));
    running.shutdown().await;
    if let Some(saved) = saved {
        let path = saved.map_err(|e| CliError::new(e.to_string()))?;
        println!("State written to {}", path.display());
    }
    Ok(EXIT_OK)
}

async fn listen(port: u16) -> Result<tokio::net::TcpListener, CliError> {
    tokio::net::TcpListener::bind(("127.0.0.1", port)).await.map_err(|e| {
        CliError::new(format!("cannot listen on 127.0.0.1:{port}: {e}"))
            .hint("pick another --port, or 0 for any free one")
    })
}

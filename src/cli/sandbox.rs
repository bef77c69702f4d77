//! `rollcall sandbox serve`: runs the Bitbucket Data Center or the SCIM emulator for
//! people and other tools, on loopback only. The state file says which: a SCIM state has
//! `kind: scim` at the top.

use std::path::PathBuf;

use super::error::{CliError, EXIT_OK};
use super::interrupt::Signals;
use crate::sandbox::bitbucket_dc::DcEmulator;
use crate::sandbox::host::{self, Emulator};
use crate::sandbox::scim::{self, ScimEmulator};
use crate::sandbox::state::{parse_at, DcState, StateError, StateFile};

/// Run the built-in emulators
#[derive(Debug, clap::Subcommand)]
pub enum Command {
    Serve(ServeArgs),
}

/// Serve a Bitbucket Data Center or SCIM sandbox on 127.0.0.1 until interrupted
///
/// The REST API is under http://127.0.0.1:PORT/rest; a SCIM state (`kind: scim`) is
/// served under /scim/v2, or /scim/directory/ID for the atlassian profile. Requests authenticate with the
/// token in ROLLCALL_SANDBOX_TOKEN (Bearer, or Basic with the state's operator as the
/// username). Ctrl-C (or SIGTERM) stops it. Changes live in memory only unless --save
/// (write them back to STATE) or --save-to PATH is given. Faults (latency, 429, 503,
/// dropped connections) come from the state's `faults` section or ROLLCALL_SANDBOX_FAULTS,
/// e.g. seed=7,latency_ms=5,rate_limited=0.1,dropped=0.05.
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
    let invalid = |e: StateError| CliError::new(e.to_string());
    if scim::state::is_scim_state(&text) {
        let state = parse_at(&args.path, &text, scim::ScimState::parse).map_err(invalid)?;
        let name = format!("SCIM sandbox ({} profile)", state.profile.as_str());
        return serve_until_stopped::<ScimEmulator>(&args, state, &name, "Bearer and the token").await;
    }
    let state = parse_at(&args.path, &text, DcState::parse).map_err(invalid)?;
    serve_until_stopped::<DcEmulator>(&args, state, "Bitbucket Data Center sandbox", "the token").await
}

/// Serves `state` until Ctrl-C or SIGTERM, then saves it if asked. `name` and
/// `credentials` are for the two lines that say what runs and how to authenticate.
async fn serve_until_stopped<E: Emulator>(
    args: &ServeArgs,
    state: E::State,
    name: &str,
    credentials: &str,
) -> Result<u8, CliError> {
    let listener = listen(args.port).await?;
    // Listening before the server says it is ready: a signal sent right after that line
    // would otherwise kill the process unsaved.
    let mut stop = Signals::new();
    let running = host::start::<E>(state, args.token.clone(), listener)
        .await
        .map_err(|e| CliError::new(e.to_string()))?;
    println!("{name} at {} (state: {})", running.api_url, args.path.display());
    println!(
        "Authenticate with {credentials} from ROLLCALL_SANDBOX_TOKEN (default: sandbox). {}",
        args.on_stop()
    );
    let faults = running.shared.instruments().faults();
    if faults.is_active() {
        println!("Faults on: {faults}");
    }
    stop.recv().await;
    if faults.is_active() {
        println!("Faults: {}", running.shared.instruments().fault_counts());
    }
    let state = running.shared.state();
    running.shutdown().await;
    if let Some(path) = args.save_path() {
        state.save(path).map_err(|e| CliError::new(e.to_string()))?;
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

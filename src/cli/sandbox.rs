//! `rollcall sandbox serve`: runs the Bitbucket Data Center or the SCIM emulator for
//! people and other tools, on loopback only. The state file says which: a SCIM state has
//! `kind: scim` at the top.

use std::path::PathBuf;

use super::error::{CliError, EXIT_OK};
use crate::sandbox::bitbucket_dc::{serve, Shared};
use crate::sandbox::scim;
use crate::sandbox::state::DcState;

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
/// username). On Ctrl-C (or SIGTERM) the state is written back to the file. Faults
/// (latency, 429, 503, dropped connections) come from the state's `faults` section or
/// ROLLCALL_SANDBOX_FAULTS, e.g. seed=7,latency_ms=5,rate_limited=0.1,dropped=0.05.
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
    /// Do not write the state back on exit
    #[arg(long)]
    no_save: bool,
}

pub async fn run(cmd: Command) -> Result<u8, CliError> {
    let Command::Serve(args) = cmd;
    let text = std::fs::read_to_string(&args.path)
        .map_err(|e| CliError::new(format!("cannot read sandbox state {}: {e}", args.path.display())))?;
    if scim::state::is_scim_state(&text) {
        return run_scim(args).await;
    }
    let state = DcState::load(&args.path).map_err(|e| CliError::new(e.to_string()))?;
    let listener = listen(args.port).await?;
    let shared = Shared::new(state, args.token);
    shared
        .instruments()
        .apply_env_faults()
        .map_err(|e| CliError::new(e.to_string()))?;
    let running = serve(shared, listener)
        .await
        .map_err(|e| CliError::new(format!("cannot start the sandbox: {e}")))?;
    println!(
        "Bitbucket Data Center sandbox at {}/rest (state: {})",
        running.base_url,
        args.path.display()
    );
    println!("Authenticate with the token from ROLLCALL_SANDBOX_TOKEN (default: sandbox). Ctrl-C stops it and saves the state.");
    let faults = running.shared.instruments().faults();
    if faults.is_active() {
        println!("Faults on: {faults}");
    }
    wait_for_stop().await;
    if faults.is_active() {
        println!("Faults: {}", running.shared.instruments().fault_counts());
    }
    let state = running.shared.state();
    running.shutdown().await;
    if !args.no_save {
        state.save(&args.path).map_err(|e| CliError::new(e.to_string()))?;
        println!("State written to {}", args.path.display());
    }
    Ok(EXIT_OK)
}

/// The SCIM half of `serve`: the same steps over the SCIM emulator.
async fn run_scim(args: ServeArgs) -> Result<u8, CliError> {
    let state = scim::ScimState::load(&args.path).map_err(|e| CliError::new(e.to_string()))?;
    let profile = state.profile.as_str();
    let listener = listen(args.port).await?;
    let shared = scim::Shared::new(state, args.token);
    shared
        .instruments()
        .apply_env_faults()
        .map_err(|e| CliError::new(e.to_string()))?;
    let running = scim::serve(shared, listener)
        .await
        .map_err(|e| CliError::new(format!("cannot start the sandbox: {e}")))?;
    println!(
        "SCIM sandbox ({profile} profile) at {} (state: {})",
        running.scim_url,
        args.path.display()
    );
    println!("Authenticate with Bearer and the token from ROLLCALL_SANDBOX_TOKEN (default: sandbox). Ctrl-C stops it and saves the state.");
    wait_for_stop().await;
    let state = running.shared.state();
    running.shutdown().await;
    if !args.no_save {
        state.save(&args.path).map_err(|e| CliError::new(e.to_string()))?;
        println!("State written to {}", args.path.display());
    }
    Ok(EXIT_OK)
}

async fn listen(port: u16) -> Result<tokio::net::TcpListener, CliError> {
    tokio::net::TcpListener::bind(("127.0.0.1", port)).await.map_err(|e| {
        CliError::new(format!("cannot listen on 127.0.0.1:{port}: {e}"))
            .hint("pick another --port, or 0 for any free one")
    })
}

/// Ctrl-C, or SIGTERM from a process manager: both stop the server cleanly.
async fn wait_for_stop() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        if let Ok(mut term) = signal(SignalKind::terminate()) {
            tokio::select! {
                _ = tokio::signal::ctrl_c() => {}
                _ = term.recv() => {}
            }
            return;
        }
    }
    let _ = tokio::signal::ctrl_c().await;
}

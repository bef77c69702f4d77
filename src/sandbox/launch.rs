//! How the registry starts a platform's emulator over a state file: each emulator folder
//! declares a `SandboxKind` (which state files are its own, and how to start one), and
//! `connect` and `rollcall sandbox serve` start whichever the registry names, without a
//! branch per platform.

use std::path::Path;

use tokio::net::TcpListener;

use super::host::{self, Emulator, Sandbox};
use crate::platform::Platform;
use crate::provider::BoxFuture;

/// A started emulator and how to reach it.
pub struct Launched {
    pub emulator: Box<dyn Sandbox>,
    /// Where the platform's clients connect: a Bitbucket server's root, a SCIM base URL.
    pub client_url: String,
    /// Where its API is mounted, for people: `http://127.0.0.1:PORT/rest`.
    pub api_url: String,
    /// What runs, for a banner: `SCIM sandbox (atlassian profile)`.
    pub name: String,
    /// How to authenticate, for a banner: `Bearer and the token`.
    pub credentials: &'static str,
}

/// One platform's emulator, as the registry lists it.
pub struct SandboxKind {
    /// The `kind` its state files name at their top (`kind: scim`); which emulator reads
    /// a file is decided by this alone (`sandbox::state::marker`).
    pub marker: &'static str,
    /// Whether a state file that names no `kind` is this emulator's: only Bitbucket Data
    /// Center's, whose files had no marker before there was a second emulator. Every file
    /// rollcall saves names its kind.
    pub unmarked: bool,
    /// What a state file of this emulator is, for a mismatch: `a SCIM sandbox (`kind: scim`)`.
    pub describe: &'static str,
    /// What the emulator stands for, for a state file found among the manifests: `a SCIM
    /// service`.
    pub emulates: &'static str,
    /// Whether `text` is a state this emulator reads.
    pub reads: fn(&str) -> bool,
    /// Starts the emulator on `text` (read from `path`) with `token`. With `expect`, the
    /// state must be of that platform (a SCIM state of the target's profile); the error
    /// says what to change.
    pub start: Start,
}

pub type Start =
    for<'a> fn(&'a Path, &'a str, String, TcpListener, Option<Platform>) -> BoxFuture<'a, Result<Launched, String>>;

/// Where a platform's clients connect on its emulator.
pub enum ClientsAt {
    /// The server's root (Bitbucket's clients add `/rest/...` themselves).
    Root,
    /// The API's mount (a SCIM base URL).
    Mount,
}

/// Starts emulator `E` over a parsed state and says how to reach it.
pub async fn launch<E: Emulator>(
    state: E::State,
    token: String,
    listener: TcpListener,
    clients_at: ClientsAt,
    name: String,
    credentials: &'static str,
) -> Result<Launched, String> {
    let running = host::start::<E>(state, token, listener)
        .await
        .map_err(|e| e.to_string())?;
    let client_url = match clients_at {
        ClientsAt::Root => running.base_url.clone(),
        ClientsAt::Mount => running.api_url.clone(),
    };
    Ok(Launched {
        client_url,
        api_url: running.api_url.clone(),
        emulator: Box::new(running),
        name,
        credentials,
    })
}

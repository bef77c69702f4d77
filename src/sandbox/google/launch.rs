//! The Google Workspace emulator as the registry starts it, for a `google-workspace`
//! source whose url is `sandbox:PATH`: its clients at the server's root, signing in at
//! `/token` with the manifest's service account key.

use std::path::Path;

use tokio::net::TcpListener;

use super::{GoogleEmulator, GoogleState};
use crate::platform::Platform;
use crate::provider::BoxFuture;
use crate::sandbox::launch::{launch, ClientsAt, Launched, SandboxKind};
use crate::sandbox::state::{parse_at, StateFile};

pub static KIND: SandboxKind = SandboxKind {
    marker: super::state::KIND,
    unmarked: false,
    describe: "a Google Workspace sandbox (`kind: google-workspace`)",
    emulates: "Google Workspace (the Admin SDK Directory API)",
    reads: |text| GoogleState::parse(text).is_ok(),
    start,
};

/// A source, not a platform: there is no platform to check the state against.
fn start<'a>(
    path: &'a Path,
    text: &'a str,
    token: String,
    listener: TcpListener,
    _expect: Option<Platform>,
) -> BoxFuture<'a, Result<Launched, String>> {
    Box::pin(async move {
        let state = parse_at(path, text, GoogleState::parse).map_err(|e| e.to_string())?;
        launch::<GoogleEmulator>(
            state,
            token,
            listener,
            ClientsAt::Root,
            "Google Workspace sandbox (Admin SDK Directory API)".to_owned(),
            "a service account key whose public half the state holds, exchanged at /token",
        )
        .await
    })
}

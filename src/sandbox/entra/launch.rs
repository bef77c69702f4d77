//! The Entra ID emulator as the registry starts it, for a `sandbox:` source: Graph and the
//! token endpoint both at the server's root.

use std::path::Path;

use tokio::net::TcpListener;

use super::{EntraEmulator, EntraState};
use crate::platform::Platform;
use crate::provider::BoxFuture;
use crate::sandbox::launch::{launch, ClientsAt, Launched, SandboxKind};
use crate::sandbox::state::{parse_at, StateFile};

pub static KIND: SandboxKind = SandboxKind {
    marker: super::state::KIND,
    unmarked: false,
    describe: "a Microsoft Entra ID sandbox (`kind: entra-id`)",
    emulates: "Microsoft Entra ID (Microsoft Graph and its token endpoint)",
    reads: |text| EntraState::parse(text).is_ok(),
    start,
};

/// A source has no platform: whatever `expect` says, the state need only parse.
fn start<'a>(
    path: &'a Path,
    text: &'a str,
    token: String,
    listener: TcpListener,
    _expect: Option<Platform>,
) -> BoxFuture<'a, Result<Launched, String>> {
    Box::pin(async move {
        let state = parse_at(path, text, EntraState::parse).map_err(|e| e.to_string())?;
        launch::<EntraEmulator>(
            state,
            token,
            listener,
            ClientsAt::Root,
            "Microsoft Entra ID sandbox (Graph v1.0 and the token endpoint)".to_owned(),
            "a client secret (the token) for a Bearer token from /{tenant}/oauth2/v2.0/token",
        )
        .await
    })
}

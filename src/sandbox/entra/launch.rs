//! The Entra ID emulator as the registry starts it, for a `sandbox:` source: Graph and the
//! token endpoint both at the server's root.

use std::path::Path;

use secrecy::SecretString;
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
        let mut state = parse_at(path, text, EntraState::parse).map_err(|e| e.to_string())?;
        // The token endpoint checks the secret itself (it is open to the host).
        state.client_secret = Some(SecretString::from(token.clone()));
        launch::<EntraEmulator>(
            state,
            token,
            listener,
            ClientsAt::Root,
            "Microsoft Entra ID sandbox (Graph v1.0 and the token endpoint)".to_owned(),
            "client_id and client_secret (the token) in the form posted to /{tenant}/oauth2/v2.0/token, for a Bearer token",
        )
        .await
    })
}

//! The Buildkite emulator as the registry starts it: GraphQL at `/v1` and REST under
//! `/v2`, both at the server's root, where the clients connect.

use std::path::Path;

use tokio::net::TcpListener;

use super::{BkEmulator, BkState};
use crate::platform::Platform;
use crate::provider::BoxFuture;
use crate::sandbox::launch::{launch, ClientsAt, Launched, SandboxKind};
use crate::sandbox::state::{parse_at, StateFile};

pub static KIND: SandboxKind = SandboxKind {
    marker: super::state::KIND,
    unmarked: false,
    describe: "a Buildkite sandbox (`kind: buildkite`)",
    emulates: "a Buildkite organization",
    reads: |text| BkState::parse(text).is_ok(),
    start,
};

fn start<'a>(
    path: &'a Path,
    text: &'a str,
    token: String,
    listener: TcpListener,
    _expect: Option<Platform>,
) -> BoxFuture<'a, Result<Launched, String>> {
    Box::pin(async move {
        let state = parse_at(path, text, BkState::parse).map_err(|e| e.to_string())?;
        let name = format!("Buildkite sandbox (organization {})", state.organization.slug);
        launch::<BkEmulator>(state, token, listener, ClientsAt::Root, name, "Bearer and the token").await
    })
}

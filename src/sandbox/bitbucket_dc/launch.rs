//! The Bitbucket Data Center emulator as the registry starts it.

use std::path::Path;

use tokio::net::TcpListener;

use super::{DcEmulator, DcState};
use crate::platform::Platform;
use crate::provider::BoxFuture;
use crate::sandbox::launch::{launch, ClientsAt, Launched, SandboxKind};
use crate::sandbox::state::parse_at;

pub static KIND: SandboxKind = SandboxKind {
    marker: super::state::KIND,
    // Data Center states were written without `kind` before there was a second emulator.
    unmarked: true,
    describe: "a Bitbucket Data Center sandbox (`kind: bitbucket-datacenter`)",
    emulates: "a Bitbucket Data Center instance",
    reads: |text| DcState::parse(text).is_ok(),
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
        let state = parse_at(path, text, DcState::parse).map_err(|e| e.to_string())?;
        let name = "Bitbucket Data Center sandbox".to_owned();
        launch::<DcEmulator>(state, token, listener, ClientsAt::Root, name, "the token").await
    })
}

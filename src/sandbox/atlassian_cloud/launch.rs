//! The Atlassian Cloud emulator as the registry starts it: one emulator for the Bitbucket
//! Cloud and Atlassian organization targets alike, its clients at the server's root.

use std::path::Path;

use tokio::net::TcpListener;

use super::{CloudEmulator, CloudState};
use crate::platform::Platform;
use crate::provider::BoxFuture;
use crate::sandbox::launch::{launch, ClientsAt, Launched, SandboxKind};
use crate::sandbox::state::{parse_at, StateFile};

pub static KIND: SandboxKind = SandboxKind {
    marker: super::state::KIND,
    unmarked: false,
    describe: "an Atlassian Cloud sandbox (`kind: atlassian-cloud`)",
    emulates: "Atlassian Cloud (Bitbucket Cloud and the organization directory)",
    reads: |text| CloudState::parse(text).is_ok(),
    start,
};

/// Any platform the registry starts this emulator for reads the same state: the workspace
/// and the directory are one file, so the only check is that the state parses.
fn start<'a>(
    path: &'a Path,
    text: &'a str,
    token: String,
    listener: TcpListener,
    _expect: Option<Platform>,
) -> BoxFuture<'a, Result<Launched, String>> {
    Box::pin(async move {
        let state = parse_at(path, text, CloudState::parse).map_err(|e| e.to_string())?;
        let name = "Atlassian Cloud sandbox (Bitbucket Cloud and the organization directory)".to_owned();
        launch::<CloudEmulator>(
            state,
            token,
            listener,
            ClientsAt::Root,
            name,
            "Basic with the operator's email and the token, or Bearer and the token",
        )
        .await
    })
}

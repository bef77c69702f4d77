//! The Okta emulator as the registry starts it, for a `sandbox:` Okta source: its
//! clients connect to the server's root and add `/api/v1` themselves, as to an org's URL.

use std::path::Path;

use tokio::net::TcpListener;

use super::{OktaEmulator, OktaState};
use crate::platform::Platform;
use crate::provider::BoxFuture;
use crate::sandbox::launch::{launch, ClientsAt, Launched, SandboxKind};
use crate::sandbox::state::{parse_at, StateFile};

pub static KIND: SandboxKind = SandboxKind {
    marker: super::state::KIND,
    unmarked: false,
    describe: "an Okta sandbox (`kind: okta`)",
    emulates: "an Okta org (users and groups)",
    reads: |text| OktaState::parse(text).is_ok(),
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
        let state = parse_at(path, text, OktaState::parse).map_err(|e| e.to_string())?;
        launch::<OktaEmulator>(
            state,
            token,
            listener,
            ClientsAt::Root,
            "Okta sandbox".to_owned(),
            "SSWS and the token",
        )
        .await
    })
}

//! The SCIM emulator as the registry starts it: one emulator for every profile, the
//! state file saying which.

use std::path::Path;

use tokio::net::TcpListener;

use super::{ScimEmulator, ScimState};
use crate::platform::Platform;
use crate::provider::BoxFuture;
use crate::sandbox::launch::{launch, ClientsAt, Launched, SandboxKind};
use crate::sandbox::state::parse_at;

pub static KIND: SandboxKind = SandboxKind {
    marker: super::state::KIND,
    unmarked: false,
    describe: "a SCIM sandbox (`kind: scim`)",
    emulates: "a SCIM service",
    reads: |text| ScimState::parse(text).is_ok(),
    start,
};

fn start<'a>(
    path: &'a Path,
    text: &'a str,
    token: String,
    listener: TcpListener,
    expect: Option<Platform>,
) -> BoxFuture<'a, Result<Launched, String>> {
    Box::pin(async move {
        let state = parse_at(path, text, ScimState::parse).map_err(|e| e.to_string())?;
        let profile = state.profile.as_str();
        // The manifest says which dialect the target speaks; a sandbox of another would
        // test the wrong thing.
        if let Some(wanted) = expect.and_then(|p| p.profile()).filter(|p| *p != profile) {
            return Err(format!(
                "the sandbox {} emulates the `{profile}` profile, but the target sets `profile: {wanted}`; make the target's `profile` and the state file's `profile` agree",
                path.display()
            ));
        }
        let name = format!("SCIM sandbox ({profile} profile)");
        launch::<ScimEmulator>(state, token, listener, ClientsAt::Mount, name, "Bearer and the token").await
    })
}

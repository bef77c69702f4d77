//! The providers and the HTTP layer over real HTTP: request counts, retries, faults,
//! and the SCIM contract against the emulator and scim2-server.
//! One test binary for all of them: each links the whole crate, so fewer binaries
//! build faster.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[path = "../common/mod.rs"]
mod common;

mod http_resilience;
mod provider_dc;
mod provider_scim;
mod resilience;
mod scim2_server_smoke;

//! The providers and the HTTP layer over real HTTP: the contract every provider keeps
//! (against its emulator and scim2-server), request counts, retries and faults.
//! One test binary for all of them: each links the whole crate, so fewer binaries
//! build faster.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[path = "../common/mod.rs"]
mod common;

mod contract;
mod flaky_scale;
mod http_resilience;
mod provider_buildkite;
mod provider_buildkite_org;
mod provider_cloud;
mod provider_dc;
mod provider_org;
mod provider_scim;
mod resilience;
mod scim2_server_smoke;

//! The emulators against the vendors' API descriptions, under faults, and the SCIM
//! emulator against scim2-tester.
//! One test binary for all of them: each links the whole crate, so fewer binaries
//! build faster.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[path = "../common/mod.rs"]
mod common;

mod described_responses;
mod emulator_buildkite;
mod emulator_cloud;
mod emulator_dc;
mod emulator_faults;
mod emulator_scim;
mod scim_conformance;
mod state_files;

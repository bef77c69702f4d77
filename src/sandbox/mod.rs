//! Emulators of the vendors' APIs that ship with the tool: the quickstart, users' dry runs
//! and the test suite talk to them over real HTTP. `host` serves every emulator the same
//! way; each emulator (`atlassian_cloud`, `bitbucket_dc`, `buildkite`, `scim`, ...) is its routes, its
//! handlers and its state.

pub mod atlassian_cloud;
pub mod bitbucket_dc;
pub mod buildkite;
pub mod entra;
pub mod faults;
pub mod google;
pub mod host;
pub mod instruments;
pub mod launch;
pub mod okta;
pub mod scim;
pub mod state;

//! Emulators of the vendors' APIs that ship with the tool: the quickstart, users' dry runs
//! and the test suite talk to them over real HTTP.

pub mod bitbucket_dc;
pub mod faults;
pub mod instruments;
pub mod scim;
pub mod state;

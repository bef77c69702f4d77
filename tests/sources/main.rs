//! Identity sources, each read from its emulator (Okta, Microsoft Graph, Google
//! Directory) or from a real OpenLDAP server the suite starts: paging, nested groups,
//! request counts against the minimum, auth failures and outages.

// The shared helpers of the end-to-end tests (`common::openapi` checks emulators' answers
// against the vendors' descriptions); like every test helper, they may panic.
#[allow(clippy::expect_used, clippy::panic)]
#[path = "../common/mod.rs"]
mod common;

mod entra;
mod google;
mod ldap;
mod okta;

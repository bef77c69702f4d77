//! Identity sources, each read from its emulator (Okta, Microsoft Graph, Google
//! Directory) or from a real OpenLDAP server the suite starts: paging, nested groups,
//! request counts against the minimum, auth failures and outages.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[path = "../common/mod.rs"]
mod common;

mod entra;
mod google;
mod ldap;
mod okta;
mod pipeline;

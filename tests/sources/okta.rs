//! The okta source reader against its server.

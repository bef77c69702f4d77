//! The entra source reader against its server.

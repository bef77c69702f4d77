//! The google source reader against its server.

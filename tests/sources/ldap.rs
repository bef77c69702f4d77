//! The ldap source reader against its server.

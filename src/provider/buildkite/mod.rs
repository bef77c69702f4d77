//! The Buildkite provider: one organization per target (the `organization:` option),
//! through the GraphQL API.

mod platform;

pub use platform::PLATFORM;

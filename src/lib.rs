//! rollcall: access as code for developer platforms.
//!
//! The pipeline, one module per stage: `manifest` loads YAML with spans, `resolve` turns
//! it into a checked `Desired`, `provider` reads live state and applies changes, `plan`
//! diffs and orders, `render` prints, `apply` executes; `import` turns live state back
//! into manifests. `sandbox` holds the emulators the quickstart and the tests talk to
//! over real HTTP.

pub mod access;
pub mod apply;
pub mod audit;
pub mod cli;
pub mod connect;
pub mod desired;
pub mod engine;
pub mod http;
pub mod import;
pub mod manifest;
pub mod model;
pub mod plan;
pub mod platform;
pub mod provider;
pub mod render;
pub mod resolve;
pub mod safety;
pub mod sandbox;
pub mod source;
pub mod text;

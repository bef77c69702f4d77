//! A SCIM 2.0 service provider emulator (RFC 7643 / RFC 7644): users and groups over a
//! `ScimState` held in memory, behaving as one of the `profile` module's profiles (a
//! generic RFC provider, or Atlassian Cloud user provisioning).
//!
//! This module is what the host (`sandbox::host`) asks of an emulator: the route table,
//! the base path (`/scim/v2` for `rfc`, `/scim/directory/{directoryId}` for `atlassian`, as
//! the vendor serves it), Bearer tokens, and refusals as SCIM error bodies.

pub mod filter;
mod launch;
pub mod profile;
mod resources;
mod schema;
pub mod state;
mod wire;

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

use crate::sandbox::host::{self, route_table, Emulator, Incoming, Refusal};

pub use launch::KIND;
pub use profile::{FilterSupport, ProfileName, ScimProfile, ATLASSIAN, RFC};
pub use state::ScimState;

use wire::{Call, Outcome, ScimError};

/// A handler: reads the request, and reads or changes the state under the lock, as the
/// profile says.
type Op = fn(&Call, &mut ScimState, &ScimProfile) -> Outcome;

route_table! {
    Op;

    GET    "/ServiceProviderConfig" => schema::get_service_provider_config;
    GET    "/ResourceTypes" => schema::get_resource_types;
    GET    "/ResourceTypes/{id}" => schema::get_resource_type;
    GET    "/Schemas" => schema::get_schemas;
    GET    "/Schemas/{id}" => schema::get_schema;

    GET    "/Users" => resources::users::list;
    POST   "/Users" => resources::users::create;
    GET    "/Users/{id}" => resources::users::get;
    PUT    "/Users/{id}" => resources::users::replace;
    PATCH  "/Users/{id}" => resources::users::patch;
    DELETE "/Users/{id}" => resources::users::delete;

    GET    "/Groups" => resources::groups::list;
    POST   "/Groups" => resources::groups::create;
    GET    "/Groups/{id}" => resources::groups::get;
    PUT    "/Groups/{id}" => resources::groups::replace;
    PATCH  "/Groups/{id}" => resources::groups::patch;
    DELETE "/Groups/{id}" => resources::groups::delete;

    POST   "/.search" => unsupported;
    POST   "/Bulk" => unsupported;
}

/// Root `/.search` and `/Bulk` are optional (RFC 7644 §3.4.3, §3.7): 501, as the RFC says
/// for a feature a provider does not offer.
fn unsupported(_: &Call, _: &mut ScimState, _: &ScimProfile) -> Outcome {
    Err(ScimError::not_implemented(
        "This service provider does not support this operation.",
    ))
}

/// The base path a state is served under.
pub fn base_path(state: &ScimState) -> String {
    match state.profile {
        ProfileName::Rfc => "/scim/v2".to_owned(),
        ProfileName::Atlassian => format!("/scim/directory/{}", state.directory_id),
    }
}

/// A SCIM service as the host runs it: the profile it behaves as.
#[derive(Debug, Clone, Copy)]
pub struct ScimEmulator {
    pub profile: ScimProfile,
}

/// The emulator's shared state and instruments.
pub type Shared = host::Shared<ScimEmulator>;
/// The emulator serving on a port; `api_url` is the SCIM base URL clients are given.
pub type RunningEmulator = host::Running<ScimEmulator>;
pub use crate::sandbox::host::serve;

impl host::Shared<ScimEmulator> {
    /// An emulator behaving as `profile` whatever the state says (a variant profile in a
    /// test, say); the base path still follows the state's profile name.
    pub fn with_profile(state: ScimState, token: String, profile: ScimProfile) -> Self {
        Self::with_emulator(ScimEmulator { profile }, state, token)
    }

    pub fn profile(&self) -> ScimProfile {
        self.emulator().profile
    }
}

impl Emulator for ScimEmulator {
    type State = ScimState;
    type Op = Op;
    const ROUTE_TABLE: &'static [host::Route<Op>] = ROUTE_TABLE;

    fn for_state(state: &ScimState) -> Self {
        ScimEmulator {
            profile: profile::emulated(state.profile),
        }
    }

    fn mount(state: &ScimState) -> String {
        base_path(state)
    }

    fn authorised(&self, _: &ScimState, token: &str, authorization: &str) -> bool {
        host::bearer_matches(authorization, token)
    }

    fn run(&self, op: Op, call: Incoming, state: &mut ScimState) -> Response {
        op(&Call::from(call), state, &self.profile).into_response()
    }

    fn refuse(refusal: Refusal) -> Response {
        let error = match refusal {
            Refusal::Unauthenticated => ScimError::unauthenticated(),
            Refusal::NotFound { path } => ScimError::not_found(format!("No resource is served at {path}.")),
            Refusal::MethodNotAllowed => ScimError::method_not_allowed(),
            Refusal::BadPath { detail } => ScimError::bad("invalidPath", detail),
            Refusal::RateLimited { .. } => ScimError::new(
                StatusCode::TOO_MANY_REQUESTS,
                None,
                "Too many requests; try again later.",
            ),
            Refusal::Unavailable { .. } => ScimError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                None,
                "The service is temporarily unavailable.",
            ),
        };
        error.into_response()
    }
}

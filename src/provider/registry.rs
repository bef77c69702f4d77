//! The registry: every platform rollcall serves, one line each. A platform is its
//! provider's `Spec` (what the core may ask of it), the function that builds its provider
//! for a target, and its emulator for `sandbox:` targets; nothing else names a platform.

use crate::desired::TargetConfig;
use crate::http::{Auth, HttpError};
use crate::platform::Platform;
use crate::provider::{atlassian_org, bitbucket_cloud, bitbucket_dc, buildkite, scim, Provider};
use crate::sandbox::launch::SandboxKind;

/// A platform and how to build its provider for a target, given the base URL the target
/// is reached at (a sandbox's loopback address included) and its credentials.
pub struct Registered {
    pub platform: Platform,
    pub provider: MakeProvider,
    pub sandbox: &'static SandboxKind,
}

/// Builds a provider for a target, reached at a base URL with these credentials, with at
/// most `parallelism` requests in flight (the provider may cap it lower).
pub type MakeProvider = fn(&TargetConfig, url::Url, Option<Auth>, usize) -> Result<Box<dyn Provider>, HttpError>;

pub static PLATFORMS: &[Registered] = &[
    Registered {
        platform: bitbucket_dc::PLATFORM,
        provider: bitbucket_dc::provider,
        sandbox: &crate::sandbox::bitbucket_dc::KIND,
    },
    Registered {
        platform: bitbucket_cloud::PLATFORM,
        provider: bitbucket_cloud::provider,
        sandbox: &crate::sandbox::atlassian_cloud::KIND,
    },
    Registered {
        platform: scim::RFC_PLATFORM,
        provider: scim::provider,
        sandbox: &crate::sandbox::scim::KIND,
    },
    Registered {
        platform: scim::ATLASSIAN_PLATFORM,
        provider: scim::provider,
        sandbox: &crate::sandbox::scim::KIND,
    },
    Registered {
        platform: atlassian_org::PLATFORM,
        provider: atlassian_org::provider,
        sandbox: &crate::sandbox::atlassian_cloud::KIND,
    },
    Registered {
        platform: buildkite::PLATFORM,
        provider: buildkite::provider,
        sandbox: &crate::sandbox::buildkite::KIND,
    },
];

/// The platform of a kind and profile as a manifest or a plan file names them; without a
/// profile, the kind's default one.
pub fn find(kind: &str, profile: Option<&str>) -> Option<Platform> {
    PLATFORMS
        .iter()
        .map(|r| r.platform)
        .find(|p| p.kind() == kind && profile.map_or(p.spec().default_profile, |want| p.profile() == Some(want)))
}

/// Every target kind, once each, in registry order.
pub fn kinds() -> Vec<&'static str> {
    let mut out: Vec<&'static str> = Vec::new();
    for r in PLATFORMS {
        if !out.contains(&r.platform.kind()) {
            out.push(r.platform.kind());
        }
    }
    out
}

/// The profiles of a kind, empty for a kind without profiles.
pub fn profiles(kind: &str) -> Vec<&'static str> {
    PLATFORMS
        .iter()
        .filter(|r| r.platform.kind() == kind)
        .filter_map(|r| r.platform.profile())
        .collect()
}

/// The kinds that accept a target option, for a hint.
pub fn kinds_with_option(option: &str) -> Vec<&'static str> {
    kinds()
        .into_iter()
        .filter(|k| {
            PLATFORMS
                .iter()
                .any(|r| r.platform.kind() == *k && r.platform.accepts_option(option))
        })
        .collect()
}

/// Every kind with a platform that `pred` holds for, once each, for a hint.
pub fn kinds_where(pred: impl Fn(Platform) -> bool) -> Vec<&'static str> {
    let mut out: Vec<&'static str> = Vec::new();
    for r in PLATFORMS.iter().filter(|r| pred(r.platform)) {
        if !out.contains(&r.platform.kind()) {
            out.push(r.platform.kind());
        }
    }
    out
}

/// The registration of a platform.
pub fn registered(platform: Platform) -> Option<&'static Registered> {
    PLATFORMS.iter().find(|r| r.platform == platform)
}

/// The first platform whose emulator reads the state file `text`, by the `kind` the file
/// names (`sandbox::state::marker`); a file that names none is the unmarked emulator's.
/// The error says why the file is no state rollcall knows: it cannot be read, or it names
/// a kind no emulator has.
pub fn sandbox_of(text: &str) -> Result<&'static Registered, String> {
    let marker = crate::sandbox::state::marker(text)?;
    let found = PLATFORMS.iter().find(|r| match &marker {
        Some(kind) => r.sandbox.marker == kind,
        None => r.sandbox.unmarked,
    });
    found.ok_or_else(|| {
        let mut known: Vec<String> = Vec::new();
        for r in PLATFORMS {
            let kind = format!("`{}`", r.sandbox.marker);
            if !known.contains(&kind) {
                known.push(kind);
            }
        }
        match marker {
            Some(kind) => format!(
                "it says `kind: {kind}`, which is no sandbox rollcall knows (a state's `kind` is one of {})",
                known.join(", ")
            ),
            None => format!("it names no `kind` (one of {})", known.join(", ")),
        }
    })
}

/// The emulator, of a target's platform or of an identity source, that reads the state
/// file `text`, by the `kind` it names (`rollcall sandbox serve` starts either).
pub fn sandbox_kind_of(text: &str) -> Result<&'static SandboxKind, String> {
    let sources = crate::source::registry::KINDS.iter().filter_map(|k| k.sandbox);
    match sandbox_of(text) {
        Ok(r) => Ok(r.sandbox),
        Err(reason) => {
            let marker = crate::sandbox::state::marker(text)?;
            let found = sources.clone().find(|s| marker.as_deref() == Some(s.marker));
            found.ok_or_else(|| {
                let more: Vec<String> = sources.map(|s| format!("`{}`", s.marker)).collect();
                if more.is_empty() {
                    reason
                } else {
                    format!("{reason}; sources' sandboxes: {}", more.join(", "))
                }
            })
        }
    }
}

/// Builds the provider of a target.
pub fn provider(
    config: &TargetConfig,
    base: url::Url,
    auth: Option<Auth>,
    parallelism: usize,
) -> Result<Box<dyn Provider>, String> {
    match registered(config.platform) {
        Some(r) => (r.provider)(config, base, auth, parallelism).map_err(|e| e.to_string()),
        None => Err(format!("no provider is registered for `{}`", config.platform.label())),
    }
}

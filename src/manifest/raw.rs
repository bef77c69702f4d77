//! The manifest as written: serde structs that check shape only and keep the location of
//! every value a later check may need to point at. Also the source of the JSON Schema.
//!
//! Names stay strings here; `resolve` checks references and translates role words.

use std::borrow::Cow;
use std::fmt;
use std::marker::PhantomData;

use schemars::{json_schema, JsonSchema, Schema, SchemaGenerator};
use serde::de::{MapAccess, Visitor};
use serde::{Deserialize, Deserializer};
use serde_json::json;
use serde_saphyr::Spanned;

pub use super::access::{AccessValue, RawAccess};

/// One manifest file's content. Every section is optional: a directory of files is
/// merged, so a team can keep users, groups and access in separate files.
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(
    title = "rollcall manifest",
    description = "One YAML file of a rollcall manifest directory. Files are merged; each name may be defined in one file only."
)]
pub struct RawFile {
    /// The platforms rollcall manages, by the name used in addresses and `access`.
    #[serde(default)]
    #[schemars(example = json!({"bitbucket": {"kind": "bitbucket-datacenter", "url": "https://git.example.com", "auth": {"token": "${env:BITBUCKET_TOKEN}", "account": "svc-rollcall"}}}))]
    pub targets: SpannedMap<RawTarget>,
    /// People, keyed by their rollcall name (the default username on every target).
    #[serde(default)]
    #[schemars(example = json!({"alice": {"name": "Alice Liddell", "email": "alice@example.com"}}))]
    pub users: SpannedMap<RawUser>,
    /// Groups, keyed by name.
    #[serde(default)]
    #[schemars(example = json!({"devops": {"members": ["alice", "bob"]}}))]
    pub groups: SpannedMap<RawGroup>,
    /// What each group or person may do, per target.
    #[serde(default)]
    #[schemars(example = json!({"bitbucket": {"projects": {"PLAT": {"groups": {"devops": "write"}}}}}))]
    pub access: SpannedMap<RawAccess>,
    /// Ownership rules. At most one file may set it.
    #[serde(default)]
    #[schemars(with = "Option<RawPolicy>")]
    pub policy: Option<Spanned<RawPolicy>>,
}

/// A platform to manage. The fields a kind uses are checked by `resolve`; a flat struct
/// (rather than a tagged enum) keeps the location of every field, which serde loses
/// inside internally tagged enums.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(example = json!({"kind": "bitbucket-datacenter", "url": "https://git.example.com", "auth": {"token": "${env:BITBUCKET_TOKEN}", "account": "svc-rollcall"}}))]
#[schemars(rename = "Target")]
pub struct RawTarget {
    /// The platform: one of the kinds the provider registry lists.
    #[schemars(schema_with = "target_kind_schema")]
    pub kind: Spanned<String>,
    /// Base URL of the instance (`https://git.example.com`), or `sandbox:PATH` to run the
    /// built-in emulator seeded from the state file at PATH (relative to the manifest
    /// directory). Plain `http://` is accepted for loopback addresses only.
    #[schemars(with = "String", example = &"https://git.example.com")]
    pub url: Spanned<String>,
    /// For kinds with dialects (`scim`): the dialect the service speaks, `rfc` (default)
    /// or `atlassian`. With `atlassian`, `url` is the directory's base URL,
    /// `https://api.atlassian.com/scim/directory/DIRECTORY_ID`.
    #[serde(default)]
    #[schemars(schema_with = "profile_schema")]
    pub profile: Option<Spanned<String>>,
    /// How to authenticate. Not needed for a `sandbox:` URL.
    #[serde(default)]
    pub auth: Option<RawAuth>,
    /// Whether users created by rollcall are emailed a link to set their password
    /// (`notify=true`). When false they are created with a random password they must
    /// reset, which suits instances where people sign in through SSO. Bitbucket Data
    /// Center only; default true.
    #[serde(default)]
    #[schemars(with = "Option<bool>")]
    pub notify_new_users: Option<Spanned<bool>>,
    /// Bitbucket Cloud: the workspace's slug (`acme` in bitbucket.org/acme). Required there.
    #[serde(default)]
    #[schemars(with = "Option<String>", example = &"acme")]
    pub workspace: Option<Spanned<String>>,
    /// Atlassian organization: the organization's id (Atlassian Administration, Settings,
    /// API keys shows it). Required there.
    #[serde(default)]
    #[schemars(with = "Option<String>")]
    pub organization: Option<Spanned<String>>,
    /// Atlassian organization: the id of the directory whose groups the target manages.
    /// Required there.
    #[serde(default)]
    #[schemars(with = "Option<String>")]
    pub directory: Option<Spanned<String>>,
    /// The target that makes the users and groups this one's grants name, where this
    /// platform has none of its own to make (Bitbucket Cloud's groups live in the
    /// Atlassian organization's directory): a grant waits for its group's creation
    /// there, and a person's grant for the directory to give them access.
    #[serde(default)]
    #[schemars(with = "Option<String>", example = &"directory")]
    pub principals_from: Option<Spanned<String>>,
}

impl RawTarget {
    /// The options a platform may take with a text value, by the name the platforms'
    /// `Spec::options` use, each as the manifest set it (or not): the one place that
    /// knows which fields they are.
    pub fn text_options(&self) -> [(&'static str, &Option<Spanned<String>>); 3] {
        [
            ("workspace", &self.workspace),
            ("organization", &self.organization),
            ("directory", &self.directory),
        ]
    }
}

/// The `kind` values: every kind in the provider registry, described by its platform.
fn target_kind_schema(_: &mut SchemaGenerator) -> Schema {
    let kinds: Vec<serde_json::Value> = crate::provider::registry::kinds()
        .into_iter()
        .map(|kind| {
            let summary = crate::provider::registry::find(kind, None).map_or("", |p| p.spec().summary);
            json!({ "const": kind, "description": summary })
        })
        .collect();
    json_schema!({ "type": "string", "oneOf": kinds })
}

/// The `profile` values: every profile of a kind in the provider registry, described.
fn profile_schema(_: &mut SchemaGenerator) -> Schema {
    let profiles: Vec<serde_json::Value> = crate::provider::registry::PLATFORMS
        .iter()
        .filter_map(|r| {
            let name = r.platform.profile()?;
            let about = format!("`{}`: {}", r.platform.kind(), r.platform.spec().profile_summary);
            Some(json!({ "const": name, "description": about }))
        })
        .collect();
    json_schema!({ "anyOf": [{ "type": "string", "oneOf": profiles }, { "type": "null" }] })
}

/// HTTP access token as `Authorization: Bearer`, or with `username` as Basic auth. A SCIM
/// service's token (Atlassian's directory API key) is a Bearer token.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(example = json!({"token": "${env:BITBUCKET_TOKEN}", "account": "svc-rollcall"}))]
#[schemars(rename = "Auth")]
pub struct RawAuth {
    /// Username for Basic auth; without it the token is sent as a Bearer token.
    #[serde(default)]
    pub username: Option<String>,
    /// With a Bearer token: the account the token belongs to. rollcall never deletes,
    /// unlicenses or demotes it. With Basic auth the username is that account. Required
    /// for a Bearer token on Bitbucket Data Center; optional on SCIM, whose tokens
    /// usually belong to no user.
    #[serde(default)]
    #[schemars(with = "Option<String>")]
    pub account: Option<Spanned<String>>,
    /// The token, only as a reference: `${env:NAME}` or `${file:PATH}`.
    #[schemars(
        with = "String",
        regex(pattern = r"^\$\{(env|file):[^}]+\}$"),
        example = &"${env:BITBUCKET_TOKEN}"
    )]
    pub token: Spanned<String>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(example = json!({"name": "Alice Liddell", "email": "alice@example.com"}))]
#[schemars(rename = "User")]
pub struct RawUser {
    /// Full name, shown as the display name.
    #[schemars(with = "String", example = &"Alice Liddell")]
    pub name: Spanned<String>,
    /// The person's email address.
    #[schemars(with = "String", example = &"alice@example.com")]
    pub email: Spanned<String>,
    /// `false` offboards the person: their memberships and direct permissions are
    /// removed on every target (on Bitbucket Data Center that takes away their licence)
    /// and no account is created for them.
    #[serde(default = "default_true")]
    pub active: bool,
    /// The person's identifier on a target, when it is not their rollcall name.
    #[serde(default)]
    #[schemars(example = json!({"bitbucket": "aliddell"}))]
    pub ids: SpannedMap<String>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(example = json!({"description": "Platform engineers", "members": ["alice", "bob"]}))]
#[schemars(rename = "Group")]
pub struct RawGroup {
    /// What the group is for. Set on the targets whose platform stores a group
    /// description; elsewhere (Bitbucket Data Center and SCIM groups have none) it is a
    /// note for people reading the manifest.
    #[serde(default)]
    pub description: Option<String>,
    /// The group's previous name, when it was renamed: the live group of that name
    /// becomes this one, keeping its members and grants. Where the platform cannot rename
    /// groups, the plan creates this group, moves the members and deletes the old one.
    #[serde(default)]
    #[schemars(with = "Option<String>")]
    pub renamed_from: Option<Spanned<String>>,
    /// Declared users who belong to the group.
    #[serde(default)]
    #[schemars(with = "Vec<String>", example = ["alice", "bob"])]
    pub members: Vec<Spanned<String>>,
    /// The targets the group exists on; default: every target.
    #[serde(default)]
    #[schemars(with = "Option<Vec<String>>", example = ["bitbucket"])]
    pub targets: Option<Vec<Spanned<String>>>,
    /// The group's identifier per target, where the platform names groups by an
    /// identifier of its own (Bitbucket Cloud's group slug). Without it the identifier
    /// is derived from the name, and the plan says which it used.
    #[serde(default)]
    #[schemars(example = json!({"bitbucket-cloud": "release-managers"}))]
    pub ids: SpannedMap<String>,
}

/// A role, with where it was written.
#[derive(Debug)]
pub struct RoleValue(pub Spanned<String>);

impl<'de> Deserialize<'de> for RoleValue {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Spanned::<String>::deserialize(d).map(RoleValue)
    }
}

impl JsonSchema for RoleValue {
    fn schema_name() -> Cow<'static, str> {
        "Role".into()
    }
    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({
            "type": "string",
            "description": "A portable role word (read, write, admin) or the platform's permission name for the scope"
        })
    }
}

#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(example = json!({"prune": {"groups": true}, "protect": ["admin"]}))]
#[schemars(rename = "Policy")]
pub struct RawPolicy {
    /// Which kinds of live object rollcall deletes when the manifest does not declare
    /// them. All off by default: the plan lists them as unmanaged instead.
    #[serde(default)]
    pub prune: RawPrune,
    /// Users and groups rollcall never changes, by their name on the target (matched
    /// without regard to case). A plan that would touch one, or anything they hold, is
    /// refused.
    #[serde(default)]
    #[schemars(with = "Vec<String>", example = ["admin", "svc-rollcall"])]
    pub protect: Vec<Spanned<String>>,
    /// Delete limits: a plan that deletes more is refused unless `--allow-deletes N`
    /// admits it.
    #[serde(default)]
    pub limits: RawLimits,
    /// The fewest users that must hold ADMIN or SYS_ADMIN on each Bitbucket Data Center
    /// target, directly or through a group. A plan that would leave fewer is refused.
    /// Default 1.
    #[serde(default)]
    pub min_admins: Option<usize>,
}

#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(example = json!({"max_deletes": 25, "max_delete_percent": 30}))]
#[schemars(rename = "Limits")]
pub struct RawLimits {
    /// The most deletes one plan may make, across all targets and kinds. No limit by
    /// default.
    #[serde(default)]
    pub max_deletes: Option<usize>,
    /// The largest share (0-100) of the live objects of one kind on one target that a
    /// plan may delete, once at least `min_existing` of them exist. Default 30.
    #[serde(default)]
    #[schemars(with = "Option<u8>", range(max = 100))]
    pub max_delete_percent: Option<Spanned<u32>>,
    /// How many objects of a kind must exist before `max_delete_percent` applies.
    /// Default 10.
    #[serde(default)]
    pub min_existing: Option<usize>,
}

#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(example = json!({"groups": true, "memberships": true}))]
#[schemars(rename = "Prune")]
pub struct RawPrune {
    #[serde(default)]
    pub users: bool,
    #[serde(default)]
    pub groups: bool,
    #[serde(default)]
    pub memberships: bool,
    #[serde(default)]
    pub permissions: bool,
}

fn default_true() -> bool {
    true
}

/// A YAML mapping whose keys keep their locations, in file order. Duplicate keys never
/// reach it: the parser rejects them.
#[derive(Debug)]
pub struct SpannedMap<V>(pub Vec<(Spanned<String>, V)>);

impl<V> Default for SpannedMap<V> {
    fn default() -> Self {
        SpannedMap(Vec::new())
    }
}

impl<'de, V: Deserialize<'de>> Deserialize<'de> for SpannedMap<V> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct MapVisitor<V>(PhantomData<V>);
        impl<'de, V: Deserialize<'de>> Visitor<'de> for MapVisitor<V> {
            type Value = SpannedMap<V>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a mapping")
            }
            fn visit_unit<E>(self) -> Result<Self::Value, E> {
                // An empty section (`users:` with nothing under it) is an empty map.
                Ok(SpannedMap::default())
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                let mut entries = Vec::new();
                while let Some(key) = map.next_key::<Spanned<String>>()? {
                    let value = map.next_value()?;
                    entries.push((key, value));
                }
                Ok(SpannedMap(entries))
            }
        }
        // `any`, not `map`: an empty section (`users:`) is null, which `map` refuses.
        d.deserialize_any(MapVisitor(PhantomData))
    }
}

impl<V: JsonSchema> JsonSchema for SpannedMap<V> {
    fn schema_name() -> Cow<'static, str> {
        format!("MapOf{}", V::schema_name()).into()
    }
    fn json_schema(gen: &mut SchemaGenerator) -> Schema {
        let value = gen.subschema_for::<V>();
        // `users:` with nothing under it is an empty map, so null is accepted too.
        json_schema!({
            "type": ["object", "null"],
            "additionalProperties": value
        })
    }
}

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
    /// Identity sources (Okta, Entra ID, Google Workspace, LDAP) that people and group
    /// members come from, by the name `members_from` entries start with. Read only.
    #[serde(default)]
    #[schemars(example = json!({"okta": {"kind": "okta", "url": "https://acme.okta.com", "auth": {"token": "${env:OKTA_TOKEN}"}, "people": {"groups": ["engineering"]}}}))]
    pub sources: SpannedMap<RawSource>,
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
    /// API keys shows it). Buildkite: the organization's slug (`acme` in
    /// buildkite.com/acme). Required on both.
    #[serde(default)]
    #[schemars(with = "Option<String>")]
    pub organization: Option<Spanned<String>>,
    /// Atlassian organization: the id of the directory whose groups the target manages.
    /// Required there.
    #[serde(default)]
    #[schemars(with = "Option<String>")]
    pub directory: Option<Spanned<String>>,
    /// Buildkite: what the organization's SSO identity provider sets at each login (its
    /// `admin` and `teams` attributes): `role`, `teams`, or `role, teams`. rollcall then
    /// leaves those to it and says what it would have changed.
    #[serde(default)]
    #[schemars(with = "Option<String>", example = &"role, teams")]
    pub sso_assigns: Option<Spanned<String>>,
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
    pub fn text_options(&self) -> [(&'static str, &Option<Spanned<String>>); 4] {
        [
            ("workspace", &self.workspace),
            ("organization", &self.organization),
            ("directory", &self.directory),
            ("sso_assigns", &self.sso_assigns),
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
    /// Full name, shown as the display name. Required unless an identity source provides
    /// the person under this name; set here, it overrides the source's.
    #[serde(default)]
    #[schemars(with = "String", example = &"Alice Liddell")]
    pub name: Option<Spanned<String>>,
    /// The person's email address. Required unless an identity source provides the
    /// person under this name; set here, it overrides the source's.
    #[serde(default)]
    #[schemars(with = "String", example = &"alice@example.com")]
    pub email: Option<Spanned<String>>,
    /// `false` offboards the person: their memberships and direct permissions are
    /// removed on every target (on Bitbucket Data Center that takes away their licence)
    /// and no account is created for them. Default true, or for a person an identity
    /// source provides, what the source says.
    #[serde(default)]
    pub active: Option<bool>,
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
    /// Declared users who belong to the group, besides those `members_from` brings.
    #[serde(default)]
    #[schemars(with = "Vec<String>", example = ["alice", "bob"])]
    pub members: Vec<Spanned<String>>,
    /// Declared users who belong to the group and maintain it, where the platform gives
    /// members a role (a Buildkite team's maintainers); elsewhere they are members like
    /// the rest. A maintainer is not listed under `members` too.
    #[serde(default)]
    #[schemars(with = "Vec<String>", example = ["alice"])]
    pub maintainers: Vec<Spanned<String>>,
    /// Who can see the group, where the platform has the setting (a Buildkite team):
    /// `visible` to every member of the organization, or `secret` (its members and the
    /// administrators). Unset: not managed; a new team is visible.
    #[serde(default)]
    #[schemars(with = "Option<String>", example = &"secret")]
    pub privacy: Option<Spanned<String>>,
    /// The role a person added to the group outside rollcall gets, where the platform
    /// has the setting (a Buildkite team): `member` or `maintainer`. Unset: not managed;
    /// a new team's is `member`.
    #[serde(default)]
    #[schemars(with = "Option<String>", example = &"member")]
    pub default_member_role: Option<Spanned<String>>,
    /// New members of the organization join this group, where the platform has the
    /// setting (a Buildkite team's "automatically add new users"). Unset: not managed; a
    /// new team is not a default team.
    #[serde(default)]
    #[schemars(with = "Option<bool>")]
    pub default_team: Option<Spanned<bool>>,
    /// Groups of identity sources whose members (nested groups counted) belong to this
    /// group, as `SOURCE:GROUP` (`okta:eng-backend`). The group then follows them: a
    /// person who leaves every one of them leaves the group, whatever `policy.prune`
    /// says. `members` adds to them.
    #[serde(default)]
    #[schemars(with = "Vec<String>", example = ["okta:eng-backend"])]
    pub members_from: Vec<Spanned<String>>,
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

/// An identity source: where people and group members come from. The fields a kind
/// uses are checked by `resolve` against the source registry.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(example = json!({"kind": "okta", "url": "https://acme.okta.com", "auth": {"token": "${env:OKTA_TOKEN}"}}))]
#[schemars(rename = "Source")]
pub struct RawSource {
    /// The kind of source: one of the kinds the source registry lists.
    #[schemars(schema_with = "source_kind_schema")]
    pub kind: Spanned<String>,
    /// Base URL (`https://acme.okta.com`, `https://graph.microsoft.com`,
    /// `https://admin.googleapis.com`, `ldaps://ldap.example.com`), or `sandbox:PATH` for
    /// the built-in emulator seeded from the state file at PATH.
    #[schemars(with = "String", example = &"https://acme.okta.com")]
    pub url: Spanned<String>,
    /// Credentials: the fields the kind takes, secrets only as references.
    #[serde(default)]
    pub auth: Option<RawSourceAuth>,
    /// Entra ID: the tenant's id or primary domain.
    #[serde(default)]
    #[schemars(with = "Option<String>")]
    pub tenant: Option<Spanned<String>>,
    /// Entra ID: the Microsoft identity platform's address, where it is not
    /// `https://login.microsoftonline.com` (a national cloud).
    #[serde(default)]
    #[schemars(with = "Option<String>")]
    pub login_url: Option<Spanned<String>>,
    /// Google Workspace: the customer whose directory is read (default `my_customer`).
    #[serde(default)]
    #[schemars(with = "Option<String>")]
    pub customer: Option<Spanned<String>>,
    /// Google Workspace: read one domain's users instead of the customer's.
    #[serde(default)]
    #[schemars(with = "Option<String>")]
    pub domain: Option<Spanned<String>>,
    /// LDAP: the subtree searched for people and groups.
    #[serde(default)]
    #[schemars(with = "Option<String>", example = &"dc=example,dc=com")]
    pub base_dn: Option<Spanned<String>>,
    /// LDAP: `openldap` (inetOrgPerson, groupOfNames; the default) or
    /// `active-directory`.
    #[serde(default)]
    #[schemars(with = "Option<String>")]
    pub schema: Option<Spanned<String>>,
    /// LDAP: upgrade an `ldap://` connection with StartTLS.
    #[serde(default)]
    #[schemars(with = "Option<bool>")]
    pub starttls: Option<Spanned<bool>>,
    /// LDAP: a CA certificate (PEM) to trust besides the system's, relative to the
    /// manifest directory.
    #[serde(default)]
    #[schemars(with = "Option<String>")]
    pub ca_file: Option<Spanned<String>>,
    /// Who the source's people are, and how their attributes become a person's.
    #[serde(default)]
    pub people: Option<RawPeople>,
}

impl RawSource {
    /// The settings a kind may take with a text value, by the name the source registry
    /// uses, each as the manifest set it (or not): the one place that knows the fields.
    pub fn text_settings(&self) -> [(&'static str, Option<&Spanned<String>>); 10] {
        let auth = self.auth.as_ref();
        [
            ("tenant", self.tenant.as_ref()),
            ("login_url", self.login_url.as_ref()),
            ("customer", self.customer.as_ref()),
            ("domain", self.domain.as_ref()),
            ("base_dn", self.base_dn.as_ref()),
            ("schema", self.schema.as_ref()),
            ("ca_file", self.ca_file.as_ref()),
            ("client_id", auth.and_then(|a| a.client_id.as_ref())),
            ("subject", auth.and_then(|a| a.subject.as_ref())),
            ("bind_dn", auth.and_then(|a| a.bind_dn.as_ref())),
        ]
    }

    /// The secret references the manifest set, by field name.
    pub fn secrets(&self) -> Vec<(&'static str, &Spanned<String>)> {
        let Some(a) = &self.auth else { return Vec::new() };
        [
            ("token", a.token.as_ref()),
            ("client_secret", a.client_secret.as_ref()),
            ("key", a.key.as_ref()),
            ("password", a.password.as_ref()),
        ]
        .into_iter()
        .filter_map(|(k, v)| Some((k, v?)))
        .collect()
    }
}

/// The `kind` values of sources: every kind in the source registry, described.
fn source_kind_schema(_: &mut SchemaGenerator) -> Schema {
    let kinds: Vec<serde_json::Value> = crate::source::registry::KINDS
        .iter()
        .map(|k| json!({ "const": k.kind, "description": k.summary }))
        .collect();
    json_schema!({ "type": "string", "oneOf": kinds })
}

/// A source's credentials. Which fields a kind takes: `okta` a `token`; `entra-id` a
/// `client_id` and `client_secret`; `google-workspace` a service account `key` and the
/// admin it acts as (`subject`); `ldap` a `bind_dn` and `password`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "SourceAuth")]
pub struct RawSourceAuth {
    /// Okta: an API token, as `${env:NAME}` or `${file:PATH}`.
    #[serde(default)]
    #[schemars(with = "Option<String>", regex(pattern = r"^\$\{(env|file):[^}]+\}$"))]
    pub token: Option<Spanned<String>>,
    /// Entra ID: the app registration's application (client) id.
    #[serde(default)]
    #[schemars(with = "Option<String>")]
    pub client_id: Option<Spanned<String>>,
    /// Entra ID: the app registration's client secret, as a reference.
    #[serde(default)]
    #[schemars(with = "Option<String>", regex(pattern = r"^\$\{(env|file):[^}]+\}$"))]
    pub client_secret: Option<Spanned<String>>,
    /// Google Workspace: the service account's JSON key, as a reference (usually
    /// `${file:…}`).
    #[serde(default)]
    #[schemars(with = "Option<String>", regex(pattern = r"^\$\{(env|file):[^}]+\}$"))]
    pub key: Option<Spanned<String>>,
    /// Google Workspace: the administrator the service account acts as (domain-wide
    /// delegation).
    #[serde(default)]
    #[schemars(with = "Option<String>")]
    pub subject: Option<Spanned<String>>,
    /// LDAP: the DN rollcall binds as.
    #[serde(default)]
    #[schemars(with = "Option<String>")]
    pub bind_dn: Option<Spanned<String>>,
    /// LDAP: the bind password, as a reference.
    #[serde(default)]
    #[schemars(with = "Option<String>", regex(pattern = r"^\$\{(env|file):[^}]+\}$"))]
    pub password: Option<Spanned<String>>,
}

/// Who a source's people are: the members of these groups (nested counted), or
/// everyone, narrowed by the filters; and how their attributes become a person's.
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(example = json!({"groups": ["engineering"], "filter": {"domain": ["example.com"]}, "username": "email_local_part"}))]
#[schemars(rename = "People")]
pub struct RawPeople {
    /// Source groups whose members are people here. Without it, everyone the source
    /// has (narrowed by `filter`). Members of the groups `members_from` names are
    /// people too.
    #[serde(default)]
    #[schemars(with = "Option<Vec<String>>", example = ["engineering"])]
    pub groups: Option<Vec<Spanned<String>>>,
    /// Narrows who is a person.
    #[serde(default)]
    pub filter: RawFilter,
    /// How a person's rollcall name is made: `email_local_part` (default: the part of
    /// the email before `@`), `email`, `login`, or `attribute:NAME` for a source
    /// attribute. Two people given one name are reported, not merged.
    #[serde(default)]
    #[schemars(with = "Option<String>", example = &"email_local_part")]
    pub username: Option<Spanned<String>>,
    /// Which source attribute gives a person's `name` and `email`, by the vendor's
    /// attribute name, where the kind's default is not the one wanted.
    #[serde(default)]
    pub map: RawAttributeMap,
}

/// Filters on a source's people; each one given must hold.
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "PeopleFilter")]
pub struct RawFilter {
    /// The source's account states that count as active (`ACTIVE` on Okta, `enabled` on
    /// Entra ID and LDAP, `active` on Google). People in other states are offboarded
    /// (their access removed). Default: the states the kind can sign in with.
    #[serde(default)]
    #[schemars(with = "Option<Vec<String>>", example = ["ACTIVE"])]
    pub status: Option<Vec<Spanned<String>>>,
    /// Only people in one of these departments (matched without regard to case).
    #[serde(default)]
    #[schemars(with = "Option<Vec<String>>", example = ["Engineering"])]
    pub department: Option<Vec<Spanned<String>>>,
    /// Only people whose email is in one of these domains.
    #[serde(default)]
    #[schemars(with = "Option<Vec<String>>", example = ["example.com"])]
    pub domain: Option<Vec<Spanned<String>>>,
}

/// Source attribute names for a person's fields.
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "AttributeMap")]
pub struct RawAttributeMap {
    /// The attribute holding the display name.
    #[serde(default)]
    #[schemars(with = "Option<String>", example = &"displayName")]
    pub name: Option<Spanned<String>>,
    /// The attribute holding the email address.
    #[serde(default)]
    #[schemars(with = "Option<String>", example = &"mail")]
    pub email: Option<Spanned<String>>,
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
    /// How far a group fed by an identity source may shrink in one run before the plan
    /// is refused: a source that answers an empty group by mistake must not remove
    /// everyone.
    #[serde(default)]
    pub sources: RawSourcePolicy,
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
#[schemars(example = json!({"max_shrink_percent": 20}))]
#[schemars(rename = "SourcePolicy")]
pub struct RawSourcePolicy {
    /// The largest share (0-100) of a source group's members, or of a fed group's live
    /// members on a target, that may leave in one run, once it has at least
    /// `min_members`. A plan past it is refused (exit 3) unless `--allow-source-shrink`
    /// names the group. A source group that comes back empty while it had members is
    /// refused whatever its size. Default 20.
    #[serde(default)]
    #[schemars(with = "Option<u8>", range(max = 100))]
    pub max_shrink_percent: Option<Spanned<u32>>,
    /// How many members a group must have before `max_shrink_percent` applies. Default 5.
    #[serde(default)]
    pub min_members: Option<usize>,
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

//! What a platform is, as data its provider declares: the target kind and profile the
//! manifest names, the options a target of it accepts, which changes exist for each kind
//! of object, the role words per scope and how they rank, what counts as an administrator,
//! and the hints for its errors.
//!
//! Resolve, diff, graph, safety and render ask a `Platform` these questions and never
//! which vendor it is. Each provider writes one `Spec` per platform it serves (a SCIM
//! profile is a platform of its own); `provider::registry` lists them.
//!
//! The manifest's `access` section is derived from the same data: a scope's entry holds
//! its grants (`users`, `groups`), its "everyone" default under the default's `key`, and
//! its child segments under each segment kind's `key` (`projects`, then `repos`). Grants
//! on the root scope sit under the root's `key` (`global`).

use std::fmt;

use crate::model::{Kind, Scope};

/// A platform: a handle on the `Spec` its provider declares.
#[derive(Clone, Copy)]
pub struct Platform(&'static Spec);

/// Everything the core knows of a platform.
#[derive(Debug)]
pub struct Spec {
    /// The target kind as the manifest and the plan name it: `bitbucket-datacenter`.
    pub kind: &'static str,
    /// The dialect of the kind, chosen with the target's `profile:`: `rfc`, `atlassian`.
    /// `None` for a kind without profiles.
    pub profile: Option<&'static str>,
    /// This profile is the one a target of this kind gets when it names none.
    pub default_profile: bool,
    /// What the kind is, for the JSON Schema and hints.
    pub summary: &'static str,
    /// What this profile means, for the JSON Schema; empty for a kind without profiles.
    pub profile_summary: &'static str,
    /// Target options beyond `kind`, `url` and `auth` that this platform accepts.
    pub options: &'static [&'static str],
    /// Of those, the ones a target of this platform must set (`workspace`).
    pub required: &'static [&'static str],
    /// Of those, the ones that take a comma-separated list of these words
    /// (`sso_assigns: role, teams`).
    pub option_words: &'static [(&'static str, &'static [&'static str])],
    /// How the platform's clients authenticate: a Basic user and token, a Bearer token,
    /// or either.
    pub credentials: Credentials,
    pub users: KindRules,
    pub groups: KindRules,
    pub memberships: KindRules,
    /// Grants and defaults.
    pub permissions: KindRules,
    /// Attributes of a group the platform stores, by the manifest's field name
    /// (`description`, `privacy`), with the values each accepts. A field the platform
    /// does not store is not set on its targets.
    pub group_attributes: &'static [GroupAttribute],
    /// Members of a group have a role there (a team's maintainers): the membership
    /// attribute that holds it and its two values. `None`: a member is a member, and a
    /// group's `maintainers` are members like the rest.
    pub member_roles: Option<MemberRoles>,
    /// People have no username of their own here (Buildkite's organization members):
    /// the provider finds them by email, so resolve hands it the declared people by name
    /// with their email (`ReadScope::people`), as for people made elsewhere.
    pub users_by_email: bool,
    /// The kinds of scope segment the platform has (`project`, `repo`), with their
    /// naming rules.
    pub segments: &'static [SegmentRule],
    /// Grants, by scope: the role words each scope accepts. Empty when the platform has
    /// no permissions to grant (access is membership).
    pub scopes: &'static [ScopeRoles],
    /// The scopes with an "everyone" default, by segment kinds, and its role words.
    pub defaults: &'static [ScopeRoles],
    /// Native permissions at the root scope that make their holder an administrator.
    pub admin: &'static [&'static str],
    /// A grant on a scope below the root holds on every scope inside it (a project's on
    /// its repositories), and the highest grant applies: a grant inside a scope where its
    /// holder has as much or more changes nothing.
    pub inherited: bool,
    /// The platform names groups by an identifier of its own (Bitbucket Cloud's slug),
    /// which a group's `ids` may set per target and is otherwise derived from its name.
    pub group_ids: Option<GroupIds>,
    /// A Bearer token must name the `account` it belongs to: the platform's tokens belong
    /// to a user, whom the safety rules must protect.
    pub bearer_names_account: bool,
    pub hints: Hints,
}

/// Which changes exist for one kind of object.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KindRules {
    /// Read, never changed: objects of this kind belong to something else (an identity
    /// provider's synced groups, an identity source). A plan that would change one is
    /// refused.
    pub read_only: bool,
    /// Renamed in place, keeping what hangs off it. Otherwise a rename is a create, a move
    /// of what hangs off it, and a delete.
    pub rename: bool,
    /// Has an active flag: an offboarded person is deactivated, not only stripped.
    pub deactivate: bool,
    /// Deleting only deactivates, so a prune is planned as a deactivation.
    pub delete_deactivates: bool,
    /// No account of the platform's own to deactivate: being one is membership of the
    /// target (a Buildkite organization's member), so an offboarded person is removed,
    /// as the vendor's own deprovisioning does, not kept without access.
    pub offboard_removes: bool,
    /// A deactivated one is hidden from every call: it cannot be added to a group, so a
    /// membership of it that moves with a renamed group is left behind, and an add is
    /// refused.
    pub inactive_hidden: bool,
    /// What deleting one takes along, as the vendor describes its delete: the kinds of
    /// object naming it (`Memberships`, `Permissions` for grants) that go with it. The
    /// plan still lists their removals, for the reviewers; apply sends none of them and
    /// reports each as carried out by the delete (or not, with it).
    pub delete_takes: &'static [Kind],
    /// Made on another target (an organisation's directory) and only referred to here:
    /// never planned on this target, and not listed as unmanaged. A grant naming one the
    /// target does not have waits for the target it takes its principals from
    /// (`principals_from`) or is held, with what to do.
    pub external: bool,
    /// Its attributes (a group's description) are set when it is created and cannot be
    /// changed after: a change to them is noted, not planned.
    pub attributes_on_create_only: bool,
    /// What creating one is on this platform, when it is not making it outright: said
    /// as the create's reason (a Buildkite member is invited, and joins on accepting).
    pub created_as: Option<&'static str>,
    /// Its attributes are not rollcall's to change at all (a Buildkite member's name and
    /// email are the person's own): they are never compared, so one is created or
    /// removed, never updated.
    pub attributes_fixed: bool,
}

impl KindRules {
    /// Created, updated and deleted; no rename, no active flag.
    pub const PLAIN: KindRules = KindRules {
        read_only: false,
        rename: false,
        deactivate: false,
        delete_deactivates: false,
        offboard_removes: false,
        inactive_hidden: false,
        delete_takes: &[],
        external: false,
        attributes_on_create_only: false,
        attributes_fixed: false,
        created_as: None,
    };

    /// Made elsewhere, referred to here (see `external`).
    pub const EXTERNAL: KindRules = KindRules {
        external: true,
        ..KindRules::PLAIN
    };
}

/// How a platform's clients authenticate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Credentials {
    /// A username (an account's email on Atlassian's cloud) and a token, as Basic auth.
    Basic,
    /// A token as `Authorization: Bearer`.
    Bearer,
    /// Either: Basic with a `username`, Bearer without.
    Either,
}

/// How a platform names groups when it has an identifier of its own.
#[derive(Debug)]
pub struct GroupIds {
    /// What the identifier is called: `slug`.
    pub noun: &'static str,
    /// The identifier a group gets from its name when the manifest sets none.
    pub derive: fn(&str) -> String,
    /// A valid identifier.
    pub valid: fn(&str) -> bool,
    /// The rule in words, for the hint.
    pub rule: &'static str,
}

/// A group attribute a platform stores: the manifest's field and the values it takes.
#[derive(Debug)]
pub struct GroupAttribute {
    /// The manifest's field: `description`, `privacy`.
    pub field: &'static str,
    /// The manifest's words and the native value each means (`secret` is `SECRET`), in
    /// the order a hint lists them; empty for free text.
    pub values: &'static [(&'static str, &'static str)],
}

impl GroupAttribute {
    /// Free text, stored as written: a description.
    pub const fn text(field: &'static str) -> GroupAttribute {
        GroupAttribute { field, values: &[] }
    }

    /// The native value a manifest's word means (any case), or the text itself for a
    /// free-text attribute; `None` for a word this attribute does not take.
    pub fn native(&self, word: &str) -> Option<String> {
        if self.values.is_empty() {
            return Some(word.to_owned());
        }
        let word = word.trim();
        self.values
            .iter()
            .find(|(w, n)| w.eq_ignore_ascii_case(word) || n.eq_ignore_ascii_case(word))
            .map(|(_, n)| (*n).to_owned())
    }

    /// The manifest's word for a native value, the way back from `native`.
    pub fn word(&self, native: &str) -> String {
        self.values
            .iter()
            .find(|(_, n)| *n == native)
            .map_or_else(|| native.to_owned(), |(w, _)| (*w).to_owned())
    }

    /// The words it takes, for a hint.
    pub fn valid(&self) -> String {
        let words: Vec<&str> = self.values.iter().map(|(w, _)| *w).collect();
        words.join(", ")
    }
}

/// How a platform records a member's role in a group.
#[derive(Debug)]
pub struct MemberRoles {
    /// The membership attribute: `role`.
    pub attribute: &'static str,
    /// Its value for a plain member, and for one of the group's `maintainers`.
    pub member: &'static str,
    pub maintainer: &'static str,
}

/// Who may hold a grant on a scope.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Holders {
    Both,
    /// People only (Buildkite's organization role).
    Users,
    /// Groups only (Buildkite's pipeline access is given to teams).
    Groups,
}

impl Holders {
    /// Whether a user (`true`) or a group (`false`) may hold a grant here.
    pub fn admits(self, user: bool) -> bool {
        match self {
            Holders::Both => true,
            Holders::Users => user,
            Holders::Groups => !user,
        }
    }
}

/// The role words of one scope.
#[derive(Debug)]
pub struct ScopeRoles {
    /// The segment kinds of the scope from the root: `[]` (instance-wide), `["project"]`,
    /// `["project", "repo"]`.
    pub path: &'static [&'static str],
    /// How a message names the scope: `global permissions`, `project`, `repository`.
    pub noun: &'static str,
    /// Where a scope's entry in the `access` section holds these: the key of the root
    /// scope's grants (`global`) or of a default (`all_users`); empty for grants written
    /// straight into the scope's entry as `users` and `groups`.
    pub key: &'static str,
    /// Portable words and the native permission each means here.
    pub words: &'static [(&'static str, Option<&'static str>)],
    /// Native permission names, weakest first, also accepted as role words (any case).
    pub natives: &'static [&'static str],
    /// Who may hold a grant here.
    pub holders: Holders,
}

/// What a scope segment of one kind may be named.
#[derive(Debug)]
pub struct SegmentRule {
    pub kind: &'static str,
    /// The `access` key that lists segments of this kind, by name, in their parent
    /// scope's entry: `projects`, `repos`.
    pub key: &'static str,
    /// A valid name, for the JSON Schema's example: `PLAT`.
    pub example: &'static str,
    /// How a message names one: `project key`, `repository slug`.
    pub noun: &'static str,
    pub valid: fn(&str) -> bool,
    /// The rule in words, for the hint.
    pub rule: &'static str,
}

/// Hints the core prints with this platform's errors.
#[derive(Debug)]
pub struct Hints {
    /// A target without `auth`.
    pub auth: &'static str,
    /// An `access:` section for a platform without grants.
    pub no_grants: &'static str,
    /// Reading failed with 401 or 403.
    pub unauthorized: &'static str,
    /// Reading failed with 404.
    pub not_found: &'static str,
    /// A person the target does not have, whose users are made elsewhere (`external`)
    /// and whom no target of the plan provides: what to do.
    pub not_member: &'static str,
}

impl Platform {
    pub const fn new(spec: &'static Spec) -> Platform {
        Platform(spec)
    }

    pub fn spec(self) -> &'static Spec {
        self.0
    }

    /// The target kind as the manifest and the plan name it.
    pub fn kind(self) -> &'static str {
        self.0.kind
    }

    pub fn profile(self) -> Option<&'static str> {
        self.0.profile
    }

    /// The kind, with the profile if it has one: `scim/atlassian`.
    pub fn label(self) -> String {
        match self.0.profile {
            Some(p) => format!("{}/{p}", self.0.kind),
            None => self.0.kind.to_owned(),
        }
    }

    /// The rules for a kind of object, as `policy.prune` names kinds.
    pub fn rules(self, kind: Kind) -> KindRules {
        match kind {
            Kind::Users => self.0.users,
            Kind::Groups => self.0.groups,
            Kind::Memberships => self.0.memberships,
            Kind::Permissions => self.0.permissions,
        }
    }

    pub fn users(self) -> KindRules {
        self.0.users
    }

    pub fn groups(self) -> KindRules {
        self.0.groups
    }

    pub fn has_grants(self) -> bool {
        !self.0.scopes.is_empty()
    }

    /// The group attribute the manifest's `field` sets, if the platform stores it.
    pub fn group_attribute(self, field: &str) -> Option<&'static GroupAttribute> {
        self.0.group_attributes.iter().find(|a| a.field == field)
    }

    pub fn accepts_option(self, option: &str) -> bool {
        self.0.options.contains(&option)
    }

    /// The naming rule of a scope segment kind, if the platform has that kind.
    pub fn segment(self, kind: &str) -> Option<&'static SegmentRule> {
        self.0.segments.iter().find(|s| s.kind == kind)
    }

    /// The role words of a scope with these segment kinds, if the platform grants there.
    pub fn scope_roles(self, kinds: &[&str]) -> Option<&'static ScopeRoles> {
        self.0.scopes.iter().find(|s| s.path == kinds)
    }

    /// The role words of the "everyone" default of a scope with these segment kinds.
    pub fn default_roles(self, kinds: &[&str]) -> Option<&'static ScopeRoles> {
        self.0.defaults.iter().find(|s| s.path == kinds)
    }

    /// The segment kinds that can follow a scope with these segment kinds, in declaration
    /// order: those that start a longer path with grants or a default.
    pub fn children(self, kinds: &[&str]) -> impl Iterator<Item = &'static SegmentRule> {
        let spec = self.0;
        let next: Vec<&'static str> = spec
            .scopes
            .iter()
            .chain(spec.defaults)
            .filter(|roles| roles.path.len() > kinds.len() && roles.path[..kinds.len()] == *kinds)
            .map(|roles| roles.path[kinds.len()])
            .collect();
        spec.segments.iter().filter(move |rule| next.contains(&rule.kind))
    }

    /// A grant of `permission` on `scope` makes its holder an administrator.
    pub fn is_admin(self, scope: &Scope, permission: &str) -> bool {
        scope.is_root() && self.0.admin.contains(&permission)
    }

    /// The rank of a root-scope permission, weakest 1; 0 for none or unknown. The safety
    /// rules use it to see the account rollcall works as being demoted.
    pub fn root_rank(self, permission: &str) -> usize {
        self.scope_roles(&[])
            .and_then(|r| r.natives.iter().position(|n| *n == permission))
            .map_or(0, |i| i + 1)
    }

    /// The root-scope permission of a rank, `none` for 0.
    pub fn root_level(self, rank: usize) -> &'static str {
        self.scope_roles(&[])
            .and_then(|r| rank.checked_sub(1).and_then(|i| r.natives.get(i)))
            .copied()
            .unwrap_or("none")
    }

    /// The names `admin` lists, for messages: `ADMIN or SYS_ADMIN`.
    pub fn admin_names(self) -> String {
        self.0.admin.join(" or ")
    }
}

impl ScopeRoles {
    /// The native permission a role word means here: a portable word first, then a
    /// native name in any case. `Some(None)` is a word meaning "no access".
    pub fn permission(&self, word: &str) -> Option<Option<String>> {
        let lower = word.trim().to_ascii_lowercase();
        if let Some((_, native)) = self.words.iter().find(|(w, _)| *w == lower) {
            return Some(native.map(str::to_owned));
        }
        self.natives
            .iter()
            .find(|n| n.eq_ignore_ascii_case(&lower))
            .map(|n| Some((*n).to_owned()))
    }

    /// The manifest's word for a native permission here, the way back from `permission`:
    /// the portable word that means it, else its native name where the manifest accepts
    /// that (`SYS_ADMIN`), else none: the manifest cannot say it.
    pub fn word(&self, native: &str) -> Option<String> {
        let portable = self.words.iter().find(|(_, n)| *n == Some(native));
        match portable {
            Some((word, _)) => Some((*word).to_owned()),
            None => self.natives.contains(&native).then(|| native.to_owned()),
        }
    }

    /// How much a native permission allows, comparable across scopes: the rank of the
    /// strongest portable word it includes (`read` 0, `write` 1, `admin` 2), so a
    /// project's `create-repo` counts as `write`. `None` for a permission not of this
    /// scope, or below every portable word.
    pub fn level(&self, native: &str) -> Option<usize> {
        let at = self.natives.iter().position(|n| n.eq_ignore_ascii_case(native))?;
        ["read", "write", "admin"]
            .iter()
            .enumerate()
            .filter_map(|(level, word)| {
                let (_, mapped) = self.words.iter().find(|(w, _)| w == word)?;
                let index = self.natives.iter().position(|n| Some(*n) == *mapped)?;
                (index <= at).then_some(level)
            })
            .max()
    }

    /// The valid words, for a hint: `read, write, admin, or REPO_READ, …`.
    pub fn valid(&self) -> String {
        let words: Vec<&str> = self.words.iter().map(|(w, _)| *w).collect();
        if self.natives.is_empty() {
            return words.join(", ");
        }
        format!("{}, or {}", words.join(", "), self.natives.join(", "))
    }
}

impl PartialEq for Platform {
    fn eq(&self, other: &Platform) -> bool {
        (self.0.kind, self.0.profile) == (other.0.kind, other.0.profile)
    }
}

impl Eq for Platform {}

impl fmt::Debug for Platform {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Platform({})", self.label())
    }
}

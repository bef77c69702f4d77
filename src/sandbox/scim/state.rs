//! The SCIM sandbox's state file: the users and groups a SCIM service provider holds, which
//! profile it behaves as, and the counters that make its ids reproducible.
//!
//! Attribute names are SCIM's own (`userName`, `externalId`, `displayName`), so a person
//! who knows RFC 7643 can read and edit the file, and the wire shapes are built from the
//! same structs. The file says `kind: scim` at the top, which is how rollcall tells it
//! from a Bitbucket Data Center state (`sandbox::state::marker`).

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::profile::ProfileName;
use crate::sandbox::faults::FaultConfig;
use crate::sandbox::state::StateFile;

/// The value of the `kind` key that marks a SCIM state file.
pub const KIND: &str = "scim";

/// Everything a sandboxed SCIM service provider knows.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "snake_case")]
pub struct ScimState {
    /// Always `scim`; present so the file says what it is.
    pub kind: String,
    #[serde(default)]
    pub profile: ProfileName,
    /// The directory the Atlassian profile serves under `/scim/directory/{directoryId}`;
    /// unused by the `rfc` profile.
    #[serde(default = "default_directory", skip_serializing_if = "String::is_empty")]
    pub directory_id: String,
    /// How many ids were handed out: the next id derives from this, so the same requests
    /// against the same file give the same ids.
    #[serde(default)]
    pub serial: u64,
    /// How many changes the emulator has stamped: `meta.created` and `meta.lastModified`
    /// derive from this, not from the wall clock (see `ScimState::tick`).
    #[serde(default)]
    pub clock: u64,
    #[serde(default)]
    pub users: Vec<ScimUser>,
    #[serde(default)]
    pub groups: Vec<ScimGroup>,
    /// Faults to inject, as for the Data Center sandbox; absent means none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub faults: Option<FaultConfig>,
}

impl Default for ScimState {
    fn default() -> Self {
        ScimState {
            kind: KIND.to_owned(),
            profile: ProfileName::default(),
            directory_id: default_directory(),
            serial: 0,
            clock: 0,
            users: Vec::new(),
            groups: Vec::new(),
            faults: None,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ScimUser {
    pub id: String,
    pub user_name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub external_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<Name>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub display_name: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub emails: Vec<Email>,
    /// Absent means active: a client may remove the attribute (RFC 7644 §3.5.2.2), and a
    /// provider treats an unset flag as not deactivated.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub active: Option<bool>,
    #[serde(default)]
    pub meta: Meta,
}

impl ScimUser {
    pub fn is_active(&self) -> bool {
        self.active != Some(false)
    }
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Name {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub formatted: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub family_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub given_name: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Email {
    pub value: String,
    #[serde(default, rename = "type", skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub primary: Option<bool>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ScimGroup {
    pub id: String,
    pub display_name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub external_id: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub members: Vec<Member>,
    #[serde(default)]
    pub meta: Meta,
}

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Member {
    /// The member user's `id`.
    pub value: String,
}

/// When a resource was created and last changed, and its revision: `version` counts
/// changes and becomes the weak ETag `W/"<version>"`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Meta {
    #[serde(default)]
    pub created: String,
    #[serde(default)]
    pub last_modified: String,
    #[serde(default)]
    pub version: u64,
}

impl Meta {
    /// A new resource's meta: created `at`, at version 1.
    pub fn new(at: String) -> Self {
        Meta {
            created: at.clone(),
            last_modified: at,
            version: 1,
        }
    }

    /// Marks one more change, made `at`.
    pub fn touch(&mut self, at: String) {
        self.last_modified = at;
        self.version += 1;
    }

    pub fn etag(&self) -> String {
        format!("W/\"{}\"", self.version)
    }

    /// Gives a time the file leaves out one (`lastModified` defaults to `created`, both
    /// to `loaded_at`) and checks the times it gives: RFC 7643 §3.1 makes both
    /// date-times, and a client must never read `""`.
    fn settle(&mut self, loaded_at: &str) -> Result<(), String> {
        for (key, time) in [("created", &self.created), ("lastModified", &self.last_modified)] {
            if !time.is_empty() && !is_rfc3339(time) {
                return Err(format!(
                    "meta.{key} `{time}` is not an RFC 3339 date-time, as in 2026-01-02T03:04:05Z"
                ));
            }
        }
        if self.created.is_empty() {
            self.created = if self.last_modified.is_empty() {
                loaded_at.to_owned()
            } else {
                self.last_modified.clone()
            };
        }
        if self.last_modified.is_empty() {
            self.last_modified = self.created.clone();
        }
        Ok(())
    }
}

fn default_directory() -> String {
    "sandbox-directory".to_owned()
}

impl StateFile for ScimState {
    fn faults(&self) -> Option<&FaultConfig> {
        self.faults.as_ref()
    }

    /// The kind, unique ids and userNames, members that exist, and date-times in `meta`.
    /// An object written without times gets the clock's current time, so it reads as made
    /// before any later change.
    fn check(&mut self) -> Result<(), String> {
        let loaded_at = rfc3339(CLOCK_EPOCH.saturating_add(self.clock));
        for user in &mut self.users {
            let id = &user.id;
            user.meta.settle(&loaded_at).map_err(|e| format!("user {id}: {e}"))?;
        }
        for group in &mut self.groups {
            let id = &group.id;
            group.meta.settle(&loaded_at).map_err(|e| format!("group {id}: {e}"))?;
        }
        if self.kind != KIND {
            return Err(format!("kind must be `{KIND}`, not `{}`", self.kind));
        }
        let mut ids = std::collections::HashSet::new();
        let mut names = std::collections::HashSet::new();
        for user in &self.users {
            if !ids.insert(user.id.as_str()) {
                return Err(format!("id {} is used twice", user.id));
            }
            if !names.insert(user.user_name.to_lowercase()) {
                return Err(format!("userName {} is used twice", user.user_name));
            }
        }
        // Looked up in a set: a state of a hundred thousand users and a million
        // memberships must load in well under a second.
        let user_ids: std::collections::HashSet<&str> = self.users.iter().map(|u| u.id.as_str()).collect();
        for group in &self.groups {
            if !ids.insert(group.id.as_str()) {
                return Err(format!("id {} is used twice", group.id));
            }
            for member in &group.members {
                if !user_ids.contains(member.value.as_str()) {
                    return Err(format!(
                        "group {} has member {}, which is no user's id",
                        group.display_name, member.value
                    ));
                }
            }
        }
        Ok(())
    }
}

impl ScimState {
    /// `StateFile::parse`, callable without the trait in scope, as the manifest loader and
    /// the tests call it.
    pub fn parse(text: &str) -> Result<Self, String> {
        <Self as StateFile>::parse(text)
    }

    /// The time of a change about to be made, as RFC 3339: `CLOCK_EPOCH` plus one second
    /// per change so far. Not the wall clock: the same requests against the same file must
    /// save the same file (a state is a test fixture, diffed and committed), and a counter
    /// kept in the file does that while keeping what clients rely on in timestamps:
    /// `lastModified` never precedes `created`, and a later change has a later time.
    pub fn tick(&mut self) -> String {
        self.clock += 1;
        rfc3339(CLOCK_EPOCH.saturating_add(self.clock))
    }

    /// The next id: a UUID-shaped hash of the directory and a counter, so ids look like
    /// the vendors' and are the same on every run from the same file.
    pub fn next_id(&mut self) -> String {
        loop {
            self.serial += 1;
            let digest = Sha256::digest(format!("{}/{}", self.directory_id, self.serial));
            let hex: String = digest.iter().take(16).map(|b| format!("{b:02x}")).collect();
            let id = format!(
                "{}-{}-{}-{}-{}",
                &hex[0..8],
                &hex[8..12],
                &hex[12..16],
                &hex[16..20],
                &hex[20..32]
            );
            // A hand-written id in the file could collide; skip it rather than clash.
            let taken = self.users.iter().any(|u| u.id == id) || self.groups.iter().any(|g| g.id == id);
            if !taken {
                return id;
            }
        }
    }
}

/// Where the sandbox's clock starts: 2026-01-01T00:00:00Z.
const CLOCK_EPOCH: u64 = 1_767_225_600;

/// Seconds since 1970 as RFC 3339 UTC (`2026-01-02T03:04:05Z`), as SCIM's `dateTime`
/// requires. A clock in the file past the last time jiff holds (late in 9999) stops there
/// rather than failing.
fn rfc3339(secs: u64) -> String {
    let at = i64::try_from(secs)
        .ok()
        .and_then(|secs| jiff::Timestamp::from_second(secs).ok())
        .unwrap_or(jiff::Timestamp::MAX);
    format!("{at:.0}")
}

/// Whether `text` is an RFC 3339 `date-time`: `2026-01-02T03:04:05`, optional fractions,
/// then `Z` or an offset such as `+02:00`, naming a date and time that exist.
fn is_rfc3339(text: &str) -> bool {
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    let shape = |s: &str, pattern: &str| {
        s.len() == pattern.len()
            && s.bytes().zip(pattern.bytes()).all(|(c, p)| {
                if p == b'9' {
                    c.is_ascii_digit()
                } else {
                    c.eq_ignore_ascii_case(&p)
                }
            })
    };
    let (Some(date_time), Some(rest)) = (text.get(..19), text.get(19..)) else {
        return false;
    };
    // The shape is RFC 3339's; jiff then refuses dates and times that do not exist
    // (month 13, 30 February, hour 24).
    if !shape(date_time, "9999-99-99T99:99:99") || date_time.parse::<jiff::civil::DateTime>().is_err() {
        return false;
    }
    let zone = match rest.strip_prefix('.') {
        Some(fraction) => {
            let end = fraction.find(|c: char| !c.is_ascii_digit()).unwrap_or(fraction.len());
            if !digits(&fraction[..end]) {
                return false;
            }
            &fraction[end..]
        }
        None => rest,
    };
    zone.eq_ignore_ascii_case("z") || shape(zone, "+99:99") || shape(zone, "-99:99")
}

#[cfg(test)]
mod tests {
    use super::{is_rfc3339, rfc3339};

    #[test]
    fn recognises_date_times() {
        for yes in [
            "2026-01-02T03:04:05Z",
            "2026-01-02t03:04:05.123+02:00",
            "2026-01-02T03:04:05-00:30",
            "2024-02-29T23:59:60.5Z",
        ] {
            assert!(is_rfc3339(yes), "{yes}");
        }
        for no in [
            "",
            "2026-01-02",
            "2026-01-02T03:04:05",
            "2026-01-02T03:04:05.Z",
            "2026-01-02 03:04:05Z",
            "2026-01-02T03:04:05+2",
            "2026-13-02T03:04:05Z",
            "2026-02-30T03:04:05Z",
            "2026-01-02T24:04:05Z",
        ] {
            assert!(!is_rfc3339(no), "{no}");
        }
    }

    #[test]
    fn the_clock_starts_at_its_epoch_and_ticks_once_per_change() {
        let mut state = super::ScimState::default();
        assert_eq!(rfc3339(super::CLOCK_EPOCH), "2026-01-01T00:00:00Z");
        assert_eq!(state.tick(), "2026-01-01T00:00:01Z");
        assert_eq!(state.tick(), "2026-01-01T00:00:02Z");
        assert_eq!(state.clock, 2);
    }

    #[test]
    fn formats_dates() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339(951_782_400), "2000-02-29T00:00:00Z");
        assert_eq!(rfc3339(1_767_323_045), "2026-01-02T03:04:05Z");
        assert_eq!(rfc3339(u64::MAX), "9999-12-30T22:00:00Z");
    }
}

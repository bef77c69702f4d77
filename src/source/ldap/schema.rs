//! The two directory schemas an LDAP source speaks, OpenLDAP's (`inetOrgPerson`,
//! `groupOfNames`/`groupOfUniqueNames`) and Active Directory's (`user`, `group`, the
//! transitive `memberOf` matching rule): the filters and attribute lists each search
//! sends, and how an entry becomes a [`Person`]. Pure functions, so what cannot be tested
//! against a real server (Active Directory) is at least tested here.

use std::collections::BTreeMap;

use crate::source::Person;

/// Which directory schema the source uses (`schema:` in the manifest).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Schema {
    OpenLdap,
    ActiveDirectory,
}

impl Schema {
    /// The manifest's word, `openldap` when unset.
    pub fn parse(word: Option<&str>) -> Option<Schema> {
        match word.map(str::to_ascii_lowercase).as_deref() {
            None | Some("openldap") => Some(Schema::OpenLdap),
            Some("active-directory") => Some(Schema::ActiveDirectory),
            _ => None,
        }
    }

    /// Everyone the source counts as a person.
    pub fn people_filter(self) -> &'static str {
        match self {
            Schema::OpenLdap => "(objectClass=inetOrgPerson)",
            // objectCategory keeps computers out: they are objectClass=user too.
            Schema::ActiveDirectory => "(&(objectCategory=person)(objectClass=user))",
        }
    }

    /// The attributes asked for on people: every user attribute (`*`, so `map` can name
    /// any of them), plus the operational ones that say whether the account is locked.
    /// Both `*` and `objectClass` for Active Directory, whose transitive member search
    /// returns groups and computers too, told apart by their classes.
    pub fn person_attributes(self) -> &'static [&'static str] {
        match self {
            // `pwdAccountLockedTime` is operational (ppolicy overlay): `*` leaves it out.
            // A server without the overlay ignores the name.
            Schema::OpenLdap => &["*", "pwdAccountLockedTime"],
            Schema::ActiveDirectory => &["*", "objectClass"],
        }
    }

    /// How an entry's `objectClass` values read for a transitive member search (Active
    /// Directory); OpenLDAP's members are told apart by which list their DN is in.
    pub fn member_kind(self, classes: &[String]) -> MemberKind {
        let has = |name: &str| classes.iter().any(|c| c.eq_ignore_ascii_case(name));
        match self {
            Schema::OpenLdap if has("inetOrgPerson") => MemberKind::Person,
            Schema::OpenLdap if has("groupOfNames") || has("groupOfUniqueNames") => MemberKind::Group,
            // A computer (and a managed service account) is objectClass=user as well.
            Schema::ActiveDirectory if has("group") => MemberKind::Group,
            Schema::ActiveDirectory if has("user") && !has("computer") => MemberKind::Person,
            _ => MemberKind::Other,
        }
    }

    /// Turns a person's entry into a [`Person`].
    pub fn person(self, entry: &Entry) -> Person {
        let attributes = entry.text_attributes();
        match self {
            Schema::OpenLdap => {
                // ppolicy's lock: present means the server refuses the account's binds
                // (until the lockout ends, or for good with 000001010000Z).
                let locked = entry.first("pwdAccountLockedTime").is_some();
                Person {
                    id: entry.dn.clone(),
                    login: entry.first("uid").map(str::to_owned),
                    email: entry.first("mail").map(str::to_owned),
                    display_name: entry
                        .first("displayName")
                        .or_else(|| entry.first("cn"))
                        .map(str::to_owned),
                    department: entry.first("departmentNumber").map(str::to_owned),
                    status: if locked { "disabled" } else { "enabled" }.to_owned(),
                    active: !locked,
                    attributes,
                }
            }
            Schema::ActiveDirectory => {
                // ACCOUNTDISABLE is bit 0x2 of userAccountControl; an unreadable value is
                // taken as enabled, as Active Directory itself defaults it.
                let control = entry
                    .first("userAccountControl")
                    .and_then(|v| v.trim().parse::<u32>().ok())
                    .unwrap_or(0);
                let disabled = control & 0x2 != 0;
                Person {
                    id: entry.dn.clone(),
                    login: entry.first("sAMAccountName").map(str::to_owned),
                    email: entry.first("mail").map(str::to_owned),
                    display_name: entry
                        .first("displayName")
                        .or_else(|| entry.first("cn"))
                        .map(str::to_owned),
                    department: entry.first("department").map(str::to_owned),
                    status: if disabled { "disabled" } else { "enabled" }.to_owned(),
                    active: !disabled,
                    attributes,
                }
            }
        }
    }
}

/// What a member DN turned out to be.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MemberKind {
    Person,
    Group,
    Other,
}

/// Every group under the base, both OpenLDAP group classes.
pub const OPENLDAP_GROUPS: &str = "(|(objectClass=groupOfNames)(objectClass=groupOfUniqueNames))";

/// What the group search asks for: the name and both member attributes.
pub const OPENLDAP_GROUP_ATTRIBUTES: &[&str] = &["cn", "member", "uniqueMember"];

/// What the Active Directory group lookup asks for.
pub const AD_GROUP_ATTRIBUTES: &[&str] = &["cn"];

/// Active Directory's named groups, all in one filter: by `cn`, or by DN through
/// `distinguishedName` (an attribute Active Directory has and filters on).
pub fn ad_groups_filter<'a>(names: impl IntoIterator<Item = &'a str>) -> String {
    let mut terms = String::new();
    for name in names {
        let attribute = if is_dn(name) { "distinguishedName" } else { "cn" };
        terms.push_str(&format!("({attribute}={})", ldap3::ldap_escape(name.trim())));
    }
    format!("(&(objectClass=group)(|{terms}))")
}

/// Every member of a group, nested groups followed by the server:
/// LDAP_MATCHING_RULE_IN_CHAIN (1.2.840.113556.1.4.1941) on `memberOf`. Documented by
/// Microsoft ("Search Filter Syntax"); Active Directory only.
pub fn ad_members_filter(group_dn: &str) -> String {
    format!("(memberOf:1.2.840.113556.1.4.1941:={})", ldap3::ldap_escape(group_dn))
}

/// Whether a group name is a distinguished name rather than a `cn`.
pub fn is_dn(name: &str) -> bool {
    name.contains('=')
}

/// A member value as written in a group: `uniqueMember` may carry an optional unique
/// identifier after the DN (`…,dc=com#'0101'B`, RFC 4517 NameAndOptionalUID).
pub fn member_dn(value: &str) -> &str {
    if let Some(at) = value.rfind("#'") {
        let tail = &value[at + 2..];
        if let Some(bits) = tail.strip_suffix("'B") {
            if bits.bytes().all(|b| b == b'0' || b == b'1') {
                return &value[..at];
            }
        }
    }
    value
}

/// A DN in one spelling, for comparing the DNs in `member` with the entries' own:
/// attribute types and values compared without case (the naming attributes that
/// directories use, `cn`, `uid`, `ou`, `dc`, match that way), blanks around the
/// separators dropped, escapes kept as written.
pub fn normalize_dn(dn: &str) -> String {
    let mut out = String::with_capacity(dn.len());
    let mut part = String::new();
    let mut escaped = false;
    let flush = |part: &mut String, out: &mut String, separator: Option<char>| {
        let (attribute, value) = match part.split_once('=') {
            Some((a, v)) => (a.trim().to_lowercase(), v.trim().to_lowercase()),
            None => (String::new(), part.trim().to_lowercase()),
        };
        out.push_str(&attribute);
        out.push('=');
        out.push_str(&value);
        if let Some(s) = separator {
            out.push(s);
        }
        part.clear();
    };
    for c in dn.chars() {
        if escaped {
            part.push(c);
            escaped = false;
        } else if c == '\\' {
            part.push(c);
            escaped = true;
        } else if c == ',' || c == '+' {
            flush(&mut part, &mut out, Some(c));
        } else {
            part.push(c);
        }
    }
    flush(&mut part, &mut out, None);
    out
}

/// Whether `dn` is `base` or below it.
pub fn under(dn: &str, base: &str) -> bool {
    let (dn, base) = (normalize_dn(dn), normalize_dn(base));
    dn == base || dn.ends_with(&format!(",{base}"))
}

/// One entry as a search returned it: its DN and its text attributes, looked up
/// without regard to case (`sAMAccountName` comes back as the server spells it).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Entry {
    pub dn: String,
    /// By lower-cased name: the name as the server spelled it, and the values.
    attrs: BTreeMap<String, (String, Vec<String>)>,
}

/// Attributes never copied into `attributes`: secrets (readable only by a
/// misconfigured bind account, and never wanted in a plan), and the membership and
/// class lists, which are many-valued and say nothing a `map` can use.
const NOT_COPIED: &[&str] = &[
    "userpassword",
    "unicodepwd",
    "objectclass",
    "memberof",
    "member",
    "uniquemember",
];

impl Entry {
    pub fn new(dn: String, attrs: impl IntoIterator<Item = (String, Vec<String>)>) -> Entry {
        let attrs = attrs
            .into_iter()
            .map(|(name, values)| (name.to_ascii_lowercase(), (name, values)))
            .collect();
        Entry { dn, attrs }
    }

    /// Every value of an attribute (none when absent).
    pub fn values(&self, name: &str) -> &[String] {
        self.attrs
            .get(&name.to_ascii_lowercase())
            .map(|(_, v)| v.as_slice())
            .unwrap_or_default()
    }

    /// An attribute's first non-blank value.
    pub fn first(&self, name: &str) -> Option<&str> {
        self.values(name).iter().map(|v| v.trim()).find(|v| !v.is_empty())
    }

    /// Every text attribute for `map`, under the server's name, first value each: an
    /// attribute `map` names is one value (`title`, `employeeNumber`); many-valued ones
    /// come in no defined order, so which one is first is the server's.
    fn text_attributes(&self) -> BTreeMap<String, String> {
        self.attrs
            .iter()
            .filter(|(lower, _)| !NOT_COPIED.contains(&lower.as_str()))
            .filter_map(|(_, (name, values))| {
                let value = values.iter().map(|v| v.trim()).find(|v| !v.is_empty())?;
                Some((name.clone(), value.to_owned()))
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(dn: &str, attrs: &[(&str, &[&str])]) -> Entry {
        Entry::new(
            dn.to_owned(),
            attrs
                .iter()
                .map(|(n, vs)| ((*n).to_owned(), vs.iter().map(|v| (*v).to_owned()).collect())),
        )
    }

    #[test]
    fn schema_words() {
        assert_eq!(Schema::parse(None), Some(Schema::OpenLdap));
        assert_eq!(Schema::parse(Some("OpenLDAP")), Some(Schema::OpenLdap));
        assert_eq!(Schema::parse(Some("active-directory")), Some(Schema::ActiveDirectory));
        assert_eq!(Schema::parse(Some("ad")), None);
    }

    #[test]
    fn ad_filters_escape_and_pick_the_attribute() {
        assert_eq!(
            ad_groups_filter(["eng (all)", "CN=Ops,OU=Groups,DC=corp,DC=example"]),
            "(&(objectClass=group)(|(cn=eng \\28all\\29)(distinguishedName=CN=Ops,OU=Groups,DC=corp,DC=example)))"
        );
        assert_eq!(
            ad_members_filter("CN=a*b,DC=corp"),
            "(memberOf:1.2.840.113556.1.4.1941:=CN=a\\2ab,DC=corp)"
        );
    }

    #[test]
    fn ad_person_reads_the_disabled_bit() {
        let e = entry(
            "CN=Ada Lovelace,OU=Staff,DC=corp,DC=example",
            &[
                ("sAMAccountName", &["ada"]),
                ("userPrincipalName", &["ada@corp.example"]),
                ("mail", &["ada@example.com"]),
                ("displayName", &["Ada Lovelace"]),
                ("department", &["Engineering"]),
                ("userAccountControl", &["514"]),
                ("objectClass", &["top", "person", "organizationalPerson", "user"]),
                ("title", &["Analyst"]),
            ],
        );
        let p = Schema::ActiveDirectory.person(&e);
        assert_eq!(p.id, "CN=Ada Lovelace,OU=Staff,DC=corp,DC=example");
        assert_eq!(p.login.as_deref(), Some("ada"));
        assert_eq!(p.email.as_deref(), Some("ada@example.com"));
        assert_eq!(p.display_name.as_deref(), Some("Ada Lovelace"));
        assert_eq!(p.department.as_deref(), Some("Engineering"));
        assert_eq!((p.status.as_str(), p.active), ("disabled", false));
        assert_eq!(
            p.attributes.get("userPrincipalName").map(String::as_str),
            Some("ada@corp.example")
        );
        assert_eq!(p.attributes.get("title").map(String::as_str), Some("Analyst"));
        assert!(!p.attributes.contains_key("objectClass"));

        let enabled = entry("CN=b,DC=corp", &[("userAccountControl", &["512"])]);
        let p = Schema::ActiveDirectory.person(&enabled);
        assert_eq!((p.status.as_str(), p.active), ("enabled", true));
    }

    #[test]
    fn ad_members_are_told_apart_by_class() {
        let classes = |cs: &[&str]| cs.iter().map(|c| (*c).to_owned()).collect::<Vec<_>>();
        let ad = Schema::ActiveDirectory;
        assert_eq!(
            ad.member_kind(&classes(&["top", "person", "organizationalPerson", "user"])),
            MemberKind::Person
        );
        assert_eq!(ad.member_kind(&classes(&["top", "group"])), MemberKind::Group);
        assert_eq!(
            ad.member_kind(&classes(&["top", "person", "organizationalPerson", "user", "computer"])),
            MemberKind::Other
        );
        assert_eq!(
            ad.member_kind(&classes(&["top", "person", "organizationalPerson", "contact"])),
            MemberKind::Other
        );
        assert_eq!(
            ad.member_kind(&classes(&["top", "foreignSecurityPrincipal"])),
            MemberKind::Other
        );
    }

    #[test]
    fn openldap_person_and_secrets_left_out() {
        let e = entry(
            "uid=ada,ou=people,dc=example,dc=com",
            &[
                ("uid", &["ada"]),
                ("cn", &["Ada L"]),
                ("mail", &["ada@example.com"]),
                ("departmentNumber", &["42"]),
                ("userPassword", &["{SSHA}x"]),
                ("employeeType", &["", "staff"]),
            ],
        );
        let p = Schema::OpenLdap.person(&e);
        assert_eq!(p.login.as_deref(), Some("ada"));
        assert_eq!(
            p.display_name.as_deref(),
            Some("Ada L"),
            "cn when there is no displayName"
        );
        assert_eq!(p.department.as_deref(), Some("42"));
        assert_eq!((p.status.as_str(), p.active), ("enabled", true));
        assert!(!p.attributes.contains_key("userPassword"));
        assert_eq!(p.attributes.get("employeeType").map(String::as_str), Some("staff"));

        let locked = entry("uid=b,dc=example", &[("pwdAccountLockedTime", &["000001010000Z"])]);
        let p = Schema::OpenLdap.person(&locked);
        assert_eq!((p.status.as_str(), p.active), ("disabled", false));
    }

    #[test]
    fn dns_compare_without_case_or_blanks() {
        assert_eq!(
            normalize_dn("UID=Ada, OU=People,dc=Example, dc=com"),
            "uid=ada,ou=people,dc=example,dc=com"
        );
        assert_eq!(normalize_dn("cn=a\\, b,dc=x"), "cn=a\\, b,dc=x");
        assert!(under("uid=a,ou=people,dc=example,dc=com", "DC=example, DC=com"));
        assert!(!under("uid=a,dc=other,dc=com", "dc=example,dc=com"));
        assert!(!under("uid=a,dc=notexample,dc=com", "dc=example,dc=com"));
    }

    #[test]
    fn unique_member_drops_the_uid() {
        assert_eq!(member_dn("uid=a,dc=x#'0101'B"), "uid=a,dc=x");
        assert_eq!(member_dn("uid=a,dc=x"), "uid=a,dc=x");
        assert_eq!(member_dn("cn=a#'b,dc=x"), "cn=a#'b,dc=x");
    }
}

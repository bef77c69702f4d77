//! What the manifest asks of its sources, once `resolve` has checked it: each source's
//! connection, who its people are and how their attributes become a person's, and which
//! manifest groups follow which source groups.

use std::collections::BTreeMap;

use super::{Query, SourceConfig};
use crate::manifest::Origin;

/// Every source the manifest declares, and what it asks of them.
#[derive(Debug, Clone, Default)]
pub struct Sourcing {
    pub sources: BTreeMap<String, SourceSpec>,
    /// Each manifest group that follows source groups, with them (`members_from`).
    pub feeds: BTreeMap<String, Vec<Feed>>,
    pub policy: ShrinkPolicy,
}

impl Sourcing {
    /// The query each source must answer: its people's groups (or everyone) and every
    /// group a manifest group follows.
    pub fn query(&self, source: &str) -> Query {
        let mut query = Query::default();
        if let Some(people) = self.sources.get(source).and_then(|s| s.people.as_ref()) {
            match &people.groups {
                Some(groups) => query.groups.extend(groups.iter().cloned()),
                None => query.everyone = true,
            }
        }
        for feed in self.feeds.values().flatten().filter(|f| f.source == source) {
            query.groups.insert(feed.group.clone());
        }
        query
    }

    /// Whether the source is asked anything at all.
    pub fn used(&self, source: &str) -> bool {
        self.query(source) != Query::default()
    }
}

#[derive(Debug, Clone)]
pub struct SourceSpec {
    pub config: SourceConfig,
    /// Who its people are; None when the manifest says nothing (only the members of the
    /// groups it feeds are people, as they are).
    pub people: Option<Selection>,
    /// Where the source is declared, for what the manifest gets from it.
    pub at: Origin,
}

/// Who a source's people are, and how their attributes become a person's.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Selection {
    /// Source groups whose members are people; None: everyone.
    pub groups: Option<Vec<String>>,
    /// The account states that count as active; None: the kind's own sense.
    pub status: Option<Vec<String>>,
    pub department: Option<Vec<String>>,
    pub domain: Option<Vec<String>>,
    pub username: UsernameRule,
    /// The attributes for the display name and the email, where not the kind's.
    pub name_attribute: Option<String>,
    pub email_attribute: Option<String>,
}

/// How a person's rollcall name is made from the source's attributes.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum UsernameRule {
    /// The part of the email before `@`.
    #[default]
    EmailLocalPart,
    Email,
    Login,
    Attribute(String),
}

impl UsernameRule {
    pub fn parse(text: &str) -> Option<UsernameRule> {
        match text.trim() {
            "email_local_part" => Some(UsernameRule::EmailLocalPart),
            "email" => Some(UsernameRule::Email),
            "login" => Some(UsernameRule::Login),
            other => other
                .strip_prefix("attribute:")
                .map(str::trim)
                .filter(|a| !a.is_empty())
                .map(|a| UsernameRule::Attribute(a.to_owned())),
        }
    }

    pub fn describe(&self) -> String {
        match self {
            UsernameRule::EmailLocalPart => "email_local_part".to_owned(),
            UsernameRule::Email => "email".to_owned(),
            UsernameRule::Login => "login".to_owned(),
            UsernameRule::Attribute(a) => format!("attribute:{a}"),
        }
    }
}

/// A source group a manifest group follows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Feed {
    pub source: String,
    pub group: String,
    pub at: Origin,
}

impl Feed {
    /// `okta:eng-backend`, as the manifest writes it.
    pub fn label(&self) -> String {
        format!("{}:{}", self.source, self.group)
    }
}

/// How far a fed group may shrink in one run (`policy.sources`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ShrinkPolicy {
    pub max_shrink_percent: u32,
    pub min_members: usize,
}

impl Default for ShrinkPolicy {
    fn default() -> Self {
        ShrinkPolicy {
            max_shrink_percent: 20,
            min_members: 5,
        }
    }
}

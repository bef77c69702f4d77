//! The attributes the emulator models, described once: the `/Schemas` endpoint publishes
//! them, requests are read through them (names canonicalised, unknown ones dropped,
//! read-only ones refused in PATCH), and the other discovery endpoints are built here from
//! the profile.

use serde_json::{json, Value};

use super::profile::ScimProfile;
use super::wire::{Call, Outcome, Reply, ScimError, LIST_SCHEMA};
use super::ScimState;

pub(crate) const USER_SCHEMA: &str = "urn:ietf:params:scim:schemas:core:2.0:User";
pub(crate) const GROUP_SCHEMA: &str = "urn:ietf:params:scim:schemas:core:2.0:Group";
const SCHEMA_SCHEMA: &str = "urn:ietf:params:scim:schemas:core:2.0:Schema";
const RESOURCE_TYPE_SCHEMA: &str = "urn:ietf:params:scim:schemas:core:2.0:ResourceType";
const SPC_SCHEMA: &str = "urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    String,
    Boolean,
    Complex,
    Reference,
    DateTime,
}

/// One attribute of RFC 7643 §7's schema representation (the parts the emulator uses).
#[derive(Debug)]
pub(crate) struct Attr {
    pub name: &'static str,
    pub kind: Kind,
    pub multi: bool,
    pub required: bool,
    pub read_only: bool,
    pub case_exact: bool,
    pub unique: bool,
    pub sub: &'static [Attr],
}

const fn attr(name: &'static str, kind: Kind) -> Attr {
    Attr {
        name,
        kind,
        multi: false,
        required: false,
        read_only: false,
        case_exact: false,
        unique: false,
        sub: &[],
    }
}

const NAME_SUBS: &[Attr] = &[
    attr("formatted", Kind::String),
    attr("familyName", Kind::String),
    attr("givenName", Kind::String),
];

const EMAIL_SUBS: &[Attr] = &[
    Attr {
        required: true,
        ..attr("value", Kind::String)
    },
    attr("type", Kind::String),
    attr("primary", Kind::Boolean),
];

const MEMBER_SUBS: &[Attr] = &[
    // RFC 7643 §8.7.1's Group schema lists `members.value` with `caseExact: false`, but the
    // value is a resource's `id`, which §3.1 makes case exact; the emulator compares it as
    // an id everywhere (membership, filters), the stricter of the two readings.
    Attr {
        required: true,
        case_exact: true,
        ..attr("value", Kind::String)
    },
    Attr {
        read_only: true,
        ..attr("display", Kind::String)
    },
    // The RFC makes `$ref` immutable; writable here so clients (and scim2-tester) may
    // send it with `value`, which is what the emulator reads.
    attr("$ref", Kind::Reference),
];

const USER_NAME: Attr = Attr {
    required: true,
    unique: true,
    ..attr("userName", Kind::String)
};

const EXTERNAL_ID: Attr = Attr {
    case_exact: true,
    ..attr("externalId", Kind::String)
};

const EMAILS: Attr = Attr {
    multi: true,
    sub: EMAIL_SUBS,
    ..attr("emails", Kind::Complex)
};

/// RFC 7643 §4.2 calls `displayName` REQUIRED (its §8.7.1 schema says `required: false`;
/// the emulator takes the stricter text) and gives it `uniqueness: none`.
const GROUP_DISPLAY_NAME: Attr = Attr {
    required: true,
    ..attr("displayName", Kind::String)
};

const MEMBERS: Attr = Attr {
    multi: true,
    sub: MEMBER_SUBS,
    ..attr("members", Kind::Complex)
};

/// `externalId` is a common attribute (RFC 7643 §3.1) but is listed so requests can be
/// read through the same table; the published schema leaves it out, as the RFC's does.
const USER_ATTRS: &[Attr] = &[
    USER_NAME,
    EXTERNAL_ID,
    Attr {
        sub: NAME_SUBS,
        ..attr("name", Kind::Complex)
    },
    attr("displayName", Kind::String),
    EMAILS,
    attr("active", Kind::Boolean),
];

/// The User attributes when the profile requires an email: the same, with `emails`
/// required, so the published schema says so and every check reads it from here.
const USER_ATTRS_WITH_EMAIL: &[Attr] = &[
    USER_NAME,
    EXTERNAL_ID,
    Attr {
        sub: NAME_SUBS,
        ..attr("name", Kind::Complex)
    },
    attr("displayName", Kind::String),
    Attr {
        required: true,
        ..EMAILS
    },
    attr("active", Kind::Boolean),
];

const GROUP_ATTRS: &[Attr] = &[GROUP_DISPLAY_NAME, EXTERNAL_ID, MEMBERS];

/// The Group attributes when the profile makes group names unique.
const GROUP_ATTRS_UNIQUE_NAME: &[Attr] = &[
    Attr {
        unique: true,
        ..GROUP_DISPLAY_NAME
    },
    EXTERNAL_ID,
    MEMBERS,
];

/// The User attributes as `profile` defines them.
pub(crate) fn user_attrs(profile: &ScimProfile) -> &'static [Attr] {
    if profile.email_required {
        USER_ATTRS_WITH_EMAIL
    } else {
        USER_ATTRS
    }
}

/// The Group attributes as `profile` defines them.
pub(crate) fn group_attrs(profile: &ScimProfile) -> &'static [Attr] {
    if profile.unique_group_names {
        GROUP_ATTRS_UNIQUE_NAME
    } else {
        GROUP_ATTRS
    }
}

const META_SUBS: &[Attr] = &[
    Attr {
        read_only: true,
        case_exact: true,
        ..attr("resourceType", Kind::String)
    },
    Attr {
        read_only: true,
        ..attr("created", Kind::DateTime)
    },
    Attr {
        read_only: true,
        ..attr("lastModified", Kind::DateTime)
    },
    // A reference is case exact (RFC 7643 §2.3.7).
    Attr {
        read_only: true,
        case_exact: true,
        ..attr("location", Kind::Reference)
    },
    Attr {
        read_only: true,
        case_exact: true,
        ..attr("version", Kind::String)
    },
];

/// The attributes every resource has and no client writes (RFC 7643 §3, §3.1), with the
/// characteristics the RFC gives them; filters may name them as they name a resource's own.
const COMMON_ATTRS: &[Attr] = &[
    Attr {
        read_only: true,
        case_exact: true,
        ..attr("id", Kind::String)
    },
    Attr {
        read_only: true,
        sub: META_SUBS,
        ..attr("meta", Kind::Complex)
    },
    // URIs, so case exact like any reference.
    Attr {
        read_only: true,
        multi: true,
        case_exact: true,
        ..attr("schemas", Kind::Reference)
    },
];

/// The attributes a filter's names are read against: a resource's own with the common
/// ones at the top, or, inside `attr[...]`, the sub-attributes of `attr`.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Scope {
    own: &'static [Attr],
    common: &'static [Attr],
}

impl Scope {
    /// A resource's top level: `attrs` and the common attributes.
    pub fn resource(attrs: &'static [Attr]) -> Self {
        Scope {
            own: attrs,
            common: COMMON_ATTRS,
        }
    }

    /// Inside `def[...]`: its sub-attributes.
    pub fn within(def: &'static Attr) -> Self {
        Scope {
            own: def.sub,
            common: &[],
        }
    }

    /// Under an attribute the schema does not know: nothing is known either.
    pub fn unknown() -> Self {
        Scope { own: &[], common: &[] }
    }

    pub fn find(&self, name: &str) -> Option<&'static Attr> {
        find(self.own, name).or_else(|| find(self.common, name))
    }
}

pub(crate) fn find<'a>(attrs: &'a [Attr], name: &str) -> Option<&'a Attr> {
    attrs.iter().find(|a| a.name.eq_ignore_ascii_case(name))
}

pub(crate) fn is_read_only_common(name: &str) -> bool {
    find(COMMON_ATTRS, name).is_some()
}

/// The writable attributes of `body`, with canonical names; unknown and read-only ones are
/// dropped, as RFC 7644 §3.3 and §3.5.1 let a provider ignore them.
pub(crate) fn canonical(attrs: &[Attr], body: &Value) -> serde_json::Map<String, Value> {
    let mut out = serde_json::Map::new();
    let Some(object) = body.as_object() else {
        return out;
    };
    for (key, value) in object {
        let Some(def) = find(attrs, key) else { continue };
        if def.read_only || value.is_null() {
            continue;
        }
        out.insert(def.name.to_owned(), canonical_value(def, value));
    }
    out
}

pub(crate) fn canonical_value(def: &Attr, value: &Value) -> Value {
    if def.sub.is_empty() {
        return value.clone();
    }
    let sub = |v: &Value| Value::Object(canonical(def.sub, v));
    match value {
        Value::Array(items) => Value::Array(items.iter().map(sub).collect()),
        other if def.multi => Value::Array(vec![sub(other)]),
        other => sub(other),
    }
}

/// The required attributes `doc` (canonical names) lacks, as paths: a required attribute
/// absent or unassigned, or a required sub-attribute missing from one of the values that
/// are there (RFC 7643 §2.5: null, an empty string and `[]` are unassigned).
pub(crate) fn missing_required(doc: &serde_json::Map<String, Value>, attrs: &[Attr]) -> Vec<String> {
    let mut missing = Vec::new();
    for def in attrs {
        let value = doc.get(def.name).filter(|v| !unassigned(v));
        let Some(value) = value else {
            if def.required {
                missing.push(def.name.to_owned());
            }
            continue;
        };
        let values: Vec<&Value> = match value {
            Value::Array(items) => items.iter().collect(),
            other => vec![other],
        };
        for sub in def.sub.iter().filter(|s| s.required) {
            if values.iter().any(|v| v.get(sub.name).is_none_or(unassigned)) {
                missing.push(format!("{}.{}", def.name, sub.name));
            }
        }
    }
    missing
}

fn unassigned(value: &Value) -> bool {
    match value {
        Value::Null => true,
        Value::String(s) => s.trim().is_empty(),
        Value::Array(items) => items.is_empty(),
        _ => false,
    }
}

fn attr_json(a: &Attr) -> Value {
    let mut value = json!({
        "name": a.name,
        "type": match a.kind {
            Kind::String => "string",
            Kind::Boolean => "boolean",
            Kind::Complex => "complex",
            Kind::Reference => "reference",
            Kind::DateTime => "dateTime",
        },
        "multiValued": a.multi,
        "description": a.name,
        "required": a.required,
        "caseExact": a.case_exact,
        "mutability": if a.read_only { "readOnly" } else { "readWrite" },
        "returned": "default",
        "uniqueness": if a.unique { "server" } else { "none" },
    });
    if let Some(object) = value.as_object_mut() {
        if !a.sub.is_empty() {
            object.insert("subAttributes".to_owned(), a.sub.iter().map(attr_json).collect());
        }
        if a.kind == Kind::Reference {
            object.insert("referenceTypes".to_owned(), json!(["User"]));
        }
    }
    value
}

fn schema_json(id: &str, name: &str, attrs: &[Attr], base: &str) -> Value {
    json!({
        "schemas": [SCHEMA_SCHEMA],
        "id": id,
        "name": name,
        "description": format!("{name} resources"),
        "attributes": attrs.iter().filter(|a| a.name != "externalId").map(attr_json).collect::<Vec<_>>(),
        "meta": {"resourceType": "Schema", "location": format!("{base}/Schemas/{id}")},
    })
}

fn schemas(base: &str, profile: &ScimProfile) -> Vec<Value> {
    vec![
        schema_json(USER_SCHEMA, "User", user_attrs(profile), base),
        schema_json(GROUP_SCHEMA, "Group", group_attrs(profile), base),
    ]
}

fn resource_types(base: &str) -> Vec<Value> {
    [("User", "/Users", USER_SCHEMA), ("Group", "/Groups", GROUP_SCHEMA)]
        .into_iter()
        .map(|(name, endpoint, schema)| {
            json!({
                "schemas": [RESOURCE_TYPE_SCHEMA],
                "id": name,
                "name": name,
                "endpoint": endpoint,
                "description": format!("{name} resources"),
                "schema": schema,
                "meta": {"resourceType": "ResourceType", "location": format!("{base}/ResourceTypes/{name}")},
            })
        })
        .collect()
}

fn list(resources: Vec<Value>) -> Value {
    json!({
        "schemas": [LIST_SCHEMA],
        "totalResults": resources.len(),
        "itemsPerPage": resources.len(),
        "startIndex": 1,
        "Resources": resources,
    })
}

fn by_id(resources: Vec<Value>, id: &str, what: &str) -> Outcome {
    resources
        .into_iter()
        .find(|r| r.get("id").and_then(Value::as_str) == Some(id))
        .map(Reply::ok)
        .ok_or_else(|| ScimError::not_found(format!("{what} {id} not found")))
}

pub(crate) fn get_schemas(call: &Call, _: &mut ScimState, profile: &ScimProfile) -> Outcome {
    Ok(Reply::ok(list(schemas(&call.base_url, profile))))
}

pub(crate) fn get_schema(call: &Call, _: &mut ScimState, profile: &ScimProfile) -> Outcome {
    by_id(schemas(&call.base_url, profile), call.param("id"), "Schema")
}

pub(crate) fn get_resource_types(call: &Call, _: &mut ScimState, _: &ScimProfile) -> Outcome {
    Ok(Reply::ok(list(resource_types(&call.base_url))))
}

pub(crate) fn get_resource_type(call: &Call, _: &mut ScimState, _: &ScimProfile) -> Outcome {
    by_id(resource_types(&call.base_url), call.param("id"), "ResourceType")
}

/// RFC 7643 §5, from the profile: what a client reads to learn what it may ask for.
pub(crate) fn get_service_provider_config(call: &Call, _: &mut ScimState, profile: &ScimProfile) -> Outcome {
    Ok(Reply::ok(json!({
        "schemas": [SPC_SCHEMA],
        "documentationUri": "https://www.rfc-editor.org/rfc/rfc7644",
        "patch": {"supported": profile.patch},
        "bulk": {"supported": profile.bulk, "maxOperations": 0, "maxPayloadSize": 0},
        // A provider that filters at all says `supported: true`; the Atlassian profile's
        // single-`eq` restriction cannot be expressed here, as on the vendor's side.
        "filter": {"supported": true, "maxResults": profile.max_results},
        "changePassword": {"supported": false},
        "sort": {"supported": profile.sorting},
        "etag": {"supported": profile.etag},
        "authenticationSchemes": [{
            "type": "oauthbearertoken",
            "name": "OAuth Bearer Token",
            "description": "Authentication with a Bearer token",
            "primary": true,
        }],
        "meta": {
            "resourceType": "ServiceProviderConfig",
            "location": format!("{}/ServiceProviderConfig", call.base_url),
        },
    })))
}

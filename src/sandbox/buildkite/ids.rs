//! Buildkite's identifiers as the emulator makes them: a node id is the base64 of
//! `Type---uuid` (as the vendor's are: `T3JnYW5pemF0aW9uLS0t...` is
//! `Organization---...`), uuids are derived from a hash so that the same state gives the
//! same ids on every run, slugs are derived from names, and cursors are the base64 of a
//! 1-based position in the list, as graphql-ruby's array connections make them.

use base64::Engine as _;
use sha2::{Digest, Sha256};

const B64: base64::engine::GeneralPurpose = base64::engine::general_purpose::STANDARD;

/// The node id of the `type_name` object with `uuid`.
pub fn node_id(type_name: &str, uuid: &str) -> String {
    B64.encode(format!("{type_name}---{uuid}"))
}

/// The type and uuid a node id names, if it is one.
pub fn parse_node_id(id: &str) -> Option<(String, String)> {
    let decoded = B64.decode(id.trim()).ok()?;
    let text = String::from_utf8(decoded).ok()?;
    let (type_name, uuid) = text.split_once("---")?;
    Some((type_name.to_owned(), uuid.to_owned()))
}

/// The uuid of something identified by what cannot change: a user by email, a pipeline
/// or the organization by slug.
pub fn derived_uuid(type_name: &str, key: &str) -> String {
    uuid_of(&format!("{type_name}/{}", key.to_lowercase()))
}

/// The `serial`th uuid the emulator mints for the organization `org`.
pub fn minted_uuid(org: &str, serial: u64) -> String {
    uuid_of(&format!("{org}#{serial}"))
}

/// A version-4-shaped uuid from the hash of `seed`.
fn uuid_of(seed: &str) -> String {
    let hash = Sha256::digest(seed.as_bytes());
    let mut b = [0u8; 16];
    b.copy_from_slice(&hash[..16]);
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    let hex: String = b.iter().map(|x| format!("{x:02x}")).collect();
    format!(
        "{}-{}-{}-{}-{}",
        &hex[0..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..32]
    )
}

/// A slug from a name: lower case, runs of anything but letters and digits as one `-`.
pub fn slugify(name: &str) -> String {
    let mut slug = String::new();
    for c in name.chars() {
        if c.is_ascii_alphanumeric() {
            slug.push(c.to_ascii_lowercase());
        } else if !slug.is_empty() && !slug.ends_with('-') {
            slug.push('-');
        }
    }
    slug.trim_end_matches('-').to_owned()
}

/// The cursor of the item at 0-based `index`.
pub fn cursor(index: usize) -> String {
    B64.encode((index + 1).to_string())
}

/// The 0-based index after which a page following `cursor` starts.
pub fn after_cursor(cursor: &str) -> Option<usize> {
    let decoded = B64.decode(cursor.trim()).ok()?;
    String::from_utf8(decoded).ok()?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn node_ids_are_the_vendors_shape() {
        let id = node_id("Organization", "a98961b7-adc1-41aa-8726-cfb2c46e42e0");
        assert_eq!(
            id,
            "T3JnYW5pemF0aW9uLS0tYTk4OTYxYjctYWRjMS00MWFhLTg3MjYtY2ZiMmM0NmU0MmUw"
        );
        assert_eq!(
            parse_node_id(&id),
            Some((
                "Organization".to_owned(),
                "a98961b7-adc1-41aa-8726-cfb2c46e42e0".to_owned()
            ))
        );
        assert_eq!(parse_node_id("not base64!"), None);
    }

    #[test]
    fn uuids_are_stable_and_distinct() {
        assert_eq!(minted_uuid("acme", 1), minted_uuid("acme", 1));
        assert_ne!(minted_uuid("acme", 1), minted_uuid("acme", 2));
        assert_eq!(derived_uuid("User", "A@x.example"), derived_uuid("User", "a@x.example"));
        assert_eq!(minted_uuid("acme", 1).len(), 36);
    }

    #[test]
    fn slugs_and_cursors() {
        assert_eq!(slugify("Platform Team!"), "platform-team");
        assert_eq!(slugify("  QA & Release "), "qa-release");
        assert_eq!(after_cursor(&cursor(0)), Some(1));
        assert_eq!(after_cursor("nope"), None);
    }
}

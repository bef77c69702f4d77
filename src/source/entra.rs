//! Placeholder until the reader lands.

use super::registry::{Setting, SourceKind};
use super::{Reach, Source, SourceConfig, SourceError};

pub static KIND: SourceKind = SourceKind {
    kind: "entra-id",
    summary: "",
    settings: &[] as &[Setting],
    secret: ("token", "a token"),
    group_names: "",
    unauthorized: "",
    schemes: &["https"],
    build,
    sandbox: None,
    sandbox_uses_manifest_secret: false,
};

fn build(config: &SourceConfig, _reach: Reach) -> Result<Box<dyn Source>, SourceError> {
    Err(SourceError::Setup {
        source_name: config.name.clone(),
        message: "not built yet".to_owned(),
    })
}

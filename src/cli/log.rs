//! Everything rollcall writes to stderr, in one of two forms: text (the default), or with
//! `--log-format json` one JSON object a line, for a log collector:
//!
//! ```text
//! {"level":"info","message":"…","target":"rollcall","fields":{…},"timestamp":"2025-…Z"}
//! ```
//!
//! The notes (`note!`), warnings, the final error with its hints and exit code, and the
//! `tracing` events `ROLLCALL_LOG` turns on all take that one shape; stdout never
//! changes. Every write goes through [`super::progress::suspend`], so a live display on
//! the terminal steps aside for it.

use std::io::IsTerminal;
use std::sync::atomic::{AtomicBool, Ordering};

use serde_json::{Map, Value};
use tracing::field::{Field, Visit};
use tracing_subscriber::fmt::format::Writer;
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormatFields};
use tracing_subscriber::registry::LookupSpan;

/// `--log-format`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum LogFormat {
    /// Lines for people; on a terminal, also a live line per target while reading
    #[default]
    Text,
    /// One JSON object a line: level, message, target, fields, timestamp
    Json,
}

/// Whether lines are JSON, for the whole run: set once, before the command runs.
static JSON: AtomicBool = AtomicBool::new(false);

/// Whether stderr carries JSON lines.
pub fn json() -> bool {
    JSON.load(Ordering::Relaxed)
}

/// The environment variable that sets the format when `--log-format` is not given.
pub const ENV: &str = "ROLLCALL_LOG_FORMAT";

/// A line's level, as tracing names them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Level {
    Error,
    Warn,
    Info,
}

impl Level {
    fn word(self) -> &'static str {
        match self {
            Level::Error => "error",
            Level::Warn => "warn",
            Level::Info => "info",
        }
    }
}

/// The `target` of rollcall's own lines (tracing events carry their module's).
const TARGET: &str = "rollcall";

/// Sets the format and installs the tracing subscriber: `ROLLCALL_LOG` filters its
/// events (errors only when unset), written in the same format as everything else.
pub fn init(format: LogFormat) {
    JSON.store(format == LogFormat::Json, Ordering::Relaxed);
    let builder = tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_env("ROLLCALL_LOG"))
        .with_writer(super::progress::Stderr);
    // Set only once per process; a second call (none today) keeps the first.
    let _ = match format {
        LogFormat::Text => builder
            .with_ansi(std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none())
            .try_init(),
        LogFormat::Json => builder.event_format(JsonEvents).try_init(),
    };
}

/// Whether JSON was asked for, from the raw arguments and the environment: for an
/// argument error, which comes before there are parsed arguments to ask.
pub fn asked_for_json(args: &[std::ffi::OsString]) -> bool {
    let mut asked = std::env::var(ENV).is_ok_and(|v| v.trim().eq_ignore_ascii_case("json"));
    let mut args = args.iter().map(|a| a.to_string_lossy());
    while let Some(arg) = args.next() {
        if arg == "--" {
            break;
        }
        if let Some(value) = arg.strip_prefix("--log-format=") {
            asked = value.eq_ignore_ascii_case("json");
        } else if arg == "--log-format" {
            asked = args.next().is_some_and(|v| v.eq_ignore_ascii_case("json"));
        }
    }
    asked
}

/// An argument error clap rendered, as one JSON line: its first line (`error: …`) the
/// message, the rest (usage, a suggestion) a field.
pub fn usage_error(rendered: &str, exit_code: u8) {
    let rendered = rendered.trim_end();
    let (first, rest) = rendered.split_once('\n').unwrap_or((rendered, ""));
    let message = first.strip_prefix("error: ").unwrap_or(first);
    let mut fields = fields([("exit_code", exit_code.into())]);
    if !rest.trim().is_empty() {
        fields.insert("details".to_owned(), rest.trim().into());
    }
    let line = json_line(Level::Error.word(), TARGET, message, fields);
    anstream::eprintln!("{line}");
}

/// One JSON line, without its newline.
pub fn json_line(level: &str, target: &str, message: &str, fields: Map<String, Value>) -> String {
    // The order the documentation shows; `serde_json::json!` would sort the keys.
    #[derive(serde::Serialize)]
    struct Line<'a> {
        level: &'a str,
        message: &'a str,
        target: &'a str,
        fields: Map<String, Value>,
        timestamp: String,
    }
    let line = Line {
        level,
        message,
        target,
        fields,
        timestamp: format!("{:.3}", jiff::Timestamp::now()),
    };
    // A map of JSON values and strings cannot fail to serialise.
    serde_json::to_string(&line).unwrap_or_default()
}

/// Writes one of rollcall's own lines: as text, `prefix` and `message` as they always
/// were; as JSON, the message alone with its fields.
pub fn emit(level: Level, prefix: &str, message: &str, fields: Map<String, Value>) {
    if json() {
        let line = json_line(level.word(), TARGET, message, fields);
        super::progress::suspend(|| anstream::eprintln!("{line}"));
    } else {
        super::progress::suspend(|| anstream::eprintln!("{prefix}{message}"));
    }
}

/// Writes text that is already whole lines (a rendered manifest problem), unchanged,
/// when the format is text.
pub fn emit_text(text: &str) {
    super::progress::suspend(|| anstream::eprint!("{text}"));
}

/// A note (what was read, saved or checked), unless `--quiet`.
pub fn note(prefix: &str, message: &str, fields: Map<String, Value>) {
    if !super::quiet() {
        emit(Level::Info, prefix, message, fields);
    }
}

/// A warning, which `--quiet` does not silence.
pub fn warn(message: &str, fields: Map<String, Value>) {
    emit(Level::Warn, "warning: ", message, fields);
}

/// Fields from pairs, for the call sites: `fields([("target_name", json!(name))])`.
pub fn fields<const N: usize>(pairs: [(&str, Value); N]) -> Map<String, Value> {
    pairs.into_iter().map(|(k, v)| (k.to_owned(), v)).collect()
}

/// Formats tracing events as [`json_line`]s: the event's `message` field is the message,
/// its other fields the fields; events forwarded from the `log` crate keep their own
/// target, not `log`.
struct JsonEvents;

impl<S, N> FormatEvent<S, N> for JsonEvents
where
    S: tracing::Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
{
    fn format_event(
        &self,
        _ctx: &FmtContext<'_, S, N>,
        mut writer: Writer<'_>,
        event: &tracing::Event<'_>,
    ) -> std::fmt::Result {
        let mut visitor = Collect::default();
        event.record(&mut visitor);
        let meta = event.metadata();
        let mut target = meta.target().to_owned();
        if let Some(Value::String(forwarded)) = visitor.fields.get("log.target") {
            target = forwarded.clone();
        }
        visitor.fields.retain(|k, _| !k.starts_with("log."));
        let level = meta.level().as_str().to_ascii_lowercase();
        let line = json_line(&level, &target, &visitor.message, visitor.fields);
        writeln!(writer, "{line}")
    }
}

/// An event's fields, as JSON values of their own types where tracing keeps them.
#[derive(Default)]
struct Collect {
    message: String,
    fields: Map<String, Value>,
}

impl Collect {
    fn put(&mut self, field: &Field, value: Value) {
        if field.name() == "message" {
            self.message = match value {
                Value::String(s) => s,
                other => other.to_string(),
            };
        } else {
            self.fields.insert(field.name().to_owned(), value);
        }
    }
}

impl Visit for Collect {
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        self.put(field, Value::String(format!("{value:?}")));
    }

    fn record_str(&mut self, field: &Field, value: &str) {
        self.put(field, Value::String(value.to_owned()));
    }

    fn record_i64(&mut self, field: &Field, value: i64) {
        self.put(field, Value::from(value));
    }

    fn record_u64(&mut self, field: &Field, value: u64) {
        self.put(field, Value::from(value));
    }

    fn record_f64(&mut self, field: &Field, value: f64) {
        self.put(field, Value::from(value));
    }

    fn record_bool(&mut self, field: &Field, value: bool) {
        self.put(field, Value::from(value));
    }

    fn record_error(&mut self, field: &Field, value: &(dyn std::error::Error + 'static)) {
        self.put(field, Value::String(value.to_string()));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_json_line_has_the_documented_keys_in_order() {
        let line = json_line(
            "warn",
            "rollcall",
            "two \"quoted\"\nlines",
            fields([("exit_code", Value::from(3)), ("hints", serde_json::json!(["a", "b"]))]),
        );
        let keys: Vec<&str> = ["\"level\"", "\"message\"", "\"target\"", "\"fields\"", "\"timestamp\""]
            .into_iter()
            .map(|k| line.find(k).map(|_| k).unwrap())
            .collect();
        assert_eq!(keys.len(), 5);
        let positions: Vec<usize> = keys.iter().map(|k| line.find(k).unwrap()).collect();
        assert!(positions.windows(2).all(|w| w[0] < w[1]), "{line}");
        assert!(!line.contains('\n'));
        let value: Value = serde_json::from_str(&line).unwrap();
        assert_eq!(value["level"], "warn");
        assert_eq!(value["message"], "two \"quoted\"\nlines");
        assert_eq!(value["fields"]["exit_code"], 3);
        assert_eq!(value["fields"]["hints"][1], "b");
        let stamp = value["timestamp"].as_str().unwrap();
        assert!(
            stamp.ends_with('Z') && stamp.parse::<jiff::Timestamp>().is_ok(),
            "{stamp}"
        );
    }

    #[test]
    fn json_is_asked_for_by_the_flag_in_either_spelling() {
        let args = |list: &[&str]| list.iter().map(std::ffi::OsString::from).collect::<Vec<_>>();
        // The environment is the process's: only look at what the flag says over it.
        assert!(asked_for_json(&args(&["rollcall", "--log-format", "json", "plann"])));
        assert!(asked_for_json(&args(&["rollcall", "plan", "--log-format=JSON"])));
        assert!(!asked_for_json(&args(&["rollcall", "plan", "--log-format=text"])));
        if std::env::var(ENV).is_err() {
            assert!(!asked_for_json(&args(&["rollcall", "plan", "--", "--log-format=json"])));
        }
    }
}

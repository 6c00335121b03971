//! Logging to stderr with `tracing`: level from `-v`/`-q` (or `MITTARI_LOG`), colour only on a
//! terminal, never when `NO_COLOR` is set.
//!
//! `--log-format json` (or `MITTARI_LOG_FORMAT=json`) writes one JSON object per line instead,
//! for schedulers and log collectors: `timestamp` (RFC 3339, UTC), `level`, `message` and every
//! structured field of the event under its own name (numbers as numbers). Fatal errors are JSON
//! lines too (see [`error_line`]).

use std::fmt;
use std::io::IsTerminal;

use tracing::field::{Field, Visit};
use tracing::level_filters::LevelFilter;
use tracing::{Event, Subscriber};
use tracing_subscriber::fmt::format::Writer;
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormatFields};
use tracing_subscriber::registry::LookupSpan;

use crate::cli::{ColorChoice, GlobalArgs, LogFormat};
use crate::env_vars;

/// Installs the global subscriber. Call once, from `main`.
pub fn init(args: &GlobalArgs) {
    let from_flags = match (i16::from(args.verbose) - i16::from(args.quiet)).clamp(-2, 2) {
        -2 => LevelFilter::ERROR,
        -1 => LevelFilter::WARN,
        0 => LevelFilter::INFO,
        1 => LevelFilter::DEBUG,
        _ => LevelFilter::TRACE,
    };
    let level = std::env::var(env_vars::MITTARI_LOG)
        .ok()
        .and_then(|v| v.parse::<LevelFilter>().ok())
        .unwrap_or(from_flags);
    let builder = tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_max_level(level);
    if args.log_format == LogFormat::Json {
        builder.event_format(JsonLines).init();
        return;
    }
    let no_color = std::env::var_os(env_vars::NO_COLOR).is_some_and(|v| !v.is_empty());
    let ansi = match args.color {
        ColorChoice::Always => true,
        ColorChoice::Never => false,
        ColorChoice::Auto => !no_color && std::io::stderr().is_terminal(),
    };
    builder.with_ansi(ansi).with_target(false).init();
}

/// One JSON object per event.
struct JsonLines;

impl<S, N> FormatEvent<S, N> for JsonLines
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
{
    fn format_event(
        &self,
        _ctx: &FmtContext<'_, S, N>,
        mut writer: Writer<'_>,
        event: &Event<'_>,
    ) -> fmt::Result {
        let mut fields = Fields(serde_json::Map::new());
        event.record(&mut fields);
        let message = fields.0.remove("message").unwrap_or_default();
        // `timestamp`, `level` and `message` first, then the fields by name.
        let mut line = format!(
            "{{\"timestamp\":{},\"level\":{},\"message\":{message}",
            serde_json::Value::from(now()),
            serde_json::Value::from(event.metadata().level().as_str()),
        );
        for (k, v) in fields.0 {
            line.push(',');
            line.push_str(&serde_json::Value::from(k).to_string());
            line.push(':');
            line.push_str(&v.to_string());
        }
        line.push('}');
        writeln!(writer, "{line}")
    }
}

fn now() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Micros, true)
}

/// Collects an event's fields as JSON values.
struct Fields(serde_json::Map<String, serde_json::Value>);

impl Visit for Fields {
    fn record_f64(&mut self, field: &Field, value: f64) {
        self.0.insert(
            field.name().into(),
            serde_json::Number::from_f64(value).map_or(serde_json::Value::Null, Into::into),
        );
    }
    fn record_i64(&mut self, field: &Field, value: i64) {
        self.0.insert(field.name().into(), value.into());
    }
    fn record_u64(&mut self, field: &Field, value: u64) {
        self.0.insert(field.name().into(), value.into());
    }
    fn record_bool(&mut self, field: &Field, value: bool) {
        self.0.insert(field.name().into(), value.into());
    }
    fn record_str(&mut self, field: &Field, value: &str) {
        self.0.insert(field.name().into(), value.into());
    }
    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        // `%value` fields and the message arrive here, already as their Display text.
        self.0
            .insert(field.name().into(), format!("{value:?}").into());
    }
}

/// A fatal error as one JSON line: `level` `ERROR`, the message with its causes, the exit code
/// and the hint.
pub fn error_line(message: &str, causes: &[String], exit_code: u8, hint: Option<&str>) -> String {
    serde_json::json!({
        "timestamp": now(),
        "level": "ERROR",
        "message": message,
        "causes": causes,
        "exit_code": exit_code,
        "hint": hint,
    })
    .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_error_line_is_one_json_object() {
        let line = error_line("check `x` failed", &["cause".into()], 1, Some("see it"));
        assert!(!line.contains('\n'));
        let v: serde_json::Value = serde_json::from_str(&line).unwrap();
        assert_eq!(v["exit_code"], 1);
        assert_eq!(v["causes"][0], "cause");
        assert_eq!(v["hint"], "see it");
    }
}

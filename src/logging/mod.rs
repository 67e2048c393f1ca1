//! The server's log: where lines go, how they look, and what is summarised instead of written.
//!
//! Lines go to stderr in batches from a writer thread (`sink`), so a reader that stalls (a full pipe, a log
//! shipper that stopped reading) never stalls serving: when too much waits, lines are dropped and counted
//! (`jbproxy_log_lines_dropped_total` in `/metrics`). Text lines carry no control characters from their values, so
//! a client cannot forge log lines; colour is used only on a terminal. Refused unauthenticated requests are
//! summarised, not logged one by one.

use std::fmt::{self, Write as _};
use std::io::{IsTerminal, Write as _};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use tracing::field::{Field, Visit};
use tracing_subscriber::field::RecordFields;
use tracing_subscriber::fmt::FormatFields;
use tracing_subscriber::fmt::format::Writer;

use crate::demo_log::DemoLabel;

mod sink;

/// Keeps the writer thread for the process's life; `finish` writes out what is pending.
pub struct LogGuard(Option<sink::Flusher>);

impl LogGuard {
    /// Writes out the pending lines, waiting at most two seconds: a sink that stopped reading must not keep the
    /// process from exiting.
    pub fn finish(self) {
        drop(self);
    }
}

/// Also on the way out of a panic: the lines just before it are the ones that say what happened.
impl Drop for LogGuard {
    fn drop(&mut self) {
        flush_refused(Instant::now(), Duration::ZERO);
        if let Some(flusher) = self.0.take() {
            flusher.finish(Duration::from_secs(2));
        }
    }
}

static WRITER: OnceLock<sink::BatchedStderr> = OnceLock::new();

/// Log lines dropped because the sink did not keep up.
pub fn dropped_lines() -> u64 {
    WRITER
        .get()
        .map(sink::BatchedStderr::dropped_lines)
        .unwrap_or(0)
}

/// Sets up the process's log for `serve`. `json` selects JSON lines; `demo` labels every line as the demo's.
pub fn init(json: bool, demo: bool) -> LogGuard {
    let (writer, flusher) = match sink::start(std::io::stderr()) {
        Ok(started) => started,
        Err(err) => {
            // Without a thread of its own the log would have to write on the request path: run without it.
            let _ = writeln!(
                std::io::stderr(),
                "jbproxy: cannot start the log writer thread ({err}); logging is off"
            );
            return LogGuard(None);
        }
    };
    let _ = WRITER.set(writer.clone());
    let colour = use_colour(
        std::io::stderr().is_terminal(),
        std::env::var_os("NO_COLOR").as_deref(),
        std::env::var_os("TERM").as_deref(),
    );
    // A failed write is dropped: tracing-subscriber would report it with `eprintln!`, which panics on a broken
    // stderr and would kill the task that logged.
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter(std::env::var("RUST_LOG").ok().as_deref()))
        .with_writer(writer)
        .with_ansi(colour)
        .log_internal_errors(false);
    let installed = match (json, demo) {
        (true, false) => builder.json().try_init(),
        (false, false) => builder.fmt_fields(SafeFields).try_init(),
        (true, true) => builder
            .json()
            .event_format(DemoLabel::json(tracing_subscriber::fmt::format().json()))
            .try_init(),
        (false, true) => builder
            .fmt_fields(SafeFields)
            .event_format(DemoLabel::text(tracing_subscriber::fmt::format()))
            .try_init(),
    };
    // Another subscriber (a test's) already owns the process: keep the writer thread out of the way.
    if installed.is_err() {
        flusher.finish(Duration::ZERO);
        return LogGuard(None);
    }
    LogGuard(Some(flusher))
}

/// The level filter from `RUST_LOG` (default `info`). The file watcher's crates log every raw file event at trace
/// level; with the log file beside the watched config, each logged event is itself a new event, a loop that wrote
/// a gigabyte a minute. Their per-event lines are kept out unless `RUST_LOG` names them.
fn filter(rust_log: Option<&str>) -> tracing_subscriber::EnvFilter {
    let spec = rust_log.map(str::trim).filter(|s| !s.is_empty());
    let mut filter = spec
        .and_then(|s| tracing_subscriber::EnvFilter::try_new(s).ok())
        .unwrap_or_else(|| tracing_subscriber::EnvFilter::new("info"));
    if !spec.is_some_and(|s| s.contains("notify")) {
        for directive in ["notify=info", "notify_debouncer_full=info"] {
            if let Ok(d) = directive.parse() {
                filter = filter.add_directive(d);
            }
        }
    }
    filter
}

/// Colour only for a person at a terminal: never into a file or pipe, never with `NO_COLOR` set (no-color.org), never
/// on a terminal that says it cannot show it.
fn use_colour(
    is_terminal: bool,
    no_color: Option<&std::ffi::OsStr>,
    term: Option<&std::ffi::OsStr>,
) -> bool {
    is_terminal && no_color.is_none_or(|v| v.is_empty()) && term.is_none_or(|t| t != "dumb")
}

/// Whether a character must not reach a text log as it is: line breaks and other controls (a forged line, a
/// terminal escape), and the invisible reordering marks that make a line read differently from what it holds.
fn must_escape(c: char) -> bool {
    c.is_control()
        || matches!(c, '\u{2028}' | '\u{2029}' | '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}')
}

/// `text` with every character `must_escape` selects written as a Rust escape (`\n`, `\u{1b}`).
pub fn escape_controls(text: &str) -> std::borrow::Cow<'_, str> {
    if !text.chars().any(must_escape) {
        return std::borrow::Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 8);
    let _ = Escaping(&mut out).write_str(text);
    std::borrow::Cow::Owned(out)
}

/// A `fmt::Write` that escapes control characters on the way through, so values are escaped without a copy.
struct Escaping<W>(W);

impl<W: fmt::Write> fmt::Write for Escaping<W> {
    fn write_str(&mut self, text: &str) -> fmt::Result {
        let mut rest = text;
        while let Some(at) = rest.find(must_escape) {
            self.0.write_str(&rest[..at])?;
            let c = rest[at..].chars().next().unwrap_or_default();
            write!(self.0, "{}", c.escape_default())?;
            rest = &rest[at + c.len_utf8()..];
        }
        self.0.write_str(rest)
    }
}

/// Text-log fields as tracing-subscriber writes them (`message key=value …`), with control characters escaped in
/// every value, whatever put it there.
struct SafeFields;

impl<'w> FormatFields<'w> for SafeFields {
    fn format_fields<R: RecordFields>(&self, writer: Writer<'w>, fields: R) -> fmt::Result {
        let mut visitor = SafeVisitor {
            writer,
            first: true,
            result: Ok(()),
        };
        fields.record(&mut visitor);
        visitor.result
    }
}

struct SafeVisitor<'w> {
    writer: Writer<'w>,
    first: bool,
    result: fmt::Result,
}

impl SafeVisitor<'_> {
    fn write(&mut self, field: &Field, value: fmt::Arguments<'_>) {
        // Fields the `log` bridge adds (target, file, line) are already in the line's prefix.
        if self.result.is_err() || field.name().starts_with("log.") {
            return;
        }
        if !self.first {
            self.result = self.writer.write_char(' ');
        }
        self.first = false;
        if field.name() != "message" {
            self.result = self
                .result
                .and_then(|_| write!(self.writer, "{}=", field.name()));
        }
        self.result = self
            .result
            .and_then(|_| Escaping(&mut self.writer).write_fmt(value));
    }
}

impl Visit for SafeVisitor<'_> {
    fn record_str(&mut self, field: &Field, value: &str) {
        if field.name() == "message" {
            self.write(field, format_args!("{value}"));
        } else {
            self.write(field, format_args!("{value:?}"));
        }
    }

    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        self.write(field, format_args!("{value:?}"));
    }
}

/// Refused requests not yet reported, and when the last report was written (ms since `epoch()`, `u64::MAX`: never).
static REFUSED: AtomicU64 = AtomicU64::new(0);
static LAST_REPORT_MS: AtomicU64 = AtomicU64::new(u64::MAX);
/// At most one "refused" line per this interval: a flood of wrong keys costs a counter increment each, not a line.
const REFUSED_REPORT_EVERY: Duration = Duration::from_secs(10);

fn epoch() -> Instant {
    static EPOCH: OnceLock<Instant> = OnceLock::new();
    *EPOCH.get_or_init(Instant::now)
}

/// Notes a request refused for a missing or wrong API key. The first is logged at once; later ones are summed and
/// reported at most once every ten seconds.
pub fn refused_unauthenticated() {
    REFUSED.fetch_add(1, Ordering::Relaxed);
    report_refused_if_due();
}

/// Reports the refusals counted since the last report, if that report is old enough.
pub fn report_refused_if_due() {
    flush_refused(Instant::now(), REFUSED_REPORT_EVERY);
}

/// Reports the refused requests counted so far if the last report is at least `every` old.
fn flush_refused(now: Instant, every: Duration) {
    let now_ms =
        u64::try_from(now.saturating_duration_since(epoch()).as_millis()).unwrap_or(u64::MAX - 1);
    let last = LAST_REPORT_MS.load(Ordering::Acquire);
    let every_ms = u64::try_from(every.as_millis()).unwrap_or(u64::MAX);
    if last != u64::MAX && now_ms.saturating_sub(last) < every_ms {
        return;
    }
    if REFUSED.load(Ordering::Relaxed) == 0 {
        return;
    }
    // One caller wins the right to report; the others' refusals are in the count it takes.
    if LAST_REPORT_MS
        .compare_exchange(last, now_ms, Ordering::AcqRel, Ordering::Acquire)
        .is_err()
    {
        return;
    }
    let count = REFUSED.swap(0, Ordering::Relaxed);
    if count > 0 {
        tracing::info!(
            refused = count,
            "refused {count} request(s) without a valid API key (reported at most every {}s)",
            REFUSED_REPORT_EVERY.as_secs()
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn control_characters_are_escaped_and_the_rest_kept() {
        assert_eq!(escape_controls("gpt-4o"), "gpt-4o");
        assert_eq!(
            escape_controls("x\nINFO forged\r\u{1b}[31m\u{202e}é"),
            "x\\nINFO forged\\r\\u{1b}[31m\\u{202e}é"
        );
    }

    #[test]
    fn colour_only_on_a_terminal_without_no_color_or_dumb_term() {
        use std::ffi::OsStr;
        assert!(use_colour(true, None, Some(OsStr::new("xterm"))));
        assert!(!use_colour(false, None, Some(OsStr::new("xterm"))));
        assert!(!use_colour(true, Some(OsStr::new("1")), None));
        assert!(use_colour(true, Some(OsStr::new("")), None));
        assert!(!use_colour(true, None, Some(OsStr::new("dumb"))));
    }

    #[test]
    fn the_watchers_per_event_lines_stay_out_unless_asked_for() {
        let text = filter(Some("trace")).to_string();
        assert!(text.contains("notify=info"), "{text}");
        let text = filter(Some("trace,notify=trace")).to_string();
        assert!(!text.contains("notify=info"), "{text}");
    }
}

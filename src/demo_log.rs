//! The `demo` label on every log line of `serve --demo`, so no line of a demo's log can be taken for the real
//! service's: a `[demo]` prefix on text lines, a `"demo":true` field on JSON lines.

use std::fmt;

use tracing::{Event, Subscriber};
use tracing_subscriber::fmt::format::Writer;
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormatFields};
use tracing_subscriber::registry::LookupSpan;

/// Wraps a line formatter and labels each line it writes.
pub struct DemoLabel<F> {
    inner: F,
    json: bool,
}

impl<F> DemoLabel<F> {
    pub fn text(inner: F) -> Self {
        Self { inner, json: false }
    }

    pub fn json(inner: F) -> Self {
        Self { inner, json: true }
    }
}

impl<S, N, F> FormatEvent<S, N> for DemoLabel<F>
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
    F: FormatEvent<S, N>,
{
    fn format_event(
        &self,
        ctx: &FmtContext<'_, S, N>,
        mut writer: Writer<'_>,
        event: &Event<'_>,
    ) -> fmt::Result {
        if !self.json {
            writer.write_str("[demo] ")?;
            return self.inner.format_event(ctx, writer, event);
        }
        let mut line = String::new();
        self.inner
            .format_event(ctx, Writer::new(&mut line), event)?;
        match line.strip_prefix('{') {
            Some(rest) => write!(writer, "{{\"demo\":true,{rest}"),
            None => writer.write_str(&line),
        }
    }
}

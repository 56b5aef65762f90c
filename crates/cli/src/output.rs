//! Terminal output helpers shared by all subcommands: logging set-up and error rendering.

use std::io::Write;

/// How logs are written to stderr.
#[derive(Clone, Copy, Debug, clap::ValueEnum)]
pub(crate) enum LogFormat {
    /// Human-readable lines.
    Text,
    /// One JSON object per line (for log collectors).
    Json,
}

/// The tracing target of notices: the few lines every run shows whatever `--log` says (start-up,
/// the TEE backend, simulated trust, warnings about the configuration, errors). Libraries emit them
/// as events on this target; the text format prints them plainly as `initra: MESSAGE`, the JSON
/// format as JSON lines like every other event, so a collector never sees a line it cannot parse.
pub(crate) const NOTICE_TARGET: &str = "initra::notice";

/// Installs the global tracing subscriber writing to stderr. `RUST_LOG`, when set, wins over `--log`;
/// an invalid filter in either is an error rather than silently ignored. Notices
/// ([`NOTICE_TARGET`]) pass whatever the filter says.
pub(crate) fn init_logging(filter: &str, format: LogFormat) -> anyhow::Result<()> {
    use std::io::IsTerminal;
    let _ = FORMAT.set(format);
    use tracing_subscriber::filter::{filter_fn, FilterExt};
    use tracing_subscriber::layer::SubscriberExt;
    use tracing_subscriber::util::SubscriberInitExt;
    use tracing_subscriber::Layer;

    let filter = match std::env::var("RUST_LOG") {
        Ok(env) if !env.trim().is_empty() => tracing_subscriber::EnvFilter::try_new(&env)
            .map_err(|e| anyhow::anyhow!("RUST_LOG={env:?}: not a log filter: {e}"))?,
        _ => tracing_subscriber::EnvFilter::try_new(filter).map_err(|e| {
            anyhow::anyhow!("--log {filter:?}: not a log filter (e.g. info, initra=debug): {e}")
        })?,
    };
    let is_notice = || filter_fn(|m| m.target() == NOTICE_TARGET);
    // Colour only for a person at a terminal: log files and collectors get plain text.
    let ansi = std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none();
    let events = tracing_subscriber::fmt::layer()
        .with_writer(std::io::stderr)
        .with_target(false);
    let _ = match format {
        LogFormat::Text => tracing_subscriber::registry()
            .with(
                events
                    .with_ansi(ansi)
                    .with_filter(filter.and(is_notice().not())),
            )
            .with(PlainNotices.with_filter(is_notice()))
            .try_init(),
        LogFormat::Json => tracing_subscriber::registry()
            .with(
                events
                    .json()
                    .flatten_event(true)
                    .with_filter(is_notice().or(filter)),
            )
            .try_init(),
    };
    Ok(())
}

/// The format asked for, known even when the subscriber could not be installed.
static FORMAT: std::sync::OnceLock<LogFormat> = std::sync::OnceLock::new();

/// Writes notices as `initra: MESSAGE` lines (the text format).
struct PlainNotices;

impl<S: tracing::Subscriber> tracing_subscriber::Layer<S> for PlainNotices {
    fn on_event(&self, event: &tracing::Event<'_>, _: tracing_subscriber::layer::Context<'_, S>) {
        struct Message(String);
        impl tracing::field::Visit for Message {
            fn record_debug(&mut self, field: &tracing::field::Field, value: &dyn std::fmt::Debug) {
                if field.name() == "message" {
                    self.0 = format!("{value:?}");
                }
            }
        }
        let mut message = Message(String::new());
        event.record(&mut message);
        let _ = writeln!(std::io::stderr().lock(), "initra: {}", message.0);
    }
}

/// An always-visible informational line (`initra: listening on ...`).
pub(crate) fn notice(text: &str) {
    tracing::info!(target: NOTICE_TARGET, "{text}");
}

/// Prints an error and its cause chain as `initra: error: a: b: c` on stderr (a JSON line under
/// `--log-format json`). A cause whose text the message already contains (library errors often
/// print their source inline) is not repeated.
pub(crate) fn print_error(err: &anyhow::Error) {
    let mut message = String::new();
    for cause in err.chain() {
        let text = cause.to_string();
        if message.contains(&text) {
            continue;
        }
        if !message.is_empty() {
            message.push_str(": ");
        }
        message.push_str(&text);
    }
    if tracing::dispatcher::has_been_set() {
        tracing::error!(target: NOTICE_TARGET, "error: {message}");
        return;
    }
    // Logging itself could not be set up (a bad --log filter): write the line by hand.
    let line = match FORMAT.get() {
        Some(LogFormat::Json) => serde_json::json!({
            "timestamp": humantime::format_rfc3339_micros(std::time::SystemTime::now()).to_string(),
            "level": "ERROR",
            "message": format!("error: {message}"),
        })
        .to_string(),
        _ => format!("initra: error: {message}"),
    };
    let _ = writeln!(std::io::stderr().lock(), "{line}");
}

/// Writes `text` to stdout; a closed pipe (e.g. `| head`) is not an error.
pub(crate) fn print_stdout(text: &str) -> anyhow::Result<()> {
    let mut out = std::io::stdout().lock();
    match out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        other => Ok(other?),
    }
}

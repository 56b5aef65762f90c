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

/// Installs the global tracing subscriber writing to stderr. `RUST_LOG`, when set, wins over `--log`;
/// an invalid filter in either is an error rather than silently ignored.
pub(crate) fn init_logging(filter: &str, format: LogFormat) -> anyhow::Result<()> {
    use std::io::IsTerminal;
    let filter = match std::env::var("RUST_LOG") {
        Ok(env) if !env.trim().is_empty() => tracing_subscriber::EnvFilter::try_new(&env)
            .map_err(|e| anyhow::anyhow!("RUST_LOG={env:?}: not a log filter: {e}"))?,
        _ => tracing_subscriber::EnvFilter::try_new(filter).map_err(|e| {
            anyhow::anyhow!("--log {filter:?}: not a log filter (e.g. info, initra=debug): {e}")
        })?,
    };
    // Colour only for a person at a terminal: log files and collectors get plain text.
    let ansi = std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none();
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(ansi)
        .with_target(false);
    let _ = match format {
        LogFormat::Text => builder.try_init(),
        LogFormat::Json => builder.json().flatten_event(true).try_init(),
    };
    Ok(())
}

/// Prints an error and its cause chain as `initra: error: a: b: c` on stderr. A cause whose text the
/// message already contains (library errors often print their source inline) is not repeated.
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
    let mut stderr = std::io::stderr().lock();
    let _ = writeln!(stderr, "initra: error: {message}");
}

/// Writes `text` to stdout; a closed pipe (e.g. `| head`) is not an error.
pub(crate) fn print_stdout(text: &str) -> anyhow::Result<()> {
    let mut out = std::io::stdout().lock();
    match out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        other => Ok(other?),
    }
}

//! Progress reporting: the library calls a [`Progress`]; the CLI decides whether a terminal bar is
//! shown ([`TerminalProgress`]).

/// Receives byte counts while sealing (source file bytes) or opening (image bytes).
pub trait Progress {
    /// The total number of bytes the operation expects to process.
    fn start(&self, _total: u64) {}
    /// `bytes` more were processed.
    fn advance(&self, _bytes: u64) {}
    /// The operation ended (successfully or not).
    fn finish(&self) {}
}

/// Reports nothing.
#[derive(Clone, Copy, Debug, Default)]
pub struct NoProgress;

impl Progress for NoProgress {}

/// A progress bar on stderr (indicatif). Create it only when stderr is a terminal.
#[derive(Debug)]
pub struct TerminalProgress {
    bar: indicatif::ProgressBar,
}

impl TerminalProgress {
    /// A bar labelled `label` (e.g. `sealing`).
    pub fn new(label: &str) -> TerminalProgress {
        let bar = indicatif::ProgressBar::new(0);
        let style = indicatif::ProgressStyle::with_template(
            "{prefix} [{bar:30}] {bytes}/{total_bytes} {bytes_per_sec} eta {eta}",
        )
        .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar())
        .progress_chars("=> ");
        bar.set_style(style);
        bar.set_prefix(label.to_owned());
        TerminalProgress { bar }
    }
}

impl Progress for TerminalProgress {
    fn start(&self, total: u64) {
        self.bar.set_length(total);
    }

    fn advance(&self, bytes: u64) {
        self.bar.inc(bytes);
    }

    fn finish(&self) {
        self.bar.finish_and_clear();
    }
}

//! A command's progress: a spinner on a terminal, a periodic log line otherwise.
//!
//! The spinner and the log both write to stderr. A log line written while the spinner is
//! drawn would tear it, so the log writes through [`LogWriter`], which clears the bars for
//! the line and draws them again after it. Without a terminal (a service, a pipe, CI) there
//! is nothing to draw: the same counter is logged every [`LOG_EVERY`] instead, so a long
//! backfill under systemd still says how far it is.

use std::io::{self, IsTerminal, Write};
use std::sync::OnceLock;
use std::time::Duration;

use indicatif::{MultiProgress, ProgressBar, ProgressStyle};

/// How often a command without a terminal logs its progress.
pub const LOG_EVERY: Duration = Duration::from_secs(15);

/// The bars of this process, all drawn on stderr.
fn bars() -> &'static MultiProgress {
    static BARS: OnceLock<MultiProgress> = OnceLock::new();
    BARS.get_or_init(MultiProgress::new)
}

/// The log's writer: stderr, with the bars cleared while a line is written.
#[derive(Debug, Clone, Copy, Default)]
pub struct LogWriter;

impl Write for LogWriter {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        bars().suspend(|| io::stderr().write_all(buf))?;
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        io::stderr().flush()
    }
}

/// The progress of `command`: a spinner counting issues on a terminal; otherwise a hidden
/// counter that a task logs every [`LOG_EVERY`] until the caller finishes it. Call from
/// within the tokio runtime.
pub fn command_progress(command: &str) -> ProgressBar {
    if !io::stderr().is_terminal() {
        let bar = ProgressBar::hidden();
        log_periodically(command.to_owned(), &bar, LOG_EVERY);
        return bar;
    }
    let bar = bars().add(ProgressBar::new_spinner());
    bar.set_style(
        ProgressStyle::with_template("{spinner} {prefix}: {pos} issues, {msg} [{elapsed}]")
            .unwrap_or_else(|_| ProgressStyle::default_spinner()),
    );
    bar.set_prefix(command.to_string());
    bar.enable_steady_tick(Duration::from_millis(200));
    bar
}

/// Logs `bar`'s position every `every` until it is finished or dropped.
fn log_periodically(command: String, bar: &ProgressBar, every: Duration) {
    let Ok(runtime) = tokio::runtime::Handle::try_current() else {
        return;
    };
    let weak = bar.downgrade();
    let started = std::time::Instant::now();
    runtime.spawn(async move {
        loop {
            tokio::time::sleep(every).await;
            let Some(bar) = weak.upgrade() else { return };
            if bar.is_finished() {
                return;
            }
            tracing::info!(
                command = %command,
                issues = bar.position(),
                elapsed_secs = started.elapsed().as_secs(),
                "{}",
                match bar.message() {
                    m if m.is_empty() => "In progress.".to_owned(),
                    m => format!("In progress: {m}."),
                }
            );
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::{Arc, Mutex};

    /// A hidden bar is logged while it runs, and no more once finished.
    #[tokio::test]
    async fn without_a_terminal_progress_is_logged_until_finished() {
        let lines: Arc<Mutex<Vec<u8>>> = Arc::default();
        let subscriber = tracing_subscriber::fmt()
            .with_ansi(false)
            .with_writer({
                let lines = lines.clone();
                move || Captured(lines.clone())
            })
            .finish();
        let _guard = tracing::subscriber::set_default(subscriber);
        let bar = ProgressBar::hidden();
        log_periodically("backfill".into(), &bar, Duration::from_millis(20));
        bar.inc(7);
        bar.set_message("7 saved");
        tokio::time::sleep(Duration::from_millis(150)).await;
        bar.finish_and_clear();
        let logged = String::from_utf8(lines.lock().unwrap().clone()).unwrap();
        assert!(logged.contains("In progress: 7 saved."), "{logged}");
        assert!(logged.contains("issues=7"), "{logged}");
        let count = logged.lines().count();
        tokio::time::sleep(Duration::from_millis(100)).await;
        let after = String::from_utf8(lines.lock().unwrap().clone()).unwrap();
        assert_eq!(after.lines().count(), count, "nothing after finish");
    }

    struct Captured(Arc<Mutex<Vec<u8>>>);

    impl Write for Captured {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }
}

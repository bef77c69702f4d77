//! What the terminal shows while work is under way, and the one way to stderr that
//! steps around it.
//!
//! While targets and identity sources are read, [`Reading`] keeps a live line per read,
//! from what the HTTP layer records (`http::activity`):
//!
//! ```text
//! ⠙ reading bitbucket · 37 requests · 2.1 s
//! ⠙ reading cloud · 212 requests · 3 min 4 s · waiting 4 s for the request budget
//! ✓ read source okta · 12 requests · 0.8 s
//! ```
//!
//! Only when stderr is a terminal, without `--quiet` and with text logs ([`shown`]);
//! otherwise nothing is drawn nor recorded, and stderr is byte for byte what it was. The
//! lines are cleared when the read is over. Whatever else goes to stderr meanwhile (a
//! note, a log line) goes through [`suspend`], so it prints above the lines, not through
//! them.

use std::collections::BTreeMap;
use std::io::{IsTerminal, Write};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use indicatif::{MultiProgress, ProgressBar, ProgressStyle};
use tokio::time::Instant;

use crate::http::activity::{self, Role, Seen};

/// Whether live progress is drawn: on a terminal, not `--quiet`, not JSON logs (whose
/// every stderr line must be JSON).
pub fn shown() -> bool {
    !super::quiet() && !super::log::json() && std::io::stderr().is_terminal()
}

/// The display on the terminal now, if any, for [`suspend`].
static ACTIVE: Mutex<Option<MultiProgress>> = Mutex::new(None);

fn active() -> MutexGuard<'static, Option<MultiProgress>> {
    ACTIVE.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Runs `write` (a write to stderr) with the live display, if any, out of the way.
pub fn suspend<R>(write: impl FnOnce() -> R) -> R {
    // Cloned out, so a write that comes back here does not wait on the lock.
    let display = active().clone();
    match display {
        Some(multi) => multi.suspend(write),
        None => write(),
    }
}

/// Where tracing writes: stderr, around the live display.
pub struct Stderr;

/// One event's write.
pub struct StderrWrite;

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for Stderr {
    type Writer = StderrWrite;

    fn make_writer(&'a self) -> StderrWrite {
        StderrWrite
    }
}

impl Write for StderrWrite {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        suspend(|| std::io::stderr().write(buf))
    }

    /// The subscriber writes each event whole, in one call: it is drawn around once.
    fn write_all(&mut self, buf: &[u8]) -> std::io::Result<()> {
        suspend(|| std::io::stderr().lock().write_all(buf))
    }

    fn flush(&mut self) -> std::io::Result<()> {
        std::io::stderr().flush()
    }
}

/// The terminal's live display while it is open: the place bars go, and what
/// [`suspend`] steps around. Cleared and let go of when dropped.
pub struct Screen {
    multi: MultiProgress,
}

impl Screen {
    /// A display, when progress is [`shown`].
    pub fn open() -> Option<Screen> {
        if !shown() {
            return None;
        }
        let multi = MultiProgress::new();
        *active() = Some(multi.clone());
        Some(Screen { multi })
    }

    /// Puts a bar on the display.
    pub fn add(&self, bar: ProgressBar) -> ProgressBar {
        self.multi.add(bar)
    }
}

impl Drop for Screen {
    fn drop(&mut self) {
        *active() = None;
        let _ = self.multi.clear();
    }
}

/// How long a read goes before its line is drawn: a read faster than this (a sandbox, a
/// small team) shows nothing, rather than a flash.
const FIRST_DRAW: Duration = Duration::from_millis(200);

/// How often the lines are brought up to date.
const TICK: Duration = Duration::from_millis(100);

/// The live lines of the reads, while it lives. `None` from [`Reading::start`] when
/// progress is not [`shown`]; dropping it, on success, error or interruption, clears
/// the lines.
pub struct Reading {
    lines: Arc<Mutex<Lines>>,
    task: tokio::task::JoinHandle<()>,
    // Dropped after the lines are cleared: recording stops last.
    _watch: activity::Watch,
}

struct Lines {
    /// Taken when the reading is over, so the display is let go of then, not whenever
    /// the aborted task is dropped.
    screen: Option<Screen>,
    bars: BTreeMap<String, ProgressBar>,
    /// Set when the reading is over: no line is drawn after.
    over: bool,
}

impl Reading {
    pub fn start() -> Option<Reading> {
        let screen = Screen::open()?;
        let watch = activity::Watch::open();
        let lines = Arc::new(Mutex::new(Lines {
            screen: Some(screen),
            bars: BTreeMap::new(),
            over: false,
        }));
        let updating = lines.clone();
        let task = tokio::spawn(async move {
            tokio::time::sleep(FIRST_DRAW).await;
            let mut ticks = tokio::time::interval(TICK);
            loop {
                ticks.tick().await;
                let mut lines = updating.lock().unwrap_or_else(PoisonError::into_inner);
                if lines.over {
                    return;
                }
                lines.update(&activity::snapshot(), Instant::now());
            }
        });
        Some(Reading {
            lines,
            task,
            _watch: watch,
        })
    }
}

impl Drop for Reading {
    fn drop(&mut self) {
        self.task.abort();
        // Under the lock the task draws by: once this is set, it draws no more.
        let mut lines = self.lines.lock().unwrap_or_else(PoisonError::into_inner);
        lines.over = true;
        for bar in lines.bars.values() {
            bar.finish_and_clear();
        }
        lines.screen = None;
    }
}

impl Lines {
    fn update(&mut self, seen: &[Seen], now: Instant) {
        let Some(screen) = &self.screen else { return };
        for read in seen {
            let bar = self.bars.entry(read.name.clone()).or_insert_with(|| {
                let bar = screen.add(ProgressBar::new_spinner());
                if let Ok(style) = ProgressStyle::with_template("{spinner} {msg}") {
                    bar.set_style(style);
                }
                bar
            });
            if read.ended.is_some() && !bar.is_finished() {
                if let Ok(style) = ProgressStyle::with_template("✓ {msg}") {
                    bar.set_style(style);
                }
                bar.finish_with_message(line(read, now));
            } else if !bar.is_finished() {
                bar.set_message(line(read, now));
                bar.tick();
            }
        }
    }
}

/// A read's line: `reading bitbucket · 37 requests · 2.1 s`, then what it waits for, if
/// a second or more; `read …` once over.
pub fn line(read: &Seen, now: Instant) -> String {
    let verb = if read.ended.is_some() { "read" } else { "reading" };
    let role = match read.role {
        Role::Source => "source ",
        Role::Target => "",
    };
    let mut text = format!("{verb} {role}{}", read.name);
    // A read that sends no HTTP request (an LDAP directory) shows its time alone.
    if read.requests > 0 {
        let plural = if read.requests == 1 { "" } else { "s" };
        text.push_str(&format!(" · {} request{plural}", read.requests));
    }
    let took = read.ended.unwrap_or(now).saturating_duration_since(read.began);
    text.push_str(&format!(" · {}", elapsed(took)));
    if let Some((until, why)) = read.waiting.filter(|_| read.ended.is_none()) {
        let left = until.saturating_duration_since(now);
        if left >= Duration::from_secs(1) {
            text.push_str(&format!(" · waiting {} {}", wait(left), why.reason()));
        }
    }
    text
}

/// Time taken: tenths of a second for the first minute, then minutes and seconds.
fn elapsed(d: Duration) -> String {
    if d < Duration::from_secs(60) {
        format!("{:.1} s", d.as_secs_f64())
    } else {
        format!("{} min {} s", d.as_secs() / 60, d.as_secs() % 60)
    }
}

/// Time left, counted in whole seconds up: a wait of 0.2 s left is "1 s", not "0 s".
fn wait(d: Duration) -> String {
    let secs = d.as_secs() + u64::from(d.subsec_nanos() > 0);
    if secs < 60 {
        format!("{secs} s")
    } else if secs % 60 == 0 {
        format!("{} min", secs / 60)
    } else {
        format!("{} min {} s", secs / 60, secs % 60)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::http::activity::Wait;

    fn seen(role: Role, requests: usize) -> Seen {
        Seen {
            name: "bitbucket".to_owned(),
            role,
            requests,
            began: Instant::now(),
            ended: None,
            waiting: None,
        }
    }

    #[tokio::test(start_paused = true)]
    async fn a_line_says_what_is_read_how_much_for_how_long_and_what_it_waits_for() {
        let read = seen(Role::Target, 37);
        let at = |ms: u64| read.began + Duration::from_millis(ms);
        assert_eq!(line(&read, at(2_140)), "reading bitbucket · 37 requests · 2.1 s");
        assert_eq!(
            line(&seen(Role::Target, 1), read.began),
            "reading bitbucket · 1 request · 0.0 s"
        );
        // An LDAP source sends no HTTP request.
        assert_eq!(line(&seen(Role::Source, 0), at(0)), "reading source bitbucket · 0.0 s");

        let waiting = |until: u64, why: Wait| Seen {
            waiting: Some((at(until), why)),
            ..read.clone()
        };
        assert_eq!(
            line(&waiting(43_000, Wait::Budget), at(2_100)),
            "reading bitbucket · 37 requests · 2.1 s · waiting 41 s for the request budget"
        );
        assert_eq!(
            line(&waiting(5_100, Wait::Retry), at(3_000)),
            "reading bitbucket · 37 requests · 3.0 s · waiting 3 s to ask again"
        );
        assert_eq!(
            line(&waiting(250_000, Wait::Window), at(65_000)),
            "reading bitbucket · 37 requests · 1 min 5 s · waiting 3 min 5 s for the quota window to reset"
        );
        assert_eq!(
            line(&waiting(70_000, Wait::RateLimit), at(10_000)),
            "reading bitbucket · 37 requests · 10.0 s · waiting 1 min for the server's rate limit to reset"
        );
        // A wait under a second is not worth a word; a read over has none.
        assert_eq!(
            line(&waiting(2_500, Wait::Budget), at(2_100)),
            "reading bitbucket · 37 requests · 2.1 s"
        );
        let over = Seen {
            ended: Some(at(2_100)),
            ..waiting(43_000, Wait::Budget)
        };
        assert_eq!(line(&over, at(9_000)), "read bitbucket · 37 requests · 2.1 s");
    }
}

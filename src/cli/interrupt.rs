//! Ctrl-C and SIGTERM. A command that only reads stops at once (exit 130); `apply` stops
//! starting changes, lets the ones in flight finish and reports the rest, because a
//! request cut off mid-way leaves its outcome unknown.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

/// Listens for Ctrl-C and SIGTERM from the moment it is made: a signal that arrives
/// before anything awaits it is kept, not lost.
pub struct Signals {
    #[cfg(unix)]
    streams: Option<(tokio::signal::unix::Signal, tokio::signal::unix::Signal)>,
}

impl Signals {
    pub fn new() -> Self {
        #[cfg(unix)]
        {
            use tokio::signal::unix::{signal, SignalKind};
            let streams = signal(SignalKind::interrupt())
                .and_then(|int| Ok((int, signal(SignalKind::terminate())?)))
                .ok();
            Signals { streams }
        }
        #[cfg(not(unix))]
        Signals {}
    }

    /// Completes on the next Ctrl-C or SIGTERM.
    pub async fn recv(&mut self) {
        #[cfg(unix)]
        if let Some((int, term)) = self.streams.as_mut() {
            tokio::select! {
                _ = int.recv() => {}
                _ = term.recv() => {}
            }
            return;
        }
        let _ = tokio::signal::ctrl_c().await;
    }

    /// A flag set by the next signal, for work that must wind down rather than stop
    /// dead. The signal after that exits at once with 130.
    pub fn into_flag(mut self) -> Arc<AtomicBool> {
        let flag = Arc::new(AtomicBool::new(false));
        let set = flag.clone();
        tokio::spawn(async move {
            self.recv().await;
            set.store(true, Ordering::SeqCst);
            super::log::emit(
                super::log::Level::Warn,
                "\n",
                "Interrupted: finishing the changes in flight, starting no more. Press Ctrl-C again to stop at once.",
                serde_json::Map::new(),
            );
            self.recv().await;
            super::log::emit(
                super::log::Level::Warn,
                "",
                "Stopped at once: the changes that were in flight may or may not have been applied.",
                super::log::fields([("exit_code", super::error::EXIT_INTERRUPTED.into())]),
            );
            std::process::exit(i32::from(super::error::EXIT_INTERRUPTED));
        });
        flag
    }
}

/// Completes on the first Ctrl-C or SIGTERM.
pub async fn signalled() {
    Signals::new().recv().await;
}

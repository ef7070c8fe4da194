//! Stopping a long-running process cleanly: SIGTERM (`systemctl stop`, `docker stop`) or SIGINT
//! (Ctrl-C) asks the scheduler to start no new job and gives running ones a bounded time; a
//! second signal exits at once.

use std::sync::Arc;

use tokio::sync::watch;

/// A shutdown request that any number of tasks can watch.
#[derive(Debug, Clone)]
pub struct Shutdown {
    rx: watch::Receiver<bool>,
    /// Keeps a never-triggered channel open ([`Shutdown::never`]).
    _keep: Option<Arc<watch::Sender<bool>>>,
}

/// Triggers its [`Shutdown`].
#[derive(Debug)]
pub struct ShutdownTrigger {
    tx: watch::Sender<bool>,
}

/// A trigger and the request it triggers.
pub fn channel() -> (ShutdownTrigger, Shutdown) {
    let (tx, rx) = watch::channel(false);
    (ShutdownTrigger { tx }, Shutdown { rx, _keep: None })
}

impl ShutdownTrigger {
    pub fn request(&self) {
        self.tx.send_replace(true);
    }
}

impl Shutdown {
    /// A request that never comes (one-off runs, tests).
    pub fn never() -> Self {
        let (tx, rx) = watch::channel(false);
        Self {
            rx,
            _keep: Some(Arc::new(tx)),
        }
    }

    pub fn is_requested(&self) -> bool {
        *self.rx.borrow()
    }

    /// Completes when shutdown is requested (never, if its trigger is dropped unused).
    pub async fn requested(&self) {
        let mut rx = self.rx.clone();
        loop {
            if *rx.borrow_and_update() {
                return;
            }
            if rx.changed().await.is_err() {
                std::future::pending::<()>().await;
            }
        }
    }
}

/// Turns SIGINT and SIGTERM into `trigger`'s request; a second signal exits the process at once
/// with status 130. Returns when the handlers could not be installed (then only a kill stops
/// the process, as before).
pub async fn request_on_signals(trigger: ShutdownTrigger) {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let (Ok(mut term), Ok(mut int)) = (
            signal(SignalKind::terminate()),
            signal(SignalKind::interrupt()),
        ) else {
            tracing::warn!("signal handlers could not be installed");
            return;
        };
        let next = async |term: &mut tokio::signal::unix::Signal,
                          int: &mut tokio::signal::unix::Signal| {
            tokio::select! {
                _ = term.recv() => "SIGTERM",
                _ = int.recv() => "SIGINT",
            }
        };
        let first = next(&mut term, &mut int).await;
        tracing::warn!(
            signal = first,
            "stop requested: nothing new starts, what runs finishes within its grace (send the signal again to exit at once)"
        );
        trigger.request();
        let second = next(&mut term, &mut int).await;
        tracing::warn!(signal = second, "second signal: exiting now");
        std::process::exit(130);
    }
    #[cfg(not(unix))]
    {
        if tokio::signal::ctrl_c().await.is_ok() {
            trigger.request();
            if tokio::signal::ctrl_c().await.is_ok() {
                std::process::exit(130);
            }
        }
    }
}

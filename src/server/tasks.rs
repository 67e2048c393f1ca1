//! The server's background tasks, all owned by one `TaskTracker` so that `server::run` can wait for them when it
//! stops: the checker, the reload triggers (SIGHUP, the config file watch), metrics upkeep (with the status page's
//! traffic samples), the shared state's sync with Redis (`cluster::run`, in the redis mode), and the shutdown timer that ends the streams still open when the grace period is over. This is the
//! one place a background task is spawned (clippy's `disallowed-methods` refuses a bare `tokio::spawn` elsewhere).

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use tokio_util::task::TaskTracker;

use crate::config::StartUp;
use crate::live::AppState;

/// Starts every background task; each stops when `state.shutdown` is cancelled (the timer when `state.drain` is).
/// `shutdown` is what begins the shutdown (a signal, or a test's future).
pub fn start(
    state: &AppState,
    start_up: &StartUp,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> TaskTracker {
    let tasks = TaskTracker::new();
    tasks.spawn(shutdown_timer(
        state.clone(),
        shutdown,
        start_up.shutdown_grace,
    ));
    // Started even when checks are off: it skips its rounds then, and a reload can turn them on.
    tasks.spawn(crate::checker::run(state.clone()));
    tasks.spawn(metrics_upkeep(state.shutdown.clone()));
    let cluster = Arc::clone(&state.snapshot().cluster);
    if cluster.is_shared() {
        let live = state.clone();
        tasks.spawn(crate::cluster::run(
            cluster,
            move || Arc::clone(&live.snapshot().pool),
            state.shutdown.clone(),
        ));
    }
    if let Some(reloader) = &state.reloader {
        tasks.spawn(crate::reload::on_sighup(
            Arc::clone(reloader),
            state.shutdown.clone(),
        ));
        if let (true, Some(file)) = (start_up.watch_config, state.snapshot().config.file.clone()) {
            tasks.spawn(crate::reload::watch_file(
                Arc::clone(reloader),
                file,
                state.shutdown.clone(),
            ));
        }
    }
    tasks.close();
    tasks
}

/// Waits for `shutdown`, then begins it (no new connections, background tasks stop) and gives open requests and
/// streams `grace` to finish before ending them. Returns early once `drain` is cancelled: everything finished.
async fn shutdown_timer(state: AppState, shutdown: impl Future<Output = ()>, grace: Duration) {
    tokio::select! {
        () = shutdown => {}
        // The server stopped for another reason (its accept loop ended): nothing to wait for.
        () = state.shutdown.cancelled() => {}
    }
    tracing::info!("shutting down: no new connections; open requests have {grace:?} to finish");
    state.shutdown.cancel();
    tokio::select! {
        () = tokio::time::sleep(grace) => {
            tracing::warn!("shutdown grace period over: ending the remaining streams");
            state.drain.cancel();
        }
        () = state.drain.cancelled() => {}
    }
}

/// Folds histogram samples into their buckets every few seconds (see `metrics::UPKEEP_EVERY`), closes the status
/// page's 10-second traffic samples (`traffic::tick_if_due`), and reports the last refusals of a burst even when no
/// further one comes. (A task of its own for the traffic samples cost about 10 KB of binary for the same job.)
async fn metrics_upkeep(stop: tokio_util::sync::CancellationToken) {
    crate::traffic::start();
    loop {
        tokio::select! {
            () = stop.cancelled() => return,
            () = tokio::time::sleep(crate::metrics::UPKEEP_EVERY) => {
                crate::metrics::run_upkeep();
                crate::traffic::tick_if_due();
                crate::logging::report_refused_if_due();
            }
        }
    }
}

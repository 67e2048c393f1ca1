//! The server's lifecycle: bind, announce, serve, and on shutdown drain open requests within the grace period.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use arc_swap::ArcSwap;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use crate::api;
use crate::config::{Overrides, StartUp};
use crate::live::{AppState, Live, Reloader};

mod connection;
mod refusal;
mod tasks;
mod workers;

pub use workers::Workers;

/// Serves on `listener` until `shutdown` resolves, then stops accepting, lets open requests and streams finish for
/// up to `shutdown_grace`, ends whatever is left with an error event, and returns once every connection and
/// background task has stopped.
/// `reload` holds the sources the config came from; `None` (the demo) disables reloading. Accepted connections are
/// spread over `workers`' event loops (`Workers::none()`: all served in the caller's runtime).
pub async fn run(
    live: Live,
    listener: TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
    reload: Option<Overrides>,
    workers: Workers,
) -> anyhow::Result<()> {
    crate::metrics::handle();
    // Read once: a reload keeps these (and says that a change needs a restart).
    let start_up = live.config.start_up.clone();
    let addr = listener.local_addr()?;
    let tokens = live.pool.len();
    let strategy = live.pool.strategy();
    let counted = crate::output::count(tokens, "token");
    tracing::info!("JWT balancer initialized with {counted}, strategy: {strategy}");
    tracing::info!("Server starting on {addr}");
    tracing::info!("JWT tokens configured: {tokens}");
    tracing::info!("Load balance strategy: {strategy}");

    live.cluster.set_address(addr.to_string());
    let live = Arc::new(ArcSwap::from_pointee(live));
    let state = AppState {
        reloader: reload.map(|overrides| Reloader::new(overrides, Arc::clone(&live), addr)),
        live,
        shutdown: CancellationToken::new(),
        drain: CancellationToken::new(),
        started: std::time::Instant::now(),
    };
    let background = tasks::start(&state, &start_up, shutdown);
    let router = api::router(state.clone(), &start_up);

    let loops = crate::output::count(workers.loops(), "event loop");
    tracing::info!("serving client connections on {loops} (worker_threads)");
    tracing::info!("listening on {addr}");
    accept_loop(
        listener,
        router,
        &start_up,
        &workers,
        state.shutdown.clone(),
    )
    .await;
    // Every connection is closed: nothing is left for the grace period to wait for.
    state.shutdown.cancel();
    state.drain.cancel();
    background.wait().await;
    workers.stop().await;
    tracing::info!("server stopped");
    Ok(())
}

/// Accepts connections until shutdown begins, then waits for the open ones to finish (they are ended from inside
/// once the grace period is over, with a margin for a connection that ignores that).
///
/// Hand-rolled rather than `axum::serve` because that sets no header-read timeout (a slowloris client could hold a
/// connection forever), closes no idle connection and has no connection cap.
async fn accept_loop(
    listener: TcpListener,
    router: axum::Router,
    config: &StartUp,
    workers: &Workers,
    stop: CancellationToken,
) {
    let builder = Arc::new(http_builder(config));
    let limits = connection::IdleLimits {
        first_request: config.client_header_timeout,
        between_requests: config.client_idle_timeout,
    };
    let connections = tokio_util::task::TaskTracker::new();
    let slots = Arc::new(tokio::sync::Semaphore::new(config.max_connections as usize));
    let mut refusals = refusal::Refusals::new(config.max_connections);
    loop {
        let report_due = refusals.due();
        let (stream, _peer) = tokio::select! {
            _ = stop.cancelled() => break,
            () = tokio::time::sleep_until(report_due.unwrap_or_else(tokio::time::Instant::now)), if report_due.is_some() => {
                refusals.report();
                continue;
            }
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(err) => {
                    // Usually out of file descriptors: back off instead of spinning.
                    tracing::warn!("accept failed: {err}");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
        };
        let Ok(slot) = Arc::clone(&slots).try_acquire_owned() else {
            refusals.refuse(stream, &connections);
            continue;
        };
        // No Nagle delay: a stream is many small writes, and Nagle holding one back until the client's delayed
        // ACK (40 ms on Linux) would make every streamed event wait for it.
        let _ = stream.set_nodelay(true);
        let (builder, router, stop) = (Arc::clone(&builder), router.clone(), stop.clone());
        workers.serve(stream, &connections, move |stream| async move {
            connection::serve(&builder, stream, router, limits, stop).await;
            drop(slot);
        });
    }
    drop(listener);
    connections.close();
    tokio::select! {
        () = connections.wait() => {}
        () = tokio::time::sleep(config.shutdown_grace + Duration::from_secs(5)) => {
            tracing::warn!("connections still open after the grace period; exiting anyway");
        }
    }
}

/// hyper's settings: the header timeout for requests after the first, and the header size cap. For HTTP/1 the
/// cap is the connection's read buffer (what a client trickling headers can make the server hold), for HTTP/2
/// the decoded header list.
fn http_builder(
    config: &StartUp,
) -> hyper_util::server::conn::auto::Builder<hyper_util::rt::TokioExecutor> {
    let header_bytes = usize::try_from(config.max_header_size).unwrap_or(usize::MAX);
    let mut builder =
        hyper_util::server::conn::auto::Builder::new(hyper_util::rt::TokioExecutor::new());
    builder
        .http1()
        .timer(hyper_util::rt::TokioTimer::new())
        .header_read_timeout(config.client_header_timeout)
        .max_buf_size(header_bytes);
    builder
        .http2()
        .timer(hyper_util::rt::TokioTimer::new())
        .max_header_list_size(u32::try_from(header_bytes).unwrap_or(u32::MAX));
    builder
}

/// Resolves on SIGTERM or SIGINT (Ctrl-C).
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = terminate => {},
    }
}

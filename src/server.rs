//! The server's lifecycle: bind, announce, serve, and on shutdown drain open requests within the grace period.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use arc_swap::ArcSwap;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use crate::api::{self, AppState};
use crate::config::Overrides;
use crate::live::Live;
use crate::reload::Reloader;

mod connection;
mod refusal;

/// A running server's shared handles, for the background tasks that act on it (health checks, reloads).
#[derive(Clone)]
pub struct Handles {
    pub live: Arc<ArcSwap<Live>>,
    /// Cancelled when shutdown begins: background tasks stop.
    pub shutdown: CancellationToken,
}

/// Serves on `listener` until `shutdown` resolves, then stops accepting, lets open requests and streams finish for
/// up to `shutdown_grace`, and ends whatever is left with an error event.
/// `reload` holds the sources the config came from; `None` (the demo) disables reloading.
pub async fn run(
    live: Live,
    listener: TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
    reload: Option<Overrides>,
) -> anyhow::Result<()> {
    crate::metrics::handle();
    let grace = live.config.shutdown_grace;
    let addr = listener.local_addr()?;
    let tokens = live.pool.len();
    let strategy = live.pool.strategy();
    let counted = crate::output::count(tokens, "token");
    tracing::info!("JWT balancer initialized with {counted}, strategy: {strategy}");
    tracing::info!("Server starting on {addr}");
    tracing::info!("JWT tokens configured: {tokens}");
    tracing::info!("Load balance strategy: {strategy}");

    let handles = Handles {
        live: Arc::new(ArcSwap::from_pointee(live)),
        shutdown: CancellationToken::new(),
    };
    let drain = CancellationToken::new();
    let reloader = reload.map(|overrides| Reloader::new(overrides, handles.clone(), addr));
    let state = AppState {
        live: Arc::clone(&handles.live),
        drain: drain.clone(),
        reloader: reloader.clone(),
        started: std::time::Instant::now(),
    };
    spawn_background(&handles, reloader);
    crate::metrics::spawn_upkeep(handles.shutdown.clone());
    let router = api::router(state);

    let stop = handles.shutdown.clone();
    let drain_after_grace = drain.clone();
    tokio::spawn(async move {
        shutdown.await;
        tracing::info!("shutting down: no new connections; open requests have {grace:?} to finish");
        stop.cancel();
        tokio::time::sleep(grace).await;
        tracing::warn!("shutdown grace period over: ending the remaining streams");
        drain_after_grace.cancel();
    });

    tracing::info!("listening on {addr}");
    let config = handles.live.load().config.clone();
    accept_loop(listener, router, &config, handles.shutdown.clone()).await;
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
    config: &crate::config::Config,
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
            refusals.refuse(stream);
            continue;
        };
        // No Nagle delay: a stream is many small writes, and Nagle holding one back until the client's delayed
        // ACK (40 ms on Linux) would make every streamed event wait for it.
        let _ = stream.set_nodelay(true);
        let (builder, router, stop) = (Arc::clone(&builder), router.clone(), stop.clone());
        connections.spawn(async move {
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
    config: &crate::config::Config,
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

/// Starts the tasks that live as long as the server: health checks, and the reload triggers.
fn spawn_background(handles: &Handles, reloader: Option<Arc<Reloader>>) {
    let live = handles.live.load_full();
    // Started even when checks are off: it skips its rounds then, and a reload can turn them on.
    tokio::spawn(crate::health::run(handles.clone()));
    if let Some(reloader) = reloader {
        tokio::spawn(Arc::clone(&reloader).on_sighup());
        if let (true, Some(file)) = (live.config.watch_config, live.config.file.clone()) {
            tokio::spawn(reloader.watch_file(file));
        }
    }
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

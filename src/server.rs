//! The server's lifecycle: bind, announce, serve, and on shutdown drain open requests within the grace period.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use arc_swap::ArcSwap;
use axum::serve::ListenerExt;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use crate::api::{self, AppState};
use crate::config::{HealthCheckMode, Overrides};
use crate::live::Live;
use crate::reload::Reloader;

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
    tracing::info!("JWT balancer initialized with {tokens} tokens, strategy: {strategy}");
    tracing::info!("Server starting on {addr}");
    tracing::info!("JWT tokens configured: {tokens}");
    tracing::info!("Load balance strategy: {strategy}");

    let handles = Handles {
        live: Arc::new(ArcSwap::from_pointee(live)),
        shutdown: CancellationToken::new(),
    };
    let drain = CancellationToken::new();
    let reloader = reload.map(|overrides| Reloader::new(overrides, handles.clone()));
    let state = AppState {
        live: Arc::clone(&handles.live),
        drain: drain.clone(),
        reloader: reloader.clone(),
        started: std::time::Instant::now(),
    };
    spawn_background(&handles, reloader);
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
    // No Nagle delay: a stream is many small writes, and Nagle holding one back until the client's delayed ACK
    // (40 ms on Linux) made every streamed event wait for it.
    let listener = listener.tap_io(|tcp| {
        let _ = tcp.set_nodelay(true);
    });
    let serve = axum::serve(listener, router)
        .with_graceful_shutdown(handles.shutdown.clone().cancelled_owned());
    // After the grace period, streams end themselves; the extra margin bounds a request that ignores that.
    let stopped = handles.shutdown.clone();
    tokio::select! {
        result = serve => result?,
        _ = async {
            stopped.cancelled().await;
            tokio::time::sleep(grace + Duration::from_secs(5)).await;
        } => tracing::warn!("connections still open after the grace period; exiting anyway"),
    }
    tracing::info!("server stopped");
    Ok(())
}

/// Starts the tasks that live as long as the server: health checks, and the reload triggers.
fn spawn_background(handles: &Handles, reloader: Option<Arc<Reloader>>) {
    let live = handles.live.load_full();
    if live.config.health_check_mode != HealthCheckMode::Off {
        tokio::spawn(crate::health::run(handles.clone()));
    }
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

//! The event loops besides the main one, and the hand-over of each accepted connection to the loop with the fewest
//! open.
//!
//! One single-threaded runtime per core rather than one work-stealing runtime: a request's client connection, its
//! upstream connection and their timers then stay on one thread, with no wake-up crossing to another (issue 16:
//! 10–39 % less CPU per request on two cores, BENCHMARKS.md). Connections are handed over from the one listener
//! (not `SO_REUSEPORT`, which would let a second `jbproxy serve` on the same port take half the connections
//! silently).

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use tokio::net::TcpStream;
use tokio::runtime::Handle;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

/// The loops a server hands connections to. Loop 0 is the runtime `server::run` runs in.
pub struct Workers {
    /// Open connections per loop, loop 0 first.
    open: Vec<Arc<AtomicUsize>>,
    /// Loops 1…: their runtimes' handles.
    handles: Vec<Handle>,
    threads: Vec<std::thread::JoinHandle<()>>,
    stop: CancellationToken,
}

impl Workers {
    /// Only the caller's runtime (tests, and `worker_threads: 1`).
    pub fn none() -> Workers {
        Workers {
            open: vec![Arc::new(AtomicUsize::new(0))],
            handles: Vec::new(),
            threads: Vec::new(),
            stop: CancellationToken::new(),
        }
    }

    /// Starts `total - 1` loops beside the caller's, each a thread named `jbproxy-loop-N` with its own
    /// single-threaded runtime.
    pub fn start(total: usize) -> anyhow::Result<Workers> {
        let mut workers = Workers::none();
        crate::event_loop::set_running(total);
        for index in 1..total.max(1) {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()?;
            workers.handles.push(runtime.handle().clone());
            workers.open.push(Arc::new(AtomicUsize::new(0)));
            let stop = workers.stop.clone();
            workers.threads.push(
                std::thread::Builder::new()
                    .name(format!("jbproxy-loop-{index}"))
                    .spawn(move || {
                        crate::event_loop::enter(index);
                        runtime.block_on(stop.cancelled());
                        // Connections are all closed by now (`server::run` waited for them); what is left is
                        // upkeep inside the clients, which need not finish.
                        runtime.shutdown_timeout(Duration::from_secs(1));
                    })?,
            );
        }
        Ok(workers)
    }

    /// How many loops serve, the caller's included.
    pub fn loops(&self) -> usize {
        self.open.len()
    }

    /// Serves `stream` on the loop with the fewest open connections, tracked by `tracker`.
    pub fn serve<F, Fut>(&self, stream: TcpStream, tracker: &TaskTracker, serve: F)
    where
        F: FnOnce(TcpStream) -> Fut + Send + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        let index = self
            .open
            .iter()
            .enumerate()
            .min_by_key(|(_, open)| open.load(Ordering::Relaxed))
            .map_or(0, |(index, _)| index);
        let open = Open::count(&self.open[index]);
        let Some(handle) = index.checked_sub(1).and_then(|i| self.handles.get(i)) else {
            tracker.spawn(async move {
                let _open = open;
                serve(stream).await;
            });
            return;
        };
        // A socket belongs to the reactor of the runtime that registered it: move it over as a plain socket.
        let socket = match stream.into_std() {
            Ok(socket) => socket,
            Err(err) => {
                tracing::warn!("cannot hand a connection to event loop {index}: {err}");
                return;
            }
        };
        handle.spawn(tracker.track_future(async move {
            let _open = open;
            match TcpStream::from_std(socket) {
                Ok(stream) => serve(stream).await,
                Err(err) => tracing::warn!("event loop {index} cannot take a connection: {err}"),
            }
        }));
    }

    /// Stops the other loops' threads; called once every connection has closed.
    pub async fn stop(self) {
        self.stop.cancel();
        let threads = self.threads;
        let _ = tokio::task::spawn_blocking(move || {
            for thread in threads {
                let _ = thread.join();
            }
        })
        .await;
    }
}

/// One open connection in its loop's count, for as long as it lives.
struct Open(Arc<AtomicUsize>);

impl Open {
    fn count(open: &Arc<AtomicUsize>) -> Open {
        open.fetch_add(1, Ordering::Relaxed);
        Open(Arc::clone(open))
    }
}

impl Drop for Open {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}

//! One client connection's life: serve it with hyper, count the requests open on it, and close it when it carries
//! none and has waited too long (a new connection without a request after `client_header_timeout`, a keep-alive one
//! after `client_idle_timeout`), or at once when shutdown begins.
//!
//! hyper's own header timeout starts at the first byte and does not cover the HTTP/1-or-2 sniffing or an HTTP/2
//! connection at all, so a socket that sends nothing (or only the HTTP/2 preface) would be held forever.

use std::convert::Infallible;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use axum::body::{Body, Bytes};
use hyper::body::{Body as HttpBody, Frame, Incoming, SizeHint};
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto::{Builder, UpgradeableConnection};
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpStream;
use tokio::sync::watch;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

/// After a connection with no open request is told to close, how long hyper may take to flush what it already
/// wrote (the end of the last answer) before the socket is dropped.
const FLUSH_GRACE: Duration = Duration::from_secs(1);

/// How long an idle connection may stay open.
#[derive(Clone, Copy, Debug)]
pub struct IdleLimits {
    /// Before its first request: `client_header_timeout`.
    pub first_request: Duration,
    /// Between requests: `client_idle_timeout`.
    pub between_requests: Duration,
}

/// Requests open on one connection, and since when none has been.
#[derive(Clone, Copy)]
struct Activity {
    open: usize,
    served: bool,
    idle_since: Instant,
}

/// Serves one connection until the client leaves, it idles out, or shutdown closes it.
pub async fn serve(
    builder: &Builder<TokioExecutor>,
    stream: TcpStream,
    router: axum::Router,
    limits: IdleLimits,
    stop: CancellationToken,
) {
    let (activity, mut watch) = watch::channel(Activity {
        open: 0,
        served: false,
        idle_since: Instant::now(),
    });
    let service = Tracked {
        inner: TowerToHyperService::new(router),
        activity: Arc::new(activity),
    };
    let connection = builder.serve_connection_with_upgrades(TokioIo::new(stream), service);
    tokio::pin!(connection);
    let mut stopping = false;
    let mut watching = true;
    loop {
        let now = *watch.borrow_and_update();
        if now.open == 0 && stopping {
            return close_idle(connection, now.served).await;
        }
        let idle_until = (now.open == 0).then(|| {
            now.idle_since
                + if now.served {
                    limits.between_requests
                } else {
                    limits.first_request
                }
        });
        tokio::select! {
            _ = connection.as_mut() => return,
            changed = watch.changed(), if watching => {
                // An error means the service is gone: the connection is ending by itself.
                watching = changed.is_ok();
            }
            () = stop.cancelled(), if !stopping => {
                stopping = true;
                // Open requests finish; hyper then closes (HTTP/1) or has sent GOAWAY (HTTP/2).
                connection.as_mut().graceful_shutdown();
            }
            () = tokio::time::sleep_until(idle_until.unwrap_or(now.idle_since)), if idle_until.is_some() => {
                return close_idle(connection, now.served).await;
            }
        }
    }
}

/// Closes a connection with no request open. One that never had a request has nothing to flush and is dropped at
/// once; otherwise hyper gets a moment to finish writing the last answer (and HTTP/2 its GOAWAY).
async fn close_idle(mut connection: Pin<&mut Connection<'_>>, served: bool) {
    if !served {
        return;
    }
    connection.as_mut().graceful_shutdown();
    let _ = tokio::time::timeout(FLUSH_GRACE, connection).await;
}

type Connection<'a> = UpgradeableConnection<'a, TokioIo<TcpStream>, Tracked, TokioExecutor>;

/// The router, counting each request as open from its headers until its answer's body is dropped.
struct Tracked {
    inner: TowerToHyperService<axum::Router>,
    activity: Arc<watch::Sender<Activity>>,
}

impl hyper::service::Service<hyper::Request<Incoming>> for Tracked {
    type Response = hyper::Response<Body>;
    type Error = Infallible;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, Infallible>> + Send>>;

    fn call(&self, request: hyper::Request<Incoming>) -> Self::Future {
        let open = OpenRequest::new(Arc::clone(&self.activity));
        let response = self.inner.call(request);
        Box::pin(async move {
            let response = response.await?;
            Ok(response.map(|body| Body::new(Counted { body, _open: open })))
        })
    }
}

/// One open request; dropping it (with the answer's body) marks the request finished.
struct OpenRequest(Arc<watch::Sender<Activity>>);

impl OpenRequest {
    fn new(activity: Arc<watch::Sender<Activity>>) -> Self {
        activity.send_modify(|a| {
            a.open += 1;
            a.served = true;
        });
        Self(activity)
    }
}

impl Drop for OpenRequest {
    fn drop(&mut self) {
        self.0.send_modify(|a| {
            a.open = a.open.saturating_sub(1);
            if a.open == 0 {
                a.idle_since = Instant::now();
            }
        });
    }
}

/// An answer's body that holds its request open until it is finished or dropped.
struct Counted {
    body: Body,
    _open: OpenRequest,
}

impl HttpBody for Counted {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, axum::Error>>> {
        Pin::new(&mut self.body).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.body.size_hint()
    }
}

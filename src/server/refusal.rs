//! Connections past `max_connections`: a short 503 and a close, and a log line at most once per interval that says
//! how many were refused, so that a flood neither fills the log nor goes unnoticed.

use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio::time::Instant;
use tokio_util::task::TaskTracker;

/// At most one log line per this interval.
pub const REPORT_EVERY: Duration = Duration::from_secs(5);
/// Refused sockets kept open at once so their client can read the 503 (see `linger`); past this they are closed
/// straight away, so a flood cannot turn the refusals themselves into held sockets.
const LINGERING_MAX: usize = 256;
const LINGER: Duration = Duration::from_secs(2);
const LINGER_BYTES: usize = 64 * 1024;

/// The body of the refusal.
const BUSY: &str = "server busy: too many open connections (max_connections); retry shortly\n";

/// Counts refusals between log lines.
pub struct Refusals {
    max: u32,
    unreported: u64,
    last_report: Option<Instant>,
    lingering: Arc<Semaphore>,
    /// An HTTP/1.1 answer, written before anything is read: any HTTP/1 client understands it, and an HTTP/2 client
    /// gets a connection error at once instead of a silent hang.
    answer: Vec<u8>,
}

impl Refusals {
    pub fn new(max: u32) -> Self {
        Self {
            max,
            unreported: 0,
            last_report: None,
            lingering: Arc::new(Semaphore::new(LINGERING_MAX)),
            answer: format!(
                "HTTP/1.1 503 Service Unavailable\r\ncontent-type: text/plain; charset=utf-8\r\nretry-after: 1\r\n\
                 connection: close\r\ncontent-length: {}\r\n\r\n{BUSY}",
                BUSY.len()
            )
            .into_bytes(),
        }
    }

    /// Answers 503 and closes. Never waits: the accept loop must keep going. The socket lingers in a task of
    /// `connections`, so shutdown waits for it as for any connection.
    pub fn refuse(&mut self, stream: TcpStream, connections: &TaskTracker) {
        // A new socket's send buffer is empty, so the whole answer goes out without waiting.
        let _ = stream.try_write(&self.answer);
        if let Ok(permit) = Arc::clone(&self.lingering).try_acquire_owned() {
            connections.spawn(linger(stream, permit));
        }
        self.unreported += 1;
        if self
            .last_report
            .is_none_or(|at| at.elapsed() >= REPORT_EVERY)
        {
            self.report();
        }
    }

    /// When the refusals not yet logged are due to be, if there are any.
    pub fn due(&self) -> Option<Instant> {
        match (self.unreported, self.last_report) {
            (0, _) | (_, None) => None,
            (_, Some(at)) => Some(at + REPORT_EVERY),
        }
    }

    /// Logs the refusals counted since the last line.
    pub fn report(&mut self) {
        let n = self.unreported;
        if n == 0 {
            return;
        }
        let max = self.max;
        if self.last_report.is_none() {
            tracing::warn!(
                "connection refused: max_connections ({max}) are open; further refusals are counted and logged at \
                 most every {}s",
                REPORT_EVERY.as_secs()
            );
        } else {
            tracing::warn!(
                "{n} connection(s) refused in the last {}s: max_connections ({max}) are open",
                REPORT_EVERY.as_secs()
            );
        }
        self.unreported = 0;
        self.last_report = Some(Instant::now());
    }
}

/// Lets the client read the 503. Closing a socket that still holds unread request bytes makes the kernel send a
/// reset, which can destroy the answer before the client reads it; so the write side is closed first and the
/// request read and discarded for a moment.
async fn linger(mut stream: TcpStream, _permit: OwnedSemaphorePermit) {
    let _ = stream.shutdown().await;
    let mut sink = [0u8; 4096];
    let discard = async {
        let mut total = 0;
        while total < LINGER_BYTES {
            match stream.read(&mut sink).await {
                Ok(0) | Err(_) => break,
                Ok(n) => total += n,
            }
        }
    };
    let _ = tokio::time::timeout(LINGER, discard).await;
}

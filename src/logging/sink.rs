//! The log's way out: lines gathered in memory and written to stderr by one thread in batches.
//!
//! tracing-appender's non-blocking writer wakes its thread for every line, and at one request at a time that wake-up
//! and the line's own `write` were a fifth of the proxy's CPU per request (BENCHMARKS.md, issue 16). Here a line
//! costs a copy under a lock; the thread is woken only by the first line of a batch, waits `BATCH_WINDOW` for the
//! rest and writes them with one call. A sink that stops reading (a full pipe) blocks only that thread: once
//! `MAX_BUFFERED` bytes wait, new lines are dropped and counted, and serving goes on.

use std::io::Write;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::Duration;

/// How long the writer thread lets a batch gather after its first line: short enough that a line still reads as
/// written at once, long enough that a busy server writes a few dozen lines per call.
const BATCH_WINDOW: Duration = Duration::from_millis(20);

/// Bytes waiting for a stalled sink before lines are dropped (about 4,000 request lines).
const MAX_BUFFERED: usize = 1 << 20;

/// What the request path and the writer thread share.
struct Shared {
    pending: Mutex<Pending>,
    has_lines: Condvar,
    dropped: AtomicU64,
}

#[derive(Default)]
struct Pending {
    bytes: Vec<u8>,
    closing: bool,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, Pending> {
        // A panic while holding the lock leaves at worst a half-appended line: keep logging.
        self.pending.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// The `MakeWriter` handed to tracing-subscriber: each event arrives as one formatted line.
#[derive(Clone)]
pub struct BatchedStderr(Arc<Shared>);

/// Stops the writer thread after writing out what is pending; see `finish`.
pub struct Flusher {
    shared: Arc<Shared>,
    done: std::sync::mpsc::Receiver<()>,
}

/// Starts the writer thread. The thread writes to whatever `out` returns when it starts (stderr in the server).
pub fn start<W: Write + Send + 'static>(mut out: W) -> std::io::Result<(BatchedStderr, Flusher)> {
    let shared = Arc::new(Shared {
        pending: Mutex::new(Pending::default()),
        has_lines: Condvar::new(),
        dropped: AtomicU64::new(0),
    });
    let (done_tx, done) = std::sync::mpsc::channel();
    let thread_side = Arc::clone(&shared);
    std::thread::Builder::new()
        .name("log-writer".into())
        .spawn(move || {
            write_batches(&thread_side, &mut out);
            let _ = done_tx.send(());
        })?;
    Ok((BatchedStderr(Arc::clone(&shared)), Flusher { shared, done }))
}

fn write_batches(shared: &Shared, out: &mut impl Write) {
    let mut spare = Vec::new();
    loop {
        let mut pending = shared.lock();
        while pending.bytes.is_empty() && !pending.closing {
            pending = shared
                .has_lines
                .wait(pending)
                .unwrap_or_else(|e| e.into_inner());
        }
        if !pending.closing {
            drop(pending);
            std::thread::sleep(BATCH_WINDOW);
            pending = shared.lock();
        }
        let closing = pending.closing;
        let mut batch = std::mem::replace(&mut pending.bytes, std::mem::take(&mut spare));
        drop(pending);
        // A failed write loses the batch: there is nowhere left to report it.
        let _ = out.write_all(&batch).and_then(|()| out.flush());
        if closing {
            return;
        }
        batch.clear();
        spare = batch;
    }
}

impl BatchedStderr {
    /// Lines dropped so far because the sink did not keep up.
    pub fn dropped_lines(&self) -> u64 {
        self.0.dropped.load(Ordering::Relaxed)
    }
}

impl Write for BatchedStderr {
    fn write(&mut self, line: &[u8]) -> std::io::Result<usize> {
        let mut pending = self.0.lock();
        if pending.closing || pending.bytes.len() + line.len() > MAX_BUFFERED {
            drop(pending);
            self.0.dropped.fetch_add(1, Ordering::Relaxed);
            return Ok(line.len());
        }
        let first = pending.bytes.is_empty();
        pending.bytes.extend_from_slice(line);
        drop(pending);
        if first {
            self.0.has_lines.notify_one();
        }
        Ok(line.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for BatchedStderr {
    type Writer = BatchedStderr;

    fn make_writer(&'a self) -> Self::Writer {
        self.clone()
    }
}

impl Flusher {
    /// Writes out what is pending and stops the thread, waiting at most `limit`: a sink that stopped reading must
    /// not keep the process from exiting.
    pub fn finish(self, limit: Duration) {
        self.shared.lock().closing = true;
        self.shared.has_lines.notify_one();
        let _ = self.done.recv_timeout(limit);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::mpsc;

    /// A sink that hands every write to the test.
    struct Recorder(mpsc::Sender<Vec<u8>>);

    impl Write for Recorder {
        fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
            let _ = self.0.send(bytes.to_vec());
            Ok(bytes.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn lines_logged_together_leave_in_one_write_and_finish_writes_the_rest() {
        let (tx, rx) = mpsc::channel();
        let (mut writer, flusher) = start(Recorder(tx)).expect("thread");
        for i in 0..50 {
            writer
                .write_all(format!("line {i}\n").as_bytes())
                .expect("write");
        }
        // One write in the normal case; a thread descheduled mid-loop for longer than the window may split it.
        let mut writes = 0;
        let mut lines = 0;
        while lines < 50 {
            let batch = rx.recv_timeout(Duration::from_secs(5)).expect("a batch");
            lines += batch.iter().filter(|&&b| b == b'\n').count();
            writes += 1;
        }
        assert!(writes <= 3, "50 lines took {writes} writes");
        writer.write_all(b"last\n").expect("write");
        flusher.finish(Duration::from_secs(5));
        let rest: Vec<u8> = rx.try_iter().flatten().collect();
        assert_eq!(rest, b"last\n");
    }

    /// A sink that never returns from `write`, like a full pipe nobody reads.
    struct Stalled;

    impl Write for Stalled {
        fn write(&mut self, _: &[u8]) -> std::io::Result<usize> {
            std::thread::park();
            Ok(0)
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn a_stalled_sink_drops_and_counts_lines_instead_of_blocking() {
        let (mut writer, _flusher) = start(Stalled).expect("thread");
        let line = [b'x'; 1000];
        let started = std::time::Instant::now();
        for _ in 0..5_000 {
            writer.write_all(&line).expect("write");
        }
        assert!(started.elapsed() < Duration::from_secs(5));
        assert!(writer.dropped_lines() >= 5_000 - (MAX_BUFFERED / 1000) as u64 * 2);
    }
}

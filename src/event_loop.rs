//! Which of `serve`'s event loops the current thread runs. `serve` runs one single-threaded runtime per core
//! (`worker_threads`), each serving the client connections handed to it; what must not be shared between them (the
//! upstream connection pools, whose connection tasks live on the loop that opened them) is kept per loop and
//! picked by this index.

use std::cell::Cell;
use std::sync::atomic::{AtomicUsize, Ordering};

thread_local! {
    static INDEX: Cell<usize> = const { Cell::new(0) };
}

/// How many loops serve; 1 outside `serve` (the offline tools, tests running the server in their own runtime).
static RUNNING: AtomicUsize = AtomicUsize::new(1);

/// How many loops serve: what per-loop state is sized by. Fixed once `serve` started them, so a reload (which may
/// see another CPU count) sizes it the same.
pub fn running() -> usize {
    RUNNING.load(Ordering::Relaxed).max(1)
}

/// Records how many loops serve, before anything sized by `running` is built.
pub fn set_running(loops: usize) {
    RUNNING.store(loops.max(1), Ordering::Relaxed);
}

/// This thread's loop: 0 for the main one (and for every thread that is not a loop).
pub fn index() -> usize {
    INDEX.with(Cell::get)
}

/// Marks the current thread as loop `index`.
pub fn enter(index: usize) {
    INDEX.with(|cell| cell.set(index));
}

/// How many loops `worker_threads` asks for: the number given, or one per core for 0.
pub fn count(worker_threads: u32) -> usize {
    match worker_threads {
        0 => std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get),
        n => n as usize,
    }
}

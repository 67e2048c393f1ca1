//! What starts a reload besides `POST /reload`: SIGHUP, and the config file changing (its directory is watched,
//! events debounced, and only a change of content counts). How a reload is done is `live::Reloader`.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use notify::EventKind;
use notify::event::{AccessKind, AccessMode};
use sha2::{Digest, Sha256};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use crate::config;
use crate::live::Reloader;

/// Reloads on SIGHUP until shutdown.
pub async fn on_sighup(reloader: Arc<Reloader>, stop: CancellationToken) {
    #[cfg(unix)]
    {
        let Ok(mut hangup) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup())
        else {
            tracing::warn!("cannot listen for SIGHUP; reload with POST /reload instead");
            return;
        };
        loop {
            tokio::select! {
                _ = stop.cancelled() => return,
                got = hangup.recv() => {
                    if got.is_none() { return; }
                    let _ = reloader.reload("SIGHUP").await;
                }
            }
        }
    }
}

/// Watches the config file's directory (editors replace files by rename, which a watch on the file itself
/// would lose) and reloads when that file's content changes, after changes settle.
///
/// Only events that can change content count (create, modify, remove, rename, a close after writing): opening or
/// reading the file (`cat config.json`, or the reload itself) is not a change. And an event reloads only when
/// the content differs from the last seen, so an identical rewrite or a `touch` does nothing.
pub async fn watch_file(reloader: Arc<Reloader>, file: PathBuf, stop: CancellationToken) {
    let (tx, mut rx) = mpsc::channel::<()>(1);
    let target = std::fs::canonicalize(&file).unwrap_or_else(|_| file.clone());
    let name = target.file_name().map(|n| n.to_os_string());
    let dir = target
        .parent()
        .map(|d| d.to_path_buf())
        .unwrap_or_else(|| PathBuf::from("."));
    let debouncer = notify_debouncer_full::new_debouncer_opt::<_, notify::RecommendedWatcher, _>(
        Duration::from_millis(300),
        None,
        move |result: notify_debouncer_full::DebounceEventResult| {
            if let Ok(events) = result
                && events.iter().any(|e| {
                    may_change_content(&e.kind)
                        && e.paths.iter().any(|p| p.file_name() == name.as_deref())
                })
            {
                // A full channel already holds a pending check; one is enough.
                let _ = tx.try_send(());
            }
        },
        notify_debouncer_full::NoCache,
        notify::Config::default(),
    );
    let mut debouncer = match debouncer {
        Ok(d) => d,
        Err(err) => {
            tracing::warn!(
                "cannot watch {}: {err}; reload with SIGHUP or POST /reload",
                file.display()
            );
            return;
        }
    };
    if let Err(err) = debouncer.watch(&dir, notify::RecursiveMode::NonRecursive) {
        tracing::warn!(
            "cannot watch {}: {err}; reload with SIGHUP or POST /reload",
            dir.display()
        );
        return;
    }
    let mut seen = content_stamp(file.clone()).await;
    tracing::info!("watching {} for changes", file.display());
    loop {
        tokio::select! {
            _ = stop.cancelled() => return,
            got = rx.recv() => {
                if got.is_none() { return; }
                let now = content_stamp(file.clone()).await;
                if now == seen {
                    tracing::debug!("{} was touched but its content is unchanged; not reloading", file.display());
                    continue;
                }
                seen = now;
                let _ = reloader.reload("config file changed").await;
            }
        }
    }
}

/// Event kinds that can change what the file holds. Opening and reading it cannot.
fn may_change_content(kind: &EventKind) -> bool {
    match kind {
        EventKind::Access(AccessKind::Close(AccessMode::Write)) => true,
        EventKind::Access(_) => false,
        EventKind::Create(_) | EventKind::Modify(_) | EventKind::Remove(_) | EventKind::Any => true,
        EventKind::Other => false,
    }
}

/// What the file holds, as a digest; `None` when it cannot be read (gone, or not a regular file), which is a state
/// of its own: going from readable to unreadable is a change (reported once), staying unreadable is not.
async fn content_stamp(file: PathBuf) -> Option<[u8; 32]> {
    tokio::task::spawn_blocking(move || read_stamp(&file))
        .await
        .ok()
        .flatten()
}

fn read_stamp(file: &Path) -> Option<[u8; 32]> {
    let bytes = config::regular_file::read(file, config::regular_file::CONFIG_MAX_BYTES).ok()?;
    Some(Sha256::digest(&bytes).into())
}

#[cfg(test)]
mod tests {
    use super::*;
    use notify::event::{CreateKind, ModifyKind, RemoveKind};

    #[test]
    fn reads_are_not_changes_and_writes_are() {
        assert!(!may_change_content(&EventKind::Access(AccessKind::Open(
            notify::event::AccessMode::Any
        ))));
        assert!(!may_change_content(&EventKind::Access(AccessKind::Close(
            AccessMode::Read
        ))));
        assert!(may_change_content(&EventKind::Access(AccessKind::Close(
            AccessMode::Write
        ))));
        assert!(may_change_content(&EventKind::Modify(ModifyKind::Any)));
        assert!(may_change_content(&EventKind::Create(CreateKind::File)));
        assert!(may_change_content(&EventKind::Remove(RemoveKind::File)));
    }
}

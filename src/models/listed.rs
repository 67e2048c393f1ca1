//! Profile ids the upstream lists at run time (`profiles/v8`): a model id that is one of them passes as it is, even
//! when the static table does not know it. The set is shared by every `ModelTable` of a running server (it is
//! carried over reloads) and replaced whole by whoever asks the upstream.

use std::collections::BTreeSet;
use std::sync::Arc;

use arc_swap::ArcSwap;

#[derive(Debug, Clone, Default)]
pub struct ListedProfiles(Arc<ArcSwap<BTreeSet<String>>>);

impl ListedProfiles {
    /// Replaces the listed ids (the upstream's latest answer).
    pub fn set(&self, ids: BTreeSet<String>) {
        self.0.store(Arc::new(ids));
    }

    pub fn contains(&self, id: &str) -> bool {
        self.0.load().contains(id)
    }

    pub fn snapshot(&self) -> Arc<BTreeSet<String>> {
        self.0.load_full()
    }
}

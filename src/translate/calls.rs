//! Which tool call of an answer an upstream fragment belongs to, for every face alike. The upstream tags each
//! fragment with `parallelToolIndex`, and fragments of parallel calls may interleave (docs/UPSTREAM.md "Tool calls
//! and `parallelToolIndex`"): a call is the group of one index, numbered in the order its index was first seen,
//! as JetBrains' own client groups them. Without the index, a start with a new id begins the next call and
//! arguments go to the latest one.

/// The calls of one answer so far.
#[derive(Debug, Default)]
pub struct CallSlots {
    /// Per call, in first-seen order: its `parallelToolIndex`, if the upstream gave one, and its id.
    calls: Vec<(Option<u32>, String)>,
}

/// Where a tool-call start lands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Slot {
    /// A new call, number `n` of the answer (0-based).
    New(usize),
    /// A repeated start of call `n` (its index, or without one its id, was seen before): nothing new begins.
    Same(usize),
}

impl CallSlots {
    /// The call a start belongs to.
    pub fn start(&mut self, index: Option<u32>, id: &str) -> Slot {
        let known = match index {
            Some(_) => self.calls.iter().position(|(i, _)| *i == index),
            None => self
                .calls
                .last()
                .filter(|(i, last)| i.is_none() && !id.is_empty() && last == id)
                .map(|_| self.calls.len() - 1),
        };
        match known {
            Some(n) => Slot::Same(n),
            None => {
                self.calls.push((index, id.to_owned()));
                Slot::New(self.calls.len() - 1)
            }
        }
    }

    /// The call an argument fragment belongs to; `None` when no call it could belong to has started (the fragment
    /// cannot be attributed and is dropped).
    pub fn args(&self, index: Option<u32>) -> Option<usize> {
        match index {
            Some(_) => self.calls.iter().position(|(i, _)| *i == index),
            None => self.calls.len().checked_sub(1),
        }
    }

    /// How many calls have started.
    pub fn len(&self) -> usize {
        self.calls.len()
    }

    pub fn is_empty(&self) -> bool {
        self.calls.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn interleaved_fragments_go_to_their_own_index() {
        let mut calls = CallSlots::default();
        assert_eq!(calls.start(Some(0), "a"), Slot::New(0));
        assert_eq!(calls.start(Some(1), "b"), Slot::New(1));
        assert_eq!(calls.args(Some(0)), Some(0));
        assert_eq!(calls.args(Some(1)), Some(1));
        assert_eq!(calls.args(Some(7)), None, "an index that never started");
        // A later chunk of call 0 that repeats its id does not start a third call.
        assert_eq!(calls.start(Some(0), "a"), Slot::Same(0));
        assert_eq!(calls.len(), 2);
    }

    #[test]
    fn without_the_index_a_new_id_starts_the_next_call() {
        let mut calls = CallSlots::default();
        assert_eq!(calls.args(None), None, "arguments before any call");
        assert_eq!(calls.start(None, "a"), Slot::New(0));
        assert_eq!(calls.args(None), Some(0));
        assert_eq!(calls.start(None, "a"), Slot::Same(0), "the same id again");
        assert_eq!(calls.start(None, "b"), Slot::New(1));
        assert_eq!(calls.args(None), Some(1));
        // v7 starts carry no id: each is a new call.
        assert_eq!(calls.start(None, ""), Slot::New(2));
        assert_eq!(calls.start(None, ""), Slot::New(3));
    }
}

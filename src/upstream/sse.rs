//! A server-sent-events decoder for the upstream's chat stream: bytes in, each event's `data` out.
//!
//! Follows the HTML spec's parsing rules as the `eventsource-stream` crate did (lines end in CRLF, LF or CR; a blank
//! line dispatches; `data` lines are joined with LF; comments and other fields are ignored; an event without data
//! is not dispatched; a leading BOM is dropped; an unfinished event at the end of the stream is discarded), but
//! scans the bytes once and reuses its buffers: the crate's parser re-split its buffer for every line and was a
//! fifth of the proxy's instructions on a streamed answer.

/// Decodes one stream. Feed it with [`push`](Self::push), then call [`next_event`](Self::next_event) until it says
/// no complete event is left.
#[derive(Default)]
pub(super) struct SseDecoder {
    /// Bytes received and not yet consumed, from `start`.
    buf: Vec<u8>,
    start: usize,
    /// How many bytes after `start` are known to hold no line end, so a long line arriving in small pieces is
    /// scanned once, not once per piece (which would be quadratic).
    scanned: usize,
    /// The data of the event being read, each line followed by LF (the spec's "data buffer").
    data: String,
    /// The last dispatched event's data.
    event: String,
    /// Whether the first line has been read (a BOM is dropped only there).
    started: bool,
}

impl SseDecoder {
    pub fn push(&mut self, bytes: &[u8]) {
        if self.start == self.buf.len() {
            self.buf.clear();
            self.start = 0;
        }
        self.buf.extend_from_slice(bytes);
    }

    /// Reads up to the end of the next complete event: `true` if there was one (its data is then
    /// [`current`](Self::current)), `false` when more bytes are needed; `Err` for bytes that are not UTF-8.
    pub fn next_event(&mut self) -> Result<bool, String> {
        loop {
            let rest = &self.buf[self.start..];
            let Some(end) = rest[self.scanned..]
                .iter()
                .position(|&b| b == b'\n' || b == b'\r')
                .map(|pos| self.scanned + pos)
            else {
                self.scanned = rest.len();
                self.compact();
                return Ok(false);
            };
            let next = match rest[end] {
                b'\r' if end + 1 == rest.len() => {
                    // CR last in the buffer: it may be the first half of CRLF, so wait for the next byte.
                    self.scanned = end;
                    self.compact();
                    return Ok(false);
                }
                b'\r' if rest[end + 1] == b'\n' => end + 2,
                _ => end + 1,
            };
            let line = std::str::from_utf8(&rest[..end])
                .map_err(|e| format!("upstream sent invalid UTF-8: {e}"))?;
            let line = if self.started {
                line
            } else {
                self.started = true;
                line.strip_prefix('\u{feff}').unwrap_or(line)
            };
            let dispatch = line.is_empty();
            if !dispatch && !line.starts_with(':') {
                let (field, value) = match line.split_once(':') {
                    Some((field, value)) => (field, value.strip_prefix(' ').unwrap_or(value)),
                    None => (line, ""),
                };
                if field == "data" {
                    self.data.push_str(value);
                    self.data.push('\n');
                }
            }
            self.start += next;
            self.scanned = 0;
            if dispatch && !self.data.is_empty() {
                self.data.pop();
                // Swapped, not moved: both buffers keep their capacity for the next events.
                std::mem::swap(&mut self.data, &mut self.event);
                self.data.clear();
                return Ok(true);
            }
        }
    }

    /// The data of the event [`next_event`](Self::next_event) last found.
    pub fn current(&self) -> &str {
        &self.event
    }

    /// Drops consumed bytes so the buffer holds only the unfinished line.
    fn compact(&mut self) {
        self.buf.drain(..self.start);
        self.start = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every event's data from `chunks` fed one after another.
    fn decode(chunks: &[&[u8]]) -> Result<Vec<String>, String> {
        let mut d = SseDecoder::default();
        let mut out = Vec::new();
        for chunk in chunks {
            d.push(chunk);
            while d.next_event()? {
                out.push(d.current().to_string());
            }
        }
        Ok(out)
    }

    #[test]
    fn events_end_at_a_blank_line_with_any_line_ending() {
        let got = decode(&[b"data: a\n\ndata: b\r\n\r\ndata: c\r\rdata: d\n\n"]).unwrap();
        assert_eq!(got, ["a", "b", "c", "d"]);
    }

    #[test]
    fn events_split_anywhere_across_chunks_decode_the_same() {
        let whole: &[u8] =
            "data: {\"type\":\"Content\",\"content\":\"h\u{e9}llo\"}\r\n\r\ndata: end\r\n\r\n"
                .as_bytes();
        let expected = decode(&[whole]).unwrap();
        assert_eq!(expected.len(), 2);
        for cut in 0..whole.len() {
            let (a, b) = whole.split_at(cut);
            assert_eq!(decode(&[a, b]).unwrap(), expected, "cut at {cut}");
        }
        let bytes: Vec<&[u8]> = whole.chunks(1).collect();
        assert_eq!(decode(&bytes).unwrap(), expected);
    }

    #[test]
    fn data_lines_join_and_other_fields_and_comments_are_ignored() {
        let got = decode(&[
            b"\xEF\xBB\xBFdata: one\ndata:two\nevent: x\nid: 3\nretry: 5\n: comment\nfoo\n\n",
        ])
        .unwrap();
        assert_eq!(got, ["one\ntwo"]);
    }

    #[test]
    fn events_without_data_are_not_dispatched_but_empty_data_is() {
        assert_eq!(
            decode(&[b"\n\nevent: x\n\n: hi\n\ndata\n\n"]).unwrap(),
            [""]
        );
        assert_eq!(decode(&[b"data:\n\n"]).unwrap(), [""]);
    }

    #[test]
    fn an_unfinished_event_is_not_dispatched() {
        assert!(decode(&[b"data: partial\n"]).unwrap().is_empty());
        assert!(decode(&[b"data: partial"]).unwrap().is_empty());
    }

    #[test]
    fn invalid_utf8_is_an_error() {
        assert!(decode(&[b"data: \xff\n\n"]).is_err());
    }
}

//! An execution environment's log: every line goes to the server's stderr
//! and is also kept for `X-Amz-Log-Type: Tail`, which returns the last
//! 4 KB of an invocation's lines (START/END/REPORT included) base64-encoded
//! in `X-Amz-Log-Result`, as Lambda does.

use std::io::Write;
use std::sync::{Arc, Mutex};

use base64::Engine as _;

use crate::logs::{LogConfig, Logger};

/// How much of an invocation's log `Tail` returns (Lambda's 4 KB).
pub const TAIL_BYTES: usize = 4 * 1024;

/// One environment's log sink; clones share it.
#[derive(Clone)]
pub struct LogTail {
    kept: Arc<Mutex<Vec<u8>>>,
    /// Whether lines also go to stderr (always, but in this module's tests).
    echo: bool,
}

impl Default for LogTail {
    fn default() -> Self {
        Self {
            kept: Arc::default(),
            echo: true,
        }
    }
}

impl LogTail {
    /// A logger for the environment's guest, writing through this sink.
    pub fn logger(&self, config: LogConfig) -> Logger {
        Logger::to_writer(config, Box::new(self.clone()))
    }

    /// The last [`TAIL_BYTES`] written since the previous call, base64;
    /// the first call also holds the environment's init lines, as a cold
    /// start's log on Lambda does.
    pub fn take_base64(&self) -> String {
        let kept = std::mem::take(&mut *self.lock());
        base64::engine::general_purpose::STANDARD.encode(last_chars(&kept, TAIL_BYTES))
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<u8>> {
        self.kept
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

impl Write for LogTail {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        if self.echo {
            std::io::stderr().lock().write_all(bytes)?;
        }
        let mut kept = self.lock();
        kept.extend_from_slice(bytes);
        // Trim now and then rather than on every write: only the end is returned.
        if kept.len() > 4 * TAIL_BYTES {
            let cut = kept.len() - TAIL_BYTES;
            kept.drain(..cut);
        }
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        std::io::stderr().flush()
    }
}

/// The last `limit` bytes of `bytes`, starting at a character boundary so
/// the decoded tail is valid UTF-8 when the log is.
fn last_chars(bytes: &[u8], limit: usize) -> &[u8] {
    let mut start = bytes.len().saturating_sub(limit);
    while start < bytes.len() && bytes[start] & 0b1100_0000 == 0b1000_0000 {
        start += 1;
    }
    &bytes[start..]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decode(text: &str) -> Vec<u8> {
        base64::engine::general_purpose::STANDARD
            .decode(text)
            .unwrap()
    }

    #[test]
    fn returns_the_last_4_kb_since_the_previous_take() {
        let mut tail = LogTail {
            echo: false,
            ..LogTail::default()
        };
        tail.write_all(b"first\n").unwrap();
        assert_eq!(decode(&tail.take_base64()), b"first\n");
        let long = "é".repeat(3 * TAIL_BYTES);
        tail.write_all(long.as_bytes()).unwrap();
        tail.write_all(b"END\n").unwrap();
        let got = String::from_utf8(decode(&tail.take_base64())).unwrap();
        assert!(
            got.len() <= TAIL_BYTES && got.len() >= TAIL_BYTES - 1,
            "{}",
            got.len()
        );
        assert!(got.ends_with("ééEND\n"));
        assert_eq!(tail.take_base64(), "");
    }
}

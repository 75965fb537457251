//! Guest logs as Lambda writes them: lines tagged with the request id, in
//! text or JSON (`AWS_LAMBDA_LOG_FORMAT`), filtered by `AWS_LAMBDA_LOG_LEVEL`,
//! capped so a guest cannot flood the host.

use std::io::Write;
use std::sync::{Arc, Mutex};
use std::time::{SystemTime, UNIX_EPOCH};

use serde::Serialize;

/// A line longer than this is split into several records (CloudWatch's event limit).
pub const MAX_LINE_BYTES: usize = 256 * 1024;
/// Guest output past this many bytes in one invocation is dropped, with one notice.
pub const MAX_BYTES_PER_INVOCATION: usize = 16 * 1024 * 1024;

/// Log levels in Lambda's order; the ABI's `log` import numbers them 0 to 5.
pub use lambda_wasm_abi::Level;

/// Text (Lambda's default) or one JSON object per record.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum LogFormat {
    /// Lambda's default: `[LEVEL]\t<time>\t<request id>\t<message>` lines.
    #[default]
    Text,
    /// One JSON object per record.
    Json,
}

impl LogFormat {
    /// Parses `AWS_LAMBDA_LOG_FORMAT` (`Text` or `JSON`, any case).
    pub fn parse(text: &str) -> Option<Self> {
        match text.to_ascii_lowercase().as_str() {
            "text" => Some(LogFormat::Text),
            "json" => Some(LogFormat::Json),
            _ => None,
        }
    }
}

/// How guest logs are formatted and filtered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LogConfig {
    /// Text or JSON (`AWS_LAMBDA_LOG_FORMAT`).
    pub format: LogFormat,
    /// Records sent through the `log` import below this level are dropped.
    pub min_level: Level,
}

impl Default for LogConfig {
    fn default() -> Self {
        Self {
            format: LogFormat::Text,
            min_level: Level::Trace,
        }
    }
}

/// How lines from a guest's stdout and stderr are written.
#[derive(Debug, Clone, Copy)]
enum LineConfig {
    /// Tagged with the timestamp and request id, or a JSON record, per the config.
    Formatted(LogConfig),
    /// As the guest wrote them.
    Raw,
}

/// Which guest stream a line came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GuestStream {
    /// The guest's stdout (INFO records in JSON format).
    Stdout,
    /// The guest's stderr (ERROR records in JSON format).
    Stderr,
}

impl GuestStream {
    fn level(self) -> Level {
        match self {
            GuestStream::Stdout => Level::Info,
            GuestStream::Stderr => Level::Error,
        }
    }
}

/// The host's sink for guest logs, shared by the WASI stdio of every instance
/// of a function. One invocation runs at a time, so one request id is current.
#[derive(Clone)]
pub struct Logger {
    config: LogConfig,
    /// Whether guest stdout/stderr lines are written untouched (see [`Logger::with_raw_lines`]).
    raw_lines: bool,
    state: Arc<Mutex<LoggerState>>,
}

struct LoggerState {
    request_id: String,
    partial: [Vec<u8>; 2],
    bytes_this_invocation: usize,
    truncated: bool,
    out: Box<dyn Write + Send>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct JsonRecord<'a> {
    timestamp: &'a str,
    level: &'a str,
    #[serde(skip_serializing_if = "str::is_empty")]
    request_id: &'a str,
    message: &'a str,
}

impl Logger {
    /// A logger writing to the host's stderr (Lambda sends both streams to CloudWatch).
    pub fn to_stderr(config: LogConfig) -> Self {
        Self::to_writer(config, Box::new(std::io::stderr()))
    }

    /// A logger writing to `out`, for tests and embedding.
    pub fn to_writer(config: LogConfig, out: Box<dyn Write + Send>) -> Self {
        let state = LoggerState {
            request_id: String::new(),
            partial: [Vec::new(), Vec::new()],
            bytes_this_invocation: 0,
            truncated: false,
            out,
        };
        Self {
            config,
            raw_lines: false,
            state: Arc::new(Mutex::new(state)),
        }
    }

    /// The same sink, but lines the guest writes to stdout and stderr are
    /// written as they are, neither tagged nor wrapped in JSON: AWS's Python
    /// runtime leaves `print()` output untouched, and its log records arrive
    /// already formatted ([`Logger::formatted_record`]).
    pub fn with_raw_lines(&self) -> Self {
        Self {
            raw_lines: true,
            ..self.clone()
        }
    }

    /// The format and filter in use.
    pub fn config(&self) -> LogConfig {
        self.config
    }

    /// Tags what follows with `request_id` and resets the per-invocation cap.
    pub fn begin_invocation(&self, request_id: &str) {
        let mut state = self.lock();
        state.flush_partial_lines(self.line_config());
        request_id.clone_into(&mut state.request_id);
        state.bytes_this_invocation = 0;
        state.truncated = false;
    }

    /// The request id of the invocation in progress ("" between invocations).
    pub fn request_id(&self) -> String {
        self.lock().request_id.clone()
    }

    /// Writes out unfinished lines and clears the request id.
    pub fn end_invocation(&self) {
        let mut state = self.lock();
        state.flush_partial_lines(self.line_config());
        state.request_id.clear();
    }

    /// Raw bytes a guest wrote to `stream`; complete lines become records.
    pub fn guest_output(&self, stream: GuestStream, bytes: &[u8]) {
        let mut state = self.lock();
        if !state.admit(bytes.len()) {
            return;
        }
        let slot = stream as usize;
        let config = self.line_config();
        let mut rest = bytes;
        while let Some(newline) = rest.iter().position(|&b| b == b'\n') {
            let mut line = std::mem::take(&mut state.partial[slot]);
            line.extend_from_slice(&rest[..newline]);
            state.write_stream_line(config, stream.level(), &line);
            rest = &rest[newline + 1..];
        }
        state.partial[slot].extend_from_slice(rest);
        while state.partial[slot].len() >= MAX_LINE_BYTES {
            let line: Vec<u8> = state.partial[slot].drain(..MAX_LINE_BYTES).collect();
            state.write_stream_line(config, stream.level(), &line);
        }
    }

    /// How stdout/stderr lines are written: the function's format, or raw.
    fn line_config(&self) -> LineConfig {
        match self.raw_lines {
            true => LineConfig::Raw,
            false => LineConfig::Formatted(self.config),
        }
    }

    /// A record the guest sent through the ABI's `log` import.
    pub fn record(&self, level: Level, message: &[u8]) {
        if level < self.config.min_level {
            return;
        }
        let mut state = self.lock();
        if !state.admit(message.len()) {
            return;
        }
        let message = &message[..message.len().min(MAX_LINE_BYTES)];
        state.write_line(self.config, level, Some(level), message);
    }

    /// A record the guest formatted completely itself, as AWS's Python runtime
    /// writes its records (level, timestamp and request id in its own text or
    /// JSON form): written as is, ending in one newline, still filtered by
    /// `level` and counted against the per-invocation cap.
    pub fn formatted_record(&self, level: Level, record: &[u8]) {
        if level < self.config.min_level {
            return;
        }
        let mut state = self.lock();
        if !state.admit(record.len()) {
            return;
        }
        let record = &record[..record.len().min(MAX_LINE_BYTES)];
        let record = record.strip_suffix(b"\n").unwrap_or(record);
        let mut line = String::from_utf8_lossy(record).into_owned();
        line.push('\n');
        // A closed stderr must not take the host down with it.
        let _ = state.out.write_all(line.as_bytes());
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, LoggerState> {
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

impl LoggerState {
    /// Counts `len` bytes against the invocation's cap; false once it is spent.
    fn admit(&mut self, len: usize) -> bool {
        if self.truncated {
            return false;
        }
        self.bytes_this_invocation += len;
        if self.bytes_this_invocation <= MAX_BYTES_PER_INVOCATION {
            return true;
        }
        self.truncated = true;
        let notice = format!(
            "lambda-wasm: guest output passed {MAX_BYTES_PER_INVOCATION} bytes in this invocation; the rest is dropped"
        );
        let config = LogConfig {
            format: LogFormat::Text,
            min_level: Level::Trace,
        };
        self.write_line(config, Level::Warn, Some(Level::Warn), notice.as_bytes());
        false
    }

    fn flush_partial_lines(&mut self, config: LineConfig) {
        for (slot, stream) in [GuestStream::Stdout, GuestStream::Stderr]
            .into_iter()
            .enumerate()
        {
            let line = std::mem::take(&mut self.partial[slot]);
            if !line.is_empty() {
                self.write_stream_line(config, stream.level(), &line);
            }
        }
    }

    /// One line the guest wrote to stdout or stderr.
    fn write_stream_line(&mut self, config: LineConfig, level: Level, line: &[u8]) {
        match config {
            LineConfig::Formatted(config) => self.write_line(config, level, None, line),
            LineConfig::Raw => {
                let mut text = String::from_utf8_lossy(line).into_owned();
                text.push('\n');
                // A closed stderr must not take the host down with it.
                let _ = self.out.write_all(text.as_bytes());
            }
        }
    }

    /// One record; `tagged_level` is set for `log` records, which show their level in text.
    fn write_line(
        &mut self,
        config: LogConfig,
        level: Level,
        tagged_level: Option<Level>,
        line: &[u8],
    ) {
        let message = String::from_utf8_lossy(line);
        let message = message.strip_suffix('\r').unwrap_or(&message);
        let timestamp = format_timestamp(SystemTime::now());
        let mut text = match config.format {
            LogFormat::Json => serde_json::to_string(&JsonRecord {
                timestamp: &timestamp,
                level: level.as_str(),
                request_id: &self.request_id,
                message,
            })
            .expect("a record of strings always serialises"),
            LogFormat::Text => match tagged_level {
                Some(level) => format!(
                    "[{}]\t{timestamp}\t{}\t{message}",
                    level.as_str(),
                    self.request_id
                ),
                None => format!("{timestamp}\t{}\t{message}", self.request_id),
            },
        };
        text.push('\n');
        // A closed stderr must not take the host down with it.
        let _ = self.out.write_all(text.as_bytes());
    }
}

/// `2026-11-26T06:20:33.123Z`: UTC with milliseconds, as Lambda's logs print it.
pub fn format_timestamp(time: SystemTime) -> String {
    let since_epoch = time.duration_since(UNIX_EPOCH).unwrap_or_default();
    let secs = since_epoch.as_secs();
    let (year, month, day) = civil_from_days((secs / 86_400) as i64);
    let rem = secs % 86_400;
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{:03}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60,
        since_epoch.subsec_millis()
    )
}

/// Days since 1970-01-01 to (year, month, day); Howard Hinnant's algorithm.
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[derive(Clone, Default)]
    struct Capture(Arc<Mutex<Vec<u8>>>);
    impl Write for Capture {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    impl Capture {
        fn lines(&self) -> Vec<String> {
            String::from_utf8(self.0.lock().unwrap().clone())
                .unwrap()
                .lines()
                .map(str::to_string)
                .collect()
        }
    }

    fn logger(format: LogFormat, min_level: Level) -> (Logger, Capture) {
        let capture = Capture::default();
        (
            Logger::to_writer(LogConfig { format, min_level }, Box::new(capture.clone())),
            capture,
        )
    }

    #[test]
    fn timestamps_are_utc_with_millis() {
        let time = UNIX_EPOCH + Duration::from_millis(1_795_000_000_123);
        assert_eq!(format_timestamp(time), "2026-11-18T11:06:40.123Z");
        assert_eq!(format_timestamp(UNIX_EPOCH), "1970-01-01T00:00:00.000Z");
        assert_eq!(
            format_timestamp(UNIX_EPOCH + Duration::from_secs(951_782_400)),
            "2000-02-29T00:00:00.000Z"
        );
    }

    #[test]
    fn text_lines_carry_the_request_id_and_partial_lines_flush_at_the_end() {
        let (logger, capture) = logger(LogFormat::Text, Level::Trace);
        logger.begin_invocation("req-1");
        logger.guest_output(GuestStream::Stdout, b"hello\nwor");
        logger.guest_output(GuestStream::Stdout, b"ld");
        logger.end_invocation();
        let lines = capture.lines();
        assert_eq!(lines.len(), 2);
        assert!(lines[0].ends_with("\treq-1\thello"), "{}", lines[0]);
        assert!(lines[1].ends_with("\treq-1\tworld"), "{}", lines[1]);
    }

    #[test]
    fn log_records_use_lambdas_text_format_and_are_filtered() {
        let (logger, capture) = logger(LogFormat::Text, Level::Info);
        logger.begin_invocation("req-2");
        logger.record(Level::Debug, b"hidden");
        logger.record(Level::Error, b"foo is not a valid action.");
        let lines = capture.lines();
        assert_eq!(lines.len(), 1);
        assert!(lines[0].starts_with("[ERROR]\t"));
        assert!(lines[0].ends_with("\treq-2\tfoo is not a valid action."));
    }

    #[test]
    fn json_records_have_lambdas_fields() {
        let (logger, capture) = logger(LogFormat::Json, Level::Trace);
        logger.begin_invocation("req-3");
        logger.guest_output(GuestStream::Stderr, b"oops\n");
        let record: serde_json::Value = serde_json::from_str(&capture.lines()[0]).unwrap();
        assert_eq!(record["level"], "ERROR");
        assert_eq!(record["requestId"], "req-3");
        assert_eq!(record["message"], "oops");
        assert!(record["timestamp"].as_str().unwrap().ends_with('Z'));
    }

    #[test]
    fn formatted_records_are_written_as_is_and_filtered() {
        let (logger, capture) = logger(LogFormat::Json, Level::Info);
        logger.begin_invocation("req-5");
        logger.formatted_record(Level::Debug, b"{\"level\": \"DEBUG\"}\n");
        logger.formatted_record(Level::Warn, b"[WARNING]\tts\treq-5\tkept\n");
        logger.formatted_record(Level::Error, b"[ERROR] E: m\rTraceback");
        let lines = capture.lines();
        assert_eq!(
            lines,
            ["[WARNING]\tts\treq-5\tkept", "[ERROR] E: m\rTraceback"],
            "no second prefix, no JSON wrapping, one newline each"
        );
    }

    #[test]
    fn raw_lines_are_written_as_the_guest_wrote_them() {
        let (logger, capture) = logger(LogFormat::Json, Level::Trace);
        let raw = logger.with_raw_lines();
        raw.begin_invocation("req-6");
        raw.guest_output(GuestStream::Stdout, b"printed\nhalf");
        raw.end_invocation();
        logger.guest_output(GuestStream::Stdout, b"tagged\n");
        let lines = capture.lines();
        assert_eq!(lines[..2], ["printed", "half"]);
        assert!(lines[2].starts_with("{\"timestamp\""), "{}", lines[2]);
    }

    #[test]
    fn output_past_the_cap_is_dropped_with_one_notice() {
        let (logger, capture) = logger(LogFormat::Text, Level::Trace);
        logger.begin_invocation("req-4");
        let chunk = vec![b'x'; 1024 * 1024];
        for _ in 0..20 {
            logger.guest_output(GuestStream::Stdout, &chunk);
        }
        logger.end_invocation();
        let lines = capture.lines();
        let notices = lines
            .iter()
            .filter(|l| l.contains("the rest is dropped"))
            .count();
        assert_eq!(notices, 1);
        let logged: usize = lines
            .iter()
            .filter(|l| !l.contains("dropped"))
            .map(|l| l.len())
            .sum();
        assert!(logged <= MAX_BYTES_PER_INVOCATION + lines.len() * 64);
    }
}

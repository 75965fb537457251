//! Log records with a level, sent to the host through `lambda_wasm.log`.
//!
//! The host formats them as Lambda does (`[INFO]\t<time>\t<request id>\t...`
//! or JSON) and drops those below `AWS_LAMBDA_LOG_LEVEL`. Plain `println!`
//! and `eprintln!` still work too; they become level-less log lines.
//!
//! The macros live in this module, not at the crate root, so that they do
//! not clash with the `log` or `tracing` crates' `info!` and friends:
//!
//! ```
//! use lambda_wasm_guest::log;
//! log::info!("Calculated result of {}", 4);
//! log::error!("{} is not a valid action.", "None");
//! ```
//!
//! (`lambda_wasm_guest::info!` does not exist:)
//!
//! ```compile_fail
//! lambda_wasm_guest::info!("not at the crate root");
//! ```
//!
//! For a minimum level, use a [`Logger`], the analog of Python's
//! `logger = logging.getLogger(); logger.setLevel(logging.INFO)` at module
//! level:
//!
//! ```
//! use lambda_wasm_guest::log::{Level, Logger};
//! static LOGGER: Logger = Logger::new(Level::Info);
//! LOGGER.debug(format_args!("dropped: below INFO"));
//! LOGGER.info(format_args!("Calculated result of {}", 4));
//! ```
//! Off Wasm, records are printed to stderr (and kept for
//! [`crate::testing::take_logs`]).

use std::fmt;

/// A record's level (shared with the host: its numbers are the `log`
/// import's `level` argument).
pub use lambda_wasm_abi::Level;

/// Sends one record at `level`; the host adds the time and request id.
pub fn log(level: Level, message: &str) {
    crate::abi::log(level, message);
}

/// Sends one record built from format arguments, formatting only when the
/// text is not a plain literal. The logging macros expand to this.
pub fn log_fmt(level: Level, args: fmt::Arguments<'_>) {
    match args.as_str() {
        Some(text) => log(level, text),
        None => log(level, &args.to_string()),
    }
}

// `#[macro_export]` puts a macro at the crate root; each is exported under
// a hidden name and re-exported here under its real one.

/// Sends a TRACE record: `log::trace!("x = {}", x)`.
#[doc(hidden)]
#[macro_export]
macro_rules! __log_trace {
    ($($arg:tt)+) => { $crate::log::log_fmt($crate::log::Level::Trace, ::core::format_args!($($arg)+)) };
}

/// Sends a DEBUG record: `log::debug!("x = {}", x)`.
#[doc(hidden)]
#[macro_export]
macro_rules! __log_debug {
    ($($arg:tt)+) => { $crate::log::log_fmt($crate::log::Level::Debug, ::core::format_args!($($arg)+)) };
}

/// Sends an INFO record: `log::info!("x = {}", x)`.
#[doc(hidden)]
#[macro_export]
macro_rules! __log_info {
    ($($arg:tt)+) => { $crate::log::log_fmt($crate::log::Level::Info, ::core::format_args!($($arg)+)) };
}

/// Sends a WARN record: `log::warn!("x = {}", x)`.
#[doc(hidden)]
#[macro_export]
macro_rules! __log_warn {
    ($($arg:tt)+) => { $crate::log::log_fmt($crate::log::Level::Warn, ::core::format_args!($($arg)+)) };
}

/// Sends an ERROR record: `log::error!("x = {}", x)`.
#[doc(hidden)]
#[macro_export]
macro_rules! __log_error {
    ($($arg:tt)+) => { $crate::log::log_fmt($crate::log::Level::Error, ::core::format_args!($($arg)+)) };
}

/// Sends a FATAL record: `log::fatal!("x = {}", x)`.
#[doc(hidden)]
#[macro_export]
macro_rules! __log_fatal {
    ($($arg:tt)+) => { $crate::log::log_fmt($crate::log::Level::Fatal, ::core::format_args!($($arg)+)) };
}

#[doc(inline)]
pub use crate::{
    __log_debug as debug, __log_error as error, __log_fatal as fatal, __log_info as info,
    __log_trace as trace, __log_warn as warn,
};

/// A logger with a minimum level, usable as a `static` (its constructor is
/// `const`), so that module-level "logger setup" is one line as in Python.
/// Records below its level are dropped before any formatting.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Logger {
    level: Level,
}

impl Logger {
    /// A logger that keeps records at `level` and above.
    pub const fn new(level: Level) -> Self {
        Logger { level }
    }

    /// The minimum level this logger keeps.
    pub const fn level(&self) -> Level {
        self.level
    }

    /// Whether a record at `level` would be sent.
    pub fn enabled(&self, level: Level) -> bool {
        level >= self.level
    }

    /// Sends a record at `level` if the logger keeps that level.
    pub fn log(&self, level: Level, args: fmt::Arguments<'_>) {
        if self.enabled(level) {
            log_fmt(level, args);
        }
    }

    /// A TRACE record.
    pub fn trace(&self, args: fmt::Arguments<'_>) {
        self.log(Level::Trace, args)
    }

    /// A DEBUG record.
    pub fn debug(&self, args: fmt::Arguments<'_>) {
        self.log(Level::Debug, args)
    }

    /// An INFO record.
    pub fn info(&self, args: fmt::Arguments<'_>) {
        self.log(Level::Info, args)
    }

    /// A WARN record.
    pub fn warn(&self, args: fmt::Arguments<'_>) {
        self.log(Level::Warn, args)
    }

    /// An ERROR record.
    pub fn error(&self, args: fmt::Arguments<'_>) {
        self.log(Level::Error, args)
    }

    /// A FATAL record.
    pub fn fatal(&self, args: fmt::Arguments<'_>) {
        self.log(Level::Fatal, args)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::take_logs;

    #[test]
    fn macros_send_records_at_their_level() {
        take_logs();
        crate::log::trace!("t {}", 0);
        crate::log::debug!("d");
        crate::log::info!("Calculated result of {}", 4);
        crate::log::warn!("w");
        crate::log::error!("{} is not a valid action.", "None");
        crate::log::fatal!("f");
        assert_eq!(
            take_logs(),
            [
                (Level::Trace, "t 0".to_owned()),
                (Level::Debug, "d".to_owned()),
                (Level::Info, "Calculated result of 4".to_owned()),
                (Level::Warn, "w".to_owned()),
                (Level::Error, "None is not a valid action.".to_owned()),
                (Level::Fatal, "f".to_owned()),
            ]
        );
    }

    #[test]
    fn logger_drops_records_below_its_level() {
        static LOGGER: Logger = Logger::new(Level::Info);
        take_logs();
        LOGGER.debug(format_args!("hidden"));
        LOGGER.info(format_args!("shown {}", 1));
        LOGGER.error(format_args!("also shown"));
        assert_eq!(
            take_logs(),
            [
                (Level::Info, "shown 1".to_owned()),
                (Level::Error, "also shown".to_owned())
            ]
        );
    }
}

//! Function errors: how a handler's `Err` becomes Lambda's
//! `{"errorType", "errorMessage", "stackTrace"}`.

use std::error::Error;
use std::fmt;

/// A function error as Lambda reports it: the `errorType`, `errorMessage`
/// and `stackTrace` of the invocation's error response.
///
/// A handler may return `Result<R, Diagnostic>` and use `?` on everything
/// that converts into a `Box<dyn Error + Send + Sync>`, as with
/// `lambda_runtime`'s `Error`:
///
/// | `?` on | `errorType` | `errorMessage` |
/// |---|---|---|
/// | any `std::error::Error + Send + Sync` (yours, `thiserror`'s, `std::io::Error`, ...) | its short type name: `MyError`, `ParseIntError` | its `Display` text |
/// | `anyhow::Error` | `Error` | its `Display` text (the outermost context) |
/// | `Box<dyn Error + Send + Sync>` | `Box<dyn Error + Send + Sync>` | its `Display` text |
/// | `String`, `&str` | `String`, `&str` | the text |
///
/// The short type name is the type's path without its modules, as Python
/// reports an exception by its class name. The stack trace has one
/// `caused by: ...` line per [`source`](Error::source) in the error's chain
/// (for `anyhow`, every context below the outermost one).
///
/// A handler may also return its own error type directly
/// (`Result<R, MyError>`): the SDK converts it the same way. For another
/// `errorType` (e.g. Python's `KeyError`) build one with
/// [`Diagnostic::new`], or implement `From<MyError> for Diagnostic`
/// yourself for a type that is not an `Error`.
///
/// `Diagnostic` itself does not implement `std::error::Error`: that is what
/// lets the blanket conversion exist (as with `anyhow::Error`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Diagnostic {
    /// Lambda's `errorType`: the kind of failure, e.g. `KeyError`.
    pub error_type: String,
    /// Lambda's `errorMessage`: what went wrong, for a human.
    pub error_message: String,
    /// Lambda's `stackTrace`: one line per entry.
    pub stack_trace: Vec<String>,
}

impl Diagnostic {
    /// An error with this `errorType` and `errorMessage`, for failures that
    /// have no Rust error type of their own (e.g. a Python-style `KeyError`).
    pub fn new(error_type: impl Into<String>, error_message: impl Into<String>) -> Self {
        Diagnostic {
            error_type: error_type.into(),
            error_message: error_message.into(),
            stack_trace: Vec::new(),
        }
    }

    /// Appends one line to the stack trace, for context the error type
    /// itself does not carry.
    pub fn with_stack_frame(mut self, line: impl Into<String>) -> Self {
        self.stack_trace.push(line.into());
        self
    }

    /// The error of an event that is not the JSON the handler's event type
    /// expects: `Runtime.UnmarshalError`, as Lambda's managed runtimes say.
    pub fn unmarshal(reason: impl fmt::Display) -> Self {
        Diagnostic::new(
            "Runtime.UnmarshalError",
            format!("Unable to unmarshal input: {reason}"),
        )
    }

    /// The error of a result that cannot be turned into JSON:
    /// `Runtime.MarshalError`, as Lambda's managed runtimes say.
    pub fn marshal(reason: impl fmt::Display) -> Self {
        Diagnostic::new(
            "Runtime.MarshalError",
            format!("Unable to marshal response: {reason}"),
        )
    }
}

/// One blanket conversion over what std and anyhow already turn into a
/// boxed error. Separate impls for `String`, `&str`, boxed errors or
/// `anyhow::Error` beside a blanket impl over `E: Error` would not compile
/// (std may one day implement `Error` for them: a coherence conflict); this
/// bound covers all of them and still sees the concrete type, so the
/// `errorType` is the type's name rather than the box's.
impl<E> From<E> for Diagnostic
where
    E: Into<Box<dyn Error + Send + Sync>>,
{
    fn from(error: E) -> Self {
        let error_type = short_type_name(std::any::type_name::<E>());
        let error: Box<dyn Error + Send + Sync> = error.into();
        let mut diagnostic = Diagnostic::new(error_type, error.to_string());
        push_causes(&mut diagnostic, error.source());
        diagnostic
    }
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.error_type, self.error_message)
    }
}

/// One `caused by: ...` stack line per error in the `source()` chain.
fn push_causes(diagnostic: &mut Diagnostic, mut source: Option<&(dyn Error + 'static)>) {
    while let Some(cause) = source {
        diagnostic.stack_trace.push(format!("caused by: {cause}"));
        source = cause.source();
    }
}

/// `my_crate::errors::MyError<std::io::Error>` → `MyError<Error>`: every
/// path loses its module prefix, as an exception class name has none.
pub(crate) fn short_type_name(full: &str) -> String {
    let mut out = String::with_capacity(full.len());
    let mut segment_start = 0;
    let mut chars = full.chars().peekable();
    while let Some(c) = chars.next() {
        if c == ':' && chars.peek() == Some(&':') {
            chars.next();
            out.truncate(segment_start);
        } else if c.is_alphanumeric() || c == '_' {
            out.push(c);
        } else {
            out.push(c);
            segment_start = out.len();
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug)]
    struct MyError {
        message: String,
        source: Option<Box<dyn Error + Send + Sync>>,
    }

    impl fmt::Display for MyError {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str(&self.message)
        }
    }

    impl Error for MyError {
        fn source(&self) -> Option<&(dyn Error + 'static)> {
            self.source.as_deref().map(|e| e as _)
        }
    }

    #[test]
    fn error_type_is_the_short_type_name() {
        let d = Diagnostic::from(MyError {
            message: "bad thing".into(),
            source: None,
        });
        assert_eq!(d.error_type, "MyError");
        assert_eq!(d.error_message, "bad thing");
        assert!(d.stack_trace.is_empty());
    }

    #[test]
    fn source_chain_becomes_stack_frames() {
        let inner = MyError {
            message: "disk on fire".into(),
            source: Some(Box::new(std::io::Error::other("no space left"))),
        };
        let outer = MyError {
            message: "could not save".into(),
            source: Some(Box::new(inner)),
        };
        let d = Diagnostic::from(outer);
        assert_eq!(d.error_message, "could not save");
        assert_eq!(
            d.stack_trace,
            ["caused by: disk on fire", "caused by: no space left"]
        );
    }

    #[test]
    fn question_mark_converts_std_errors() {
        fn parse(s: &str) -> Result<i32, Diagnostic> {
            Ok(s.parse::<i32>()?)
        }
        let d = parse("x").unwrap_err();
        assert_eq!(d.error_type, "ParseIntError");
        assert_eq!(d.error_message, "invalid digit found in string");
    }

    #[test]
    fn question_mark_converts_boxed_errors() {
        fn fail() -> Result<(), Diagnostic> {
            let boxed: Box<dyn Error + Send + Sync> = Box::new(MyError {
                message: "m".into(),
                source: Some(Box::new(std::io::Error::other("io"))),
            });
            Err(boxed)?
        }
        let d = fail().unwrap_err();
        assert_eq!(
            (d.error_type.as_str(), d.error_message.as_str()),
            ("Box<dyn Error + Send + Sync>", "m")
        );
        assert_eq!(d.stack_trace, ["caused by: io"]);
    }

    #[test]
    fn question_mark_converts_strings() {
        fn owned() -> Result<(), Diagnostic> {
            Err(format!("bad {}", 1))?
        }
        fn borrowed() -> Result<(), Diagnostic> {
            Err("bad 2")?
        }
        assert_eq!(owned().unwrap_err(), Diagnostic::new("String", "bad 1"));
        assert_eq!(borrowed().unwrap_err(), Diagnostic::new("&str", "bad 2"));
    }

    #[test]
    fn question_mark_converts_anyhow_with_its_contexts() {
        fn fail() -> Result<(), Diagnostic> {
            use anyhow::Context as _;
            Err(std::io::Error::other("no such table")).context("loading the config")?
        }
        let d = fail().unwrap_err();
        assert_eq!(
            (d.error_type.as_str(), d.error_message.as_str()),
            ("Error", "loading the config")
        );
        assert_eq!(d.stack_trace, ["caused by: no such table"]);
    }

    #[test]
    fn runtime_errors_use_lambdas_wording() {
        let d = Diagnostic::unmarshal("expected value at line 1 column 1");
        assert_eq!(d.error_type, "Runtime.UnmarshalError");
        assert_eq!(
            d.error_message,
            "Unable to unmarshal input: expected value at line 1 column 1"
        );
        let d = Diagnostic::marshal("key must be a string");
        assert_eq!(d.error_type, "Runtime.MarshalError");
        assert_eq!(
            d.error_message,
            "Unable to marshal response: key must be a string"
        );
    }

    #[test]
    fn short_names_strip_every_path() {
        assert_eq!(short_type_name("hello::KeyError"), "KeyError");
        assert_eq!(short_type_name("KeyError"), "KeyError");
        assert_eq!(
            short_type_name("a::b::Wrap<std::io::error::Error, c::D>"),
            "Wrap<Error, D>"
        );
        assert_eq!(short_type_name("&mut a::B"), "&mut B");
    }

    #[test]
    fn builder_and_display() {
        let d = Diagnostic::new("KeyError", "'first_name'").with_stack_frame("in handler");
        assert_eq!(d.to_string(), "KeyError: 'first_name'");
        assert_eq!(d.stack_trace, ["in handler"]);
    }
}

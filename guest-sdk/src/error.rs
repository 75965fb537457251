//! Function errors: how a handler's `Err` becomes Lambda's
//! `{"errorType", "errorMessage", "stackTrace"}`.

use std::fmt;

/// A function error as Lambda reports it: the `errorType`, `errorMessage`
/// and `stackTrace` of the invocation's error response.
///
/// A handler may return `Result<R, Diagnostic>` and use `?` on any
/// [`std::error::Error`], or return its own error type: anything that
/// implements `std::error::Error` converts into a `Diagnostic` whose
/// `errorType` is the short name of the type (`MyError`, as Python reports
/// an exception's class name), whose `errorMessage` is its `Display` text,
/// and whose stack trace has one `caused by: ...` line per
/// [`source`](std::error::Error::source) in its chain.
///
/// `Diagnostic` itself does not implement `std::error::Error`: that is what
/// lets the blanket conversion exist (as with `anyhow::Error`). A boxed
/// `dyn Error` has no concrete type to name, so convert it with
/// [`Diagnostic::from_boxed`].
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

    /// Converts a boxed error, which the blanket `From` cannot take (its
    /// concrete type is erased, so the `errorType` is the generic `Error`).
    pub fn from_boxed(error: Box<dyn std::error::Error + Send + Sync + 'static>) -> Self {
        let mut diagnostic = Diagnostic::new("Error", error.to_string());
        push_causes(&mut diagnostic, error.source());
        diagnostic
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

impl<E: std::error::Error> From<E> for Diagnostic {
    fn from(error: E) -> Self {
        let mut diagnostic = Diagnostic::new(
            short_type_name(std::any::type_name::<E>()),
            error.to_string(),
        );
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
fn push_causes(
    diagnostic: &mut Diagnostic,
    mut source: Option<&(dyn std::error::Error + 'static)>,
) {
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
        source: Option<Box<dyn std::error::Error + Send + Sync>>,
    }

    impl fmt::Display for MyError {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str(&self.message)
        }
    }

    impl std::error::Error for MyError {
        fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
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
    fn boxed_errors_convert_explicitly() {
        let boxed: Box<dyn std::error::Error + Send + Sync> = Box::new(MyError {
            message: "m".into(),
            source: Some(Box::new(std::io::Error::other("io"))),
        });
        let d = Diagnostic::from_boxed(boxed);
        assert_eq!(
            (d.error_type.as_str(), d.error_message.as_str()),
            ("Error", "m")
        );
        assert_eq!(d.stack_trace, ["caused by: io"]);
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

//! One invocation as the host sees it: the event, the context fields Lambda
//! passes in headers, and what came of it.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use serde_json::value::RawValue;

use crate::errors::LambdaError;
use crate::settings::FunctionSettings;

/// Per-invocation context, from the Runtime API's headers or made up in test mode.
#[derive(Debug, Clone, PartialEq)]
pub struct InvocationContext {
    /// `Lambda-Runtime-Aws-Request-Id`.
    pub request_id: String,
    /// When the invocation must end (`Lambda-Runtime-Deadline-Ms`, checked).
    pub deadline: SystemTime,
    /// `Lambda-Runtime-Invoked-Function-Arn`.
    pub invoked_function_arn: String,
    /// `Lambda-Runtime-Trace-Id`.
    pub trace_id: Option<String>,
    /// `Lambda-Runtime-Client-Context`, compact JSON.
    pub client_context: Option<String>,
    /// `Lambda-Runtime-Cognito-Identity`, compact JSON.
    pub cognito_identity: Option<String>,
    /// `Lambda-Runtime-Aws-Tenant-Id`.
    pub tenant_id: Option<String>,
}

impl InvocationContext {
    /// The deadline as Unix epoch milliseconds.
    pub fn deadline_ms(&self) -> u64 {
        self.deadline
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default()
            .as_millis() as u64
    }

    /// Time left before the deadline (zero once it has passed).
    pub fn remaining(&self) -> Duration {
        self.deadline
            .duration_since(SystemTime::now())
            .unwrap_or_default()
    }
}

/// An event and its context.
#[derive(Debug, Clone)]
pub struct Invocation {
    /// The event bytes exactly as received.
    pub event: Bytes,
    /// The context fields.
    pub context: InvocationContext,
}

#[cfg(test)]
impl Invocation {
    /// An invocation of `event` with request id `req-1` and `timeout` left,
    /// the rest of its context empty (the unit tests' common case).
    pub(crate) fn for_test(event: &'static [u8], timeout: Duration) -> Self {
        Self {
            event: Bytes::from_static(event),
            context: InvocationContext {
                request_id: "req-1".into(),
                deadline: SystemTime::now() + timeout,
                invoked_function_arn: String::new(),
                trace_id: None,
                client_context: None,
                cognito_identity: None,
                tenant_id: None,
            },
        }
    }
}

/// One invocation as a guest kind runs it: the invocation, the time it had
/// when it started, and the function's limits.
#[derive(Debug, Clone, Copy)]
pub struct Call<'a> {
    /// The event and its context.
    pub invocation: &'a Invocation,
    /// Time left before the deadline when the call began.
    pub remaining: Duration,
    /// The function's settings (memory cap, response limit).
    pub settings: &'a FunctionSettings,
}

impl<'a> Call<'a> {
    /// A call of `invocation` starting now.
    pub fn new(invocation: &'a Invocation, settings: &'a FunctionSettings) -> Self {
        Self {
            invocation,
            remaining: invocation.context.remaining(),
            settings,
        }
    }

    /// The invocation's request id.
    pub fn request_id(&self) -> &'a str {
        &self.invocation.context.request_id
    }

    /// The error for a call that ran past its deadline.
    pub fn timed_out(&self) -> LambdaError {
        LambdaError::timed_out(self.request_id(), self.remaining.as_secs_f64())
    }
}

/// What one invocation produced.
#[derive(Debug)]
pub enum Outcome {
    /// The validated JSON response.
    Response(Box<RawValue>),
    /// A function error (the guest's own, or a fault the host contained).
    Error(LambdaError),
}

impl Outcome {
    /// True for a function error.
    pub fn is_error(&self) -> bool {
        matches!(self, Outcome::Error(_))
    }
}

/// Reads a JSON header value into compact JSON (values are single-line).
pub fn compact_json(raw: &str) -> Option<String> {
    let trimmed = raw.trim();
    if trimmed.is_empty() {
        return None;
    }
    match serde_json::from_str::<serde_json::Value>(trimmed) {
        Ok(value) => Some(value.to_string()),
        Err(_) => None,
    }
}

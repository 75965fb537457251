//! Idle HTTP/1.1 connections kept for the next request to the same place,
//! so a guest calling one service pays the TCP (and TLS) handshake once,
//! as an SDK's keep-alive client does natively.
//!
//! A connection is keyed by everything its first request was checked and
//! made for: scheme, host name (TLS verified the certificate for it), port
//! and the exact address the policy approved. Every request still resolves
//! and checks its host first ([`super::policy::Policy::resolve`]); it gets a
//! pooled connection only when that fresh check yields the same key, so a
//! name that now resolves elsewhere (DNS rebinding) never rides an old
//! socket, and a connection is never shared between names.
//!
//! Bounded: at most [`MAX_IDLE_PER_DESTINATION`] idle connections per key
//! and [`MAX_IDLE`] in all; one idle longer than [`IDLE_TIMEOUT`] is closed
//! rather than reused (servers and load balancers drop idle connections
//! after tens of seconds, and an environment may sit frozen for minutes).

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::Full;
use hyper::client::conn::http1::SendRequest;

/// How long an idle connection may be reused (hyper-util's pool uses 90 s;
/// shorter, because many servers close theirs after 60 s).
pub const IDLE_TIMEOUT: Duration = Duration::from_secs(30);
/// Idle connections kept per destination: more than the one request a
/// blocked guest has in flight, for environments sharing the function.
pub const MAX_IDLE_PER_DESTINATION: usize = 4;
/// Idle connections kept in all, whatever the number of destinations.
pub const MAX_IDLE: usize = 64;

/// The sending half of a connection; its driver task owns the socket and
/// ends (closing it) when this is dropped.
pub type Sender = SendRequest<Full<Bytes>>;

/// Where a connection goes: a pooled one is reused only for the same key.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Destination {
    /// Whether the connection speaks TLS.
    pub https: bool,
    /// The host name the request named (and TLS verified).
    pub host: String,
    /// The port the request named.
    pub port: u16,
    /// The address the policy checked and the socket is connected to.
    pub address: SocketAddr,
}

struct Idle {
    sender: Sender,
    since: Instant,
}

/// The idle connections of one function's outbound client.
#[derive(Default)]
pub struct Pool {
    idle: Mutex<HashMap<Destination, Vec<Idle>>>,
}

impl Pool {
    /// An idle connection to `destination` that is still open, most
    /// recently used first; expired and closed ones are dropped on the way.
    pub fn take(&self, destination: &Destination) -> Option<Sender> {
        let mut idle = self.idle.lock().expect("pool lock");
        let senders = idle.get_mut(destination)?;
        let mut found = None;
        while let Some(candidate) = senders.pop() {
            if usable(&candidate) {
                found = Some(candidate.sender);
                break;
            }
        }
        if senders.is_empty() {
            idle.remove(destination);
        }
        found
    }

    /// Keeps `sender` for the next request to `destination`, unless it is
    /// closed or the bounds are reached (then it is dropped, closing it).
    pub fn put(&self, destination: Destination, sender: Sender) {
        if sender.is_closed() {
            return;
        }
        let mut idle = self.idle.lock().expect("pool lock");
        idle.retain(|_, senders| {
            senders.retain(usable);
            !senders.is_empty()
        });
        let total: usize = idle.values().map(Vec::len).sum();
        let kept = idle.get(&destination).map_or(0, Vec::len);
        if total < MAX_IDLE && kept < MAX_IDLE_PER_DESTINATION {
            idle.entry(destination).or_default().push(Idle {
                sender,
                since: Instant::now(),
            });
        }
    }
}

/// Whether an idle connection may carry another request.
fn usable(idle: &Idle) -> bool {
    !idle.sender.is_closed() && idle.since.elapsed() < IDLE_TIMEOUT
}

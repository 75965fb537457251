//! Where a guest's outbound requests may go: the deployer's allow-list
//! (`LAMBDA_WASM_ALLOWED_HOSTS`, `--allow-host` in test mode) and the
//! addresses no entry can open (the Runtime API, the instance metadata and
//! credentials endpoints). The check is made on the address a name resolves
//! to, and the caller connects to exactly that address, so a name that
//! resolves to something else on a second lookup (DNS rebinding) gains
//! nothing.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, ToSocketAddrs};

/// The variable holding the allow-list in runtime mode.
pub const ALLOWED_HOSTS_VARIABLE: &str = "LAMBDA_WASM_ALLOWED_HOSTS";
/// How the setting is named in messages: both its forms.
pub const SETTING: &str = "LAMBDA_WASM_ALLOWED_HOSTS (--allow-host in test mode)";

/// The instance metadata and container credentials endpoints: never reachable.
const METADATA_ADDRESSES: [IpAddr; 3] = [
    IpAddr::V4(Ipv4Addr::new(169, 254, 169, 254)),
    IpAddr::V4(Ipv4Addr::new(169, 254, 170, 2)),
    IpAddr::V6(Ipv6Addr::new(0xfd00, 0xec2, 0, 0, 0, 0, 0, 0x254)),
];

/// One allow-list entry: a host name (or `*.suffix`) and, optionally, a port.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Entry {
    host: HostPattern,
    port: Option<u16>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum HostPattern {
    /// This host exactly (lower case, IPv6 without brackets).
    Exact(String),
    /// `*.example.com`: any name ending in `.example.com`.
    Subdomains(String),
}

/// The hosts a function may connect to; empty (the default) allows none.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AllowList {
    entries: Vec<Entry>,
}

impl AllowList {
    /// Parses comma-separated entries: `host`, `host:port`, `*.domain`,
    /// `*.domain:port`, `[v6]:port`. An error names the bad entry.
    pub fn parse(text: &str) -> Result<Self, String> {
        let mut entries = Vec::new();
        for raw in text.split(',').map(str::trim).filter(|e| !e.is_empty()) {
            entries.push(parse_entry(raw).map_err(|why| {
                format!("{ALLOWED_HOSTS_VARIABLE} entry {raw:?} {why}; write host, host:port or *.domain[:port], comma-separated")
            })?);
        }
        Ok(Self { entries })
    }

    /// The list joined from several `--allow-host` values (each may hold commas).
    pub fn parse_all<S: AsRef<str>>(values: &[S]) -> Result<Self, String> {
        let mut list = Self::default();
        for value in values {
            list.entries.extend(Self::parse(value.as_ref())?.entries);
        }
        Ok(list)
    }

    /// Whether any entry admits `host:port`.
    pub fn allows(&self, host: &str, port: u16) -> bool {
        self.entries.iter().any(|entry| entry.admits(host, port))
    }

    /// Whether an entry names `host` itself (no wildcard) with `port`: what a
    /// loopback, private or link-local address needs.
    pub fn names_exactly(&self, host: &str, port: u16) -> bool {
        self.entries.iter().any(|entry| {
            entry.port == Some(port) && entry.host == HostPattern::Exact(host.to_string())
        })
    }
}

impl Entry {
    fn admits(&self, host: &str, port: u16) -> bool {
        let host_matches = match &self.host {
            HostPattern::Exact(name) => name == host,
            HostPattern::Subdomains(suffix) => host
                .strip_suffix(suffix.as_str())
                .is_some_and(|head| !head.is_empty()),
        };
        host_matches && self.port.is_none_or(|p| p == port)
    }
}

fn parse_entry(raw: &str) -> Result<Entry, &'static str> {
    let lower = raw.to_ascii_lowercase();
    let (host, port) = split_host_port(&lower)?;
    let host = match host.strip_prefix("*.") {
        Some(suffix) if valid_name(suffix) => HostPattern::Subdomains(format!(".{suffix}")),
        Some(_) => return Err("has a bad domain after *."),
        None if valid_name(host) || host.parse::<IpAddr>().is_ok() => {
            HostPattern::Exact(host.to_string())
        }
        None => return Err("is not a host name or address"),
    };
    Ok(Entry { host, port })
}

/// `host[:port]` or `[v6][:port]`.
fn split_host_port(text: &str) -> Result<(&str, Option<u16>), &'static str> {
    let parse_port = |p: &str| p.parse::<u16>().map_err(|_| "has a bad port");
    if let Some(rest) = text.strip_prefix('[') {
        let (host, after) = rest.split_once(']').ok_or("has no closing ]")?;
        return match after.strip_prefix(':') {
            Some(port) => Ok((host, Some(parse_port(port)?))),
            None if after.is_empty() => Ok((host, None)),
            None => Err("has text after ]"),
        };
    }
    match text.rsplit_once(':') {
        Some((host, _)) if host.contains(':') => Ok((text, None)), // a bare IPv6 address
        Some((host, port)) => Ok((host, Some(parse_port(port)?))),
        None => Ok((text, None)),
    }
}

fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && name.split('.').all(|label| {
            !label.is_empty()
                && label
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        })
}

/// Why [`Policy::resolve`] gave no address.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Resolution {
    /// The policy refuses the host or an address it resolves to.
    Denied(String),
    /// The name cannot be resolved.
    Failed(String),
}

impl Resolution {
    /// The message.
    pub fn message(&self) -> &str {
        match self {
            Self::Denied(m) | Self::Failed(m) => m,
        }
    }
}

/// The allow-list plus the addresses no entry opens.
#[derive(Debug, Clone, Default)]
pub struct Policy {
    /// The deployer's entries.
    pub allowed: AllowList,
    /// The Runtime API's own addresses (`AWS_LAMBDA_RUNTIME_API`, resolved).
    pub runtime_api: Vec<SocketAddr>,
}

impl Policy {
    /// A policy with `allowed`, barring the Runtime API at `runtime_api` (`host:port`).
    pub fn new(allowed: AllowList, runtime_api: Option<&str>) -> Self {
        let runtime_api = runtime_api
            .and_then(|address| address.to_socket_addrs().ok())
            .map(Iterator::collect)
            .unwrap_or_default();
        Self {
            allowed,
            runtime_api,
        }
    }

    /// Resolves `host:port` and returns the address to connect to, or why
    /// the request is denied (naming the host and the setting to change) or
    /// cannot go.
    pub async fn resolve(&self, host: &str, port: u16) -> Result<SocketAddr, Resolution> {
        if !self.allowed.allows(host, port) {
            return Err(Resolution::Denied(format!(
                "outbound request to {host}:{port} denied: the host is not in {SETTING}; add {host} (or {host}:{port}) to it to allow it"
            )));
        }
        let addresses: Vec<SocketAddr> = match host.parse::<IpAddr>() {
            Ok(ip) => vec![SocketAddr::new(ip, port)],
            Err(_) => tokio::net::lookup_host((host, port))
                .await
                .map_err(|e| {
                    Resolution::Failed(format!(
                        "outbound request to {host}:{port} failed: cannot resolve {host}: {e}"
                    ))
                })?
                .collect(),
        };
        // Every address the name has must pass: a rebinding name could hand
        // out the good one to this check and a bad one to a later lookup, but
        // we connect to the one checked here, and a name mixing good and
        // forbidden addresses is refused outright.
        for address in &addresses {
            self.check_address(host, port, *address)
                .map_err(Resolution::Denied)?;
        }
        addresses.first().copied().ok_or_else(|| {
            Resolution::Failed(format!(
                "outbound request to {host}:{port} failed: {host} has no address"
            ))
        })
    }

    fn check_address(&self, host: &str, port: u16, address: SocketAddr) -> Result<(), String> {
        let ip = canonical(address.ip());
        let never = if METADATA_ADDRESSES.contains(&ip) {
            Some("the instance metadata and credentials endpoint")
        } else if self
            .runtime_api
            .iter()
            .any(|api| canonical(api.ip()) == ip && api.port() == address.port())
        {
            Some("the Lambda Runtime API")
        } else {
            None
        };
        if let Some(what) = never {
            return Err(format!(
                "outbound request to {host}:{port} denied: {ip} is {what}, which guests may never reach"
            ));
        }
        if let Some(kind) = special_range(ip)
            && !self.allowed.names_exactly(host, port)
        {
            return Err(format!(
                "outbound request to {host}:{port} denied: {host} resolves to {ip}, a {kind} address; such addresses are allowed only when {SETTING} names {host}:{port} exactly"
            ));
        }
        Ok(())
    }
}

/// An IPv4-mapped IPv6 address as the IPv4 address it is.
fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(IpAddr::V6(v6), IpAddr::V4),
        v4 => v4,
    }
}

/// The kind of a non-public address, if `ip` is one.
fn special_range(ip: IpAddr) -> Option<&'static str> {
    match ip {
        IpAddr::V4(v4) => {
            let [a, b, ..] = v4.octets();
            if v4.is_loopback() {
                Some("loopback")
            } else if v4.is_private() || (a == 100 && (64..128).contains(&b)) {
                Some("private")
            } else if v4.is_link_local() {
                Some("link-local")
            } else if v4.is_unspecified() || v4.is_broadcast() || v4.is_multicast() || a == 0 {
                Some("non-routable")
            } else {
                None
            }
        }
        IpAddr::V6(v6) => {
            let first = v6.segments()[0];
            if v6.is_loopback() {
                Some("loopback")
            } else if first & 0xfe00 == 0xfc00 {
                Some("private")
            } else if first & 0xffc0 == 0xfe80 {
                Some("link-local")
            } else if v6.is_unspecified() || v6.is_multicast() {
                Some("non-routable")
            } else {
                None
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy(list: &str) -> Policy {
        Policy::new(AllowList::parse(list).unwrap(), Some("127.0.0.1:9001"))
    }

    #[test]
    fn entries_match_hosts_and_ports() {
        let list = AllowList::parse("*.amazonaws.com, api.example.com:443,[::1]:8080").unwrap();
        assert!(list.allows("s3.us-east-1.amazonaws.com", 443));
        assert!(!list.allows("amazonaws.com", 443), "*. needs a subdomain");
        assert!(!list.allows("evilamazonaws.com", 443));
        assert!(list.allows("api.example.com", 443));
        assert!(!list.allows("api.example.com", 80));
        assert!(list.names_exactly("::1", 8080));
        assert!(!list.names_exactly("s3.amazonaws.com", 443));
    }

    #[test]
    fn bad_entries_are_named() {
        for bad in ["exa mple.com", "*.", "host:port", "[::1"] {
            let error = AllowList::parse(bad).unwrap_err();
            assert!(
                error.contains(ALLOWED_HOSTS_VARIABLE) && error.contains(bad),
                "{error}"
            );
        }
        assert_eq!(AllowList::parse("").unwrap(), AllowList::default());
    }

    #[tokio::test]
    async fn nothing_is_allowed_by_default() {
        let error = Policy::default()
            .resolve("example.com", 443)
            .await
            .unwrap_err();
        let error = error.message();
        assert!(
            error.contains("example.com:443") && error.contains(SETTING),
            "{error}"
        );
    }

    #[tokio::test]
    async fn loopback_needs_an_exact_entry() {
        assert!(
            policy("127.0.0.1:8080")
                .resolve("127.0.0.1", 8080)
                .await
                .is_ok()
        );
        let error = policy("127.0.0.1")
            .resolve("127.0.0.1", 8080)
            .await
            .unwrap_err();
        let error = error.message();
        assert!(error.contains("loopback"), "{error}");
        let error = policy("localhost")
            .resolve("localhost", 80)
            .await
            .unwrap_err();
        let error = error.message();
        assert!(error.contains("localhost resolves to"), "{error}");
    }

    #[tokio::test]
    async fn some_addresses_are_never_reachable() {
        for (host, port) in [
            ("169.254.169.254", 80),
            ("169.254.170.2", 80),
            ("fd00:ec2::254", 80),
            ("127.0.0.1", 9001),
        ] {
            let entry = if host.contains(':') {
                format!("[{host}]:{port}")
            } else {
                format!("{host}:{port}")
            };
            let error = policy(&entry).resolve(host, port).await.unwrap_err();
            let error = error.message();
            assert!(error.contains("may never reach"), "{host}: {error}");
        }
        let mapped = policy("[::ffff:169.254.169.254]:80")
            .resolve("::ffff:169.254.169.254", 80)
            .await
            .unwrap_err();
        assert!(mapped.message().contains("may never reach"), "{mapped:?}");
    }
}

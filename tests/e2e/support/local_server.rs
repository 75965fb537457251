//! A `lambda-wasm serve` process (test mode's local Invoke API endpoint)
//! and a minimal HTTP/1.1 client for it.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Instant;

use serde_json::Value;

use super::{TaskRoot, WAIT, bin};

/// A running `lambda-wasm serve`, killed on drop.
pub struct LocalServer {
    /// Where it listens.
    pub addr: SocketAddr,
    child: Child,
    stderr: mpsc::Receiver<String>,
    seen: Vec<String>,
}

impl LocalServer {
    /// Starts `serve HANDLER --task-root ROOT --listen 127.0.0.1:0 EXTRA...`
    /// with only PATH and `env` in its environment, and waits for the line
    /// naming the address it listens on.
    pub fn start(
        handler: &str,
        root: &TaskRoot,
        extra: &[&str],
        env: &[(&str, &str)],
    ) -> LocalServer {
        let root = root.path().to_str().unwrap();
        let args = [&[handler, "--task-root", root], extra].concat();
        Self::start_with(&args, env)
    }

    /// Starts `serve ARGS... --listen 127.0.0.1:0` (e.g. `--config FILE`)
    /// as [`LocalServer::start`] does.
    pub fn start_with(args: &[&str], env: &[(&str, &str)]) -> LocalServer {
        let mut child = Command::new(bin())
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .arg("serve")
            .args(args)
            .args(["--listen", "127.0.0.1:0"])
            .envs(env.iter().copied())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let (tx, rx) = mpsc::channel();
        let stderr = child.stderr.take().unwrap();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines() {
                let Ok(line) = line else { break };
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let mut server = LocalServer {
            child,
            addr: "0.0.0.0:0".parse().unwrap(),
            stderr: rx,
            seen: Vec::new(),
        };
        let until = Instant::now() + WAIT;
        loop {
            let left = until.saturating_duration_since(Instant::now());
            let line = server.stderr.recv_timeout(left).unwrap_or_else(|_| {
                panic!("serve did not say where it listens: {:#?}", server.seen)
            });
            if let Some(rest) = line.split_once("on http://").map(|(_, r)| r) {
                server.addr = rest.split('/').next().unwrap().parse().unwrap();
                server.seen.push(line);
                return server;
            }
            server.seen.push(line);
        }
    }

    /// Whether the process is still running.
    pub fn is_running(&mut self) -> bool {
        self.child.try_wait().unwrap().is_none()
    }

    /// The server's process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// `POST path` with `body`.
    pub fn post(&self, path: &str, body: &[u8]) -> HttpResponse {
        http(self.addr, "POST", path, body)
    }

    /// An Invoke API call with `body` as the event.
    pub fn invoke(&self, body: &[u8]) -> HttpResponse {
        self.post("/2015-03-31/functions/function/invocations", body)
    }

    /// Everything it wrote to stderr so far.
    pub fn stderr(&mut self) -> String {
        while let Ok(line) = self.stderr.try_recv() {
            self.seen.push(line);
        }
        self.seen.join("\n")
    }
}

impl Drop for LocalServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[derive(Debug)]
pub struct HttpResponse {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl HttpResponse {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    #[track_caller]
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("body is not JSON ({e}): {self:?}"))
    }
}

/// One HTTP/1.1 request with `Connection: close`. The body is written from
/// another thread while the response is read, so a server that answers
/// before reading all of it (413) is seen answering.
pub fn http(addr: SocketAddr, method: &str, path: &str, body: &[u8]) -> HttpResponse {
    let mut stream = TcpStream::connect(addr).unwrap();
    stream.set_read_timeout(Some(WAIT)).unwrap();
    let head = format!(
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    let mut writer = stream.try_clone().unwrap();
    let body = body.to_vec();
    let write = std::thread::spawn(move || {
        let _ = writer
            .write_all(head.as_bytes())
            .and_then(|()| writer.write_all(&body));
    });
    let mut raw = Vec::new();
    let mut chunk = [0u8; 64 * 1024];
    loop {
        match stream.read(&mut chunk) {
            Ok(0) => break,
            Ok(n) => raw.extend_from_slice(&chunk[..n]),
            // A reset after the answer (the server did not read the whole body).
            Err(e) if !raw.is_empty() && e.kind() == std::io::ErrorKind::ConnectionReset => break,
            Err(e) => panic!("{method} {path}: reading the response: {e}"),
        }
    }
    let _ = stream.shutdown(std::net::Shutdown::Both);
    let _ = write.join();
    let split = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .unwrap_or_else(|| {
            panic!(
                "{method} {path}: no HTTP head in {:?}",
                String::from_utf8_lossy(&raw)
            )
        });
    let head = String::from_utf8_lossy(&raw[..split]).into_owned();
    let mut lines = head.lines();
    let status = lines
        .next()
        .unwrap()
        .split_whitespace()
        .nth(1)
        .unwrap()
        .parse()
        .unwrap();
    let headers = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
        .collect();
    HttpResponse {
        status,
        headers,
        body: raw[split + 4..].to_vec(),
    }
}

//! A local HTTP/1.1 server on 127.0.0.1 for the live-source tests: replays recorded responses
//! per route and injects faults (errors, `Retry-After`, delays, cut-off bodies), and records every
//! request it saw. One thread per connection; every answer closes its connection.

use std::collections::{HashMap, VecDeque};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// One answer.
#[derive(Debug, Clone)]
pub struct Reply {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    /// Wait before answering.
    pub delay: Duration,
    /// Send only this many bytes of the body (announcing all of it), then close.
    pub truncate: Option<usize>,
    /// An `ETag`: a request with a matching `If-None-Match` gets `304` and no body.
    pub etag: Option<String>,
}

impl Reply {
    pub fn ok(body: impl Into<Vec<u8>>) -> Reply {
        Reply::status(200, body)
    }

    pub fn file(path: &std::path::Path) -> Reply {
        Reply::ok(std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display())))
    }

    pub fn status(status: u16, body: impl Into<Vec<u8>>) -> Reply {
        Reply {
            status,
            headers: vec![(
                "Content-Type".into(),
                "application/json; charset=utf-8".into(),
            )],
            body: body.into(),
            delay: Duration::ZERO,
            truncate: None,
            etag: None,
        }
    }

    pub fn header(mut self, name: &str, value: &str) -> Reply {
        self.headers.push((name.into(), value.into()));
        self
    }

    pub fn delayed(mut self, d: Duration) -> Reply {
        self.delay = d;
        self
    }

    pub fn truncated(mut self, n: usize) -> Reply {
        self.truncate = Some(n);
        self
    }

    pub fn etag(mut self, tag: &str) -> Reply {
        self.etag = Some(tag.into());
        self
    }
}

/// A request the server received.
#[derive(Debug, Clone)]
pub struct Seen {
    pub method: String,
    /// Path and query.
    pub target: String,
    pub headers: HashMap<String, String>,
    pub body: String,
    /// When it arrived.
    pub at: std::time::Instant,
}

#[derive(Default)]
struct State {
    /// `METHOD target` -> answers in turn; the last one repeats.
    routes: HashMap<String, VecDeque<Reply>>,
    seen: Vec<Seen>,
}

pub struct Server {
    port: u16,
    state: Arc<Mutex<State>>,
}

impl Server {
    pub fn start() -> Server {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let state = Arc::new(Mutex::new(State::default()));
        let shared = Arc::clone(&state);
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(stream) = stream else { continue };
                let state = Arc::clone(&shared);
                std::thread::spawn(move || handle(stream, &state));
            }
        });
        Server { port, state }
    }

    /// `http://127.0.0.1:<port>`.
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// Answers `METHOD target` (path and query, exactly) with `replies` in turn, the last
    /// repeating.
    pub fn route(&self, method: &str, target: &str, replies: Vec<Reply>) {
        self.state
            .lock()
            .unwrap()
            .routes
            .insert(format!("{method} {target}"), replies.into());
    }

    /// Every request received so far.
    pub fn seen(&self) -> Vec<Seen> {
        self.state.lock().unwrap().seen.clone()
    }

    /// How many requests for `METHOD target` arrived.
    pub fn count(&self, method: &str, target: &str) -> usize {
        self.seen()
            .iter()
            .filter(|s| s.method == method && s.target == target)
            .count()
    }

    /// Forgets the requests seen.
    pub fn clear_seen(&self) {
        self.state.lock().unwrap().seen.clear();
    }
}

fn handle(stream: TcpStream, state: &Mutex<State>) {
    let mut reader = BufReader::new(stream.try_clone().unwrap());
    let mut line = String::new();
    if reader.read_line(&mut line).unwrap_or(0) == 0 {
        return;
    }
    let mut parts = line.split_whitespace();
    let method = parts.next().unwrap_or_default().to_owned();
    let target = parts.next().unwrap_or_default().to_owned();
    let mut headers = HashMap::new();
    loop {
        let mut h = String::new();
        if reader.read_line(&mut h).unwrap_or(0) == 0 || h.trim().is_empty() {
            break;
        }
        if let Some((k, v)) = h.split_once(':') {
            headers.insert(k.trim().to_ascii_lowercase(), v.trim().to_owned());
        }
    }
    let len: usize = headers
        .get("content-length")
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    let mut body = vec![0; len];
    reader.read_exact(&mut body).unwrap_or_default();
    let reply = {
        let mut st = state.lock().unwrap();
        st.seen.push(Seen {
            method: method.clone(),
            target: target.clone(),
            headers: headers.clone(),
            body: String::from_utf8_lossy(&body).into_owned(),
            at: std::time::Instant::now(),
        });
        match st.routes.get_mut(&format!("{method} {target}")) {
            Some(q) if q.len() > 1 => q.pop_front(),
            Some(q) => q.front().cloned(),
            None => None,
        }
    }
    .unwrap_or_else(|| Reply::status(404, format!("no route for {method} {target}")));
    std::thread::sleep(reply.delay);
    let not_modified = reply.etag.is_some() && headers.get("if-none-match") == reply.etag.as_ref();
    let (status, body) = if not_modified {
        (304, Vec::new())
    } else {
        (reply.status, reply.body.clone())
    };
    let mut lines = vec![
        format!("HTTP/1.1 {status} X"),
        format!("Content-Length: {}", body.len()),
        "Connection: close".to_owned(),
    ];
    lines.extend(reply.headers.iter().map(|(k, v)| format!("{k}: {v}")));
    lines.extend(reply.etag.iter().map(|tag| format!("ETag: {tag}")));
    let head = format!("{}\r\n\r\n", lines.join("\r\n"));
    let mut stream = stream;
    let sent = reply.truncate.unwrap_or(body.len()).min(body.len());
    let _ = stream.write_all(head.as_bytes());
    let _ = stream.write_all(&body[..sent]);
    let _ = stream.flush();
    let _ = stream.shutdown(std::net::Shutdown::Both);
}

//! The one HTTP layer every live source goes through.
//!
//! Each request is sent with a `User-Agent` of `mittari/<version>` plus the pipeline's contact
//! (Sotkanet refuses requests without a User-Agent), connect and total timeouts, `Accept-Encoding:
//! gzip`, and a per-host token bucket ([`limiter`]). Failures are retried as [`retry`] says;
//! anything else ends the request with an error that names it (exit 3).
//!
//! # Cache semantics
//! Every response body that is used is stored unchanged (after removing the transfer's gzip) in
//! the raw archive, content-addressed by sha256, and the archive's index records the request
//! (method, URL, body), the status, `ETag`, `Last-Modified`, `Content-Type` and the time.
//! - The next request with the same method, URL and body is sent conditionally (`If-None-Match`
//!   with the stored `ETag`, `If-Modified-Since` with the stored `Last-Modified`, when the archive
//!   has them). A `304 Not Modified` reuses the archived bytes (re-verified against their sha256)
//!   and is itself recorded in the index. Without validators the request is sent in full.
//! - `--offline` sends nothing: every request is answered from the archive's latest entry for it,
//!   and a request the archive does not have fails (exit 3) naming it.
//! - Bodies that are not what was asked for are never archived as data: a `200` whose body is not
//!   JSON when JSON was expected (an HTML error page) or not complete JSON, or larger than the
//!   maximum response size, is an error naming the request.

pub mod limiter;
pub mod retry;

use std::io::Read;
use std::time::{Duration, Instant};

use chrono::Utc;
use serde::Deserialize;
use tracing::{debug, info, warn};

use crate::archive::{Archive, Payload, ResponseMeta};
use crate::error::{Error, InternalError, SourceError};
use crate::io::hash::sha256_hex;
use limiter::HostLimiter;
use retry::{Outcome, RetryPolicy, classify_status, parse_retry_after};

/// `[http]` in a pipeline file. Every field has a default.
#[derive(Debug, Clone, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields, default)]
pub struct HttpSettings {
    /// Who runs this pipeline (an e-mail address or a URL), appended to the User-Agent so that
    /// the services can reach the operator; `MITTARI_CONTACT` overrides it.
    pub contact: Option<String>,
    /// Seconds to establish a connection.
    pub connect_timeout_secs: f64,
    /// Seconds for a whole request, body included.
    pub timeout_secs: f64,
    /// Retries after the first attempt.
    pub max_retries: u32,
    /// Milliseconds before the first retry (doubling after each).
    pub backoff_base_ms: u64,
    /// Largest wait between two attempts, in seconds.
    pub max_backoff_secs: f64,
    /// Largest total wait for one request, `Retry-After` included, in seconds.
    pub max_total_wait_secs: f64,
    /// Largest response body accepted, in megabytes.
    pub max_response_mb: u64,
    /// Requests per second to one host (refill of its token bucket), unless the API's own
    /// configuration says otherwise.
    pub requests_per_second: f64,
    /// Requests that may go to one host back to back.
    pub burst: u32,
}

impl Default for HttpSettings {
    fn default() -> HttpSettings {
        HttpSettings {
            contact: None,
            connect_timeout_secs: 10.0,
            timeout_secs: 120.0,
            max_retries: 4,
            backoff_base_ms: 1000,
            max_backoff_secs: 30.0,
            max_total_wait_secs: 300.0,
            max_response_mb: 512,
            requests_per_second: 2.0,
            burst: 4,
        }
    }
}

/// An HTTP method mittari uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    /// GET.
    Get,
    /// POST with a JSON body.
    Post,
}

/// One request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    /// Method.
    pub method: Method,
    /// Full URL with its query string.
    pub url: String,
    /// JSON body of a POST.
    pub body: Option<String>,
}

impl Request {
    /// A GET.
    pub fn get(url: impl Into<String>) -> Request {
        Request {
            method: Method::Get,
            url: url.into(),
            body: None,
        }
    }

    /// A POST of a JSON body.
    pub fn post(url: impl Into<String>, body: String) -> Request {
        Request {
            method: Method::Post,
            url: url.into(),
            body: Some(body),
        }
    }

    /// `GET <url>` or `POST <url>`: how messages and the archive index name the request.
    pub fn line(&self) -> String {
        let m = match self.method {
            Method::Get => "GET",
            Method::Post => "POST",
        };
        format!("{m} {}", self.url)
    }

    fn host(&self) -> String {
        reqwest::Url::parse(&self.url)
            .ok()
            .and_then(|u| u.host_str().map(str::to_owned))
            .unwrap_or_default()
    }
}

/// What the body must be.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Expect {
    /// A complete JSON document.
    Json,
    /// A complete JSON document wrapped in a JavaScript call (`name( ... );`, as THL's cube
    /// API answers `.dimensions.json`).
    Jsonp,
    /// Anything (CSV, ...).
    Any,
}

/// How a payload was obtained.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Origin {
    /// Downloaded in full.
    Downloaded,
    /// The server answered 304 and the archived copy was used.
    NotModified,
    /// `--offline`: taken from the archive.
    Archive,
    /// Not asked for: the archived copy was reused because the source says its data has not
    /// changed since (a Sotkanet indicator's `data-updated`).
    Reused,
}

/// A fetched payload.
#[derive(Debug)]
pub struct Fetched {
    /// The payload (bytes, sha256, retrieval time).
    pub payload: Payload,
    /// Where it came from.
    pub origin: Origin,
}

/// Counts of what the client did, for logs and the run manifest.
#[derive(Debug, Default, Clone, Copy, serde::Serialize)]
pub struct Stats {
    /// Requests sent over the network (retries included).
    pub sent: u32,
    /// Retries.
    pub retries: u32,
    /// Answers `304 Not Modified`.
    pub not_modified: u32,
    /// Requests answered from the archive without the network.
    pub offline: u32,
}

/// The HTTP client of a run.
pub struct Client {
    runtime: tokio::runtime::Runtime,
    inner: reqwest::Client,
    policy: RetryPolicy,
    settings: HttpSettings,
    limiter: HostLimiter,
    started: Instant,
    archive: Archive,
    offline: bool,
    stats: Stats,
    /// The current source's progress bar (on a terminal only).
    progress: Option<indicatif::ProgressBar>,
}

/// One attempt's failure.
enum Failure {
    /// Worth another attempt (with the server's `Retry-After`, if any).
    Retry(String, Option<Duration>),
    /// The server said 304, but the archived copy no longer has its sha256: ask again without
    /// validators (once), so that the answer repairs the archive.
    Corrupt(String),
    /// Final.
    Fatal(SourceError),
}

impl Client {
    /// A client archiving into `archive`; with `offline`, answering only from it.
    pub fn new(settings: &HttpSettings, archive: Archive, offline: bool) -> Result<Client, Error> {
        let contact = crate::env_vars::contact().or_else(|| settings.contact.clone());
        let agent = match &contact {
            Some(c) => format!("mittari/{} (+{c})", env!("CARGO_PKG_VERSION")),
            None => format!("mittari/{}", env!("CARGO_PKG_VERSION")),
        };
        let secs = |s: f64| Duration::from_secs_f64(s.max(0.001));
        let client = reqwest::Client::builder()
            .user_agent(agent)
            .connect_timeout(secs(settings.connect_timeout_secs))
            .timeout(secs(settings.timeout_secs))
            .build()
            .map_err(|e| InternalError::Invariant(format!("building the HTTP client: {e}")))?;
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| InternalError::Invariant(format!("starting the HTTP runtime: {e}")))?;
        Ok(Client {
            runtime,
            inner: client,
            policy: RetryPolicy {
                max_retries: settings.max_retries,
                base: Duration::from_millis(settings.backoff_base_ms),
                max_backoff: secs(settings.max_backoff_secs),
                max_total_wait: secs(settings.max_total_wait_secs),
            },
            settings: settings.clone(),
            limiter: HostLimiter::default(),
            started: Instant::now(),
            archive,
            offline,
            stats: Stats::default(),
            progress: None,
        })
    }

    /// Starts a progress bar for a source's requests: a spinner with the request being sent, on
    /// a terminal with info logging; nothing otherwise (the log lines say what happens).
    pub fn begin(&mut self, source: &str) {
        use std::io::IsTerminal;
        self.end();
        if std::io::stderr().is_terminal() && tracing::enabled!(tracing::Level::INFO) {
            let pb = indicatif::ProgressBar::new_spinner();
            if let Ok(style) =
                indicatif::ProgressStyle::with_template("{spinner} {prefix}: {pos} requests, {msg}")
            {
                pb.set_style(style);
            }
            pb.set_prefix(source.to_owned());
            pb.enable_steady_tick(Duration::from_millis(120));
            self.progress = Some(pb);
        }
    }

    /// Ends the current source's progress bar.
    pub fn end(&mut self) {
        if let Some(pb) = self.progress.take() {
            pb.finish_and_clear();
        }
    }

    /// What the client did so far.
    pub fn stats(&self) -> Stats {
        self.stats
    }

    /// Whether requests are answered from the archive only.
    pub fn is_offline(&self) -> bool {
        self.offline
    }

    /// Sets a host's rate limit: `calls` requests per `window` (from an API's configuration).
    pub fn limit_host(&mut self, url: &str, calls: u32, window: Duration) {
        let host = Request::get(url).host();
        let now = self.started.elapsed().as_secs_f64();
        self.limiter
            .configure(&host, calls, window.as_secs_f64(), now);
    }

    /// The archived answer to a request, if the archive has one whose bytes are intact; no
    /// request is sent.
    pub fn archived(&self, req: &Request) -> Option<Payload> {
        let entry = self
            .archive
            .lookup(&req.line(), req.body.as_deref())
            .ok()??;
        self.archive.load(&entry.sha256, entry.retrieved_at).ok()
    }

    /// Fetches a request: from the archive when offline, else over the network (conditionally
    /// when the archive has validators), archiving what it gets.
    pub fn fetch(&mut self, req: &Request, expect: Expect) -> Result<Fetched, Error> {
        let mut cached = self
            .archive
            .lookup(&req.line(), req.body.as_deref())
            .map_err(Error::from)?;
        let mut refetched = false;
        if self.offline {
            let Some(entry) = cached else {
                return Err(SourceError::NotArchived {
                    request: req.line(),
                    body: req.body.clone(),
                }
                .into());
            };
            self.stats.offline += 1;
            let payload = self.archive.load(&entry.sha256, entry.retrieved_at)?;
            return Ok(Fetched {
                payload,
                origin: Origin::Archive,
            });
        }
        let mut retry = 0;
        let mut waited = Duration::ZERO;
        loop {
            let pause = self.limiter.take(
                &req.host(),
                (self.settings.burst, self.settings.requests_per_second),
                self.started.elapsed().as_secs_f64(),
            );
            if !pause.is_zero() {
                debug!(request = %req.line(), wait_ms = pause.as_millis(), "Rate limit");
                std::thread::sleep(pause);
            }
            self.stats.sent += 1;
            debug!(request = %req.line(), conditional = cached.is_some(), "Sending");
            if let Some(pb) = &self.progress {
                pb.inc(1);
                pb.set_message(req.line());
            }
            let result = self.attempt(req, expect, cached.as_ref());
            match result {
                Ok(fetched) => return Ok(fetched),
                Err(Failure::Fatal(e)) => return Err(e.into()),
                Err(Failure::Corrupt(message)) if !refetched => {
                    warn!(request = %req.line(), "{message}; asking again without validators to repair it");
                    refetched = true;
                    cached = None;
                }
                Err(Failure::Corrupt(message)) => {
                    return Err(SourceError::BadResponse {
                        request: req.line(),
                        message,
                    }
                    .into());
                }
                Err(Failure::Retry(message, retry_after)) => {
                    retry += 1;
                    let Some(wait) = self
                        .policy
                        .wait(retry, retry_after, fastrand::f64(), waited)
                    else {
                        return Err(SourceError::Network {
                            request: req.line(),
                            attempts: retry,
                            message,
                        }
                        .into());
                    };
                    warn!(request = %req.line(), retry, wait_ms = wait.as_millis(), "{message}; retrying");
                    self.stats.retries += 1;
                    waited += wait;
                    std::thread::sleep(wait);
                }
            }
        }
    }

    fn attempt(
        &mut self,
        req: &Request,
        expect: Expect,
        cached: Option<&crate::archive::IndexEntry>,
    ) -> Result<Fetched, Failure> {
        let mut builder = match req.method {
            Method::Get => self.inner.get(&req.url),
            Method::Post => self
                .inner
                .post(&req.url)
                .header(reqwest::header::CONTENT_TYPE, "application/json")
                .body(req.body.clone().unwrap_or_default()),
        }
        .header(reqwest::header::ACCEPT_ENCODING, "gzip");
        if let Some(c) = cached {
            if let Some(etag) = &c.etag {
                builder = builder.header(reqwest::header::IF_NONE_MATCH, etag);
            }
            if let Some(lm) = &c.last_modified {
                builder = builder.header(reqwest::header::IF_MODIFIED_SINCE, lm);
            }
        }
        let max = self.settings.max_response_mb.saturating_mul(1024 * 1024);
        let fetched = self.runtime.block_on(async {
            let resp = builder.send().await.map_err(|e| transport(&e))?;
            let status = resp.status().as_u16();
            let header = |name: reqwest::header::HeaderName| {
                resp.headers()
                    .get(name)
                    .and_then(|v| v.to_str().ok())
                    .map(str::to_owned)
            };
            let meta = ResponseMeta {
                request: req.line(),
                body: req.body.clone(),
                status,
                etag: header(reqwest::header::ETAG),
                last_modified: header(reqwest::header::LAST_MODIFIED),
                content_type: header(reqwest::header::CONTENT_TYPE),
            };
            let gzip = header(reqwest::header::CONTENT_ENCODING)
                .is_some_and(|e| e.eq_ignore_ascii_case("gzip"));
            let retry_after = header(reqwest::header::RETRY_AFTER)
                .and_then(|v| parse_retry_after(&v, Utc::now()));
            let mut resp = resp;
            let mut bytes = Vec::new();
            while let Some(chunk) = resp.chunk().await.map_err(|e| transport(&e))? {
                if (bytes.len() + chunk.len()) as u64 > max {
                    return Err(Failure::Fatal(SourceError::BadResponse {
                        request: req.line(),
                        message: format!(
                            "the response is larger than the maximum of {} MB (`http.max_response_mb`)",
                            self.settings.max_response_mb
                        ),
                    }));
                }
                bytes.extend_from_slice(&chunk);
            }
            Ok((meta, gzip, retry_after, bytes))
        })?;
        let (meta, gzip, retry_after, bytes) = fetched;
        let status = meta.status;
        if status == 304 {
            let Some(c) = cached else {
                return Err(Failure::Fatal(SourceError::BadResponse {
                    request: req.line(),
                    message: "304 Not Modified to a request that was not conditional".into(),
                }));
            };
            self.stats.not_modified += 1;
            info!(request = %req.line(), sha256 = %c.sha256, "Not modified: using the archived copy");
            let payload = match self.archive.load(&c.sha256, Utc::now()) {
                Ok(p) => p,
                Err(e) if self.archive.discard_if_corrupt(&c.sha256) => {
                    return Err(Failure::Corrupt(e.to_string()));
                }
                Err(e) => return Err(Failure::Fatal(archive_error(req, &e))),
            };
            let mut meta = meta;
            meta.etag = meta.etag.or_else(|| c.etag.clone());
            meta.last_modified = meta.last_modified.or_else(|| c.last_modified.clone());
            meta.content_type.clone_from(&c.content_type);
            self.archive
                .record(&meta, &payload)
                .map_err(|e| Failure::Fatal(archive_error(req, &e)))?;
            return Ok(Fetched {
                payload,
                origin: Origin::NotModified,
            });
        }
        if !(200..300).contains(&status) {
            let message = server_message(&bytes);
            return match classify_status(status) {
                Outcome::Retryable => Err(Failure::Retry(
                    format!("HTTP {status}{message}"),
                    retry_after,
                )),
                Outcome::Final => Err(Failure::Fatal(SourceError::Http {
                    request: req.line(),
                    status,
                    message,
                })),
            };
        }
        let bytes = if gzip {
            gunzip(&bytes, max).map_err(|m| {
                Failure::Fatal(SourceError::BadResponse {
                    request: req.line(),
                    message: m,
                })
            })?
        } else {
            bytes
        };
        let checked = match expect {
            Expect::Json => Some(check_json(&bytes)),
            Expect::Jsonp => Some(check_json(strip_jsonp(&bytes))),
            Expect::Any => None,
        };
        if let Some(checked) = checked {
            checked.map_err(|m| {
                Failure::Fatal(SourceError::BadResponse {
                    request: req.line(),
                    message: m,
                })
            })?;
        }
        let payload = Payload {
            sha256: sha256_hex(&bytes),
            bytes,
            retrieved_at: Utc::now(),
        };
        self.archive
            .record(&meta, &payload)
            .map_err(|e| Failure::Fatal(archive_error(req, &e)))?;
        Ok(Fetched {
            payload,
            origin: Origin::Downloaded,
        })
    }
}

fn transport(e: &reqwest::Error) -> Failure {
    let what = if e.is_timeout() {
        "timed out"
    } else if e.is_connect() {
        "could not connect"
    } else if e.is_body() || e.is_decode() {
        "the response body was cut off"
    } else {
        "the request failed"
    };
    // The full chain names the cause (connection refused, reset, ...).
    let mut parts = vec![what.to_owned()];
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        parts.push(s.to_string());
        source = s.source();
    }
    let message = parts.join(": ");
    Failure::Retry(message, None)
}

fn archive_error(req: &Request, e: &dyn std::fmt::Display) -> SourceError {
    SourceError::BadResponse {
        request: req.line(),
        message: format!("the raw archive failed: {e}"),
    }
}

/// The start of an error body, for messages (PxWeb answers `{"error": "..."}` or text).
fn server_message(bytes: &[u8]) -> String {
    let text = String::from_utf8_lossy(bytes);
    let text = text.trim();
    if text.is_empty() {
        return String::new();
    }
    let short: String = text.chars().take(300).collect();
    let more = if short.len() < text.len() { " ..." } else { "" };
    format!(
        ": {}{more}",
        short.split_whitespace().collect::<Vec<_>>().join(" ")
    )
}

fn gunzip(bytes: &[u8], max: u64) -> Result<Vec<u8>, String> {
    let mut out = Vec::new();
    flate2::read::GzDecoder::new(bytes)
        .take(max + 1)
        .read_to_end(&mut out)
        .map_err(|e| format!("the gzip body cannot be decompressed: {e}"))?;
    if out.len() as u64 > max {
        return Err(format!(
            "the decompressed response is larger than the maximum of {max} bytes"
        ));
    }
    Ok(out)
}

/// A body that should be JSON: an HTML page or a cut-off document is an error, never data.
/// The JSON inside a JSONP answer (`name(` ... `)` with an optional `;`), or the bytes as they
/// are when they are not wrapped.
pub fn strip_jsonp(bytes: &[u8]) -> &[u8] {
    let trimmed = bytes.trim_ascii();
    let is_name = |b: &u8| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'$');
    let name_len = trimmed.iter().take_while(|b| is_name(b)).count();
    if name_len == 0 || trimmed.get(name_len) != Some(&b'(') {
        return bytes;
    }
    let inner = &trimmed[name_len + 1..];
    let inner = inner.strip_suffix(b";").unwrap_or(inner).trim_ascii_end();
    inner.strip_suffix(b")").unwrap_or(inner)
}

fn check_json(bytes: &[u8]) -> Result<(), String> {
    let body = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    match body.iter().find(|b| !b.is_ascii_whitespace()) {
        None => return Err("the response body is empty".into()),
        Some(b'{' | b'[') => {}
        Some(_) => {
            let head: String = String::from_utf8_lossy(&body[..body.len().min(80)])
                .split_whitespace()
                .collect::<Vec<_>>()
                .join(" ");
            return Err(format!("the response is not JSON (it starts `{head}`)"));
        }
    }
    serde_json::from_slice::<serde::de::IgnoredAny>(body)
        .map(|_| ())
        .map_err(|e| format!("the response is not complete JSON: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jsonp_is_unwrapped() {
        let body = b"thl.pivot.loadDimensions(\n[{\"id\": \"a\"}]\n);\n";
        assert_eq!(strip_jsonp(body), b"\n[{\"id\": \"a\"}]\n");
        assert!(check_json(strip_jsonp(body)).is_ok());
        // Cut off: the inner JSON is incomplete.
        assert!(check_json(strip_jsonp(b"thl.pivot.loadDimensions(\n[{\"id\": ")).is_err());
        // Not wrapped: as it is.
        assert_eq!(strip_jsonp(b"[1]"), b"[1]");
    }

    #[test]
    fn json_bodies_are_checked() {
        assert!(check_json(br#"[{"a":1}]"#).is_ok());
        assert!(check_json(b"\xEF\xBB\xBF {\"a\":1}").is_ok());
        let html = check_json(b"<!DOCTYPE html><html><body>Service unavailable").unwrap_err();
        assert!(
            html.contains("not JSON") && html.contains("<!DOCTYPE html>"),
            "{html}"
        );
        let cut = check_json(br#"[{"indicator":127,"reg"#).unwrap_err();
        assert!(cut.contains("not complete JSON"), "{cut}");
        assert!(check_json(b"  ").unwrap_err().contains("empty"));
    }

    #[test]
    fn gzip_round_trip_and_limit() {
        use std::io::Write;
        let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        enc.write_all(&[b'x'; 1000]).unwrap();
        let gz = enc.finish().unwrap();
        assert_eq!(gunzip(&gz, 1000).unwrap().len(), 1000);
        assert!(gunzip(&gz, 999).unwrap_err().contains("larger than"));
        assert!(gunzip(b"not gzip", 10).is_err());
    }

    #[test]
    fn server_messages_are_short_and_on_one_line() {
        assert_eq!(server_message(b""), "");
        assert_eq!(
            server_message(b"{\"error\":\n \"Too many values selected\"}"),
            ": {\"error\": \"Too many values selected\"}"
        );
        assert!(server_message(&[b'a'; 1000]).ends_with(" ..."));
    }

    #[test]
    fn request_lines() {
        assert_eq!(
            Request::get("https://sotkanet.fi/rest/1.1/regions").line(),
            "GET https://sotkanet.fi/rest/1.1/regions"
        );
        assert_eq!(
            Request::post("http://127.0.0.1:9/x", "{}".into()).host(),
            "127.0.0.1"
        );
    }
}

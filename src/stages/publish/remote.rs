//! Publishing to object storage: `--out az://container/prefix` (Azure Blob Storage and ADLS Gen2,
//! also `abfss://container@account.dfs.core.windows.net/prefix`), `s3://bucket/prefix` and
//! `gs://bucket/prefix`.
//!
//! A run with such an output works as with a local folder, in a local copy of it (the *mirror*,
//! `<cache>/outputs/<scheme>/[<account>/]<bucket>/<prefix>`, beside the payload archive):
//! staging, checks, the local commit, the run state and the history all stay local. After the
//! local commit the run
//! copies its set to the store, so that a reader of the store sees either the previous set or
//! this one, whole:
//!
//! ```text
//! <prefix>/runs/<run_id>/<path>          every output the manifest lists, at its path
//! <prefix>/runs/<run_id>/manifest.json   written after every output it names
//! <prefix>/_runs/<run_id>.json           every run's manifest
//! <prefix>/current.json                  {"run_id", "manifest", "published_at"}: written last
//! <prefix>/_lock.json                    while a run publishes here
//! ```
//!
//! `current.json` is the pointer readers follow; one PUT replaces it, which all three stores make
//! atomic, so it changes only after everything it names is in place. An output whose file is the
//! same as the previous run's (its sha256 in the previous manifest: an unchanged output kept by
//! the local publisher keeps its bytes) is copied inside the store instead of uploaded again. A
//! failure before the pointer leaves `current.json` naming the previous set, removes what this
//! run uploaded, and fails the run (exit 4); sets older than the previous one are removed after
//! the pointer moved, so a reader that resolved the pointer just before still finds its set.
//!
//! One run at a time per prefix: the lock object is created with a conditional PUT
//! (`If-None-Match: *`), so of two runs on two machines only one gets it; the other waits up to
//! `--wait`, then stops with exit 5. A lock left by a run that died expires after
//! [`LOCK_TTL_HOURS`] hours and is then taken over, again conditionally (`If-Match` on its `ETag`).
//!
//! Credentials come from the environment, as each store's own tools read them, through
//! `object_store` (the crate polars builds for its cloud support): `AZURE_STORAGE_ACCOUNT_NAME` with
//! `AZURE_STORAGE_ACCOUNT_KEY`, a SAS, a service principal (`AZURE_CLIENT_ID`, `AZURE_TENANT_ID`,
//! `AZURE_CLIENT_SECRET`), workload identity or, with none of these, the managed identity of the
//! machine; `AWS_ACCESS_KEY_ID` and friends, `AWS_ENDPOINT` for S3-compatible stores, or the
//! instance's role; `GOOGLE_SERVICE_ACCOUNT` / `GOOGLE_APPLICATION_CREDENTIALS` or the metadata
//! server.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use futures::{StreamExt, TryStreamExt};
use object_store::path::Path as Key;
use object_store::{
    ObjectStore, ObjectStoreExt, PutMode, PutOptions, PutPayload, UpdateVersion, WriteMultipart,
};
use serde::{Deserialize, Serialize};
use tracing::{info, warn};

use crate::error::{ConfigError, Error, InternalError};

/// URL schemes of object storage that `--out` and `output.dir` accept.
pub const SCHEMES: &[&str] = &["az", "azure", "abfs", "abfss", "adl", "s3", "s3a", "gs"];

/// After how long a lock left in the store by a run that died is taken over.
pub const LOCK_TTL_HOURS: i64 = 12;

/// Files larger than this are uploaded in parts of this size.
const PART_BYTES: usize = 16 << 20;

/// Outputs uploaded or copied at the same time.
const CONCURRENT: usize = 4;

/// Whether an output location names object storage rather than a folder.
pub fn is_remote(location: &Path) -> bool {
    location
        .to_str()
        .and_then(|s| s.split_once("://"))
        .is_some_and(|(scheme, _)| SCHEMES.contains(&scheme.to_ascii_lowercase().as_str()))
}

/// What `current.json` says: the set readers should read.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Pointer {
    /// The run whose set is current.
    pub run_id: String,
    /// Its manifest, relative to the prefix.
    pub manifest: String,
    /// When the pointer was moved to it.
    pub published_at: DateTime<Utc>,
}

/// Who holds the lock of a prefix.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Holder {
    run_id: String,
    host: String,
    pid: u32,
    started_at: DateTime<Utc>,
    expires_at: DateTime<Utc>,
}

/// The outputs a manifest lists (what publishing needs of it).
#[derive(Debug, Deserialize)]
struct Listed {
    outputs: Vec<ListedOutput>,
}

#[derive(Debug, Deserialize)]
struct ListedOutput {
    path: String,
    sha256: String,
}

/// What publishing to the store did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Published {
    /// Outputs uploaded.
    pub uploaded: usize,
    /// Outputs copied inside the store from the previous set (unchanged).
    pub copied: usize,
    /// Earlier sets removed.
    pub removed_sets: usize,
}

/// An object storage location, parsed (no client, no credentials).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Location {
    url: String,
    scheme: String,
    /// The account's host, where the URL names it (`abfss://container@account.dfs...`).
    account: Option<String>,
    bucket: String,
    prefix: Key,
}

fn usage(message: String) -> ConfigError {
    ConfigError::Usage { message }
}

fn store_error(url: &str, what: &str, e: impl std::fmt::Display) -> InternalError {
    InternalError::Invariant(format!("{url}: {what}: {e}"))
}

impl Location {
    /// Parses `scheme://bucket/prefix` (or `abfss://container@account.../prefix`).
    pub fn parse(location: &Path) -> Result<Location, ConfigError> {
        let text = location.to_str().unwrap_or_default().trim_end_matches('/');
        let url = url::Url::parse(text)
            .map_err(|e| usage(format!("`{text}` is not an object storage URL: {e}")))?;
        let scheme = url.scheme().to_ascii_lowercase();
        // `abfss://container@account.dfs.core.windows.net/...` names the container as its user.
        let (account, bucket) = if url.username().is_empty() {
            (None, url.host_str().unwrap_or_default().to_owned())
        } else {
            (url.host_str().map(str::to_owned), url.username().to_owned())
        };
        if bucket.is_empty() {
            return Err(usage(format!(
                "`{}` names no container or bucket: write e.g. az://container/prefix",
                location.display()
            )));
        }
        let prefix = Key::from_url_path(url.path()).map_err(|e| {
            usage(format!(
                "`{text}`: the prefix is not a valid object path: {e}"
            ))
        })?;
        Ok(Location {
            url: text.to_owned(),
            scheme,
            account,
            bucket,
            prefix,
        })
    }

    /// The local copy of the location inside `cache`: where a run stages, commits and keeps its
    /// state and history.
    pub fn mirror(&self, cache: &Path) -> PathBuf {
        // Two accounts may have containers of the same name: each has its own mirror.
        let mut dir = cache.join("outputs").join(&self.scheme);
        if let Some(account) = &self.account {
            dir.push(account);
        }
        dir.push(&self.bucket);
        for part in self.prefix.parts() {
            dir.push(part.as_ref());
        }
        dir
    }

    /// The URL, without a trailing slash.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// An object as an `OpenLineage` dataset: `scheme://bucket` and the object's key.
    pub fn dataset(&self, relative: &str) -> (String, String) {
        (
            format!("{}://{}", self.scheme, self.bucket),
            self.key(relative).to_string(),
        )
    }

    fn key(&self, relative: &str) -> Key {
        relative
            .split('/')
            .filter(|p| !p.is_empty())
            .fold(self.prefix.clone(), Key::join)
    }
}

/// An output location in object storage, with its client.
pub struct Remote {
    location: Location,
    store: Arc<dyn ObjectStore>,
    rt: tokio::runtime::Runtime,
}

impl std::fmt::Debug for Remote {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Remote")
            .field("location", &self.location)
            .field("store", &self.store)
            .finish_non_exhaustive()
    }
}

impl Remote {
    /// Opens an output location in object storage, with credentials from the environment (no
    /// request is made yet).
    pub fn open(location: &Path) -> Result<Remote, ConfigError> {
        let location = Location::parse(location)?;
        let text = location.url.as_str();
        let built: Result<Arc<dyn ObjectStore>, object_store::Error> =
            match location.scheme.as_str() {
                "s3" | "s3a" => object_store::aws::AmazonS3Builder::from_env()
                    .with_url(text)
                    .build()
                    .map(|s| Arc::new(s) as Arc<dyn ObjectStore>),
                "gs" => object_store::gcp::GoogleCloudStorageBuilder::from_env()
                    .with_url(text)
                    .build()
                    .map(|s| Arc::new(s) as Arc<dyn ObjectStore>),
                _ => object_store::azure::MicrosoftAzureBuilder::from_env()
                    .with_url(text)
                    .build()
                    .map(|s| Arc::new(s) as Arc<dyn ObjectStore>),
            };
        let store = built.map_err(|e| {
            usage(format!(
                "cannot use `{text}`: {e} (credentials come from the environment: see \
                 docs/data-platform.md)"
            ))
        })?;
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| usage(format!("cannot start the runtime for `{text}`: {e}")))?;
        Ok(Remote {
            location,
            store,
            rt,
        })
    }

    /// Where it is.
    pub fn location(&self) -> &Location {
        &self.location
    }

    /// The local copy of the location inside `cache` (see [`Location::mirror`]).
    pub fn mirror(&self, cache: &Path) -> PathBuf {
        self.location.mirror(cache)
    }

    fn key(&self, relative: &str) -> Key {
        self.location.key(relative)
    }

    /// The URL, without a trailing slash.
    pub fn url(&self) -> &str {
        &self.location.url
    }

    async fn read(
        &self,
        relative: &str,
    ) -> Result<Option<(Vec<u8>, UpdateVersion)>, InternalError> {
        match self.store.get(&self.key(relative)).await {
            Ok(got) => {
                let version = UpdateVersion {
                    e_tag: got.meta.e_tag.clone(),
                    version: got.meta.version.clone(),
                };
                let bytes = got.bytes().await.map_err(|e| {
                    store_error(&self.location.url, &format!("reading {relative}"), e)
                })?;
                Ok(Some((bytes.to_vec(), version)))
            }
            Err(object_store::Error::NotFound { .. }) => Ok(None),
            Err(e) => Err(store_error(
                &self.location.url,
                &format!("reading {relative}"),
                e,
            )),
        }
    }

    /// The set readers read now, if any run has published here.
    pub fn current(&self) -> Result<Option<Pointer>, InternalError> {
        self.rt.block_on(self.pointer())
    }

    async fn pointer(&self) -> Result<Option<Pointer>, InternalError> {
        let Some((bytes, _)) = self.read("current.json").await? else {
            return Ok(None);
        };
        serde_json::from_slice(&bytes).map(Some).map_err(|e| {
            store_error(
                &self.location.url,
                "current.json is not a pointer mittari wrote",
                e,
            )
        })
    }

    /// Takes the prefix's lock for `run_id`, waiting up to `wait` for another run to let it go.
    pub fn lock(&self, run_id: &str, wait: Duration) -> Result<RemoteLock<'_>, Error> {
        let started = Instant::now();
        let now = Utc::now();
        let holder = Holder {
            run_id: run_id.to_owned(),
            host: std::env::var(crate::env_vars::HOSTNAME).unwrap_or_default(),
            pid: std::process::id(),
            started_at: now,
            expires_at: now + chrono::Duration::hours(LOCK_TTL_HOURS),
        };
        let body = serde_json::to_vec_pretty(&holder)
            .map_err(|e| InternalError::Invariant(format!("serialising the lock: {e}")))?;
        let key = self.key("_lock.json");
        loop {
            let put = |mode| {
                let opts = PutOptions {
                    mode,
                    ..PutOptions::default()
                };
                self.store
                    .put_opts(&key, PutPayload::from(body.clone()), opts)
            };
            match self.rt.block_on(put(PutMode::Create)) {
                Ok(_) => {
                    return Ok(RemoteLock {
                        remote: self,
                        run_id: run_id.to_owned(),
                    });
                }
                Err(
                    object_store::Error::AlreadyExists { .. }
                    | object_store::Error::Precondition { .. },
                ) => {}
                Err(e) => return Err(store_error(&self.location.url, "taking the lock", e).into()),
            }
            let Some((bytes, version)) = self.rt.block_on(self.read("_lock.json"))? else {
                continue; // released meanwhile
            };
            let other: Option<Holder> = serde_json::from_slice(&bytes).ok();
            let expired = other.as_ref().is_none_or(|h| h.expires_at < Utc::now());
            if expired {
                match self.rt.block_on(put(PutMode::Update(version))) {
                    Ok(_) => {
                        warn!(url = %self.location.url, "Took over a lock left by a run that did not finish");
                        return Ok(RemoteLock {
                            remote: self,
                            run_id: run_id.to_owned(),
                        });
                    }
                    Err(object_store::Error::Precondition { .. }) => continue,
                    Err(e) => {
                        return Err(
                            store_error(&self.location.url, "taking over the lock", e).into()
                        );
                    }
                }
            }
            if started.elapsed() >= wait {
                let who = other.map_or_else(String::new, |h| {
                    format!(
                        " by run {} (pid {} on `{}`, started {}; its lock expires {})",
                        h.run_id, h.pid, h.host, h.started_at, h.expires_at
                    )
                });
                return Err(ConfigError::Busy {
                    message: format!(
                        "{} is in use{who}: retry later, or wait longer with --wait SECONDS \
                         (exit 5). If that run is known to be dead, delete {}/_lock.json.",
                        self.location.url, self.location.url
                    ),
                }
                .into());
            }
            std::thread::sleep(Duration::from_millis(500));
        }
    }

    /// Publishes the committed set of the local mirror `out` (the manifest at `manifest`) as run
    /// `run_id`'s set, moving `current.json` to it last.
    pub fn publish(
        &self,
        out: &Path,
        manifest: &Path,
        run_id: &str,
    ) -> Result<Published, InternalError> {
        let json =
            fs_err::read(manifest).map_err(|e| crate::io::atomic::write_error(manifest, e))?;
        let listed: Listed = serde_json::from_slice(&json)
            .map_err(|e| InternalError::Invariant(format!("{}: {e}", manifest.display())))?;
        let root = format!("runs/{run_id}");
        let result = self.rt.block_on(async {
            let previous = self.pointer().await?;
            let before = match &previous {
                Some(p) => self.previous_outputs(p).await?,
                None => BTreeMap::new(),
            };
            let mut published = Published::default();
            let jobs = listed.outputs.iter().map(|o| {
                let from = previous
                    .as_ref()
                    .filter(|_| before.get(&o.path) == Some(&o.sha256))
                    .map(|p| self.key(&format!("runs/{}/{}", p.run_id, o.path)));
                let to = self.key(&format!("{root}/{}", o.path));
                let file = out.join(&o.path);
                async move {
                    if let Some(from) = from {
                        match self.store.copy(&from, &to).await {
                            Ok(()) => return Ok::<bool, InternalError>(false),
                            // Removed from the previous set by hand: uploaded instead.
                            Err(object_store::Error::NotFound { .. }) => {}
                            Err(e) => {
                                let what = format!("copying {from} to {to}");
                                return Err(store_error(&self.location.url, &what, e));
                            }
                        }
                    }
                    self.upload(&file, &to).await?;
                    Ok(true)
                }
            });
            let done: Vec<bool> = futures::stream::iter(jobs)
                .buffer_unordered(CONCURRENT)
                .try_collect()
                .await?;
            published.uploaded = done.iter().filter(|u| **u).count();
            published.copied = done.len() - published.uploaded;
            super::versions::fault("remote-manifest")?;
            self.put(&format!("{root}/manifest.json"), json.clone())
                .await?;
            self.put(&format!("_runs/{run_id}.json"), json.clone())
                .await?;
            super::versions::fault("remote-pointer")?;
            let pointer = Pointer {
                run_id: run_id.to_owned(),
                manifest: format!("{root}/manifest.json"),
                published_at: Utc::now(),
            };
            let body = serde_json::to_vec_pretty(&pointer)
                .map_err(|e| InternalError::Invariant(format!("serialising the pointer: {e}")))?;
            self.put("current.json", body).await?;
            Ok::<_, InternalError>((published, previous))
        });
        let (mut published, previous) = match result {
            Ok(done) => done,
            Err(e) => {
                // Readers still see the previous set; what this run uploaded goes.
                if let Err(cleanup) = self.rt.block_on(self.remove_set(run_id)) {
                    warn!(url = %self.location.url, "Could not remove the unpublished set {root}: {cleanup}");
                }
                return Err(e);
            }
        };
        let keep: Vec<&str> = std::iter::once(run_id)
            .chain(previous.as_ref().map(|p| p.run_id.as_str()))
            .collect();
        match self.rt.block_on(self.remove_others(&keep)) {
            Ok(n) => published.removed_sets = n,
            Err(e) => warn!(url = %self.location.url, "Earlier sets could not be removed: {e}"),
        }
        info!(
            url = %self.location.url,
            uploaded = published.uploaded,
            copied = published.copied,
            "Published to object storage"
        );
        Ok(published)
    }

    async fn previous_outputs(
        &self,
        p: &Pointer,
    ) -> Result<BTreeMap<String, String>, InternalError> {
        let Some((bytes, _)) = self.read(&p.manifest).await? else {
            return Ok(BTreeMap::new());
        };
        Ok(serde_json::from_slice::<Listed>(&bytes)
            .map(|l| l.outputs.into_iter().map(|o| (o.path, o.sha256)).collect())
            .unwrap_or_default())
    }

    async fn put(&self, relative: &str, body: Vec<u8>) -> Result<(), InternalError> {
        self.store
            .put(&self.key(relative), PutPayload::from(body))
            .await
            .map(drop)
            .map_err(|e| store_error(&self.location.url, &format!("writing {relative}"), e))
    }

    async fn upload(&self, file: &Path, to: &Key) -> Result<(), InternalError> {
        use std::io::Read;
        let fail = |e: &dyn std::fmt::Display| {
            store_error(&self.location.url, &format!("uploading {to}"), e)
        };
        let mut f =
            fs_err::File::open(file).map_err(|e| crate::io::atomic::write_error(file, e))?;
        let size = f.metadata().map_or(0, |m| m.len());
        if size <= PART_BYTES as u64 {
            let mut bytes = Vec::new();
            f.read_to_end(&mut bytes)
                .map_err(|e| crate::io::atomic::write_error(file, e))?;
            self.store
                .put(to, PutPayload::from(bytes))
                .await
                .map_err(|e| fail(&e))?;
            return Ok(());
        }
        let upload = self.store.put_multipart(to).await.map_err(|e| fail(&e))?;
        let mut writer = WriteMultipart::new_with_chunk_size(upload, PART_BYTES);
        let mut buf = vec![0; PART_BYTES];
        loop {
            let n = f
                .read(&mut buf)
                .map_err(|e| crate::io::atomic::write_error(file, e))?;
            if n == 0 {
                break;
            }
            writer
                .wait_for_capacity(CONCURRENT)
                .await
                .map_err(|e| fail(&e))?;
            writer.write(&buf[..n]);
        }
        writer.finish().await.map(drop).map_err(|e| fail(&e))
    }

    async fn remove_set(&self, run_id: &str) -> Result<(), object_store::Error> {
        let root = self.key(&format!("runs/{run_id}"));
        let objects: Vec<_> = self.store.list(Some(&root)).try_collect().await?;
        for o in objects {
            self.store.delete(&o.location).await?;
        }
        Ok(())
    }

    async fn remove_others(&self, keep: &[&str]) -> Result<usize, object_store::Error> {
        let runs = self.key("runs");
        let listed = self.store.list_with_delimiter(Some(&runs)).await?;
        let mut removed = 0;
        for set in listed.common_prefixes {
            let Some(name) = set.filename().map(str::to_owned) else {
                continue;
            };
            if !keep.contains(&name.as_str()) {
                self.remove_set(&name).await?;
                removed += 1;
            }
        }
        Ok(removed)
    }
}

/// The lock of a prefix, held by one run; removed on drop.
#[derive(Debug)]
pub struct RemoteLock<'a> {
    remote: &'a Remote,
    run_id: String,
}

impl Drop for RemoteLock<'_> {
    fn drop(&mut self) {
        let r = self.remote;
        // Only a lock this run still holds: a run that outlived its lock's expiry must not
        // remove the lock of the run that took it over.
        let ours =
            r.rt.block_on(r.read("_lock.json"))
                .ok()
                .flatten()
                .is_some_and(|(b, _)| {
                    serde_json::from_slice::<Holder>(&b).is_ok_and(|h| h.run_id == self.run_id)
                });
        if ours && let Err(e) = r.rt.block_on(r.store.delete(&r.key("_lock.json"))) {
            warn!(url = %r.location.url, "The lock could not be removed: {e}");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn remote_locations_by_scheme() {
        for url in [
            "az://c/p",
            "s3://b/p",
            "gs://b",
            "ABFSS://c@a.dfs.core.windows.net/x",
        ] {
            assert!(is_remote(Path::new(url)), "{url}");
        }
        for path in [
            "out/x",
            "/tmp/out",
            "C:/out",
            "file:///tmp/x",
            "http://host/x",
        ] {
            assert!(!is_remote(Path::new(path)), "{path}");
        }
    }

    #[test]
    fn the_mirror_and_keys_follow_the_prefix() {
        // Building a client makes no request.
        let r = Remote::open(Path::new("s3://bucket/county/outputs/")).expect("opens");
        assert_eq!(r.location.url(), "s3://bucket/county/outputs");
        assert_eq!(
            r.mirror(Path::new("/cache")),
            Path::new("/cache/outputs/s3/bucket/county/outputs")
        );
        assert_eq!(
            r.key("runs/x/a.parquet").as_ref(),
            "county/outputs/runs/x/a.parquet"
        );
        let adls = |url: &str| {
            Location::parse(Path::new(url))
                .expect("parses")
                .mirror(Path::new("/cache"))
        };
        assert_eq!(
            adls("abfss://data@one.dfs.core.windows.net/mittari"),
            Path::new("/cache/outputs/abfss/one.dfs.core.windows.net/data/mittari")
        );
        assert_ne!(
            adls("abfss://data@one.dfs.core.windows.net/mittari"),
            adls("abfss://data@two.dfs.core.windows.net/mittari")
        );
        let e = Location::parse(Path::new("az:///prefix")).expect_err("no container");
        assert!(e.to_string().contains("names no container"), "{e}");
    }
}

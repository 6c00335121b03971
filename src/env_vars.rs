//! Every environment variable mittari reads, in one place.

/// Output folder of `mittari run` (same as `--out`).
pub const MITTARI_OUT: &str = "MITTARI_OUT";
/// Raw payload archive folder (same as `--cache`).
pub const MITTARI_CACHE: &str = "MITTARI_CACHE";
/// Log level override: `error`, `warn`, `info`, `debug` or `trace` (takes precedence over `-v`/`-q`).
pub const MITTARI_LOG: &str = "MITTARI_LOG";
/// Log format: `text` (default) or `json`.
pub const MITTARI_LOG_FORMAT: &str = "MITTARI_LOG_FORMAT";
/// The machine's name, recorded in the lock a run takes on an object storage output.
pub const HOSTNAME: &str = "HOSTNAME";
/// Base folder for caches (XDG); the default archive is `$XDG_CACHE_HOME/mittari`.
pub const XDG_CACHE_HOME: &str = "XDG_CACHE_HOME";
/// The user's home; the default archive falls back to `$HOME/.cache/mittari`.
pub const HOME: &str = "HOME";
/// Disables colour when set to any non-empty value (<https://no-color.org>).
pub const NO_COLOR: &str = "NO_COLOR";
/// Contact (e-mail or URL) appended to the HTTP User-Agent; overrides the pipeline's
/// `http.contact`.
pub const MITTARI_CONTACT: &str = "MITTARI_CONTACT";
/// Where Open Lineage run events go: a file (a JSON object per line) or an `http(s)://` endpoint;
/// overrides the pipeline's `[lineage]`.
pub const MITTARI_LINEAGE: &str = "MITTARI_LINEAGE";

/// The operator's contact for the User-Agent, when `MITTARI_CONTACT` is set and not empty.
pub fn contact() -> Option<String> {
    std::env::var(MITTARI_CONTACT)
        .ok()
        .filter(|c| !c.trim().is_empty())
}

/// Secret salt for respondent keys of maturity surveys; keep it stable to keep keys stable
/// between runs. Without it, each run salts with a random value.
pub const MITTARI_SURVEY_SALT: &str = "MITTARI_SURVEY_SALT";

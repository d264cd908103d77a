//! The per-issuer JWKS cache shared by concurrent processes.
//!
//! Protocol, per issuer, in `dir`:
//! - `<b64url(sha256(issuer))>.json` holds the record; it is only ever replaced by rename, so
//!   readers need no lock and always see a whole record.
//! - `<same>.lock` is the writers' lock. It is a separate file because a lock on the data file
//!   would be lost with the inode that rename replaces.
//! - A fresh hit is a plain read. Everything else takes the lock, re-reads (someone else may
//!   just have refreshed), and only then fetches; so N cold processes fetch once.

use std::fs::{File, OpenOptions, TryLockError};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use crate::file::{self, Entry};
use crate::{Error, FetchedKeys, Jwks, JwksFetcher};

/// Pause between lock attempts; short because the holder is doing one HTTP round trip.
const LOCK_POLL: Duration = Duration::from_millis(20);

/// Cache tuning.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CacheOptions {
    /// Cache directory; `None` disables caching (every call fetches).
    pub dir: Option<PathBuf>,
    /// A cached JWKS younger than this is used without any network. Default 1 h.
    pub max_age: Duration,
    /// When a fetch fails, a cached JWKS younger than `max_age + stale_if_error` is still used
    /// (reported as [`Source::StaleAfterError`]). Default 24 h.
    pub stale_if_error: Duration,
    /// Minimum time between fetches triggered by an unknown `kid` or by a failed fetch, so
    /// tokens with made-up `kid`s or an OP outage cannot make every login hit the network.
    /// Default 30 s.
    pub refetch_min_interval: Duration,
    /// How long to wait for another process's refresh before fetching without the lock.
    /// Default 10 s.
    pub lock_wait: Duration,
}

impl Default for CacheOptions {
    fn default() -> Self {
        Self {
            dir: None,
            max_age: Duration::from_secs(3600),
            stale_if_error: Duration::from_secs(24 * 3600),
            refetch_min_interval: Duration::from_secs(30),
            lock_wait: Duration::from_secs(10),
        }
    }
}

/// Where the JWKS in a [`JwksOutcome`] came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    /// The cache file, within `max_age` (or an unknown-`kid` re-fetch was rate limited).
    Cache,
    /// Fetched from the OP just now.
    Fetched,
    /// The fetch failed (now, or recently and a retry is being held back); this is an older
    /// cached copy within `max_age + stale_if_error`. Callers should log it.
    StaleAfterError,
}

/// The result of [`JwksCache::get`].
#[derive(Debug, Clone)]
pub struct JwksOutcome {
    /// The JWKS.
    pub jwks: Jwks,
    /// Where it came from.
    pub source: Source,
    /// Non-fatal problems worth logging (unwritable cache, ignored corrupt file, fetch error
    /// behind a stale answer, rate-limited re-fetch, lock wait timeout).
    pub warnings: Vec<String>,
    /// The OP's `userinfo_endpoint`, learned by the same discovery as the keys (`None`: it has
    /// none, or the record predates this field).
    pub userinfo_endpoint: Option<String>,
}

/// A JWKS cache; see the module docs for the on-disk protocol.
#[derive(Debug, Clone)]
pub struct JwksCache {
    opts: CacheOptions,
}

impl JwksCache {
    /// A cache with these options. Touches nothing on disk until [`JwksCache::get`].
    pub fn new(opts: CacheOptions) -> Self {
        Self { opts }
    }

    /// The cache file used for `issuer`, if caching is enabled.
    pub fn cache_path(&self, issuer: &str) -> Option<PathBuf> {
        let dir = self.opts.dir.as_ref()?;
        Some(dir.join(format!("{}.json", file::base_name(issuer))))
    }

    /// Returns the JWKS for `issuer` that should contain `kid` (`None`: any key will do).
    ///
    /// A fresh cached copy that contains `kid` is returned without network or lock. Otherwise
    /// the copy is refreshed under the per-issuer lock. The returned JWKS may still lack `kid`
    /// (the OP does not have it, or re-fetching is rate limited); key selection is the caller's.
    pub fn get(
        &self,
        issuer: &str,
        kid: Option<&str>,
        now: SystemTime,
        fetcher: &dyn JwksFetcher,
    ) -> Result<JwksOutcome, Error> {
        let Some(path) = self.cache_path(issuer) else {
            return fetcher
                .fetch_with_userinfo_endpoint(issuer)
                .map(|keys| fetched(keys, vec![]));
        };
        // A directory others can write is no cache at all: fetch, and say why.
        if let Some(dir) = path.parent()
            && let Ok(meta) = std::fs::metadata(dir)
            && let Some(why) = opk_files::trust_problem(&meta)
        {
            let warning = format!(
                "not using JWKS cache directory {}: it is {why}",
                dir.display()
            );
            return fetcher
                .fetch_with_userinfo_endpoint(issuer)
                .map(|keys| fetched(keys, vec![warning]));
        }
        let now = unix_secs(now);

        // Fast path: no lock, no directory creation, no network.
        if let Ok(Some(entry)) = file::read(&path, issuer)
            && self.is_fresh(&entry, now)
            && has_kid(&entry.jwks, kid)
        {
            return Ok(outcome(entry, Source::Cache, vec![]));
        }

        let mut warnings = Vec::new();
        let lock = self.lock(&path, &mut warnings);
        let cached = match file::read(&path, issuer) {
            Ok(entry) => entry,
            Err(reason) => {
                warnings.push(format!(
                    "ignoring JWKS cache file {} ({reason}); it will be replaced",
                    path.display()
                ));
                None
            }
        };

        if let Some(entry) = &cached
            && let Some(done) = self.answer_without_fetch(entry, issuer, kid, now, &mut warnings)
        {
            return Ok(outcome(entry.clone(), done, warnings));
        }

        match fetcher.fetch_with_userinfo_endpoint(issuer) {
            Ok(keys) => {
                let entry = Entry {
                    issuer: issuer.to_owned(),
                    fetched_at: now,
                    jwks: keys.jwks,
                    failed_at: None,
                    userinfo_endpoint: keys.userinfo_endpoint,
                };
                // Written even without the lock: concurrent writers all hold fresh data and
                // rename is atomic, so last-writer-wins is harmless.
                store(&path, &entry, &mut warnings);
                Ok(outcome(entry, Source::Fetched, warnings))
            }
            Err(err) => {
                let Some(mut entry) = cached.filter(|e| self.is_usable_stale(e, now)) else {
                    return Err(err);
                };
                warnings.push(format!(
                    "{err}; using the cached JWKS fetched {}s ago",
                    now.saturating_sub(entry.fetched_at)
                ));
                // Remember the failure so other processes back off; only under the lock, so
                // we never overwrite a newer record written by a lock holder.
                if lock.is_some() {
                    entry.failed_at = Some(now);
                    store(&path, &entry, &mut warnings);
                }
                Ok(outcome(entry, Source::StaleAfterError, warnings))
            }
        }
    }

    /// Under the lock, with a valid cached record: can we answer without fetching?
    fn answer_without_fetch(
        &self,
        entry: &Entry,
        issuer: &str,
        kid: Option<&str>,
        now: u64,
        warnings: &mut Vec<String>,
    ) -> Option<Source> {
        if self.is_fresh(entry, now) {
            if has_kid(&entry.jwks, kid) {
                // Another process refreshed it while we waited for the lock.
                return Some(Source::Cache);
            }
            let last_try = entry.fetched_at.max(entry.failed_at.unwrap_or(0));
            if self.within(last_try, now, self.opts.refetch_min_interval) {
                warnings.push(format!(
                    "kid {:?} is not in the cached JWKS of {issuer}, which was refreshed less than {}s ago; not re-fetching yet",
                    kid.unwrap_or_default(),
                    self.opts.refetch_min_interval.as_secs()
                ));
                return Some(Source::Cache);
            }
            return None;
        }
        if let Some(failed_at) = entry.failed_at
            && self.within(failed_at, now, self.opts.refetch_min_interval)
            && self.is_usable_stale(entry, now)
        {
            warnings.push(format!(
                "the last JWKS fetch for {issuer} failed {}s ago; using the cached JWKS fetched {}s ago and retrying after {}s",
                now.saturating_sub(failed_at),
                now.saturating_sub(entry.fetched_at),
                self.opts.refetch_min_interval.as_secs()
            ));
            return Some(Source::StaleAfterError);
        }
        None
    }

    fn is_fresh(&self, entry: &Entry, now: u64) -> bool {
        self.within(entry.fetched_at, now, self.opts.max_age)
    }

    fn is_usable_stale(&self, entry: &Entry, now: u64) -> bool {
        let limit = self.opts.max_age.saturating_add(self.opts.stale_if_error);
        self.within(entry.fetched_at, now, limit)
    }

    /// `now - then < window`. A `then` in the future (clock stepped back, or a forged file)
    /// counts as outside every window: such a record is re-fetched rather than trusted forever.
    fn within(&self, then: u64, now: u64, window: Duration) -> bool {
        then <= now && Duration::from_secs(now - then) < window
    }

    /// Takes the exclusive per-issuer lock, waiting at most `lock_wait`. `None`: proceed
    /// without it (cannot create the directory or lock file, or the holder is stuck).
    fn lock(&self, data_path: &Path, warnings: &mut Vec<String>) -> Option<File> {
        let dir = data_path.parent()?;
        if let Err(e) = file::ensure_dir(dir) {
            warnings.push(format!(
                "cannot create JWKS cache directory {} ({e}); caching disabled for this run, create it or fix its permissions",
                dir.display()
            ));
            return None;
        }
        let lock_path = data_path.with_extension("lock");
        // Read-only is enough for flock; fall back to it when the file exists but is not ours.
        let opened = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&lock_path)
            .or_else(|_| File::open(&lock_path));
        let file = match opened {
            Ok(f) => f,
            Err(e) => {
                warnings.push(format!(
                    "cannot open JWKS cache lock {} ({e}); proceeding without it, fix the directory permissions",
                    lock_path.display()
                ));
                return None;
            }
        };
        let start = Instant::now();
        loop {
            match file.try_lock() {
                Ok(()) => return Some(file),
                Err(TryLockError::WouldBlock) if start.elapsed() < self.opts.lock_wait => {
                    std::thread::sleep(LOCK_POLL);
                }
                Err(TryLockError::WouldBlock) => {
                    warnings.push(format!(
                        "JWKS cache lock {} still held after {}s; proceeding without it",
                        lock_path.display(),
                        self.opts.lock_wait.as_secs()
                    ));
                    return None;
                }
                Err(TryLockError::Error(e)) => {
                    warnings.push(format!(
                        "cannot lock {} ({e}); proceeding without the lock",
                        lock_path.display()
                    ));
                    return None;
                }
            }
        }
    }
}

fn store(path: &Path, entry: &Entry, warnings: &mut Vec<String>) {
    if let Err(e) = file::write_atomic(path, entry) {
        warnings.push(format!(
            "cannot write JWKS cache file {} ({e}); the next run will fetch again, fix the directory permissions",
            path.display()
        ));
    }
}

/// Whether `kid` is `None` or the `kid` of some usable key.
fn has_kid(jwks: &Jwks, kid: Option<&str>) -> bool {
    kid.is_none_or(|kid| jwks.has_kid(kid))
}

fn outcome(entry: Entry, source: Source, warnings: Vec<String>) -> JwksOutcome {
    JwksOutcome {
        jwks: entry.jwks,
        source,
        warnings,
        userinfo_endpoint: entry.userinfo_endpoint,
    }
}

/// A fetch that is not cached.
fn fetched(keys: FetchedKeys, warnings: Vec<String>) -> JwksOutcome {
    JwksOutcome {
        jwks: keys.jwks,
        source: Source::Fetched,
        warnings,
        userinfo_endpoint: keys.userinfo_endpoint,
    }
}

fn unix_secs(t: SystemTime) -> u64 {
    t.duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

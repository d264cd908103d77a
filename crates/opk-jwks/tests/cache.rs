//! JwksCache semantics with a counting fake fetcher and real files.

use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Barrier, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use opk_jwks::{
    CacheOptions, Error, FetchedKeys, Jwks, JwksCache, JwksFetcher, JwksOutcome, Source,
};
use serde_json::{Value, json};

const ISS: &str = "https://op.example";

/// Counts calls; answers with a JWKS holding `kids`, or fails when `kids` is `None`.
struct Fake {
    calls: AtomicUsize,
    kids: Mutex<Option<Vec<&'static str>>>,
    delay: Duration,
}

impl Fake {
    fn with(kids: &[&'static str]) -> Fake {
        Fake {
            calls: AtomicUsize::new(0),
            kids: Mutex::new(Some(kids.to_vec())),
            delay: Duration::ZERO,
        }
    }
    fn set(&self, kids: Option<&[&'static str]>) {
        *self.kids.lock().expect("lock") = kids.map(<[_]>::to_vec);
    }
    fn calls(&self) -> usize {
        self.calls.load(Ordering::SeqCst)
    }
}

/// A JWKS document with one (the same, RFC 8037 A.2) Ed25519 key per kid.
fn jwks(kids: &[&str]) -> Value {
    let x = "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo";
    json!({ "keys": kids.iter().map(|k| json!({"crv": "Ed25519", "kid": k, "kty": "OKP", "x": x})).collect::<Vec<_>>() })
}

fn parsed(kids: &[&str]) -> Jwks {
    Jwks::from_json(&jwks(kids)).expect("valid JWKS")
}

impl JwksFetcher for Fake {
    fn fetch(&self, issuer: &str) -> Result<Jwks, Error> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        std::thread::sleep(self.delay);
        match &*self.kids.lock().expect("lock") {
            Some(kids) => Ok(parsed(kids)),
            None => Err(Error::Fetch {
                issuer: issuer.to_owned(),
                error: "OP is down".into(),
            }),
        }
    }
}

fn kids_of(jwks: &Jwks) -> Vec<String> {
    jwks.keys()
        .iter()
        .map(|k| k.kid().expect("kid").to_owned())
        .collect()
}

fn at(secs: u64) -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(secs)
}

const T0: u64 = 1_700_000_000;

fn cache_in(dir: &Path) -> JwksCache {
    JwksCache::new(CacheOptions {
        dir: Some(dir.to_path_buf()),
        ..CacheOptions::default()
    })
}

fn stored(path: &Path) -> Value {
    serde_json::from_slice(&std::fs::read(path).expect("read cache")).expect("json")
}

/// A cache in a fresh directory and the fake fetcher behind it.
struct Rig {
    dir: tempfile::TempDir,
    cache: JwksCache,
    fake: Fake,
}

impl Rig {
    fn new(kids: &[&'static str]) -> Rig {
        Rig::waiting(kids, CacheOptions::default().lock_wait)
    }

    /// A cache that waits at most `lock_wait` for another process's lock.
    fn waiting(kids: &[&'static str], lock_wait: Duration) -> Rig {
        let dir = tempfile::tempdir().expect("tempdir");
        let cache = JwksCache::new(CacheOptions {
            dir: Some(dir.path().to_path_buf()),
            lock_wait,
            ..CacheOptions::default()
        });
        Rig {
            dir,
            cache,
            fake: Fake::with(kids),
        }
    }

    /// Looks `kid` up at `t`, which must succeed.
    fn get(&self, kid: Option<&str>, t: u64) -> JwksOutcome {
        let out = self.cache.get(ISS, kid, at(t), &self.fake);
        out.unwrap_or_else(|e| panic!("lookup of {kid:?} at T0+{}: {e}", t - T0))
    }

    /// Where a successful lookup's answer came from, and how many fetches there have been.
    fn source(&self, kid: Option<&str>, t: u64) -> (Source, usize) {
        (self.get(kid, t).source, self.fake.calls())
    }

    fn record(&self) -> Value {
        stored(&self.cache.cache_path(ISS).expect("path"))
    }

    /// Takes the issuer's lock as another process would; held until the file is dropped.
    fn hold_lock(&self) -> File {
        let path = self
            .cache
            .cache_path(ISS)
            .expect("path")
            .with_extension("lock");
        let holder = std::fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(false)
            .open(path)
            .expect("lock file");
        holder.lock().expect("hold lock");
        holder
    }
}

fn assert_warned(out: &JwksOutcome, needle: &str) {
    assert!(
        out.warnings.iter().any(|w| w.contains(needle)),
        "no warning with {needle:?}: {:?}",
        out.warnings
    );
}

#[test]
fn cold_fetches_and_writes_then_fresh_hit_does_not_fetch() {
    let rig = Rig::new(&["k1"]);
    let out = rig.get(Some("k1"), T0);
    assert_eq!((out.source, rig.fake.calls()), (Source::Fetched, 1));
    assert!(out.warnings.is_empty(), "{:?}", out.warnings);
    let rec = rig.record();
    assert_eq!(rec["issuer"], ISS);
    assert_eq!(rec["fetched_at"], T0);
    assert_eq!(rec["jwks"], jwks(&["k1"]));

    // Even a failing fetcher is not consulted on a fresh hit (kid given or not).
    rig.fake.set(None);
    for (t, kid) in [(T0 + 1, Some("k1")), (T0 + 3599, None)] {
        let out = rig.get(kid, t);
        assert_eq!(out.source, Source::Cache);
        assert_eq!(kids_of(&out.jwks), ["k1"]);
    }
    assert_eq!(rig.fake.calls(), 1);
}

#[test]
fn stale_refetches() {
    let rig = Rig::new(&["k1"]);
    rig.get(None, T0);
    rig.fake.set(Some(&["k2"]));
    let out = rig.get(None, T0 + 3600);
    assert_eq!((out.source, rig.fake.calls()), (Source::Fetched, 2));
    assert_eq!(kids_of(&out.jwks), ["k2"]);
    assert_eq!(rig.record()["fetched_at"], T0 + 3600);
}

#[test]
fn unknown_kid_refetches_once_then_rate_limits() {
    let rig = Rig::new(&["k1"]);
    rig.get(Some("k1"), T0);

    // Right after a fetch: the unknown kid does not trigger another one.
    let out = rig.get(Some("nope"), T0 + 5);
    assert_eq!((out.source, rig.fake.calls()), (Source::Cache, 1));
    assert_warned(&out, "nope");

    // Later: one re-fetch; the OP still lacks the kid.
    assert_eq!(rig.source(Some("nope"), T0 + 60), (Source::Fetched, 2));
    // ...and then rate limited again, measured from the re-fetch.
    for t in [T0 + 61, T0 + 89] {
        assert_eq!(rig.source(Some("nope"), t), (Source::Cache, 2));
    }
    // A rotated key shows up on the next allowed re-fetch.
    rig.fake.set(Some(&["k1", "new"]));
    let out = rig.get(Some("new"), T0 + 90);
    assert_eq!((out.source, rig.fake.calls()), (Source::Fetched, 3));
    assert_eq!(kids_of(&out.jwks), ["k1", "new"]);
    assert_eq!(rig.source(Some("new"), T0 + 91), (Source::Cache, 3));
}

#[test]
fn fetch_error_with_stale_cache_returns_stale_and_backs_off() {
    let rig = Rig::new(&["k1"]);
    rig.get(None, T0);
    rig.fake.set(None);

    let t1 = T0 + 2 * 3600;
    let out = rig.get(Some("k1"), t1);
    assert_eq!((out.source, rig.fake.calls()), (Source::StaleAfterError, 2));
    assert_eq!(kids_of(&out.jwks), ["k1"]);
    assert_warned(&out, "OP is down");

    // Within refetch_min_interval of the failure: no new attempt; after it, try again.
    assert_eq!(
        rig.source(Some("k1"), t1 + 10),
        (Source::StaleAfterError, 2)
    );
    assert_eq!(
        rig.source(Some("k1"), t1 + 31),
        (Source::StaleAfterError, 3)
    );
    // The OP recovers: fresh data, and the failure mark is gone.
    rig.fake.set(Some(&["k9"]));
    assert_eq!(rig.source(Some("k1"), t1 + 62), (Source::Fetched, 4));
    assert!(rig.record().get("failed_at").is_none());
}

#[test]
fn fetch_error_past_stale_window_is_an_error() {
    let rig = Rig::new(&["k1"]);
    rig.get(None, T0);
    rig.fake.set(None);
    let err = rig
        .cache
        .get(ISS, None, at(T0 + 25 * 3600), &rig.fake)
        .expect_err("too old");
    assert!(matches!(err, Error::Fetch { .. }), "{err:?}");
    // Just inside the window it is still served.
    assert_eq!(
        rig.get(None, T0 + 25 * 3600 - 1).source,
        Source::StaleAfterError
    );
}

#[test]
fn fetch_error_without_cache_is_an_error() {
    let dir = tempfile::tempdir().expect("tempdir");
    let fake = Fake::with(&[]);
    fake.set(None);
    let err = cache_in(dir.path())
        .get(ISS, None, at(T0), &fake)
        .expect_err("no cache");
    assert!(err.to_string().contains("OP is down"));
}

fn recovers_from(content: &[u8]) {
    let rig = Rig::new(&["k1"]);
    std::fs::write(rig.cache.cache_path(ISS).expect("path"), content).expect("plant");
    let out = rig.get(None, T0);
    assert_eq!((out.source, rig.fake.calls()), (Source::Fetched, 1));
    assert_warned(&out, "ignoring");
    let rec = rig.record();
    assert_eq!(
        (rec["issuer"].as_str(), rec["jwks"].clone()),
        (Some(ISS), jwks(&["k1"]))
    );
    assert_eq!(rig.source(None, T0 + 1), (Source::Cache, 1));
}

#[test]
fn garbage_files_are_recovered() {
    let good = format!(r#"{{"issuer":"{ISS}","fetched_at":{T0},"jwks":{{"keys":[]}}}}"#);
    recovers_from(&good.as_bytes()[..good.len() / 2]); // torn
    recovers_from(b"");
    recovers_from(b"\x00\xff garbage");
    recovers_from(format!(r#"{{"issuer":"{ISS}","jwks":{{"keys":[]}}}}"#).as_bytes()); // no fetched_at
    recovers_from(
        format!(r#"{{"issuer":"{ISS}","fetched_at":{T0},"jwks":{{"kys":[]}}}}"#).as_bytes(),
    );
    let mut huge = good.into_bytes();
    huge.extend(std::iter::repeat_n(b' ', 1024 * 1024));
    recovers_from(&huge); // valid JSON, but over the cap
}

#[test]
fn wrong_issuer_file_is_ignored() {
    // A record for another issuer (e.g. a hash collision or a copied file) must not be used.
    let other = format!(
        r#"{{"issuer":"https://evil.example","fetched_at":{T0},"jwks":{{"keys":[{{"kid":"k1"}}]}}}}"#
    );
    recovers_from(other.as_bytes());
    let slash =
        format!(r#"{{"issuer":"{ISS}/","fetched_at":{T0},"jwks":{{"keys":[{{"kid":"k1"}}]}}}}"#);
    recovers_from(slash.as_bytes());
}

#[test]
fn future_dated_record_is_refetched() {
    let rig = Rig::new(&["k1"]);
    rig.get(None, T0 + 10_000);
    // The clock stepped back.
    assert_eq!(rig.source(None, T0), (Source::Fetched, 2));
}

#[test]
fn no_dir_means_no_caching() {
    let cache = JwksCache::new(CacheOptions::default());
    assert!(cache.cache_path(ISS).is_none());
    let fake = Fake::with(&["k1"]);
    for n in 1..=2 {
        let out = cache.get(ISS, None, at(T0), &fake).expect("fetch");
        assert_eq!((out.source, fake.calls()), (Source::Fetched, n));
    }
}

#[test]
fn unusable_dir_still_returns_fetched_jwks_with_warning() {
    let dir = tempfile::tempdir().expect("tempdir");
    let blocker = dir.path().join("not-a-dir");
    std::fs::write(&blocker, b"x").expect("file");
    // A directory under a regular file can never be created, even by root.
    let cache = cache_in(&blocker.join("cache"));
    let fake = Fake::with(&["k1"]);
    let out = cache.get(ISS, None, at(T0), &fake).expect("fetch");
    assert_eq!((out.source, fake.calls()), (Source::Fetched, 1));
    assert!(!out.warnings.is_empty());
    assert!(out.warnings.iter().all(|w| !w.contains('\n')));
}

#[test]
fn missing_dir_is_created() {
    let dir = tempfile::tempdir().expect("tempdir");
    let sub: PathBuf = dir.path().join("a/b");
    let cache = cache_in(&sub);
    let fake = Fake::with(&["k1"]);
    cache.get(ISS, None, at(T0), &fake).expect("fetch");
    assert!(cache.cache_path(ISS).expect("path").is_file());
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&sub).expect("meta").permissions().mode() & 0o777;
        assert_eq!(mode & !0o755, 0, "{mode:o}");
    }
}

#[test]
fn cached_keys_opk_cannot_use_are_dropped_and_their_kid_refetched() {
    // A fetcher hands over a Jwks, so a non-JWKS can no longer reach the cache; what reaches
    // the file is the usable keys only. A record planted with an unusable key for a kid makes
    // that kid count as absent: once the re-fetch interval has passed, it is re-fetched.
    let rig = Rig::new(&["k1"]);
    let planted = json!({"issuer": ISS, "fetched_at": T0, "jwks": {"keys": [
        {"kid": "k1", "kty": "RSA", "n": "AQAB", "e": "AQAB"}
    ]}});
    let path = rig.cache.cache_path(ISS).expect("path");
    std::fs::write(&path, planted.to_string()).expect("plant");
    let out = rig.get(Some("k1"), T0 + 1);
    assert_eq!((out.source, rig.fake.calls()), (Source::Cache, 0));
    assert!(out.jwks.keys().is_empty());
    let out = rig.get(Some("k1"), T0 + 60);
    assert_eq!((out.source, rig.fake.calls()), (Source::Fetched, 1));
    assert_eq!(kids_of(&out.jwks), ["k1"]);
    assert_eq!(rig.record()["jwks"], jwks(&["k1"]));
}

#[test]
fn stuck_lock_is_bounded() {
    let rig = Rig::waiting(&["k1"], Duration::from_millis(200));
    let holder = rig.hold_lock();
    let start = std::time::Instant::now();
    let out = rig.get(None, T0);
    assert!(start.elapsed() >= Duration::from_millis(200));
    assert!(start.elapsed() < Duration::from_secs(5));
    assert_eq!((out.source, rig.fake.calls()), (Source::Fetched, 1));
    assert_warned(&out, "still held");
    // The result was still cached.
    assert_eq!(rig.get(None, T0 + 1).source, Source::Cache);
    drop(holder);
}

#[test]
fn fresh_hit_takes_no_lock() {
    let rig = Rig::waiting(&["k1"], Duration::from_secs(30));
    rig.get(None, T0);
    let holder = rig.hold_lock();
    let start = std::time::Instant::now();
    assert_eq!(rig.get(Some("k1"), T0 + 1).source, Source::Cache);
    assert!(
        start.elapsed() < Duration::from_secs(1),
        "fresh hit waited for the lock"
    );
    drop(holder);
}

#[test]
fn concurrent_threads_on_cold_cache_fetch_once() {
    let dir = tempfile::tempdir().expect("tempdir");
    let fake = Arc::new(Fake {
        delay: Duration::from_millis(200),
        ..Fake::with(&["k1"])
    });
    let n = 8;
    let barrier = Arc::new(Barrier::new(n));
    let handles: Vec<_> = (0..n)
        .map(|_| {
            let (dir, fake, barrier) = (
                dir.path().to_path_buf(),
                Arc::clone(&fake),
                Arc::clone(&barrier),
            );
            std::thread::spawn(move || {
                // A separate cache (and so separate lock file descriptions) per thread, like
                // separate processes.
                let cache = cache_in(&dir);
                barrier.wait();
                cache.get(ISS, Some("k1"), at(T0), &*fake).expect("get")
            })
        })
        .collect();
    let outs: Vec<_> = handles
        .into_iter()
        .map(|h| h.join().expect("thread"))
        .collect();
    assert_eq!(fake.calls(), 1);
    assert_eq!(
        outs.iter().filter(|o| o.source == Source::Fetched).count(),
        1
    );
    assert!(outs.iter().all(|o| kids_of(&o.jwks) == ["k1"]));
}

/// Counts fetches across processes by appending to a file.
struct FileCountingFetcher(PathBuf);

impl JwksFetcher for FileCountingFetcher {
    fn fetch(&self, _: &str) -> Result<Jwks, Error> {
        let mut f = std::fs::OpenOptions::new()
            .append(true)
            .create(true)
            .open(&self.0)
            .expect("counter");
        writeln!(f, "{}", std::process::id()).expect("count");
        std::thread::sleep(Duration::from_millis(200));
        Ok(parsed(&["k1"]))
    }
}

const CHILD_ENV: &str = "OPK_JWKS_TEST_CHILD_DIR";

/// Entry point for the child processes of `concurrent_processes_on_cold_cache_fetch_once`,
/// which sets the shared directory.
#[test]
#[ignore = "run by its parent test"]
fn child_process_entry() {
    let dir = std::env::var_os(CHILD_ENV).unwrap_or_else(|| {
        panic!("{CHILD_ENV} unset: run concurrent_processes_on_cold_cache_fetch_once instead")
    });
    let dir = PathBuf::from(dir);
    let cache = cache_in(&dir.join("cache"));
    let out = cache
        .get(
            ISS,
            Some("k1"),
            at(T0),
            &FileCountingFetcher(dir.join("count")),
        )
        .expect("child get");
    assert_eq!(kids_of(&out.jwks), ["k1"]);
}

#[test]
fn concurrent_processes_on_cold_cache_fetch_once() {
    let dir = tempfile::tempdir().expect("tempdir");
    let exe = std::env::current_exe().expect("test binary");
    let children: Vec<_> = (0..6)
        .map(|_| {
            std::process::Command::new(&exe)
                .args([
                    "--ignored",
                    "--exact",
                    "child_process_entry",
                    "--test-threads=1",
                ])
                .env(CHILD_ENV, dir.path())
                .stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .expect("spawn child")
        })
        .collect();
    for c in children {
        let out = c.wait_with_output().expect("wait");
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success() && stdout.contains("1 passed"),
            "child: {stdout}{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let count = std::fs::read_to_string(dir.path().join("count")).expect("someone fetched");
    assert_eq!(count.lines().count(), 1, "fetches by pids: {count}");
}

#[test]
fn cache_dir_writable_by_others_is_not_used() {
    use std::os::unix::fs::PermissionsExt as _;
    let rig = Rig::new(&["k1"]);
    rig.get(Some("k1"), T0);
    let loose = std::fs::Permissions::from_mode(0o777);
    std::fs::set_permissions(rig.dir.path(), loose).expect("chmod");
    // Anyone could have planted keys here: every call fetches, and says why.
    for t in [T0 + 1, T0 + 2] {
        let out = rig.get(Some("k1"), t);
        assert_eq!(out.source, Source::Fetched);
        assert_warned(&out, "writable by group or others");
    }
    assert_eq!(rig.fake.calls(), 3);
}

#[test]
fn cache_file_writable_by_others_is_replaced() {
    use std::os::unix::fs::PermissionsExt as _;
    let rig = Rig::new(&["k1"]);
    rig.get(Some("k1"), T0);
    let path = rig.cache.cache_path(ISS).expect("path");
    // A planted record (fresh, with the attacker's kid) in a world-writable file.
    let planted = json!({"issuer": ISS, "fetched_at": T0, "jwks": jwks(&["evil"])});
    std::fs::write(&path, planted.to_string()).expect("plant");
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o666)).expect("chmod");
    let out = rig.get(Some("evil"), T0 + 1);
    assert_eq!(out.source, Source::Fetched);
    assert_eq!(kids_of(&out.jwks), ["k1"]);
    let mode = std::fs::metadata(&path).expect("meta").permissions().mode();
    assert_eq!(mode & 0o022, 0, "{mode:o}");
}

#[test]
fn fifo_or_symlink_in_place_of_the_cache_file_is_replaced_not_waited_on() {
    let dir = tempfile::tempdir().expect("tempdir");
    let cache = cache_in(dir.path());
    let path = cache.cache_path(ISS).expect("path");
    // R-3: nobody ever writes to this FIFO; a blocking open would hang the test.
    opk_testkit::fs::mkfifo(&path);
    let fake = Fake::with(&["k1"]);
    let out = cache.get(ISS, Some("k1"), at(T0), &fake).expect("get");
    assert_eq!((out.source, fake.calls()), (Source::Fetched, 1));
    assert!(
        out.warnings
            .iter()
            .any(|w| w.contains("a FIFO, not a regular file")),
        "{:?}",
        out.warnings
    );
    assert!(std::fs::symlink_metadata(&path).expect("meta").is_file());
    // A symlink to a good record is not followed either.
    let elsewhere = dir.path().join("elsewhere.json");
    std::fs::rename(&path, &elsewhere).expect("mv");
    std::os::unix::fs::symlink(&elsewhere, &path).expect("symlink");
    let out = cache.get(ISS, Some("k1"), at(T0 + 1), &fake).expect("get");
    assert_eq!((out.source, fake.calls()), (Source::Fetched, 2));
    assert!(std::fs::symlink_metadata(&path).expect("meta").is_file());
}

/// Answers like [`Fake`], and names a userinfo endpoint as discovery would.
struct WithUserinfo(Fake);

impl JwksFetcher for WithUserinfo {
    fn fetch(&self, issuer: &str) -> Result<Jwks, Error> {
        self.0.fetch(issuer)
    }

    fn fetch_with_userinfo_endpoint(&self, issuer: &str) -> Result<FetchedKeys, Error> {
        Ok(FetchedKeys {
            jwks: self.0.fetch(issuer)?,
            userinfo_endpoint: Some(format!("{issuer}/me")),
        })
    }
}

#[test]
fn userinfo_endpoint_is_kept_with_the_keys() {
    let rig = Rig::new(&["k1"]);
    let op = WithUserinfo(Fake::with(&["k1"]));
    let me = Some(format!("{ISS}/me"));
    let cold = rig.cache.get(ISS, Some("k1"), at(T0), &op).expect("cold");
    assert_eq!(
        (cold.source, &cold.userinfo_endpoint),
        (Source::Fetched, &me)
    );
    assert_eq!(rig.record()["userinfo_endpoint"], json!(me));
    let warm = rig
        .cache
        .get(ISS, Some("k1"), at(T0 + 1), &op)
        .expect("warm");
    assert_eq!((warm.source, warm.userinfo_endpoint), (Source::Cache, me));
    assert_eq!(op.0.calls(), 1);
    // A record written before the field existed is still a valid record, without an endpoint.
    let path = rig.cache.cache_path(ISS).expect("path");
    let old = json!({"issuer": ISS, "fetched_at": T0, "jwks": jwks(&["k1"])});
    std::fs::write(&path, old.to_string()).expect("plant");
    let out = rig.get(Some("k1"), T0 + 2);
    assert_eq!((out.source, out.userinfo_endpoint), (Source::Cache, None));
}

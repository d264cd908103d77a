//! A real OpenZiti network on loopback for tests: the `ziti` CLI v1.7.2 (`$ZITI_BIN`, else
//! `~/.cache/opk-ziti/ziti`, which scripts/lib.sh installs) runs `edge quickstart` (controller +
//! edge router) on free 127.0.0.1 ports in a temp dir; services, policies and identities are
//! made with its admin CLI; `ziti tunnel host` hosts services. Every process is tied to the test
//! process through a pipe on its stdin, so nothing outlives the test run, and the CLI's own
//! config goes to the temp dir (HOME), not the machine's ~/.config.

use std::io::{BufRead as _, BufReader};
use std::net::TcpListener;

use crate::free_port;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Runs `program args…` so that it dies when `Tied` is dropped or this process exits: a shell
/// holds the program's pid and kills it when its stdin (our pipe) reaches EOF.
pub struct Tied(Child);

impl Tied {
    fn spawn(program: &Path, args: &[&str], home: &Path, log: &Path) -> Self {
        let log = std::fs::File::create(log).expect("log file");
        let child = Command::new("sh")
            .arg("-c")
            .arg(r#"exec 3<&0; "$@" <&- & pid=$!; cat <&3 >/dev/null; kill "$pid" 2>/dev/null; wait "$pid""#)
            .arg("sh")
            .arg(program)
            .args(args)
            .env("HOME", home)
            .stdin(Stdio::piped())
            .stdout(log.try_clone().expect("log"))
            .stderr(log)
            .spawn()
            .expect("spawn ziti");
        Self(child)
    }
}

impl Drop for Tied {
    fn drop(&mut self) {
        drop(self.0.stdin.take());
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.0.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// The controller database's size before the second start (see [`Network::start`]).
const DB_SIZE: u64 = 64 * 1024 * 1024;

/// The `ziti` binary.
pub fn ziti_bin() -> PathBuf {
    let path = std::env::var_os("ZITI_BIN")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(std::env::var_os("HOME").unwrap_or_else(|| "/root".into()))
                .join(".cache/opk-ziti/ziti")
        });
    assert!(
        path.is_file(),
        "the OpenZiti `ziti` CLI v1.7.2 is missing at {}: run `bash scripts/test.sh` (its opk_setup installs \
         it), or set ZITI_BIN",
        path.display()
    );
    path
}

/// A running quickstart network.
pub struct Network {
    /// Everything of this network: quickstart home, identities, logs.
    pub dir: tempfile::TempDir,
    /// The controller (edge client API) port on 127.0.0.1.
    pub ctrl_port: u16,
    /// The edge router's TLS listener port on 127.0.0.1.
    pub router_port: u16,
    home: PathBuf,
    ziti: PathBuf,
    hosts: Vec<Tied>,
    // Last: dropped after the hosts.
    _quickstart: Tied,
}

impl Network {
    /// Starts controller and router and logs the admin CLI in. Quickstart runs twice: once to
    /// write its configuration and database, then on the database enlarged (see the comment in
    /// [`Network::start_with_session_timeout`]).
    pub fn start() -> Self {
        Self::start_with_session_timeout(None)
    }

    /// [`Network::start`], with the controller's API-session timeout set to `timeout` (e.g.
    /// `"1m"`, the controller's minimum) in its configuration before the second start.
    pub fn start_with_session_timeout(timeout: Option<&str>) -> Self {
        let ziti = ziti_bin();
        let dir = tempfile::tempdir().expect("tempdir");
        let home = dir.path().join("home");
        std::fs::create_dir_all(&home).expect("home");
        let (ctrl_port, router_port) = (free_port(), free_port());
        let qs_home = dir.path().join("qs");
        let (ctrl, router) = (ctrl_port.to_string(), router_port.to_string());
        let args = [
            "edge",
            "quickstart",
            "--home",
            qs_home.to_str().expect("utf-8"),
            "--ctrl-address",
            "127.0.0.1",
            "--ctrl-port",
            &ctrl,
            "--router-address",
            "127.0.0.1",
            "--router-port",
            &router,
        ];
        let log = dir.path().join("quickstart.log");
        let quickstart = Tied::spawn(&ziti, &args, &home, &log);
        wait_for_quickstart(&log);
        // Run once to write its files, then again on an enlarged database (and edited config).
        // Why enlarged: the v1.7.2 controller keeps terminator data that points into the
        // database's memory map, and crashes (SIGSEGV in CreateCircuitResponse) on a dial after
        // the map has grown; a file made large up front is mapped whole once, so it never grows
        // during a test.
        drop(quickstart);
        let db = find_file(&qs_home, "ctrl.db").expect("quickstart's ctrl.db");
        let file = std::fs::OpenOptions::new()
            .write(true)
            .open(&db)
            .expect("open ctrl.db");
        let len = file.metadata().expect("ctrl.db size").len();
        file.set_len(len.max(DB_SIZE)).expect("enlarge ctrl.db");
        drop(file);
        if let Some(timeout) = timeout {
            let yaml = find_file(&qs_home, "ctrl.yaml").expect("quickstart's ctrl.yaml");
            let text = std::fs::read_to_string(&yaml).expect("read ctrl.yaml");
            let edited: String = text
                .lines()
                .map(|l| match l.split_once("sessionTimeout:") {
                    Some((indent, _)) if !indent.contains('#') => {
                        format!("{indent}sessionTimeout: {timeout}\n")
                    }
                    _ => format!("{l}\n"),
                })
                .collect();
            assert_ne!(text, edited, "no sessionTimeout in {}", yaml.display());
            std::fs::write(&yaml, edited).expect("write ctrl.yaml");
        }
        let log = dir.path().join("quickstart-restarted.log");
        let quickstart = Tied::spawn(&ziti, &args, &home, &log);
        wait_for_quickstart(&log);
        let net = Self {
            dir,
            ctrl_port,
            router_port,
            home,
            ziti,
            hosts: Vec::new(),
            _quickstart: quickstart,
        };
        net.cli(&[
            "edge",
            "login",
            &format!("127.0.0.1:{ctrl_port}"),
            "-u",
            "admin",
            "-p",
            "admin",
            "-y",
        ]);
        net
    }

    /// Runs the admin CLI; panics with its output when it fails.
    pub fn cli(&self, args: &[&str]) -> String {
        let out = Command::new(&self.ziti)
            .args(args)
            .env("HOME", &self.home)
            .current_dir(self.dir.path())
            .output()
            .expect("run ziti");
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(out.status.success(), "ziti {}: {text}", args.join(" "));
        text
    }

    /// A service `name` hosted at 127.0.0.1:`port` by identities with attribute `#<name>.binders`
    /// (each as its own addressable terminator), dialable by `#<name>.dialers`.
    pub fn service(&self, name: &str, port: u16) {
        let host = format!(
            r#"{{"protocol":"tcp","address":"127.0.0.1","port":{port},"listenOptions":{{"bindUsingEdgeIdentity":true}}}}"#
        );
        self.cli(&[
            "edge",
            "create",
            "config",
            &format!("{name}.host.v1"),
            "host.v1",
            &host,
        ]);
        self.cli(&[
            "edge",
            "create",
            "service",
            name,
            "--configs",
            &format!("{name}.host.v1"),
        ]);
        self.policies(name);
    }

    /// A service with no tunneler config (an SDK such as opk hosts it), with the same policies
    /// as [`Network::service`].
    pub fn sdk_service(&self, name: &str) {
        self.cli(&["edge", "create", "service", name]);
        self.policies(name);
    }

    fn policies(&self, name: &str) {
        for (kind, role) in [("Bind", "binders"), ("Dial", "dialers")] {
            self.cli(&[
                "edge",
                "create",
                "service-policy",
                &format!("{name}-{role}"),
                kind,
                "--service-roles",
                &format!("@{name}"),
                "--identity-roles",
                &format!("#{name}.{role}"),
                "--semantic",
                "AnyOf",
            ]);
        }
    }

    /// Creates and enrolls (with `ziti edge enroll`) identity `name` with `attributes`; returns
    /// its identity file.
    pub fn identity(&self, name: &str, attributes: &[&str]) -> PathBuf {
        let jwt = self.enrollment_token(name, attributes);
        let json = self.dir.path().join(format!("{name}.json"));
        self.cli(&[
            "edge",
            "enroll",
            jwt.to_str().expect("utf-8"),
            "-o",
            json.to_str().expect("utf-8"),
        ]);
        json
    }

    /// Creates identity `name` with `attributes`, not enrolled; returns its one-time enrolment
    /// token file (the JWT).
    pub fn enrollment_token(&self, name: &str, attributes: &[&str]) -> PathBuf {
        let jwt = self.dir.path().join(format!("{name}.jwt"));
        let mut args = vec![
            "edge",
            "create",
            "identity",
            name,
            "-o",
            jwt.to_str().expect("utf-8"),
        ];
        let attrs = attributes.join(",");
        if !attrs.is_empty() {
            args.extend(["-a", attrs.as_str()]);
        }
        self.cli(&args);
        jwt
    }

    /// `ziti tunnel proxy SERVICE:PORT`: the Go SDK dialing `service` for every TCP connection
    /// to 127.0.0.1:`port` (returned once it listens).
    pub fn tunnel_proxy(&mut self, identity: &Path, service: &str) -> u16 {
        let port = free_port();
        let log = self.dir.path().join(format!("proxy-{service}.log"));
        let spec = format!("{service}:{port}");
        let guard = Tied::spawn(
            &self.ziti,
            &[
                "tunnel",
                "proxy",
                &spec,
                "-i",
                identity.to_str().expect("utf-8"),
            ],
            &self.home,
            &log,
        );
        self.hosts.push(guard);
        let deadline = Instant::now() + Duration::from_secs(60);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                Instant::now() < deadline,
                "ziti tunnel proxy did not listen within 60 s; its log:\n{}",
                std::fs::read_to_string(&log).unwrap_or_default()
            );
            std::thread::sleep(Duration::from_millis(200));
        }
        port
    }

    /// Waits until the controller lists a terminator for `service`; `log` (a host's log) is
    /// shown when it does not come.
    pub fn wait_for_terminator(&self, service: &str, log: Option<&Path>) {
        let deadline = Instant::now() + Duration::from_secs(60);
        let filter = format!("service.name=\"{service}\"");
        loop {
            let list = self.cli(&["edge", "list", "terminators", &filter]);
            if list.contains(service) && !list.contains("results: none") {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "no terminator for {service} after 60 s; host log:\n{}",
                log.and_then(|l| std::fs::read_to_string(l).ok())
                    .unwrap_or_default()
            );
            std::thread::sleep(Duration::from_millis(300));
        }
    }

    /// Hosts every service `identity` may bind with the real tunneler, and waits until the
    /// controller lists a terminator for `service`.
    pub fn tunnel_host(&mut self, identity: &Path, service: &str) {
        let name = identity
            .file_stem()
            .and_then(|s| s.to_str())
            .unwrap_or("host");
        let ziti = self.ziti.clone();
        self.host_with(
            &ziti,
            &["tunnel", "host", "-i", identity.to_str().expect("utf-8")],
            &format!("tunnel-{name}"),
            service,
        );
    }

    /// Runs `program args…` as a host (tied to this network's lifetime, output in
    /// `<log_name>.log`) and waits until the controller lists a terminator for `service`.
    pub fn host_with(&mut self, program: &Path, args: &[&str], log_name: &str, service: &str) {
        let log = self.dir.path().join(format!("{log_name}.log"));
        let guard = Tied::spawn(program, args, &self.home, &log);
        self.hosts.push(guard);
        self.wait_for_terminator(service, Some(&log));
    }
}

fn wait_for_quickstart(log: &Path) {
    let deadline = Instant::now() + Duration::from_secs(180);
    loop {
        let text = std::fs::read_to_string(log).unwrap_or_default();
        if text.contains("controller and router started") {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "ziti edge quickstart did not start within 180 s; its log:\n{}",
            text.lines().rev().take(20).collect::<Vec<_>>().join("\n")
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// The first file called `name` under `root`.
fn find_file(root: &Path, name: &str) -> Option<PathBuf> {
    let mut stack = vec![root.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).ok()?.flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else if p.file_name().is_some_and(|n| n == name) {
                return Some(p);
            }
        }
    }
    None
}

/// A TCP server on 127.0.0.1 that answers each connection by echoing every byte back, for as
/// long as the test runs.
pub fn echo_server() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("addr").port();
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            std::thread::spawn(move || {
                let mut reader = BufReader::new(stream.try_clone().expect("clone"));
                let mut writer = stream;
                loop {
                    let buf = match reader.fill_buf() {
                        Ok([]) | Err(_) => break,
                        Ok(b) => b.to_vec(),
                    };
                    reader.consume(buf.len());
                    if std::io::Write::write_all(&mut writer, &buf).is_err() {
                        break;
                    }
                }
            });
        }
    });
    port
}

/// A Unix time for a TOTP code whose 30 s period is later than `*used`, sleeping into the next
/// period when needed, and recorded in `used`: the controller refuses a code seen twice.
pub fn fresh_totp_time(used: &mut u64) -> u64 {
    let now = || {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .expect("clock")
            .as_secs()
    };
    let mut t = now();
    if t - t % 30 <= *used {
        std::thread::sleep(Duration::from_secs(30 - t % 30 + 1));
        t = now();
    }
    *used = t - t % 30;
    t
}

//! `opk ssh` against the real Debian sshd: exec with stdin and exit codes, signals, a shell in
//! tmux with a resize, -L/-R/-D carrying bytes, -J through a second sshd, known_hosts strict /
//! mismatch / accept-new, an ssh_config alias, and the opk certificate after a real `opk login`.
//! HOME is a temp dir in every run: the machine's ~/.ssh is never read.

mod common;

use std::io::{Read as _, Write as _};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use common::{Host, OPK, TMP, assert_says, login};
use opk_e2e::{Guard, KeyHost, Op, Sshd, TestDir, current_user, free_port, keygen, show};

/// `user@127.0.0.1` for a [`KeyHost`].
fn key_host_dest() -> String {
    format!("{}@127.0.0.1", current_user())
}

/// A fresh HOME with `.ssh/known_hosts` holding `known`.
fn home_with(dir: &TestDir, known: &str) -> PathBuf {
    let home = dir.join("home");
    std::fs::create_dir_all(home.join(".ssh")).expect("mkdir");
    std::fs::write(home.join(".ssh/known_hosts"), known).expect("known_hosts");
    home
}

/// `-o StrictHostKeyChecking=accept-new`: record the test server's key on first use.
const ACCEPT_NEW: [&str; 2] = ["-o", "StrictHostKeyChecking=accept-new"];

fn opk_ssh_cmd(home: &Path, args: &[&str]) -> Command {
    // An empty stand-in for /etc/ssh (no system ssh_config or ssh_known_hosts).
    let etc = home.join("etc-ssh");
    std::fs::create_dir_all(&etc).expect("etc dir");
    let mut c = Command::new(OPK);
    c.arg("ssh")
        .args(args)
        .env("HOME", home)
        .env("OPK_SSH_SYSTEM_DIR", &etc)
        .env("USER", current_user())
        .env_remove("SSH_AUTH_SOCK");
    c
}

/// `opk ssh` started with `stdin`, its stdout and stderr piped back to the test.
fn spawn_opk_ssh(home: &Path, args: &[&str], stdin: Stdio) -> Child {
    opk_ssh_cmd(home, args)
        .stdin(stdin)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("opk ssh")
}

fn opk_ssh(home: &Path, args: &[&str], stdin: &[u8]) -> Output {
    let mut child = spawn_opk_ssh(home, args, Stdio::piped());
    let mut input = child.stdin.take().expect("stdin");
    input.write_all(stdin).expect("write stdin");
    drop(input);
    child.wait_with_output().expect("wait")
}

/// `out` is opk ssh failing itself (255, as OpenSSH) with a stderr that says each of `said`;
/// returns that stderr.
fn assert_fails_saying(out: &Output, said: &[&str]) -> String {
    assert_eq!(out.status.code(), Some(255), "{}", show(out));
    let err = text(&out.stderr);
    for words in said {
        assert!(err.contains(words), "{words:?} not said:\n{}", show(out));
    }
    err
}

/// A key-authenticated host, and a HOME whose known_hosts already trusts it.
fn trusted_key_host() -> (KeyHost, PathBuf) {
    let h = KeyHost::start(TMP);
    let home = home_with(&h.dir, &h.known_hosts_line());
    (h, home)
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

#[test]
fn exec_stdin_exit_codes_and_signals() {
    let (h, home) = trusted_key_host();
    let key = h.key.display().to_string();
    let base = ["-i", &key, "-p", &h.sshd.port.to_string(), &key_host_dest()];
    let with = |cmd: &'static str| {
        let mut v = base.to_vec();
        v.push(cmd);
        v
    };

    let out = opk_ssh(&home, &with("cat; exit 0"), b"bytes from stdin\n");
    assert_eq!(out.status.code(), Some(0), "{}", show(&out));
    assert_eq!(text(&out.stdout), "bytes from stdin\n");

    let out = opk_ssh(&home, &with("exit 1"), b"");
    assert_eq!(out.status.code(), Some(1), "{}", show(&out));

    let out = opk_ssh(&home, &with("echo to-out; echo to-err >&2; exit 42"), b"");
    assert_eq!(out.status.code(), Some(42), "{}", show(&out));
    assert_eq!(
        text(&out.stdout),
        "to-out\n",
        "stderr must not reach stdout"
    );
    assert!(text(&out.stderr).contains("to-err"), "{}", show(&out));

    // Several words are one command line, as with ssh.
    let mut v = base.to_vec();
    v.extend(["echo", "two", "words"]);
    let out = opk_ssh(&home, &v, b"");
    assert_eq!(text(&out.stdout), "two words\n", "{}", show(&out));

    // Options after the destination, as OpenSSH takes them; the command's own flags stay its.
    let dest = key_host_dest();
    let out = opk_ssh(
        &home,
        &[
            &dest,
            "-i",
            &key,
            "-p",
            &h.sshd.port.to_string(),
            "echo",
            "-n",
            "after",
        ],
        b"",
    );
    assert_eq!(text(&out.stdout), "after", "{}", show(&out));

    let out = opk_ssh(&home, &with("kill -TERM $$"), b"");
    assert_eq!(out.status.code(), Some(128 + 15), "{}", show(&out));

    // Nobody listening: opk's own failure is 255 with one line saying where.
    let dead = free_port().to_string();
    let out = opk_ssh(
        &home,
        &["-i", &key, "-p", &dead, &key_host_dest(), "true"],
        b"",
    );
    let err = assert_fails_saying(&out, &[&format!("cannot connect to 127.0.0.1 port {dead}")]);
    assert_eq!(err.lines().count(), 1, "{}", show(&out));

    // Unsupported -o keys are refused up front, in one line.
    let out = opk_ssh(
        &home,
        &["-o", "ProxyCommand=nc %h %p", &key_host_dest(), "true"],
        b"",
    );
    let err = assert_fails_saying(&out, &["ProxyCommand"]);
    assert_eq!(err.lines().count(), 1, "{}", show(&out));

    // A key the server does not accept: permission denied, naming what was tried.
    let other = h.dir.join("other_key");
    keygen(&other);
    let other_s = other.display().to_string();
    let out = opk_ssh(
        &home,
        &[
            "-i",
            &other_s,
            "-p",
            &h.sshd.port.to_string(),
            &key_host_dest(),
            "true",
        ],
        b"",
    );
    assert_fails_saying(&out, &["permission denied", &other_s]);
}

#[test]
fn known_hosts_strict_mismatch_accept_new_and_user_file() {
    let h = KeyHost::start(TMP);
    let key = h.key.display().to_string();
    let port = h.sshd.port.to_string();
    let args = ["-i", key.as_str(), "-p", &port, &key_host_dest(), "echo in"];

    // Strict by default: an unknown host is refused before authentication.
    let home = home_with(&h.dir, "");
    let out = opk_ssh(&home, &args, b"");
    assert_fails_saying(&out, &["host key verification failed", "SHA256:"]);
    assert!(out.stdout.is_empty(), "{}", show(&out));

    // A different key on record: refused, naming the file and line.
    let wrong = h.dir.join("wrong_host_key");
    keygen(&wrong);
    let wrong_pub = std::fs::read_to_string(h.dir.join("wrong_host_key.pub")).expect("pub");
    let mut w = wrong_pub.split_whitespace();
    let kh = format!(
        "# comment\n[127.0.0.1]:{port} {} {}\n",
        w.next().expect("t"),
        w.next().expect("k")
    );
    std::fs::write(home.join(".ssh/known_hosts"), &kh).expect("write");
    let out = opk_ssh(&home, &args, b"");
    let kh_path = home.join(".ssh/known_hosts");
    assert_fails_saying(&out, &[&format!("{}:2", kh_path.display()), "CHANGED"]);
    // accept-new does not override a mismatch.
    let an = [&ACCEPT_NEW[..], &args[..]].concat();
    assert_fails_saying(&opk_ssh(&home, &an, b""), &["CHANGED"]);

    // accept-new records an unknown key, then strict mode accepts it.
    std::fs::write(home.join(".ssh/known_hosts"), "").expect("empty");
    let out = opk_ssh(&home, &an, b"");
    assert_eq!(out.status.code(), Some(0), "{}", show(&out));
    assert_eq!(text(&out.stdout), "in\n");
    let recorded = std::fs::read_to_string(&kh_path).expect("kh");
    assert_eq!(recorded.lines().count(), 1, "{recorded}");
    let out = opk_ssh(&home, &args, b"");
    assert_eq!(out.status.code(), Some(0), "{}", show(&out));

    // HashKnownHosts: the recorded name is hashed, and the hashed entry matches next time.
    std::fs::write(&kh_path, "").expect("empty");
    let mut hashed = vec!["-o", "HashKnownHosts=yes"];
    hashed.extend(an.iter().copied());
    let out = opk_ssh(&home, &hashed, b"");
    assert_eq!(out.status.code(), Some(0), "{}", show(&out));
    let recorded = std::fs::read_to_string(&kh_path).expect("kh");
    assert!(
        recorded.starts_with("|1|") && !recorded.contains("127.0.0.1"),
        "{recorded}"
    );
    let out = opk_ssh(&home, &args, b"");
    assert_eq!(out.status.code(), Some(0), "{}", show(&out));

    // UserKnownHostsFile elsewhere is where the key is looked up.
    let elsewhere = h.dir.join("elsewhere_known_hosts");
    std::fs::write(&elsewhere, h.known_hosts_line()).expect("w");
    std::fs::write(&kh_path, "").expect("empty");
    let mut uk = vec![format!("-oUserKnownHostsFile={}", elsewhere.display())];
    uk.extend(args.iter().map(|s| s.to_string()));
    let uk: Vec<&str> = uk.iter().map(String::as_str).collect();
    let out = opk_ssh(&home, &uk, b"");
    assert_eq!(out.status.code(), Some(0), "{}", show(&out));
}

#[test]
fn ssh_config_alias() {
    let h = KeyHost::start(TMP);
    let home = home_with(&h.dir, "");
    let kh = h.dir.write("kh", &h.known_hosts_line(), 0o644);
    let config = h.dir.write(
        "ssh_config",
        &format!(
            "Host other\n  HostName 192.0.2.1\n\nHost box\n  HostName 127.0.0.1\n  Port {}\n  User {}\n  IdentityFile {}\n  UserKnownHostsFile {}\n\nHost *\n  Port 1\n",
            h.sshd.port,
            current_user(),
            h.key.display(),
            kh.display()
        ),
        0o644,
    );
    let cfg = config.display().to_string();
    let out = opk_ssh(&home, &["-F", &cfg, "box", "echo via-alias"], b"");
    assert_eq!(out.status.code(), Some(0), "{}", show(&out));
    assert_eq!(text(&out.stdout), "via-alias\n");
}

/// A TCP echo server on loopback; returns its port.
fn echo_server() -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = l.local_addr().expect("addr").port();
    std::thread::spawn(move || {
        for s in l.incoming() {
            let Ok(mut s) = s else { break };
            std::thread::spawn(move || {
                let mut buf = [0u8; 4096];
                while let Ok(n) = s.read(&mut buf) {
                    if n == 0 || s.write_all(&buf[..n]).is_err() {
                        break;
                    }
                }
            });
        }
    });
    port
}

/// Connects to 127.0.0.1:`port` until it answers (the forward is set up by a background
/// process), within a generous deadline.
fn connect_when_up(port: u16, child: &mut Child) -> TcpStream {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if let Ok(s) = TcpStream::connect(("127.0.0.1", port)) {
            return s;
        }
        if let Ok(Some(st)) = child.try_wait() {
            let mut err = String::new();
            if let Some(mut e) = child.stderr.take() {
                let _ = e.read_to_string(&mut err);
            }
            panic!("opk ssh exited ({st}) before port {port} was up: {err}");
        }
        assert!(Instant::now() < deadline, "port {port} never came up");
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn round_trip(mut s: TcpStream, payload: &[u8]) {
    s.set_read_timeout(Some(Duration::from_secs(20)))
        .expect("timeout");
    s.write_all(payload).expect("send");
    let mut got = vec![0u8; payload.len()];
    s.read_exact(&mut got).expect("echo back");
    assert_eq!(got, payload);
}

fn background(home: &Path, args: &[&str]) -> Guard {
    Guard(
        opk_ssh_cmd(home, args)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("opk ssh"),
    )
}

#[test]
fn forwards_carry_bytes() {
    let (h, home) = trusted_key_host();
    let key = h.key.display().to_string();
    let port = h.sshd.port.to_string();
    let echo = echo_server();
    let payload: Vec<u8> = (0..100_000u32).map(|i| (i % 251) as u8).collect();

    // -L: local listener → server → echo. -R: the server listens, connections come back to us
    // and on to echo.
    for flag in ["-L", "-R"] {
        let listen = free_port();
        let spec = format!("{listen}:127.0.0.1:{echo}");
        let mut g = background(
            &home,
            &["-N", flag, &spec, "-i", &key, "-p", &port, &key_host_dest()],
        );
        round_trip(connect_when_up(listen, &mut g.0), &payload);
    }

    // -D: SOCKS5 CONNECT by name, resolved on the server side.
    let dport = free_port();
    let spec = dport.to_string();
    let mut g = background(
        &home,
        &["-N", "-D", &spec, "-i", &key, "-p", &port, &key_host_dest()],
    );
    let mut s = connect_when_up(dport, &mut g.0);
    s.set_read_timeout(Some(Duration::from_secs(20)))
        .expect("timeout");
    s.write_all(&[5, 1, 0]).expect("greeting");
    let mut ans = [0u8; 2];
    s.read_exact(&mut ans).expect("method");
    assert_eq!(ans, [5, 0]);
    let mut req = vec![5, 1, 0, 3, 9];
    req.extend_from_slice(b"localhost");
    req.extend_from_slice(&echo.to_be_bytes());
    s.write_all(&req).expect("connect");
    let mut rep = [0u8; 10];
    s.read_exact(&mut rep).expect("reply");
    assert_eq!(rep[1], 0, "SOCKS reply {rep:?}");
    round_trip(s, &payload);
}

#[test]
fn jump_host() {
    let jump = KeyHost::start(TMP);
    let target = KeyHost::start(TMP);
    // One HOME knowing both servers; each accepts its own key (both are offered with -i).
    let known = format!("{}{}", jump.known_hosts_line(), target.known_hosts_line());
    let home = home_with(&target.dir, &known);
    let cfg = target.dir.write(
        "cfg",
        &format!("Host *\n  IdentityFile {}\n", jump.key.display()),
        0o644,
    );
    let (cfg_s, key_s) = (cfg.display().to_string(), target.key.display().to_string());
    let hop = format!("{}@127.0.0.1:{}", current_user(), jump.sshd.port);
    let args = [
        "-F",
        &cfg_s,
        "-i",
        &key_s,
        "-J",
        &hop,
        "-p",
        &target.sshd.port.to_string(),
        &key_host_dest(),
        "echo through-jump",
    ];
    let out = opk_ssh(&home, &args, b"");
    assert_eq!(out.status.code(), Some(0), "{}", show(&out));
    assert_eq!(text(&out.stdout), "through-jump\n");

    // With the jump host gone, the same command fails: the route did go through it.
    drop(jump);
    let out = opk_ssh(&home, &args, b"");
    assert_fails_saying(&out, &["cannot connect to 127.0.0.1"]);
}

/// tmux on a private socket, killed on drop.
struct Tmux {
    sock: PathBuf,
}

impl Tmux {
    /// A detached 100×30 session `t` running `line`.
    fn start(sock: PathBuf, line: &str) -> Self {
        let tmux = Self { sock };
        tmux.run(&[
            "new-session",
            "-d",
            "-s",
            "t",
            "-x",
            "100",
            "-y",
            "30",
            line,
        ]);
        tmux
    }

    fn send(&self, keys: &[&str]) {
        self.run(&[&["send-keys", "-t", "t"], keys].concat());
    }

    /// The remote shell's prompt is its own: set a known one and wait for it.
    fn set_prompt(&self) {
        self.send(&["PS1='remote$ '", "Enter"]);
        self.wait_for("remote$ ");
    }

    fn cmd(&self) -> Command {
        let mut c = Command::new("tmux");
        c.arg("-S").arg(&self.sock);
        c
    }

    fn run(&self, args: &[&str]) {
        let out = self.cmd().args(args).output().expect("tmux");
        assert!(out.status.success(), "tmux {args:?}: {}", text(&out.stderr));
    }

    fn screen(&self) -> String {
        text(
            &self
                .cmd()
                .args(["capture-pane", "-p", "-t", "t"])
                .output()
                .expect("capture")
                .stdout,
        )
    }

    fn wait_for(&self, needle: &str) -> String {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let s = self.screen();
            if s.contains(needle) {
                return s;
            }
            assert!(
                Instant::now() < deadline,
                "never saw {needle:?}; screen:\n{s}"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        let _ = self.cmd().arg("kill-server").output();
    }
}

#[test]
fn interactive_shell_in_tmux_resize_exit_and_escape() {
    let (h, home) = trusted_key_host();
    let line = format!(
        "env HOME={} USER={} OPK_SSH_SYSTEM_DIR={} {OPK} ssh -i {} -p {} {} ; echo EXIT=$?; sleep 600",
        home.display(),
        current_user(),
        h.dir.path().display(),
        h.key.display(),
        h.sshd.port,
        key_host_dest()
    );
    let tmux = Tmux::start(h.dir.join("tmux.sock"), &line);
    tmux.set_prompt();
    tmux.send(&["stty size", "Enter"]);
    tmux.wait_for("30 100");
    tmux.run(&["resize-window", "-t", "t", "-x", "120", "-y", "40"]);
    tmux.send(&["clear; stty size", "Enter"]);
    tmux.wait_for("40 120");
    tmux.send(&["tty", "Enter"]);
    tmux.wait_for("/dev/pts/");
    tmux.send(&["exit 7", "Enter"]);
    tmux.wait_for("EXIT=7");

    // `~.` at the start of a line ends the connection with 255.
    tmux.run(&["kill-server"]);
    let tmux = Tmux::start(h.dir.join("tmux2.sock"), &line);
    tmux.set_prompt();
    tmux.send(&["Enter", "~."]);
    let screen = tmux.wait_for("EXIT=255");
    assert!(
        screen.contains("Connection to 127.0.0.1 closed."),
        "{screen}"
    );
}

#[test]
fn opk_certificate_through_opk_verify_after_real_login() {
    let op = Op::start(None);
    let dir = TestDir::new(TMP);
    let home = dir.join("home");
    login(&op, &home, "opk-rs256", &[], &[]);
    let host = Host::allowing_alice(&dir, "host", &op, "opk-rs256");
    let port = host.sshd.port.to_string();
    let dest = format!("{}@127.0.0.1", current_user());
    // No -i: the certificate `opk login` wrote is found and offered first.
    let args = [&ACCEPT_NEW[..], &["-p", &port, &dest, "echo opk-cert-ok"]].concat();
    let out = opk_ssh(&home, &args, b"");
    assert_eq!(out.status.code(), Some(0), "{}", show(&out));
    assert_eq!(text(&out.stdout), "opk-cert-ok\n");
    assert_says(&host.log_text(), &format!("allowed {}", common::USER_EMAIL));

    // A policy without us: refused, and the message says what to do about an opk certificate.
    std::fs::write(&host.auth_id, "").expect("empty policy");
    let out = opk_ssh(&home, &["-p", &port, &dest, "true"], b"");
    assert_fails_saying(&out, &["permission denied", "id_ecdsa-cert.pub", "opk"]);
}

/// ssh-agent on a socket in `dir`, killed on drop.
struct Agent {
    sock: PathBuf,
    _child: Guard,
}

impl Agent {
    fn start(dir: &TestDir) -> Self {
        let sock = dir.join("agent.sock");
        let child = Command::new("ssh-agent")
            .arg("-D")
            .arg("-a")
            .arg(&sock)
            .stdout(Stdio::null())
            .spawn()
            .expect("ssh-agent");
        let deadline = Instant::now() + Duration::from_secs(10);
        while !sock.exists() {
            assert!(Instant::now() < deadline, "ssh-agent did not start");
            std::thread::sleep(Duration::from_millis(50));
        }
        Self {
            sock,
            _child: Guard(child),
        }
    }

    fn add(&self, key: &Path) {
        let out = Command::new("ssh-add")
            .arg(key)
            .env("SSH_AUTH_SOCK", &self.sock)
            .output()
            .expect("ssh-add");
        assert!(out.status.success(), "ssh-add: {}", text(&out.stderr));
    }
}

#[test]
fn agent_authentication_and_opt_in_forwarding() {
    let (h, home) = trusted_key_host();
    let agent = Agent::start(&h.dir);
    agent.add(&h.key);
    let port = h.sshd.port.to_string();
    let run = |extra: &[&str], cmd: &str| {
        let mut args = vec!["-p", port.as_str()];
        args.extend_from_slice(extra);
        let dest = key_host_dest();
        args.push(&dest);
        args.push(cmd);
        let mut c = opk_ssh_cmd(&home, &args);
        c.env("SSH_AUTH_SOCK", &agent.sock);
        c.stdin(Stdio::null()).output().expect("opk ssh")
    };
    // No -i and no key files in HOME: the agent's key logs in.
    let out = run(&[], "echo ${SSH_AUTH_SOCK:-no-agent-here}");
    assert_eq!(out.status.code(), Some(0), "{}", show(&out));
    assert_eq!(
        text(&out.stdout),
        "no-agent-here\n",
        "the agent must not be forwarded without -A"
    );
    // IdentityAgent none: the agent is not asked, so nothing is left to offer.
    let out = run(&["-o", "IdentityAgent=none"], "true");
    assert_fails_saying(&out, &["tried: none"]);
    // -A: the server side reaches our agent (its key is listed there).
    let out = run(&["-A"], "ssh-add -l");
    assert_eq!(out.status.code(), Some(0), "{}", show(&out));
    let fp = Command::new("ssh-keygen")
        .arg("-lf")
        .arg(h.dir.join("user_key.pub"))
        .output()
        .expect("ssh-keygen -l");
    let fp = text(&fp.stdout);
    let fp = fp.split_whitespace().nth(1).expect("fingerprint");
    assert!(text(&out.stdout).contains(fp), "{}", show(&out));
}

#[test]
fn expired_pk_token_is_named_with_what_to_do() {
    let common::ExpiredLogin { world, oidc, day } = common::ExpiredLogin::start();
    let home = world.home;
    let dest = format!("{}@127.0.0.1", current_user());
    let oidc_port = oidc.sshd.port.to_string();
    let args = [&ACCEPT_NEW[..], &["-p", &oidc_port, &dest, "true"]].concat();
    let out = opk_ssh(&home, &args, b"");
    assert_fails_saying(&out, &["expired", "run `opk login`", "id_ecdsa-cert.pub"]);
    // The same certificate still logs in where the policy counts 24 h from iat.
    let day_port = day.sshd.port.to_string();
    let args = [&ACCEPT_NEW[..], &["-p", &day_port, &dest, "echo day-ok"]].concat();
    let out = opk_ssh(&home, &args, b"");
    assert_eq!(out.status.code(), Some(0), "{}", show(&out));
    assert_eq!(text(&out.stdout), "day-ok\n");
}

#[test]
fn closed_stdout_ends_quietly_like_sigpipe() {
    let (h, home) = trusted_key_host();
    let key = h.key.display().to_string();
    // `opk ssh host yes | head -n 1`, with the reader leaving after one line.
    let port = h.sshd.port.to_string();
    let args = ["-i", &key, "-p", &port, &key_host_dest(), "yes"];
    let mut child = spawn_opk_ssh(&home, &args, Stdio::null());
    let mut out = child.stdout.take().expect("stdout");
    let mut first = [0u8; 2];
    out.read_exact(&mut first).expect("first line");
    assert_eq!(&first, b"y\n");
    drop(out);
    let done = child.wait_with_output().expect("wait");
    assert_eq!(done.status.code(), Some(128 + 13), "{}", show(&done));
    assert!(done.stderr.is_empty(), "{}", show(&done));
}

#[test]
fn host_certificate_trusted_through_cert_authority_and_revoked() {
    let dir = TestDir::new(TMP);
    let key = dir.join("user_key");
    keygen(&key);
    let ak = dir.write(
        "authorized_keys",
        &std::fs::read_to_string(dir.join("user_key.pub")).expect("pub"),
        0o644,
    );
    // A host CA signs the host key for 127.0.0.1; sshd presents the certificate.
    let ca = dir.join("host_ca");
    keygen(&ca);
    let host_key = dir.join("ssh_host_ed25519_key");
    keygen(&host_key);
    let out = Command::new("ssh-keygen")
        .args(["-q", "-s"])
        .arg(&ca)
        .args(["-I", "test-host", "-h", "-n", "127.0.0.1"])
        .arg(dir.join("ssh_host_ed25519_key.pub"))
        .output()
        .expect("ssh-keygen -s");
    assert!(out.status.success(), "sign: {}", text(&out.stderr));
    let extra = format!(
        "HostCertificate {}\n",
        dir.join("ssh_host_ed25519_key-cert.pub").display()
    );
    let sshd = Sshd::start_with(&dir, &format!("/usr/bin/cat {}", ak.display()), &extra);
    let ca_pub = std::fs::read_to_string(dir.join("host_ca.pub")).expect("ca pub");
    let ca_pub = ca_pub
        .split_whitespace()
        .take(2)
        .collect::<Vec<_>>()
        .join(" ");
    // Only the CA is on record, no host key: the certificate must be what gets us in. (A port
    // other than 22 is looked up as `[host]:port`, as OpenSSH does.)
    let home = home_with(&dir, &format!("@cert-authority [127.0.0.1]:* {ca_pub}\n"));
    let (key_s, port) = (key.display().to_string(), sshd.port.to_string());
    let dest = format!("{}@127.0.0.1", current_user());
    let args = [
        "-i",
        key_s.as_str(),
        "-p",
        &port,
        &dest,
        "echo via-host-cert",
    ];
    let out = opk_ssh(&home, &args, b"");
    assert_eq!(out.status.code(), Some(0), "{}", show(&out));
    assert_eq!(text(&out.stdout), "via-host-cert\n");
    assert_eq!(
        std::fs::read_to_string(home.join(".ssh/known_hosts")).expect("kh"),
        format!("@cert-authority [127.0.0.1]:* {ca_pub}\n"),
        "nothing is recorded for a host vouched for by a CA"
    );
    // The CA revoked: refused, naming the line.
    std::fs::write(
        home.join(".ssh/known_hosts"),
        format!("@cert-authority [127.0.0.1]:* {ca_pub}\n@revoked * {ca_pub}\n"),
    )
    .expect("kh");
    let out = opk_ssh(&home, &args, b"");
    assert_fails_saying(&out, &["@revoked", "known_hosts:2"]);
}

//! The overlay client against a real OpenZiti network (controller, edge router and tunneler from
//! the `ziti` CLI v1.7.2, started by tests/network): certificate authentication, service lookup,
//! Dial sessions, router hello, end-to-end encrypted dials to an addressable terminator, TOTP
//! MFA, and the refusals a user meets.

use opk_e2e::ziti as network;

use std::path::PathBuf;
use std::sync::OnceLock;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use opk_ziti::{ApiSession, Controller, Error, Identity, RouterChannel, Service, ZitiStream};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

/// One network for every test in this binary (quickstart takes ~20 s): service `echo` (an echo
/// server on 127.0.0.1) hosted by `ziti tunnel host` as identity `echo-host`; dialers `laptop`
/// and `mfa-user`; `stranger` without any policy. Its processes end with this test process.
struct Fixture {
    net: network::Network,
    laptop: PathBuf,
    mfa_user: PathBuf,
    stranger: PathBuf,
    /// Hosts service `echo2` itself (tests start the host); `proxy_port` is a `ziti tunnel proxy`
    /// dialing `echo2` as identity `laptop2`.
    rust_host: PathBuf,
    laptop2: PathBuf,
    proxy_port: u16,
}

fn fixture() -> &'static Fixture {
    static FIXTURE: OnceLock<Fixture> = OnceLock::new();
    FIXTURE.get_or_init(|| {
        let mut net = network::Network::start();
        net.service("echo", network::echo_server());
        let host = net.identity("echo-host", &["echo.binders"]);
        let laptop = net.identity("laptop", &["echo.dialers"]);
        let mfa_user = net.identity("mfa-user", &["echo.dialers"]);
        let stranger = net.identity("stranger", &[]);
        net.tunnel_host(&host, "echo");
        net.sdk_service("echo2");
        let rust_host = net.identity("rust-host", &["echo2.binders"]);
        let laptop2 = net.identity("laptop2", &["echo2.dialers"]);
        let proxy_port = net.tunnel_proxy(&laptop2, "echo2");
        Fixture {
            net,
            laptop,
            mfa_user,
            stranger,
            rust_host,
            laptop2,
            proxy_port,
        }
    })
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime")
}

fn login(identity: &std::path::Path) -> (Identity, Controller, ApiSession) {
    let identity = Identity::load(identity).expect("identity");
    let ctrl = Controller::new(&identity, Duration::from_secs(20)).expect("controller");
    let api = ctrl
        .authenticate_cert()
        .expect("authenticate with the certificate");
    (identity, ctrl, api)
}

fn echo(ctrl: &Controller, api: &ApiSession) -> Service {
    ctrl.service(api, "echo")
        .expect("lookup")
        .expect("echo is visible")
}

/// Dials `echo-host` with a fresh Dial session and router channel.
async fn dial_echo(
    identity: &Identity,
    ctrl: &Controller,
    api: &ApiSession,
) -> (RouterChannel, ZitiStream) {
    let svc = echo(ctrl, api);
    let session = ctrl.dial_session(api, &svc).expect("dial session");
    let router = session
        .edge_routers
        .iter()
        .find_map(|r| r.tls_address.clone())
        .expect("a tls router");
    let tls = opk_ziti::tls_config(identity).expect("tls");
    let channel = RouterChannel::connect(&router, tls, &api.identity_name, &api.token)
        .await
        .expect("router hello");
    let conn = channel
        .dial(
            &session.token,
            Some("echo-host"),
            Some(&api.identity_name),
            svc.encryption_required,
        )
        .await
        .expect("dial echo-host");
    (channel, conn)
}

async fn round_trip(conn: &mut ZitiStream, msg: &[u8]) -> Vec<u8> {
    conn.write_all(msg).await.expect("write");
    let mut got = vec![0u8; msg.len()];
    conn.read_exact(&mut got).await.expect("read echo");
    got
}

#[test]
fn cert_identity_sees_its_services_and_gets_a_dial_session() {
    let f = fixture();
    let (identity, ctrl, api) = login(&f.laptop);
    assert_eq!(
        identity.controller,
        format!("https://127.0.0.1:{}/edge/client/v1", f.net.ctrl_port)
    );
    assert_eq!(api.identity_name, "laptop");
    assert!(!api.mfa_required);
    assert!(ctrl.refresh(&api).expect("refresh").is_some());

    let services = ctrl.services(&api).expect("services");
    let svc = services
        .iter()
        .find(|s| s.name == "echo")
        .expect("echo is listed");
    assert!(
        svc.encryption_required,
        "services are end-to-end encrypted by default"
    );
    assert!(
        svc.permissions.iter().any(|p| p == "Dial"),
        "{:?}",
        svc.permissions
    );
    assert_eq!(
        ctrl.service(&api, "echo").expect("lookup").as_ref(),
        Some(svc)
    );
    assert_eq!(ctrl.service(&api, "no-such-service").expect("lookup"), None);

    let session = ctrl.dial_session(&api, svc).expect("dial session");
    let routers: Vec<_> = session
        .edge_routers
        .iter()
        .filter_map(|r| r.tls_address.clone())
        .collect();
    assert_eq!(routers, [format!("127.0.0.1:{}", f.net.router_port)]);
}

#[test]
fn end_to_end_encrypted_dial_carries_bytes_both_ways() {
    let f = fixture();
    let (identity, ctrl, api) = login(&f.laptop);
    runtime().block_on(async {
        let (_channel, mut conn) = dial_echo(&identity, &ctrl, &api).await;
        assert_eq!(
            round_trip(&mut conn, b"hello over the overlay\n").await,
            b"hello over the overlay\n"
        );

        // Bulk both ways at once: 4 MiB of patterned bytes come back intact and in order.
        let data: Vec<u8> = (0..4 * 1024 * 1024u32).map(|i| (i % 251) as u8).collect();
        let (mut rd, mut wr) = tokio::io::split(conn);
        let sent = data.clone();
        let writer = tokio::spawn(async move {
            wr.write_all(&sent).await.expect("bulk write");
            wr.shutdown().await.expect("fin");
        });
        let mut back = Vec::new();
        rd.read_to_end(&mut back).await.expect("bulk read");
        writer.await.expect("writer");
        assert_eq!(back.len(), data.len());
        assert!(back == data, "bulk data differs");
    });
}

#[test]
fn refusals_are_errors_with_the_reason() {
    let f = fixture();
    let (identity, ctrl, api) = login(&f.laptop);
    let svc = echo(&ctrl, &api);
    let session = ctrl.dial_session(&api, &svc).expect("dial session");
    let router = session
        .edge_routers
        .iter()
        .find_map(|r| r.tls_address.clone())
        .expect("router");
    let tls = opk_ziti::tls_config(&identity).expect("tls");
    runtime().block_on(async {
        let channel = RouterChannel::connect(&router, tls.clone(), "laptop", &api.token)
            .await
            .expect("hello");
        // A terminator identity that hosts nothing.
        match channel
            .dial(&session.token, Some("nobody"), None, true)
            .await
        {
            Err(Error::DialRefused { reason, .. }) => assert!(!reason.is_empty()),
            other => panic!("dial to a missing terminator: {other:?}"),
        }
        // A forged API session token: the router either refuses the hello or, having checked
        // only the TLS identity, refuses to carry a dial for it.
        match RouterChannel::connect(&router, tls, "laptop", "not-a-session").await {
            Err(
                Error::Protocol(opk_ziti::ProtocolError::RouterRefused { .. })
                | Error::RouterClosed(_),
            ) => {}
            Ok(forged) => {
                let dial = forged
                    .dial(&session.token, Some("echo-host"), None, true)
                    .await;
                assert!(
                    dial.is_err(),
                    "a dial over a hello with a forged token went through"
                );
            }
            Err(other) => panic!("hello with a bad token: {other:?}"),
        }
    });

    // An identity without a Dial policy does not see the service and gets no session for it.
    let (_, sctrl, sapi) = login(&f.stranger);
    assert_eq!(sctrl.service(&sapi, "echo").expect("lookup"), None);
    match sctrl.dial_session(&sapi, &svc) {
        Err(Error::Controller { status, .. }) => assert!((400..500).contains(&status), "{status}"),
        other => panic!("dial session without a policy: {other:?}"),
    }
}

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock")
        .as_secs()
}

/// A code from a period not used before (the controller refuses a code seen twice).
fn fresh_code(totp: &opk_ziti::Totp, used: &mut u64) -> String {
    totp.code_at(opk_e2e::ziti::fresh_totp_time(used))
}

#[test]
fn totp_enrolment_then_an_auth_policy_that_demands_it() {
    let f = fixture();
    let (identity, ctrl, api) = login(&f.mfa_user);
    let enrolment = ctrl.start_mfa_enrollment(&api).expect("start MFA");
    assert!(
        enrolment.provisioning_url.starts_with("otpauth://totp/"),
        "{}",
        enrolment.provisioning_url
    );
    assert!(!enrolment.recovery_codes.is_empty());
    assert!(!enrolment.is_verified);
    let totp = opk_ziti::Totp::from_provisioning_url(&enrolment.provisioning_url).expect("totp");
    let mut used = 0;
    assert!(ctrl.verify_mfa(&api, "000000").is_err() || totp.code_at(now()) == "000000");
    ctrl.verify_mfa(&api, &fresh_code(&totp, &mut used))
        .expect("verify a current code");
    assert!(ctrl.mfa_enrollment(&api).expect("status").is_verified);
    let svc = echo(&ctrl, &api);

    // Certificate + TOTP: an auth policy that demands the second factor.
    f.net.cli(&[
        "edge",
        "create",
        "auth-policy",
        "cert-and-totp",
        "--primary-cert-allowed",
        "--secondary-req-totp",
    ]);
    f.net.cli(&[
        "edge",
        "update",
        "identity",
        "mfa-user",
        "--auth-policy",
        "cert-and-totp",
    ]);
    let (_, ctrl, mut api) = login(&f.mfa_user);
    assert!(api.mfa_required, "the controller asks for the TOTP code");
    assert!(
        ctrl.dial_session(&api, &svc).is_err(),
        "no dial session before the second factor"
    );
    match ctrl.answer_mfa(&mut api, "123456") {
        Err(Error::Controller { status, .. }) => assert!((400..500).contains(&status)),
        other => panic!("a wrong code: {other:?}"),
    }
    ctrl.answer_mfa(&mut api, &fresh_code(&totp, &mut used))
        .expect("right code");
    runtime().block_on(async {
        let (_channel, mut conn) = dial_echo(&identity, &ctrl, &api).await;
        assert_eq!(round_trip(&mut conn, b"after mfa").await, b"after mfa");
    });

    // Removing MFA needs a code too (back on the default policy, which does not demand it).
    f.net.cli(&[
        "edge",
        "update",
        "identity",
        "mfa-user",
        "--auth-policy",
        "Default",
    ]);
    assert!(ctrl.remove_mfa(&api, "000000").is_err() || totp.code_at(now()) == "000000");
    ctrl.remove_mfa(&api, &fresh_code(&totp, &mut used))
        .expect("remove MFA");
    let (_, _, api) = login(&f.mfa_user);
    assert!(!api.mfa_required);
}

/// opk hosts a service itself (no tunneler): bind as an addressable terminator named after the
/// identity, with the identity proof; the Go SDK (`ziti tunnel proxy`) and opk's own client both
/// reach it, end-to-end encrypted.
#[test]
fn opk_hosts_a_service_without_a_tunneler() {
    let f = fixture();
    let (identity, ctrl, api) = login(&f.rust_host);
    let svc = ctrl
        .service(&api, "echo2")
        .expect("lookup")
        .expect("echo2 visible to its host");
    assert!(
        svc.permissions.iter().any(|p| p == "Bind"),
        "{:?}",
        svc.permissions
    );
    let bind = ctrl.bind_session(&api, &svc).expect("bind session");
    let router = bind
        .edge_routers
        .iter()
        .find_map(|r| r.tls_address.clone())
        .expect("router");
    let secret = opk_ziti::identity_secret(&identity).expect("identity proof");
    let tls = opk_ziti::tls_config(&identity).expect("tls");
    let rt = runtime();
    rt.block_on(async {
        let channel = RouterChannel::connect(&router, tls, &api.identity_name, &api.token)
            .await
            .expect("hello");
        // Addressable by name (what `opk zssh user@rust-host` dials), and a plain terminator
        // (what `ziti tunnel proxy`, which dials no particular identity, reaches).
        let named = channel
            .bind(
                &bind.token,
                Some((&api.identity_name, &secret)),
                svc.encryption_required,
            )
            .await
            .expect("bind as rust-host");
        let plain = channel
            .bind(&bind.token, None, svc.encryption_required)
            .await
            .expect("bind");
        let named = tokio::spawn(prefix_echo(named));
        let plain = tokio::spawn(prefix_echo(plain));
        tokio::task::spawn_blocking(|| fixture().net.wait_for_terminator("echo2", None))
            .await
            .expect("terminator");

        // The Go SDK dials through `ziti tunnel proxy`.
        let port = f.proxy_port;
        let got = tokio::task::spawn_blocking(move || {
            use std::io::{Read as _, Write as _};
            let mut tcp = std::net::TcpStream::connect(("127.0.0.1", port)).expect("proxy");
            tcp.set_read_timeout(Some(Duration::from_secs(20)))
                .expect("timeout");
            tcp.write_all(b"from go").expect("write");
            let mut got = vec![0u8; 11];
            if let Err(e) = tcp.read_exact(&mut got) {
                let log = std::fs::read_to_string(fixture().net.dir.path().join("proxy-echo2.log"))
                    .unwrap_or_default();
                panic!(
                    "read through opk's host: {e}; proxy log:\n{}",
                    log.lines().rev().take(15).collect::<Vec<_>>().join("\n")
                );
            }
            got
        })
        .await
        .expect("go dialer");
        assert_eq!(got, b"opk:from go");

        // opk's own client dials the terminator by identity name.
        let (ident2, ctrl2, api2) = login(&f.laptop2);
        let svc2 = ctrl2
            .service(&api2, "echo2")
            .expect("lookup")
            .expect("echo2 for laptop2");
        let dial = ctrl2.dial_session(&api2, &svc2).expect("dial session");
        let tls2 = opk_ziti::tls_config(&ident2).expect("tls");
        let ch2 = RouterChannel::connect(&router, tls2, &api2.identity_name, &api2.token)
            .await
            .expect("hello");
        let mut conn = ch2
            .dial(&dial.token, Some("rust-host"), Some("laptop2"), true)
            .await
            .expect("dial rust-host");
        conn.write_all(b"from rust").await.expect("write");
        let mut got = vec![0u8; 13];
        conn.read_exact(&mut got).await.expect("read");
        assert_eq!(got, b"opk:from rust");

        for server in [named, plain] {
            let caller = tokio::time::timeout(Duration::from_secs(20), server)
                .await
                .expect("each terminator took a dial")
                .expect("join");
            assert_eq!(caller.as_deref(), Some("laptop2"));
        }
    });
}

/// Accepts one dial and answers every read with `opk:` + the bytes; returns the caller's name.
async fn prefix_echo(mut listener: opk_ziti::Listener) -> Option<String> {
    let incoming = listener.accept().await.expect("accept").expect("a dial");
    let caller = incoming.caller.clone();
    tokio::spawn(async move {
        let (mut rd, mut wr) = tokio::io::split(incoming.stream);
        let mut buf = vec![0u8; 64 * 1024];
        while let Ok(n) = rd.read(&mut buf).await {
            if n == 0 {
                break;
            }
            let mut out = b"opk:".to_vec();
            out.extend_from_slice(&buf[..n]);
            if wr.write_all(&out).await.is_err() {
                break;
            }
        }
        let _ = wr.shutdown().await;
    });
    caller
}

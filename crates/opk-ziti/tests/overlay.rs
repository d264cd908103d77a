//! The overlay client against a real OpenZiti network (controller, edge router and tunneler from
//! the `ziti` CLI v1.7.2, started by tests/network): certificate authentication, service lookup,
//! Dial sessions, router hello, an end-to-end encrypted dial to an addressable terminator, and
//! the refusals a user meets.

mod network;

use std::time::Duration;

use opk_ziti::{Controller, Error, Identity, RouterChannel};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime")
}

/// One network for every case (quickstart takes ~20 s): an echo service hosted by `ziti tunnel
/// host` as identity `echo-host`, a dialer `laptop`, and `stranger` without a Dial policy.
#[test]
fn cert_identity_dials_an_addressable_terminator_end_to_end_encrypted() {
    let mut net = network::Network::start();
    let port = network::echo_server();
    net.service("echo", port);
    let host = net.identity("echo-host", &["echo.binders"]);
    let laptop = net.identity("laptop", &["echo.dialers"]);
    let stranger = net.identity("stranger", &[]);
    net.tunnel_host(&host, "echo");

    let identity = Identity::load(&laptop).expect("identity");
    assert_eq!(
        identity.controller,
        format!("https://127.0.0.1:{}/edge/client/v1", net.ctrl_port)
    );
    let ctrl = Controller::new(&identity, Duration::from_secs(20)).expect("controller");
    let api = ctrl
        .authenticate_cert()
        .expect("authenticate with the certificate");
    assert_eq!(api.identity_name, "laptop");
    assert!(!api.mfa_required);
    assert!(ctrl.refresh(&api).expect("refresh").is_some());

    let services = ctrl.services(&api).expect("services");
    let echo = services
        .iter()
        .find(|s| s.name == "echo")
        .expect("echo is listed")
        .clone();
    assert!(
        echo.encryption_required,
        "services are end-to-end encrypted by default"
    );
    assert!(
        echo.permissions.iter().any(|p| p == "Dial"),
        "{:?}",
        echo.permissions
    );
    assert_eq!(
        ctrl.service(&api, "echo").expect("lookup"),
        Some(echo.clone())
    );
    assert_eq!(ctrl.service(&api, "no-such-service").expect("lookup"), None);

    let session = ctrl.dial_session(&api, &echo).expect("dial session");
    let router = session
        .edge_routers
        .iter()
        .find_map(|r| r.tls_address.clone())
        .expect("a tls router");
    assert_eq!(router, format!("127.0.0.1:{}", net.router_port));

    let tls = opk_ziti::tls_config(&identity).expect("tls");
    runtime().block_on(async {
        let channel = RouterChannel::connect(&router, tls.clone(), &api.identity_name, &api.token)
            .await
            .expect("router hello");
        let mut conn = channel
            .dial(
                &session.token,
                Some("echo-host"),
                Some("laptop"),
                echo.encryption_required,
            )
            .await
            .expect("dial echo-host");
        conn.write_all(b"hello over the overlay\n")
            .await
            .expect("write");
        let mut got = vec![0u8; 23];
        conn.read_exact(&mut got).await.expect("read echo");
        assert_eq!(got, b"hello over the overlay\n");

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

        // A terminator identity that hosts nothing: refused with the router's reason.
        match channel
            .dial(&session.token, Some("nobody"), None, true)
            .await
        {
            Err(Error::DialRefused { reason, .. }) => assert!(!reason.is_empty()),
            other => panic!("dial to a missing terminator: {other:?}"),
        }

        // A forged API session token: the router either refuses the hello or, having accepted
        // the TLS identity, refuses to carry a dial for it.
        match RouterChannel::connect(&router, tls.clone(), "laptop", "not-a-session").await {
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
                eprintln!("forged hello accepted, dial refused: {:?}", dial.err());
            }
            Err(other) => panic!("hello with a bad token: {other:?}"),
        }
    });

    // An identity without a Dial policy does not see the service, and cannot get a session.
    let stranger = Identity::load(&stranger).expect("stranger identity");
    let sctrl = Controller::new(&stranger, Duration::from_secs(20)).expect("controller");
    let sapi = sctrl.authenticate_cert().expect("stranger authenticates");
    assert_eq!(sctrl.service(&sapi, "echo").expect("lookup"), None);
    match sctrl.dial_session(&sapi, &echo) {
        Err(Error::Controller { status, .. }) => assert!((400..500).contains(&status), "{status}"),
        other => panic!("dial session without a policy: {other:?}"),
    }
}

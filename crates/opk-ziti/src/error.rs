//! Errors of the OpenZiti client: [`Error`] for everything, with [`ProtocolError`] for what the
//! pure protocol code (frames, edge messages, end-to-end encryption) can find wrong.

use std::path::PathBuf;

/// Everything that can go wrong reaching a service over the overlay.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A frame, edge message or encrypted stream is not what the protocol allows.
    #[error(transparent)]
    Protocol(#[from] ProtocolError),
    /// The identity file cannot be read.
    #[error("cannot read the OpenZiti identity file {path}")]
    IdentityRead {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The identity file is not JSON of the expected shape.
    #[error(
        "{path} is not an OpenZiti identity file (JSON error at line {line}); enroll again with `opk ziti enroll`"
    )]
    IdentityJson {
        /// The file.
        path: PathBuf,
        /// Where the JSON broke.
        line: usize,
    },
    /// A field of the identity file is unusable.
    #[error("the identity file {path}: its {field} {problem}")]
    IdentityField {
        /// The file.
        path: PathBuf,
        /// Which field (`cert`, `key`, `ca`, `ztAPI`).
        field: &'static str,
        /// What is wrong with it.
        problem: &'static str,
    },
    /// The controller could not be reached, or TLS with it failed.
    #[error(
        "cannot talk to the OpenZiti controller at {url}; check the network and that the identity belongs to this network"
    )]
    ControllerRequest {
        /// The request URL.
        url: String,
        /// The HTTP client's error.
        source: Box<ureq::Error>,
    },
    /// The controller answered with an error.
    #[error("the OpenZiti controller refused {url}: HTTP {status} {code} {message}")]
    Controller {
        /// The request URL.
        url: String,
        /// HTTP status.
        status: u16,
        /// The controller's error code (e.g. `UNAUTHORIZED`, `INVALID_AUTH`).
        code: String,
        /// Its message, sanitised.
        message: String,
    },
    /// The controller's answer is not the JSON expected.
    #[error(
        "the OpenZiti controller's answer to {url} is not the expected JSON (line {line}, column {column})"
    )]
    ControllerJson {
        /// The request URL.
        url: String,
        /// Where it broke.
        line: usize,
        /// Where it broke.
        column: usize,
    },
    /// TLS settings could not be built from the identity.
    #[error("cannot set up TLS with the identity's certificate and key")]
    Tls {
        /// rustls's reason.
        source: tokio_rustls::rustls::Error,
    },
    /// An edge router address is not `host:port`.
    #[error("edge router address {0:?} is not host:port")]
    RouterAddress(String),
    /// Connecting to an edge router, or TLS with it, failed.
    #[error(
        "cannot connect to the edge router at {address}; check that the router is up and reachable"
    )]
    Router {
        /// `host:port`.
        address: String,
        /// The I/O or TLS error.
        source: std::io::Error,
    },
    /// The router closed its channel.
    #[error("the edge router at {0} closed the connection")]
    RouterClosed(String),
    /// The router did not answer in time.
    #[error("the edge router at {0} did not answer within 15 s")]
    RouterTimeout(String),
    /// The dial was refused (no terminator, no permission, host down).
    #[error("dialing {service} failed: {reason}")]
    DialRefused {
        /// The terminator identity or service.
        service: String,
        /// The router's reason.
        reason: String,
    },
    /// The router would not let us host the service.
    #[error("hosting as {terminator} was refused: {reason}")]
    BindRefused {
        /// The terminator identity we asked for.
        terminator: String,
        /// The router's reason.
        reason: String,
    },
    /// The identity's key cannot sign the terminator-identity proof.
    #[error(
        "the identity's private key cannot sign (only RSA and ECDSA P-256 identities can host)"
    )]
    HostKey,
    /// The host did not send an end-to-end key for a service that requires encryption.
    #[error(
        "the host answered without an end-to-end encryption key although the service requires encryption; refusing the connection"
    )]
    NotEncrypted,
    /// The controller's TOTP provisioning URL does not parse.
    #[error("the controller's MFA provisioning URL is not an otpauth://totp URL")]
    ProvisioningUrl,
    /// The identity may not dial the service (or it does not exist).
    #[error(
        "the OpenZiti service {service:?} is not available to identity {identity}; check the service name (-s) and the identity's Dial policy"
    )]
    NoService {
        /// The service asked for.
        service: String,
        /// Our identity.
        identity: String,
    },
    /// The identity may not host the service.
    #[error(
        "identity {identity} may not host the OpenZiti service {service:?}; check the service name and the identity's Bind policy"
    )]
    NoBind {
        /// The service asked for.
        service: String,
        /// Our identity.
        identity: String,
    },
    /// The Dial session names no edge router with a TLS listener.
    #[error(
        "no edge router can carry service {service:?}; check the service's edge-router policies"
    )]
    NoRouter {
        /// The service.
        service: String,
    },
    /// The controller asks for a TOTP code and none could be had.
    #[error(
        "the controller asks for a TOTP code: run on a terminal to be prompted, or pass --totp-command"
    )]
    TotpMissing,
    /// An auth policy wants an OIDC token and none was given (or the one given was refused).
    #[error(
        "the controller wants an OIDC token for identity {identity} (its auth policy names an external-JWT signer): pass --oidc-cert with the certificate of a current `opk login` whose token that signer accepts, or -o -a ISSUER to sign in at that signer's IdP"
    )]
    ExtJwtRequired {
        /// Our identity.
        identity: String,
    },
    /// `--controllerUrl` is not a controller address.
    #[error(
        "--controllerUrl {0:?} is not host:port or an https:// URL; pass the controller's address, e.g. ctrl.example.com:1280"
    )]
    ControllerUrl(String),
    /// This machine's trust anchors cannot be read (`SSL_CERT_FILE`).
    #[error(transparent)]
    Trust(#[from] opk_http::Error),
    /// The controller's TLS certificate was refused (OIDC-only mode, checked against this
    /// machine's trust anchors).
    #[error("the TLS certificate of the OpenZiti controller at {url} {problem}")]
    ControllerCertificate {
        /// The request URL.
        url: String,
        /// Why, and what to do.
        problem: opk_http::TlsProblem,
    },
    /// The controller did not accept the OIDC token as the primary credential.
    #[error(
        "the OpenZiti controller at {controller} refused the OIDC token ({message}); sign in again (`opk login`, or -o) as a user who has an identity whose external id is the token's claim and whose auth policy allows ext-jwt as primary"
    )]
    OidcTokenRefused {
        /// The controller.
        controller: String,
        /// Its reason, sanitised.
        message: String,
    },
    /// The OIDC token is past its `exp`.
    #[error(
        "the OIDC token expired {seconds} s ago; sign in again (`opk login` for --oidc-cert, or -o for a browser sign-in)"
    )]
    OidcTokenExpired {
        /// How long ago.
        seconds: u64,
    },
    /// The OIDC token is not a JWT.
    #[error("the OIDC token is not a JWT ({problem}); sign in again (`opk login`, or -o)")]
    OidcTokenMalformed {
        /// What is wrong.
        problem: &'static str,
    },
    /// The browser sign-in at the IdP failed.
    #[error(transparent)]
    Oidc(#[from] opk_oidc::Error),
    /// The `--oidc-cert` file is not an opk certificate.
    #[error("{path} {problem}; pass the KEY-cert.pub that `opk login` wrote")]
    OidcCert {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        problem: &'static str,
    },
    /// `--totp-command` failed.
    #[error("the TOTP command {command:?} failed; check it prints the current code")]
    TotpCommand {
        /// The command.
        command: String,
    },
    /// The service connection is closed.
    #[error("the overlay connection is closed")]
    ConnectionClosed,
    /// The enrolment token file cannot be read.
    #[error("cannot read the enrollment token {path}")]
    EnrollmentRead {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The enrolment token is not one.
    #[error(
        "the enrollment token is not valid: {problem}; pass the file `ziti edge create identity NAME -o FILE` wrote"
    )]
    EnrollmentToken {
        /// What is wrong.
        problem: &'static str,
    },
    /// The token is for a method other than one-time-token.
    #[error(
        "the enrollment token is for method {0:?}; opk enrolls one-time-token (ott) identities only"
    )]
    EnrollmentMethod(String),
    /// The token has expired.
    #[error(
        "the enrollment token has expired; ask for a new one (ziti edge update authenticator / re-create the identity)"
    )]
    EnrollmentExpired,
    /// The controller's TLS certificate does not verify the token's signature.
    #[error(
        "the enrollment token was not signed by the controller at {controller} (its TLS certificate does not verify the signature); refusing to enroll"
    )]
    EnrollmentSignature {
        /// The token's issuer.
        controller: String,
    },
    /// The CA bundle is not a base64 PKCS#7 certificate bundle.
    #[error("the controller's CA bundle at {url} is not a base64 PKCS#7 certificate bundle")]
    EnrollmentCa {
        /// Where it came from.
        url: String,
    },
    /// TLS with the controller failed before its certificate could be checked.
    #[error("cannot connect to the OpenZiti controller at {address}")]
    ControllerTls {
        /// `host:port`.
        address: String,
        /// Why.
        source: std::io::Error,
    },
    /// A file could not be written.
    #[error(transparent)]
    Write(#[from] opk_files::Error),
    /// TOTP is enrolled already.
    #[error("identity {identity} already has TOTP MFA; remove it first with `opk zssh mfa remove`")]
    MfaExists {
        /// The identity.
        identity: String,
    },
    /// Writing to standard output failed.
    #[error("cannot write to standard output")]
    Output(#[source] std::io::Error),
    /// Reading the code the user types failed.
    #[error("cannot read the code from standard input")]
    CodeInput(#[source] std::io::Error),
}

/// What the protocol code found wrong in a frame, an edge message or the encrypted stream.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ProtocolError {
    /// Fewer bytes than the frame's own lengths announce.
    #[error("channel frame is truncated: {need} bytes needed, {have} available")]
    Truncated {
        /// Bytes the frame needs.
        need: usize,
        /// Bytes present.
        have: usize,
    },
    /// The first four bytes are not the channel v2 magic.
    #[error("not a channel v2 frame (magic {0:02x?})")]
    BadMagic([u8; 4]),
    /// The peer answered that it does not speak channel v2.
    #[error("the edge router does not speak channel v2; it offers versions {0:?}")]
    UnsupportedVersion(Vec<u32>),
    /// Headers or body over the caps.
    #[error(
        "channel frame too large: {headers} header bytes (max {}), {body} body bytes (max {})",
        crate::MAX_HEADERS,
        crate::MAX_BODY
    )]
    TooLarge {
        /// Announced header bytes.
        headers: usize,
        /// Announced body bytes.
        body: usize,
    },
    /// The header section does not parse into (key, length, value) entries.
    #[error("channel frame has a malformed header section at offset {0}")]
    MalformedHeaders(usize),
    /// The same header key appears twice (the Go SDK would silently keep the last).
    #[error("channel frame repeats header {0}")]
    DuplicateHeader(i32),
    /// A header has the wrong length for its type.
    #[error("header {key} has {len} bytes, expected {expected}")]
    HeaderLength {
        /// Header id.
        key: i32,
        /// Its length.
        len: usize,
        /// The length its type needs.
        expected: usize,
    },
    /// The peer's X25519 public key is not 32 bytes.
    #[error("the peer's end-to-end public key has {0} bytes, expected 32")]
    PublicKeyLength(usize),
    /// The shared secret is all zeros (a low-order peer key).
    #[error("the peer's end-to-end public key is a low-order point; refusing it")]
    WeakPublicKey,
    /// The operating system's random source failed.
    #[error("cannot read random bytes from the operating system")]
    Random,
    /// The stream header is not 24 bytes.
    #[error("end-to-end stream header has {0} bytes, expected 24")]
    StreamHeaderLength(usize),
    /// A message failed authentication (tampered, reordered, or the wrong key).
    #[error("end-to-end decryption failed: the data was altered or is out of order")]
    Decrypt,
    /// A message arrived after the peer's final message.
    #[error("end-to-end stream already finished")]
    StreamFinished,
    /// A frame arrived that is not the answer we wait for.
    #[error(
        "unexpected message of type {content_type} from the edge router while waiting for {expected}"
    )]
    Unexpected {
        /// What we were waiting for.
        expected: &'static str,
        /// What came instead.
        content_type: i32,
    },
    /// The edge router refused our hello (usually an expired or unknown API session).
    #[error("the edge router refused the connection: {message}")]
    RouterRefused {
        /// The router's reason, sanitised.
        message: String,
    },
    /// The host wants an end-to-end method other than kx + secretstream.
    #[error("the host asks for an end-to-end encryption method opk does not speak (only method 0)")]
    UnsupportedCryptoMethod,
    /// A message lacks a header it must carry.
    #[error("edge message lacks header {0}")]
    MissingHeader(i32),
    /// A multipart body whose part lengths do not add up.
    #[error("malformed multipart data message")]
    MalformedMultipart,
}

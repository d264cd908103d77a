//! The controller's edge client REST API (`/edge/client/v1`), blocking, over mutual TLS with the
//! identity's certificate and the network's CA as the only trust anchor.
//!
//! Responses come in an envelope: `{"data": …, "meta": …}` on success,
//! `{"error": {"code": "…", "message": "…"}}` otherwise; lists page with `limit`/`offset`.

use std::sync::Arc;
use std::time::Duration;

use serde::Deserialize;
use serde::de::DeserializeOwned;
use ureq::tls::{Certificate, ClientCert, PemItem, PrivateKey, RootCerts, TlsConfig, TlsProvider};

use crate::{Error, Identity, MfaEnrollment};

/// Cap on one controller response (a page of 500 services with configs stays far below).
const MAX_RESPONSE: u64 = 8 * 1024 * 1024;
/// Page size for lists (the Go SDK's).
const PAGE: usize = 500;

/// A client of one controller.
pub struct Controller {
    agent: ureq::Agent,
    base: String,
    // An OIDC token sent as `Authorization: Bearer` with every request: the external-JWT
    // factor of an auth policy (`--secondary-req-ext-jwt-signer`).
    bearer: Option<zeroize::Zeroizing<String>>,
}

impl std::fmt::Debug for Controller {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Controller")
            .field("base", &self.base)
            .finish_non_exhaustive()
    }
}

/// An authenticated API session.
#[derive(Clone)]
pub struct ApiSession {
    /// The `zt-session` token (also the edge routers' hello token).
    pub token: String,
    /// Our identity's id.
    pub identity_id: String,
    /// Our identity's name.
    pub identity_name: String,
    /// When the session expires unless refreshed (RFC 3339, as the controller says it).
    pub expires_at: Option<String>,
    /// Seconds left until then, as the controller counts them.
    pub expiration_seconds: Option<u64>,
    /// Whether a TOTP code must still be given.
    pub mfa_required: bool,
    /// Whether the controller still wants an external JWT (an OIDC token) as a second factor.
    pub ext_jwt_required: bool,
}

impl std::fmt::Debug for ApiSession {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ApiSession")
            .field("identity_name", &self.identity_name)
            .field("expires_at", &self.expires_at)
            .field("mfa_required", &self.mfa_required)
            .finish_non_exhaustive()
    }
}

/// A service this identity may see.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Service {
    /// The controller's id for it.
    pub id: String,
    /// Its name.
    pub name: String,
    /// Whether dials must be end-to-end encrypted (the default).
    pub encryption_required: bool,
    /// `Dial` and/or `Bind`.
    pub permissions: Vec<String>,
}

/// An edge router offered for a service session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EdgeRouter {
    /// Its name.
    pub name: String,
    /// Its TLS edge listener as `host:port`, if it has one.
    pub tls_address: Option<String>,
}

/// A Dial or Bind session for one service.
#[derive(Clone)]
pub struct ServiceSession {
    /// The session id.
    pub id: String,
    /// The token sent in Connect / Bind.
    pub token: String,
    /// Routers that can carry it.
    pub edge_routers: Vec<EdgeRouter>,
}

impl ServiceSession {
    /// The `host:port` TLS listeners of its edge routers.
    pub fn tls_routers(&self) -> Vec<String> {
        self.edge_routers
            .iter()
            .filter_map(|r| r.tls_address.clone())
            .collect()
    }
}

impl std::fmt::Debug for ServiceSession {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServiceSession")
            .field("id", &self.id)
            .field("edge_routers", &self.edge_routers)
            .finish_non_exhaustive()
    }
}

impl Controller {
    /// A client for `identity`'s controller. `timeout` bounds every request.
    pub fn new(identity: &Identity, timeout: Duration) -> Result<Self, Error> {
        let (cert_pem, key_pem, ca_pem) = identity.pems();
        let tls_error = |field: &'static str| Error::IdentityField {
            path: identity.path.clone(),
            field,
            problem: "cannot be used for TLS",
        };
        let chain: Vec<Certificate<'static>> = ureq::tls::parse_pem(cert_pem.as_bytes())
            .filter_map(|item| match item {
                Ok(PemItem::Certificate(c)) => Some(Ok(c)),
                Ok(_) => None,
                Err(_) => Some(Err(tls_error("cert"))),
            })
            .collect::<Result<_, _>>()?;
        let roots: Vec<Certificate<'static>> = ureq::tls::parse_pem(ca_pem.as_bytes())
            .filter_map(|item| match item {
                Ok(PemItem::Certificate(c)) => Some(Ok(c)),
                Ok(_) => None,
                Err(_) => Some(Err(tls_error("ca"))),
            })
            .collect::<Result<_, _>>()?;
        let key = PrivateKey::from_pem(key_pem.as_bytes()).map_err(|_| tls_error("key"))?;
        Ok(Self {
            agent: agent_with(
                roots,
                Some(ClientCert::new_with_certs(&chain, key)),
                timeout,
            ),
            base: identity.controller.clone(),
            bearer: None,
        })
    }

    /// A client for the controller at `url` (zssh's `--controllerUrl`: `host:port` or an https
    /// URL) without an identity certificate, for an OIDC token as the primary factor. Its TLS
    /// certificate is checked against this machine's trust anchors (system bundle plus
    /// `SSL_CERT_FILE`) before the token is sent: zssh fetches the CA bundle unverified instead
    /// (Z-7 in docs/hazards.md).
    pub fn without_identity(url: &str, timeout: Duration) -> Result<Self, Error> {
        let base = crate::identity::controller_url(url)
            .ok_or_else(|| Error::ControllerUrl(url.to_owned()))?;
        let roots = opk_http::trust_anchors()?;
        Ok(Self {
            agent: agent(roots, None, timeout),
            base,
            bearer: None,
        })
    }

    /// The edge client API base, e.g. `https://127.0.0.1:1280/edge/client/v1`.
    pub fn base(&self) -> &str {
        &self.base
    }

    /// Sends `jwt` (an OIDC token the controller's external-JWT signer accepts) with every
    /// request, as the second factor.
    #[must_use]
    pub fn with_bearer(mut self, jwt: &str) -> Self {
        self.bearer = Some(zeroize::Zeroizing::new(format!("Bearer {jwt}")));
        self
    }

    /// `req` with the session token and the bearer token, when there are.
    fn auth<B>(
        &self,
        mut req: ureq::RequestBuilder<B>,
        session: Option<&ApiSession>,
    ) -> ureq::RequestBuilder<B> {
        if let Some(s) = session {
            req = req.header("zt-session", &s.token);
        }
        if let Some(b) = &self.bearer {
            req = req.header("Authorization", b.as_str());
        }
        req
    }

    /// `POST /authenticate?method=cert`: an API session for the certificate's identity.
    pub fn authenticate_cert(&self) -> Result<ApiSession, Error> {
        self.authenticate("cert")
    }

    /// `POST /authenticate?method=ext-jwt`: an API session for the identity whose external id
    /// the bearer token ([`Controller::with_bearer`]) names, the token being the primary factor.
    pub fn authenticate_ext_jwt(&self) -> Result<ApiSession, Error> {
        self.authenticate("ext-jwt")
    }

    /// The network's CA bundle (`/.well-known/est/cacerts`) as PEM: what edge routers' TLS
    /// certificates chain to.
    pub fn ca_bundle(&self) -> Result<String, Error> {
        let root = self.base.trim_end_matches("/edge/client/v1");
        Ok(crate::enroll::ca_bundle(&self.agent, root)?.0)
    }

    /// `POST /current-api-session/certificates {"csr"}`: a certificate for the request's key,
    /// bound to this API session, which edge routers accept from a client that has no identity
    /// certificate. Returns its PEM chain.
    pub fn api_session_certificate(
        &self,
        session: &ApiSession,
        csr_pem: &str,
    ) -> Result<String, Error> {
        #[derive(Deserialize)]
        struct Created {
            certificate: String,
        }
        let url = format!("{}/current-api-session/certificates", self.base);
        let body = serde_json::json!({ "csr": csr_pem }).to_string();
        let created: Created = self.post(&url, Some(session), &body)?;
        Ok(created.certificate)
    }

    fn authenticate(&self, method: &str) -> Result<ApiSession, Error> {
        #[derive(Deserialize)]
        struct Identity {
            id: String,
            name: String,
        }
        #[derive(Deserialize)]
        #[serde(rename_all = "camelCase")]
        struct Session {
            token: String,
            identity: Identity,
            expires_at: Option<String>,
            expiration_seconds: Option<u64>,
            #[serde(default)]
            auth_queries: Vec<AuthQuery>,
        }
        #[derive(Deserialize)]
        #[serde(rename_all = "camelCase")]
        struct AuthQuery {
            type_id: Option<String>,
        }
        let url = format!("{}/authenticate?method={method}", self.base);
        let body = r#"{"sdkInfo":{"type":"opk","version":"0.1.0"}}"#;
        let s: Session = self.post(&url, None, body)?;
        Ok(ApiSession {
            token: s.token,
            identity_id: s.identity.id,
            identity_name: s.identity.name,
            expires_at: s.expires_at,
            expiration_seconds: s.expiration_seconds,
            // An MFA query is what the controller still wants before the session is usable.
            mfa_required: s
                .auth_queries
                .iter()
                .any(|q| q.type_id.as_deref() == Some("MFA")),
            ext_jwt_required: s
                .auth_queries
                .iter()
                .any(|q| q.type_id.as_deref() == Some("EXT-JWT")),
        })
    }

    /// `GET /services`, every page.
    pub fn services(&self, session: &ApiSession) -> Result<Vec<Service>, Error> {
        let mut all = Vec::new();
        loop {
            let url = format!("{}/services?limit={PAGE}&offset={}", self.base, all.len());
            let (page, total) = self.list::<ServiceJson>(session, &url)?;
            let got = page.len();
            all.extend(page.into_iter().map(Service::from));
            if got == 0 || all.len() >= total {
                return Ok(all);
            }
        }
    }

    /// The service named `name`, if this identity can see it.
    pub fn service(&self, session: &ApiSession, name: &str) -> Result<Option<Service>, Error> {
        let url = format!("{}/services", self.base);
        let filter = format!(
            "name=\"{}\"",
            name.replace('\\', "\\\\").replace('"', "\\\"")
        );
        let list: Vec<ServiceJson> =
            self.get(&url, &[("filter", &filter), ("limit", "2")], session)?;
        Ok(list.into_iter().map(Service::from).find(|s| s.name == name))
    }

    /// `POST /sessions {"serviceId", "type": "Dial"}`.
    pub fn dial_session(
        &self,
        session: &ApiSession,
        service: &Service,
    ) -> Result<ServiceSession, Error> {
        self.service_session(session, service, "Dial")
    }

    /// `POST /sessions {"serviceId", "type": "Bind"}`: permission to host the service.
    pub fn bind_session(
        &self,
        session: &ApiSession,
        service: &Service,
    ) -> Result<ServiceSession, Error> {
        self.service_session(session, service, "Bind")
    }

    fn service_session(
        &self,
        session: &ApiSession,
        service: &Service,
        kind: &str,
    ) -> Result<ServiceSession, Error> {
        #[derive(Deserialize)]
        #[serde(rename_all = "camelCase")]
        struct Router {
            name: String,
            #[serde(default)]
            supported_protocols: std::collections::BTreeMap<String, String>,
        }
        #[derive(Deserialize)]
        #[serde(rename_all = "camelCase")]
        struct Session {
            id: String,
            token: String,
            #[serde(default)]
            edge_routers: Vec<Router>,
        }
        let url = format!("{}/sessions", self.base);
        let body = serde_json::json!({"serviceId": service.id, "type": kind}).to_string();
        let s: Session = self.post(&url, Some(session), &body)?;
        Ok(ServiceSession {
            id: s.id,
            token: s.token,
            edge_routers: s
                .edge_routers
                .into_iter()
                .map(|r| EdgeRouter {
                    tls_address: r
                        .supported_protocols
                        .get("tls")
                        .and_then(|u| tls_address(u)),
                    name: r.name,
                })
                .collect(),
        })
    }

    /// `POST /authenticate/mfa`: answers the session's TOTP query with `code` (or a recovery
    /// code).
    pub fn answer_mfa(&self, session: &mut ApiSession, code: &str) -> Result<(), Error> {
        let url = format!("{}/authenticate/mfa", self.base);
        let body = serde_json::json!({ "code": code }).to_string();
        self.post::<serde::de::IgnoredAny>(&url, Some(session), &body)?;
        session.mfa_required = false;
        Ok(())
    }

    /// `POST /current-identity/mfa` then `GET` it: starts TOTP enrollment.
    pub fn start_mfa_enrollment(&self, session: &ApiSession) -> Result<MfaEnrollment, Error> {
        let url = format!("{}/current-identity/mfa", self.base);
        self.post::<serde::de::IgnoredAny>(&url, Some(session), "{}")?;
        self.mfa_enrollment(session)
    }

    /// `GET /current-identity/mfa`: the enrollment in progress (or done).
    pub fn mfa_enrollment(&self, session: &ApiSession) -> Result<MfaEnrollment, Error> {
        #[derive(Deserialize)]
        #[serde(rename_all = "camelCase")]
        struct Mfa {
            // Null once enrollment is verified: the secret is shown only while enrolling.
            provisioning_url: Option<String>,
            recovery_codes: Option<Vec<String>>,
            #[serde(default)]
            is_verified: bool,
        }
        let url = format!("{}/current-identity/mfa", self.base);
        let m: Mfa = self.get(&url, &[], session)?;
        Ok(MfaEnrollment {
            provisioning_url: m.provisioning_url.unwrap_or_default(),
            recovery_codes: m.recovery_codes.unwrap_or_default(),
            is_verified: m.is_verified,
        })
    }

    /// `POST /current-identity/mfa/verify`: finishes enrollment with a current code.
    pub fn verify_mfa(&self, session: &ApiSession, code: &str) -> Result<(), Error> {
        let url = format!("{}/current-identity/mfa/verify", self.base);
        let body = serde_json::json!({ "code": code }).to_string();
        self.post::<serde::de::IgnoredAny>(&url, Some(session), &body)
            .map(|_| ())
    }

    /// `DELETE /current-identity/mfa` with a current code (or a recovery code).
    pub fn remove_mfa(&self, session: &ApiSession, code: &str) -> Result<(), Error> {
        let url = format!("{}/current-identity/mfa", self.base);
        let resp = self
            .auth(self.agent.delete(&url), Some(session))
            .header("mfa-validation-code", code)
            .call();
        decode::<serde::de::IgnoredAny, serde::de::IgnoredAny>(&url, resp).map(|_| ())
    }

    /// `GET /current-api-session`: keeps the session alive and tells how many seconds it has
    /// left now.
    pub fn refresh(&self, session: &ApiSession) -> Result<Option<u64>, Error> {
        #[derive(Deserialize)]
        #[serde(rename_all = "camelCase")]
        struct Current {
            expiration_seconds: Option<u64>,
        }
        let url = format!("{}/current-api-session", self.base);
        let c: Current = self.get(&url, &[], session)?;
        Ok(c.expiration_seconds)
    }

    fn list<T: DeserializeOwned>(
        &self,
        session: &ApiSession,
        url: &str,
    ) -> Result<(Vec<T>, usize), Error> {
        #[derive(Deserialize)]
        #[serde(rename_all = "camelCase")]
        struct Pagination {
            total_count: usize,
        }
        #[derive(Deserialize)]
        struct Meta {
            pagination: Option<Pagination>,
        }
        let resp = self.auth(self.agent.get(url), Some(session)).call();
        let envelope: Envelope<Vec<T>, Meta> = decode(url, resp)?;
        let total = envelope
            .meta
            .and_then(|m| m.pagination)
            .map_or(envelope.data.len(), |p| p.total_count);
        Ok((envelope.data, total))
    }

    fn get<T: DeserializeOwned>(
        &self,
        url: &str,
        query: &[(&str, &str)],
        session: &ApiSession,
    ) -> Result<T, Error> {
        let mut req = self.auth(self.agent.get(url), Some(session));
        for (k, v) in query {
            req = req.query(*k, *v);
        }
        Ok(decode::<T, serde::de::IgnoredAny>(url, req.call())?.data)
    }

    fn post<T: DeserializeOwned>(
        &self,
        url: &str,
        session: Option<&ApiSession>,
        body: &str,
    ) -> Result<T, Error> {
        let req = self
            .auth(self.agent.post(url), session)
            .content_type("application/json");
        Ok(decode::<T, serde::de::IgnoredAny>(url, req.send(body))?.data)
    }
}

/// An HTTP client trusting only `roots`, presenting `client` if given; `timeout` bounds every
/// request. Redirects are not followed (a controller has no reason to send one).
pub(crate) fn agent(
    roots: Vec<rustls_pki_types::CertificateDer<'static>>,
    client: Option<ClientCert>,
    timeout: Duration,
) -> ureq::Agent {
    let roots = roots
        .iter()
        .map(|c| Certificate::from_der(c.as_ref()).to_owned())
        .collect();
    agent_with(roots, client, timeout)
}

fn agent_with(
    roots: Vec<Certificate<'static>>,
    client: Option<ClientCert>,
    timeout: Duration,
) -> ureq::Agent {
    let tls = TlsConfig::builder()
        .provider(TlsProvider::Rustls)
        .root_certs(RootCerts::Specific(Arc::new(roots)))
        .client_cert(client)
        .build();
    ureq::Agent::config_builder()
        .tls_config(tls)
        .http_status_as_error(false)
        .max_redirects(0)
        .timeout_global(Some(timeout))
        .build()
        .into()
}

/// A 2xx response's `data`.
pub(crate) fn decode_data<T: DeserializeOwned>(
    url: &str,
    resp: Result<ureq::http::Response<ureq::Body>, ureq::Error>,
) -> Result<T, Error> {
    Ok(decode::<T, serde::de::IgnoredAny>(url, resp)?.data)
}

/// A 2xx response's body as text (at most `limit` bytes).
pub(crate) fn text(
    url: &str,
    resp: Result<ureq::http::Response<ureq::Body>, ureq::Error>,
    limit: u64,
) -> Result<String, Error> {
    let (status, text) = read_body(url, resp, limit)?;
    if !(200..300).contains(&status) {
        return Err(failure(url, status, &text));
    }
    Ok(text)
}

fn read_body(
    url: &str,
    resp: Result<ureq::http::Response<ureq::Body>, ureq::Error>,
    limit: u64,
) -> Result<(u16, String), Error> {
    let request = |source| Error::ControllerRequest {
        url: url.to_owned(),
        source: Box::new(source),
    };
    let mut resp = resp.map_err(request)?;
    let status = resp.status().as_u16();
    let text = resp
        .body_mut()
        .with_config()
        .limit(limit)
        .read_to_string()
        .map_err(request)?;
    Ok((status, text))
}

/// The controller's error (code and message from its envelope, when it sent one).
fn failure(url: &str, status: u16, text: &str) -> Error {
    #[derive(Deserialize)]
    struct ApiError {
        code: Option<String>,
        message: Option<String>,
    }
    #[derive(Deserialize)]
    struct Failure {
        error: ApiError,
    }
    let (code, message) = match serde_json::from_str::<Failure>(text) {
        Ok(f) => (
            f.error.code.unwrap_or_default(),
            f.error.message.unwrap_or_default(),
        ),
        Err(_) => (String::new(), String::new()),
    };
    Error::Controller {
        url: url.to_owned(),
        status,
        code,
        message: crate::edge::peer_text(message.as_bytes()),
    }
}

#[derive(Deserialize)]
struct Envelope<T, M> {
    data: T,
    meta: Option<M>,
}

/// A 2xx response's envelope, or the controller's error code and message.
fn decode<T: DeserializeOwned, M: DeserializeOwned>(
    url: &str,
    resp: Result<ureq::http::Response<ureq::Body>, ureq::Error>,
) -> Result<Envelope<T, M>, Error> {
    let (status, text) = read_body(url, resp, MAX_RESPONSE)?;
    if !(200..300).contains(&status) {
        return Err(failure(url, status, &text));
    }
    serde_json::from_str(&text).map_err(|e| Error::ControllerJson {
        url: url.to_owned(),
        line: e.line(),
        column: e.column(),
    })
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ServiceJson {
    id: String,
    name: String,
    #[serde(default = "yes")]
    encryption_required: bool,
    #[serde(default)]
    permissions: Vec<String>,
}

fn yes() -> bool {
    true
}

impl From<ServiceJson> for Service {
    fn from(s: ServiceJson) -> Self {
        Self {
            id: s.id,
            name: s.name,
            encryption_required: s.encryption_required,
            permissions: s.permissions,
        }
    }
}

/// `tls://host:port` or `tls:host:port` → `host:port`.
fn tls_address(url: &str) -> Option<String> {
    let rest = url
        .strip_prefix("tls://")
        .or_else(|| url.strip_prefix("tls:"))?;
    (!rest.is_empty() && rest.contains(':')).then(|| rest.to_owned())
}

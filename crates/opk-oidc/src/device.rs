//! Device authorization grant (RFC 8628), for machines without a browser: the OP gives a user
//! code and a verification URL that the user opens on any other device, while this side polls
//! the token endpoint. The nonce goes into the device authorization request as a form parameter,
//! as the openpubkey library sends it, and the ID token must carry it back.

use std::time::{Duration, Instant};

use opk_jwks::Endpoint;
use serde_json::Value;

use crate::flow::{check_id_token, client_post, discovery, oauth_error, tokens_from};
use crate::{Error, OidcHttp, ProviderSpec, Tokens};
use opk_http::sanitize;

/// RFC 8628 section 3.2: the polling interval when the OP names none.
const DEFAULT_INTERVAL: Duration = Duration::from_secs(5);
/// Section 3.5: what `slow_down` adds to the interval.
const SLOW_DOWN_STEP: Duration = Duration::from_secs(5);
/// Bounds on what an OP may ask for, so a hostile answer cannot stall or spin the client.
const MAX_INTERVAL: Duration = Duration::from_secs(60);
const MAX_EXPIRES_IN: u64 = 3600;
/// How often [`DeviceUi::tick`] is called while waiting (a spinner's frame rate).
const TICK: Duration = Duration::from_millis(250);
/// Longest user code or URL shown.
const MAX_SHOWN: usize = 512;

/// What the user needs to finish the login elsewhere (all of it sanitised for a terminal).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DeviceCode {
    /// The code the user types or confirms.
    pub user_code: String,
    /// Where to enter it.
    pub verification_uri: String,
    /// The same page with the code filled in, when the OP gives one (for a QR code).
    pub verification_uri_complete: Option<String>,
    /// How long the code is valid.
    pub expires_in: Duration,
}

/// How the device login talks to the user.
pub trait DeviceUi {
    /// Called once, when the code is known.
    fn show_code(&mut self, code: &DeviceCode);
    /// Called about four times a second while polling, with the time left.
    fn tick(&mut self, left: Duration);
}

/// Runs the device authorization grant against `provider` with `nonce` and returns the tokens.
///
/// Gives up with [`Error::DeviceExpired`] when the code expires (or `timeout` passes, whichever
/// comes first), and honours `authorization_pending`, `slow_down`, `access_denied` and
/// `expired_token` (RFC 8628 section 3.5).
pub fn login_with_device(
    http: &dyn OidcHttp,
    provider: &ProviderSpec,
    nonce: &str,
    timeout: Duration,
    ui: &mut dyn DeviceUi,
) -> Result<Tokens, Error> {
    provider.validate()?;
    let started = Instant::now();
    let disc = discovery(http, &provider.issuer)?;
    let device_endpoint = disc.endpoint(Endpoint::DeviceAuthorization)?.to_owned();
    let token_endpoint = disc.endpoint(Endpoint::Token)?.to_owned();
    let scope = provider.scopes.join(" ");
    let form = vec![
        ("client_id", provider.client_id.as_str()),
        ("scope", &scope),
        ("nonce", nonce),
    ];
    let body = client_post(
        http,
        &device_endpoint,
        provider,
        form,
        |status, error, description| Error::DeviceEndpoint {
            status,
            error,
            description,
        },
    )?;
    let grant = DeviceGrant::from_response(&body)?;
    ui.show_code(&grant.code);

    let deadline = started + timeout.min(grant.code.expires_in);
    let mut interval = grant.interval;
    let mut poll = vec![
        ("grant_type", "urn:ietf:params:oauth:grant-type:device_code"),
        ("device_code", grant.device_code.as_str()),
        ("client_id", provider.client_id.as_str()),
    ];
    if let Some(secret) = &provider.client_secret {
        poll.push(("client_secret", secret));
    }
    loop {
        // Wait first: the user has not even read the code yet.
        let next = Instant::now() + interval;
        while Instant::now() < next {
            let now = Instant::now();
            if now >= deadline {
                return Err(Error::DeviceExpired);
            }
            ui.tick(deadline - now);
            std::thread::sleep(TICK.min(next.saturating_duration_since(now)));
        }
        let (status, body) = http.post_form(&token_endpoint, &poll)?;
        if status == 200 {
            let tokens = tokens_from(&body)?;
            return match check_id_token(&tokens.id_token, nonce) {
                Err(Error::IdToken(crate::IdTokenProblem::NoNonce)) => Err(Error::DeviceNoNonce),
                Err(e) => Err(e),
                Ok(()) => Ok(tokens),
            };
        }
        let (error, description) = oauth_error(&body);
        match error.as_str() {
            "authorization_pending" => {}
            "slow_down" => interval = (interval + SLOW_DOWN_STEP).min(MAX_INTERVAL),
            "expired_token" => return Err(Error::DeviceExpired),
            "access_denied" => return Err(Error::Op { error, description }),
            _ => {
                return Err(Error::TokenEndpoint {
                    status,
                    error,
                    description,
                });
            }
        }
    }
}

/// The device authorization response (RFC 8628 section 3.2).
#[derive(Debug)]
struct DeviceGrant {
    device_code: String,
    code: DeviceCode,
    interval: Duration,
}

impl DeviceGrant {
    fn from_response(body: &Value) -> Result<Self, Error> {
        let text = |name: &'static str| -> Result<Option<String>, Error> {
            match body.get(name) {
                None | Some(Value::Null) => Ok(None),
                Some(Value::String(s)) if !s.is_empty() => Ok(Some(s.clone())),
                Some(_) => Err(Error::DeviceResponse(name)),
            }
        };
        let device_code = text("device_code")?.ok_or(Error::DeviceResponse("device_code"))?;
        let user_code = text("user_code")?.ok_or(Error::DeviceResponse("user_code"))?;
        // Google spells it verification_url.
        let verification_uri = match text("verification_uri")? {
            Some(u) => u,
            None => text("verification_url")?.ok_or(Error::DeviceResponse("verification_uri"))?,
        };
        let shown_url = |u: String| -> Result<String, Error> {
            if !(u.starts_with("https://") || u.starts_with("http://")) {
                return Err(Error::DeviceResponse("verification_uri"));
            }
            Ok(sanitize(&u, MAX_SHOWN))
        };
        let expires_in = body
            .get("expires_in")
            .and_then(Value::as_u64)
            .filter(|&s| s > 0)
            .ok_or(Error::DeviceResponse("expires_in"))?
            .min(MAX_EXPIRES_IN);
        let interval = match body.get("interval") {
            None | Some(Value::Null) => DEFAULT_INTERVAL,
            Some(v) => {
                Duration::from_secs(v.as_u64().ok_or(Error::DeviceResponse("interval"))?.max(1))
                    .min(MAX_INTERVAL)
            }
        };
        Ok(Self {
            device_code,
            code: DeviceCode {
                user_code: sanitize(&user_code, MAX_SHOWN),
                verification_uri: shown_url(verification_uri)?,
                verification_uri_complete: text("verification_uri_complete")?
                    .map(shown_url)
                    .transpose()?,
                expires_in: Duration::from_secs(expires_in),
            },
            interval,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use std::cell::RefCell;

    /// An OP whose token endpoint answers from a script, recording when each poll came.
    struct ScriptedOp {
        answers: RefCell<Vec<(u16, Value)>>,
        polls: RefCell<Vec<Instant>>,
        device_form: RefCell<Vec<(String, String)>>,
    }

    impl OidcHttp for ScriptedOp {
        fn get_json(&self, _url: &str) -> Result<Value, Error> {
            Ok(json!({
                "issuer": "https://op.example",
                "token_endpoint": "https://op.example/token",
                "device_authorization_endpoint": "https://op.example/device/auth",
            }))
        }

        fn post_form(&self, url: &str, form: &[(&str, &str)]) -> Result<(u16, Value), Error> {
            if url.ends_with("/device/auth") {
                *self.device_form.borrow_mut() = form
                    .iter()
                    .map(|(k, v)| ((*k).into(), (*v).into()))
                    .collect();
                return Ok((
                    200,
                    json!({"device_code": "dc", "user_code": "U", "interval": 1, "expires_in": 60,
                           "verification_uri": "https://op.example/device"}),
                ));
            }
            self.polls.borrow_mut().push(Instant::now());
            Ok(self.answers.borrow_mut().remove(0))
        }
    }

    struct Quiet(usize);
    impl DeviceUi for Quiet {
        fn show_code(&mut self, _: &DeviceCode) {}
        fn tick(&mut self, _: Duration) {
            self.0 += 1;
        }
    }

    fn id_token(nonce: &str) -> String {
        use base64ct::{Base64UrlUnpadded, Encoding as _};
        let payload = json!({"nonce": nonce}).to_string();
        format!(
            "e30.{}.c2ln",
            Base64UrlUnpadded::encode_string(payload.as_bytes())
        )
    }

    /// RFC 8628 section 3.5: `slow_down` adds 5 s to the interval for this and later polls;
    /// `authorization_pending` keeps polling; the nonce goes in the device request.
    #[test]
    fn slow_down_adds_five_seconds_and_pending_keeps_polling() {
        let spec: ProviderSpec = "https://op.example,client".parse().expect("spec");
        let pending = json!({"error": "authorization_pending"});
        let op = ScriptedOp {
            answers: RefCell::new(vec![
                (400, pending.clone()),
                (400, json!({"error": "slow_down"})),
                (200, json!({"id_token": id_token("the-nonce")})),
            ]),
            polls: RefCell::default(),
            device_form: RefCell::default(),
        };
        let started = Instant::now();
        let mut ui = Quiet(0);
        let tokens = login_with_device(&op, &spec, "the-nonce", Duration::from_secs(60), &mut ui)
            .expect("tokens");
        assert_eq!(tokens.id_token, id_token("the-nonce"));
        let polls = op.polls.borrow();
        let gaps: Vec<Duration> = std::iter::once(polls[0] - started)
            .chain(polls.windows(2).map(|w| w[1] - w[0]))
            .collect();
        assert!(
            gaps[0] >= Duration::from_secs(1) && gaps[1] >= Duration::from_secs(1),
            "{gaps:?}"
        );
        assert!(gaps[1] < Duration::from_secs(4), "{gaps:?}");
        assert!(
            gaps[2] >= Duration::from_secs(6),
            "slow_down ignored: {gaps:?}"
        );
        assert!(ui.0 > 10, "{} ticks", ui.0);
        assert!(
            op.device_form
                .borrow()
                .contains(&("nonce".to_owned(), "the-nonce".to_owned()))
        );
        // A wrong nonce is refused; denial and expiry end the polling at once.
        for (answer, expect) in [
            (
                (200, json!({"id_token": id_token("other")})),
                "nonce does not match",
            ),
            ((400, json!({"error": "access_denied"})), "access_denied"),
            ((400, json!({"error": "expired_token"})), "expired"),
        ] {
            let op = ScriptedOp {
                answers: RefCell::new(vec![answer]),
                polls: RefCell::default(),
                device_form: RefCell::default(),
            };
            let err = login_with_device(&op, &spec, "the-nonce", Duration::from_secs(60), &mut ui)
                .expect_err(expect);
            assert!(err.to_string().contains(expect), "{err}");
            assert_eq!(op.polls.borrow().len(), 1);
        }
    }

    #[test]
    fn response_fields_defaults_and_caps() {
        let g = DeviceGrant::from_response(&json!({
            "device_code": "d", "user_code": "ABCD-EFGH",
            "verification_uri": "https://op.example/device",
            "verification_uri_complete": "https://op.example/device?user_code=ABCD-EFGH",
            "expires_in": 999_999,
        }))
        .expect("valid");
        assert_eq!(g.interval, DEFAULT_INTERVAL);
        assert_eq!(g.code.expires_in, Duration::from_secs(MAX_EXPIRES_IN));
        assert_eq!(g.code.user_code, "ABCD-EFGH");
        let g = DeviceGrant::from_response(&json!({
            "device_code": "d", "user_code": "X\u{1b}[2J",
            "verification_url": "https://google.example/device", "expires_in": 60, "interval": 0,
        }))
        .expect("google spelling");
        assert_eq!(g.interval, Duration::from_secs(1));
        assert!(
            !g.code.user_code.contains('\u{1b}'),
            "{:?}",
            g.code.user_code
        );
        for (body, field) in [
            (
                json!({"user_code": "u", "verification_uri": "https://x", "expires_in": 1}),
                "device_code",
            ),
            (
                json!({"device_code": "d", "verification_uri": "https://x", "expires_in": 1}),
                "user_code",
            ),
            (
                json!({"device_code": "d", "user_code": "u", "expires_in": 1}),
                "verification_uri",
            ),
            (
                json!({"device_code": "d", "user_code": "u", "verification_uri": "javascript:x", "expires_in": 1}),
                "verification_uri",
            ),
            (
                json!({"device_code": "d", "user_code": "u", "verification_uri": "https://x"}),
                "expires_in",
            ),
            (
                json!({"device_code": "d", "user_code": "u", "verification_uri": "https://x", "expires_in": 1, "interval": "5"}),
                "interval",
            ),
        ] {
            assert!(
                matches!(DeviceGrant::from_response(&body), Err(Error::DeviceResponse(f)) if f == field),
                "{body}"
            );
        }
    }
}

//! The PK Token and its compact form:
//! `B64(payload):B64(opHdr):B64(opSig):B64(cicHdr):B64(cicSig)[:B64(cosHdr):B64(cosSig)][.refreshed JWT]`.
//! Segments are kept verbatim: signatures cover the exact bytes, and opkssh compares segments
//! byte-wise, so nothing is ever re-encoded.

use serde_json::{Map, Value};

use crate::{
    Alg, Cic, CicProblem, Error, ExpiryPolicy, Jwks, Malformed, Part, RefreshedProblem,
    SignatureKind, UserSigner, b64, json,
};

/// Cap on the compact form. A GQ-signed RSA-4096 token is about 12 KB; 128 KiB leaves room for
/// large ID tokens (groups) while bounding work on hostile input.
pub const MAX_COMPACT_LEN: usize = 128 * 1024;

/// Clock skew tolerated for an `iat` in the future. opkssh has none (hazard O-9 in
/// docs/hazards.md); a token minted more than this ahead of our clock is refused.
pub const MAX_FUTURE_IAT_SECS: i64 = 300;

/// One signature of the PK Token: protected header and signature, both as received.
#[derive(Clone, Debug)]
struct Signed {
    protected_b64: String,
    header: Map<String, Value>,
    signature_b64: String,
    signature: Vec<u8>,
}

/// What a signature's `typ` says it is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Role {
    Op,
    KeyBoundOp,
    Cic,
    Cos,
}

/// A parsed OpenPubkey PK Token.
#[derive(Clone, Debug)]
pub struct PkToken {
    payload_b64: String,
    payload: Map<String, Value>,
    op: Signed,
    op_role: Role,
    cic_sig: Signed,
    cic: Cic,
    cos: Option<Signed>,
    refreshed: Option<String>,
}

/// The provider row a PK Token is checked against.
#[derive(Clone, Debug)]
pub struct ProviderCheck<'a> {
    /// Expected `iss`, byte-exact.
    pub issuer: &'a str,
    /// Must be in `aud`.
    pub client_id: &'a str,
    /// How long the token stays valid.
    pub expiry: ExpiryPolicy,
}

impl PkToken {
    /// Builds a PK Token from the OP's compact ID token (whose `nonce` must be `cic.hash()`),
    /// signing the CIC over the ID token's payload segment, reused verbatim.
    pub fn issue(id_token: &str, cic: &Cic, signer: &UserSigner) -> Result<Self, Error> {
        let mut parts = id_token.split('.');
        let (Some(op_hdr), Some(payload_b64), Some(op_sig), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(Error::Malformed(Malformed::IdTokenNotJws));
        };
        if signer.alg() != cic.alg() || signer.public_jwk()? != *cic.upk() {
            return Err(Error::Cic(CicProblem::SignerNotUpk));
        }
        let cic_hdr = b64::encode(
            crate::canonical::to_string(&Value::Object(cic.header().clone())).as_bytes(),
        );
        let cic_sig = b64::encode(&signer.sign(format!("{cic_hdr}.{payload_b64}").as_bytes()));
        let compact = format!("{payload_b64}:{op_hdr}:{op_sig}:{cic_hdr}:{cic_sig}");
        Self::from_compact(&compact)
    }

    /// Parses the compact form, strictly.
    pub fn from_compact(compact: &str) -> Result<Self, Error> {
        if compact.len() > MAX_COMPACT_LEN {
            return Err(Error::TooLarge(compact.len()));
        }
        let (main, refreshed) = match compact.split_once('.') {
            Some((main, rest)) => {
                if rest.split('.').count() != 3 {
                    return Err(Error::Malformed(Malformed::RefreshedNotJwt));
                }
                (main, Some(rest.to_owned()))
            }
            None => (compact, None),
        };
        let segments: Vec<&str> = main.split(':').collect();
        if segments.len() < 3 || segments.len().is_multiple_of(2) {
            return Err(Error::Malformed(Malformed::Segments));
        }
        let payload_b64 = segments[0].to_owned();
        let payload = json::object(&b64::decode(&payload_b64, Part::Payload)?, Part::Payload)?;
        check_payload_types(&payload)?;

        let mut ops = Vec::new();
        let mut cics = Vec::new();
        let mut coses = Vec::new();
        for pair in segments[1..].chunks_exact(2) {
            let header = json::object(
                &b64::decode(pair[0], Part::ProtectedHeader)?,
                Part::ProtectedHeader,
            )?;
            check_header_types(&header)?;
            let signed = Signed {
                protected_b64: pair[0].to_owned(),
                header,
                signature_b64: pair[1].to_owned(),
                signature: b64::decode(pair[1], Part::Signature)?,
            };
            match classify(&signed.header)? {
                role @ (Role::Op | Role::KeyBoundOp) => ops.push((role, signed)),
                Role::Cic => cics.push(signed),
                Role::Cos => coses.push(signed),
            }
        }
        // openpubkey lets a later signature of the same role silently win, and panics without a
        // CIC (hazard O-5): demand exactly one of each instead.
        if ops.len() != 1 {
            return Err(Error::SignatureCount(SignatureKind::Op, ops.len()));
        }
        if cics.len() != 1 {
            return Err(Error::SignatureCount(SignatureKind::Cic, cics.len()));
        }
        if coses.len() > 1 {
            return Err(Error::SignatureCount(SignatureKind::Cos, coses.len()));
        }
        let (op_role, op) = ops.remove(0);
        let cic_sig = cics.remove(0);
        let cic = Cic::from_header(cic_sig.header.clone())?;
        Ok(Self {
            payload_b64,
            payload,
            op,
            op_role,
            cic_sig,
            cic,
            cos: coses.pop(),
            refreshed,
        })
    }

    /// The compact form, byte-identical to what was parsed or issued.
    pub fn to_compact(&self) -> String {
        let mut out = format!(
            "{}:{}:{}:{}:{}",
            self.payload_b64,
            self.op.protected_b64,
            self.op.signature_b64,
            self.cic_sig.protected_b64,
            self.cic_sig.signature_b64
        );
        if let Some(cos) = &self.cos {
            out.push_str(&format!(":{}:{}", cos.protected_b64, cos.signature_b64));
        }
        if let Some(refreshed) = &self.refreshed {
            out.push('.');
            out.push_str(refreshed);
        }
        out
    }

    /// This PK Token with `fresh`, a compact ID token from a refresh, as its refreshed ID token
    /// (replacing an earlier one), as openpubkey's client appends it: the original ID token, the
    /// CIC and their signatures stay. Only its shape is checked here; see
    /// [`PkToken::verify_refreshed_token`].
    pub fn with_refreshed(&self, fresh: &str) -> Result<Self, Error> {
        let parts: Vec<&str> = fresh.split('.').collect();
        if parts.len() != 3 || parts.iter().any(|p| p.is_empty()) {
            return Err(Error::Refreshed(RefreshedProblem::NotJwt));
        }
        Ok(PkToken {
            refreshed: Some(fresh.to_owned()),
            ..self.clone()
        })
    }

    /// Checks the refreshed ID token as `oidc_refreshed` servers do (signed by the OP, same `iss`
    /// and `sub`, the client ID in `aud`, issued no earlier than the original; docs/hazards.md
    /// O-1), whatever the time; returns its `exp`.
    pub fn verify_refreshed_token(
        &self,
        provider: &ProviderCheck<'_>,
        jwks: &Jwks,
    ) -> Result<i64, Error> {
        let fresh = self
            .refreshed
            .as_deref()
            .ok_or(Error::Refreshed(RefreshedProblem::NotJwt))?;
        let iat = positive_int(&self.payload, "iat")?;
        self.verify_refreshed(fresh, provider, jwks, iat)
    }

    /// The ID token's claims.
    pub fn claims(&self) -> &Map<String, Value> {
        &self.payload
    }

    /// A string claim, if present.
    pub fn claim_str(&self, name: &str) -> Option<&str> {
        self.payload.get(name).and_then(Value::as_str)
    }

    /// `iss`, or "" when absent.
    pub fn issuer(&self) -> &str {
        self.claim_str("iss").unwrap_or_default()
    }

    /// The CIC (user key, commitment).
    pub fn cic(&self) -> &Cic {
        &self.cic
    }

    /// The OP header's `kid`, used to pick the JWKS key.
    pub fn op_kid(&self) -> Option<&str> {
        self.op.header.get("kid").and_then(Value::as_str)
    }

    /// The OP's ID token in compact form (`header.payload.signature`).
    pub fn id_token(&self) -> String {
        format!(
            "{}.{}.{}",
            self.op.protected_b64, self.payload_b64, self.op.signature_b64
        )
    }

    /// Checks everything openpubkey's verifier checks for a nonce-committing OP, except the
    /// binding of `upk` to the SSH certificate key, which the caller does: claim types (at
    /// parse), CIC signature by `upk`, issuer, audience, OP signature against `jwks`, the nonce
    /// commitment, and the expiry policy at `now` (unix seconds).
    pub fn verify(&self, provider: &ProviderCheck<'_>, jwks: &Jwks, now: i64) -> Result<(), Error> {
        // CIC: the user key signed this very payload.
        let cic_input = format!("{}.{}", self.cic_sig.protected_b64, self.payload_b64);
        self.cic.upk().verify(
            self.cic.alg(),
            cic_input.as_bytes(),
            &self.cic_sig.signature,
        )?;

        let iss = self.issuer();
        if iss != provider.issuer {
            return Err(Error::IssuerMismatch {
                got: iss.to_owned(),
                want: provider.issuer.to_owned(),
            });
        }
        check_audience(&self.payload, provider.client_id)?;

        if self.op_role == Role::KeyBoundOp {
            return Err(Error::KeyBound);
        }
        let alg = header_alg(&self.op.header)?;
        let key = jwks
            .select(self.op_kid())
            .ok_or_else(|| Error::UnknownKid(self.op_kid().map(str::to_owned)))?;
        let op_input = format!("{}.{}", self.op.protected_b64, self.payload_b64);
        key.verify(alg, op_input.as_bytes(), &self.op.signature)?;

        if self.claim_str("nonce") != Some(self.cic.hash().as_str()) {
            return Err(Error::Commitment);
        }
        self.check_expiry(provider, jwks, now)
    }

    fn check_expiry(
        &self,
        provider: &ProviderCheck<'_>,
        jwks: &Jwks,
        now: i64,
    ) -> Result<(), Error> {
        let iat = positive_int(&self.payload, "iat")?;
        if iat > now + MAX_FUTURE_IAT_SECS {
            return Err(Error::IssuedInFuture { iat, now });
        }
        let policy = provider.expiry;
        let limit = match policy {
            ExpiryPolicy::Never => return Ok(()),
            ExpiryPolicy::Oidc => positive_int(&self.payload, "exp")?,
            ExpiryPolicy::OidcRefreshed => {
                let exp = positive_int(&self.payload, "exp")?;
                if now <= exp {
                    return Ok(());
                }
                match &self.refreshed {
                    Some(fresh) => self.verify_refreshed(fresh, provider, jwks, iat)?,
                    None => exp,
                }
            }
            _ => iat.saturating_add(policy.max_age_secs().unwrap_or(0)),
        };
        if now > limit {
            return Err(Error::Expired { policy, limit, now });
        }
        Ok(())
    }

    /// openpubkey's `VerifyRefreshedIDToken` rules, which opkssh leaves off (hazard O-1: it reads
    /// only `exp` of an unsigned token). Returns the refreshed token's `exp`.
    fn verify_refreshed(
        &self,
        fresh: &str,
        provider: &ProviderCheck<'_>,
        jwks: &Jwks,
        iat: i64,
    ) -> Result<i64, Error> {
        let mut parts = fresh.split('.');
        let (Some(h), Some(p), Some(s)) = (parts.next(), parts.next(), parts.next()) else {
            return Err(Error::Refreshed(RefreshedProblem::NotJwt));
        };
        let header = json::object(
            &b64::decode(h, Part::RefreshedHeader)?,
            Part::RefreshedHeader,
        )?;
        check_header_types(&header)?;
        let claims = json::object(
            &b64::decode(p, Part::RefreshedPayload)?,
            Part::RefreshedPayload,
        )?;
        check_payload_types(&claims)?;
        let alg = header_alg(&header)?;
        let kid = header.get("kid").and_then(Value::as_str);
        let key = jwks
            .select(kid)
            .ok_or(Error::Refreshed(RefreshedProblem::UnknownKid))?;
        key.verify(
            alg,
            format!("{h}.{p}").as_bytes(),
            &b64::decode(s, Part::RefreshedSignature)?,
        )
        .map_err(|_| Error::Refreshed(RefreshedProblem::BadSignature))?;
        if claims.get("iss") != self.payload.get("iss")
            || claims.get("sub") != self.payload.get("sub")
        {
            return Err(Error::Refreshed(RefreshedProblem::Subject));
        }
        check_audience(&claims, provider.client_id)
            .map_err(|_| Error::Refreshed(RefreshedProblem::Audience))?;
        if positive_int(&claims, "iat")? < iat {
            return Err(Error::Refreshed(RefreshedProblem::IssuedEarlier));
        }
        positive_int(&claims, "exp")
    }
}

fn classify(header: &Map<String, Value>) -> Result<Role, Error> {
    let typ = match header.get("typ") {
        None => return Ok(Role::Op),
        Some(Value::String(t)) => t.as_str(),
        Some(_) => return Err(Error::ClaimType("header typ")),
    };
    match typ {
        "" | "JWT" => Ok(Role::Op),
        t if t.eq_ignore_ascii_case("at+jwt") => Ok(Role::Op),
        "dpop+id_token" => Ok(Role::KeyBoundOp),
        "CIC" => Ok(Role::Cic),
        "COS" => Ok(Role::Cos),
        other => Err(Error::UnknownTyp(other.to_owned())),
    }
}

fn header_alg(header: &Map<String, Value>) -> Result<Alg, Error> {
    match header.get("alg") {
        Some(Value::String(a)) => a.parse(),
        _ => Err(Error::UnsupportedAlg(String::new())),
    }
}

/// `aud` is a string or an array of strings. A single string must *equal* the client ID:
/// openpubkey splits it on ',' so that "x,clientid" passes (hazard O-4); we do not.
fn check_audience(claims: &Map<String, Value>, client_id: &str) -> Result<(), Error> {
    let ok = match claims.get("aud") {
        Some(Value::String(aud)) => aud == client_id,
        Some(Value::Array(auds)) => auds.iter().any(|a| a.as_str() == Some(client_id)),
        _ => false,
    };
    if ok {
        Ok(())
    } else {
        Err(Error::Audience(client_id.to_owned()))
    }
}

fn positive_int(claims: &Map<String, Value>, name: &'static str) -> Result<i64, Error> {
    match claims.get(name) {
        None => Err(Error::MissingClaim(name)),
        Some(v) => match v.as_i64() {
            Some(n) if n > 0 => Ok(n),
            _ => Err(Error::ClaimType(name)),
        },
    }
}

/// The typed-claims checks openpubkey gets from decoding claims into Go structs.
fn check_payload_types(p: &Map<String, Value>) -> Result<(), Error> {
    for (name, label) in [
        ("exp", "claim exp"),
        ("iat", "claim iat"),
        ("nbf", "claim nbf"),
    ] {
        if let Some(v) = p.get(name)
            && !(v.is_i64() || v.is_u64())
        {
            return Err(Error::ClaimType(label));
        }
    }
    strings(
        p,
        &[
            ("iss", "claim iss"),
            ("sub", "claim sub"),
            ("email", "claim email"),
            ("nonce", "claim nonce"),
            ("preferred_username", "claim preferred_username"),
            ("given_name", "claim given_name"),
            ("family_name", "claim family_name"),
        ],
    )?;
    for (name, label) in [("groups", "claim groups"), ("scopes", "claim scopes")] {
        if let Some(v) = p.get(name)
            && !v.as_array().is_some_and(|a| a.iter().all(Value::is_string))
        {
            return Err(Error::ClaimType(label));
        }
    }
    if p.get("cnf").is_some_and(|v| !v.is_object()) {
        return Err(Error::ClaimType("claim cnf"));
    }
    match p.get("aud") {
        None | Some(Value::String(_)) => {}
        Some(Value::Array(a)) if a.iter().all(Value::is_string) => {}
        Some(_) => return Err(Error::ClaimType("claim aud")),
    }
    Ok(())
}

/// Each of `members` that is present must be a string; the error names the first that is not.
fn strings(obj: &Map<String, Value>, members: &[(&str, &'static str)]) -> Result<(), Error> {
    match members
        .iter()
        .find(|(name, _)| obj.get(*name).is_some_and(|v| !v.is_string()))
    {
        Some((_, label)) => Err(Error::ClaimType(label)),
        None => Ok(()),
    }
}

fn check_header_types(h: &Map<String, Value>) -> Result<(), Error> {
    strings(
        h,
        &[
            ("alg", "header alg"),
            ("typ", "header typ"),
            ("kid", "header kid"),
            ("jkt", "header jkt"),
            ("cic", "header cic"),
        ],
    )?;
    if h.contains_key("crit") {
        return Err(Error::Critical);
    }
    Ok(())
}

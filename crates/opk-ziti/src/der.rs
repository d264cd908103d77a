//! The little DER enrolment needs, pure: read the certificates of a PKCS#7 "certs only" bundle
//! (the controller's `/.well-known/est/cacerts`) and a certificate's public key; write a P-256
//! certificate request. Strict: definite lengths only, minimal length octets not required (the
//! reader only needs to find boundaries; signatures are checked by ring or by the controller).

/// `SEQUENCE`.
pub(crate) const SEQUENCE: u8 = 0x30;
const SET: u8 = 0x31;
const INTEGER: u8 = 0x02;
const BIT_STRING: u8 = 0x03;
const OID: u8 = 0x06;
const UTF8_STRING: u8 = 0x0c;
const CONTEXT_0: u8 = 0xa0;

/// 1.2.840.10045.2.1 id-ecPublicKey.
pub(crate) const OID_EC_PUBLIC_KEY: &[u8] = &[0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01];
/// 1.2.840.10045.3.1.7 prime256v1.
pub(crate) const OID_P256: &[u8] = &[0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07];
/// 1.3.132.0.34 secp384r1.
pub(crate) const OID_P384: &[u8] = &[0x2b, 0x81, 0x04, 0x00, 0x22];
/// 1.2.840.113549.1.1.1 rsaEncryption.
pub(crate) const OID_RSA: &[u8] = &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x01];
/// 1.2.840.10045.4.3.2 ecdsa-with-SHA256.
const OID_ECDSA_SHA256: &[u8] = &[0x2a, 0x86, 0x48, 0xce, 0x3d, 0x04, 0x03, 0x02];
/// 2.5.4.3 commonName.
const OID_CN: &[u8] = &[0x55, 0x04, 0x03];

/// One element: its tag, its content, and the whole encoding (tag + length + content).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Tlv<'a> {
    pub(crate) tag: u8,
    pub(crate) content: &'a [u8],
    pub(crate) whole: &'a [u8],
}

/// The first element of `input` and what follows it; `None` if it does not parse.
pub(crate) fn read(input: &[u8]) -> Option<(Tlv<'_>, &[u8])> {
    let (&tag, rest) = input.split_first()?;
    let (&first, rest) = rest.split_first()?;
    let (len, rest) = if first < 0x80 {
        (usize::from(first), rest)
    } else {
        let n = usize::from(first & 0x7f);
        if n == 0 || n > 4 || rest.len() < n {
            return None;
        }
        let len = rest[..n]
            .iter()
            .fold(0usize, |acc, b| (acc << 8) | usize::from(*b));
        (len, &rest[n..])
    };
    if rest.len() < len {
        return None;
    }
    let header = input.len() - rest.len();
    let tlv = Tlv {
        tag,
        content: &rest[..len],
        whole: &input[..header + len],
    };
    Some((tlv, &rest[len..]))
}

/// `input`'s elements, in order; `None` if any does not parse.
pub(crate) fn elements(mut input: &[u8]) -> Option<Vec<Tlv<'_>>> {
    let mut out = Vec::new();
    while !input.is_empty() {
        let (tlv, rest) = read(input)?;
        out.push(tlv);
        input = rest;
    }
    Some(out)
}

/// The DER certificates of a PKCS#7 SignedData ContentInfo ("certs only", as EST serves them).
pub(crate) fn pkcs7_certificates(der: &[u8]) -> Option<Vec<&[u8]>> {
    let (info, _) = read(der).filter(|(t, _)| t.tag == SEQUENCE)?;
    let info = elements(info.content)?;
    let explicit = info.get(1).filter(|t| t.tag == CONTEXT_0)?;
    let (signed, _) = read(explicit.content).filter(|(t, _)| t.tag == SEQUENCE)?;
    // version, digestAlgorithms, encapContentInfo, then certificates [0] IMPLICIT.
    let fields = elements(signed.content)?;
    let certs = fields.iter().skip(3).find(|t| t.tag == CONTEXT_0)?;
    let list = elements(certs.content)?;
    if list.is_empty() || list.iter().any(|c| c.tag != SEQUENCE) {
        return None;
    }
    Some(list.into_iter().map(|c| c.whole).collect())
}

/// A certificate's public key: its algorithm OID, the curve OID (EC) and the key bits.
pub(crate) struct PublicKey<'a> {
    pub(crate) algorithm: &'a [u8],
    pub(crate) curve: Option<&'a [u8]>,
    pub(crate) key: &'a [u8],
}

/// The subjectPublicKeyInfo of a DER certificate.
pub(crate) fn certificate_public_key(cert: &[u8]) -> Option<PublicKey<'_>> {
    let (cert, _) = read(cert).filter(|(t, _)| t.tag == SEQUENCE)?;
    let (tbs, _) = read(cert.content).filter(|(t, _)| t.tag == SEQUENCE)?;
    let mut fields = elements(tbs.content)?;
    if fields.first().is_some_and(|t| t.tag == CONTEXT_0) {
        fields.remove(0);
    }
    // serialNumber, signature, issuer, validity, subject, subjectPublicKeyInfo.
    let spki = fields.get(5).filter(|t| t.tag == SEQUENCE)?;
    let parts = elements(spki.content)?;
    let alg = elements(parts.first().filter(|t| t.tag == SEQUENCE)?.content)?;
    let bits = parts.get(1).filter(|t| t.tag == BIT_STRING)?;
    let (&unused, key) = bits.content.split_first()?;
    if unused != 0 {
        return None;
    }
    Some(PublicKey {
        algorithm: alg.first().filter(|t| t.tag == OID)?.content,
        curve: alg.get(1).filter(|t| t.tag == OID).map(|t| t.content),
        key,
    })
}

/// One element with `tag` around `content`.
pub(crate) fn tlv(tag: u8, content: &[u8]) -> Vec<u8> {
    let mut out = vec![tag];
    let len = content.len();
    if len < 0x80 {
        out.push(len as u8);
    } else {
        let bytes = len.to_be_bytes();
        let skip = bytes.iter().take_while(|b| **b == 0).count();
        out.push(0x80 | (bytes.len() - skip) as u8);
        out.extend_from_slice(&bytes[skip..]);
    }
    out.extend_from_slice(content);
    out
}

/// The to-be-signed part of a PKCS#10 request for a P-256 key (`point`: the uncompressed public
/// point) with subject `CN=common_name`.
pub(crate) fn p256_request_info(common_name: &str, point: &[u8]) -> Vec<u8> {
    let cn = tlv(
        SEQUENCE,
        &[tlv(OID, OID_CN), tlv(UTF8_STRING, common_name.as_bytes())].concat(),
    );
    let subject = tlv(SEQUENCE, &tlv(SET, &cn));
    let algorithm = tlv(
        SEQUENCE,
        &[tlv(OID, OID_EC_PUBLIC_KEY), tlv(OID, OID_P256)].concat(),
    );
    let spki = tlv(
        SEQUENCE,
        &[algorithm, tlv(BIT_STRING, &[&[0u8][..], point].concat())].concat(),
    );
    let version = tlv(INTEGER, &[0]);
    let attributes = tlv(CONTEXT_0, &[]);
    tlv(SEQUENCE, &[version, subject, spki, attributes].concat())
}

/// The request: `info` with its ECDSA-SHA256 signature (`signature`: DER, as ring makes it).
pub(crate) fn p256_request(info: &[u8], signature: &[u8]) -> Vec<u8> {
    let algorithm = tlv(SEQUENCE, &tlv(OID, OID_ECDSA_SHA256));
    let sig = tlv(BIT_STRING, &[&[0u8][..], signature].concat());
    tlv(SEQUENCE, &[info.to_vec(), algorithm, sig].concat())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lengths_round_trip() {
        for len in [0usize, 1, 127, 128, 255, 256, 70_000] {
            let content = vec![7u8; len];
            let enc = tlv(SEQUENCE, &content);
            let (t, rest) = read(&enc).expect("parse");
            assert_eq!((t.tag, t.content.len(), rest.len()), (SEQUENCE, len, 0));
            assert_eq!(t.whole, &enc[..]);
        }
        assert!(read(&[0x30, 0x05, 1, 2]).is_none(), "truncated");
        assert!(read(&[0x30, 0x80]).is_none(), "indefinite length");
        assert!(pkcs7_certificates(&tlv(SEQUENCE, &[])).is_none());
    }

    #[test]
    fn a_request_parses_back() {
        let point = [4u8; 65];
        let info = p256_request_info("id-1", &point);
        let req = p256_request(&info, &[0x30, 0x00]);
        let (outer, rest) = read(&req).expect("csr");
        assert!(rest.is_empty());
        let parts = elements(outer.content).expect("parts");
        assert_eq!(parts.len(), 3);
        assert_eq!(parts[0].whole, &info[..]);
        let info_parts = elements(parts[0].content).expect("info");
        let spki = elements(info_parts[2].content).expect("spki");
        assert_eq!(&spki[1].content[1..], &point[..]);
    }
}

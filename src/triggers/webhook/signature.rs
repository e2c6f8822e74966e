//! The delivery signature: HMAC-SHA256 of the raw body under the shared secret, sent by Jira
//! as `X-Hub-Signature: sha256=<hex>` (admin webhooks registered with a secret).
//!
//! It is checked on the raw bytes before anything parses them, and compared in constant
//! time ([`hmac::Mac::verify_slice`]), so neither a parser bug nor timing can be reached by
//! someone who does not hold the secret.

use std::fmt;

use axum::http::HeaderValue;
use axum::http::header::GetAll;
use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;

/// The header that carries the signature.
pub(crate) const HEADER: &str = "x-hub-signature";

const PREFIX: &str = "sha256=";

/// Why a delivery's signature is refused. The messages name no secret and echo no input.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SignatureError {
    /// No `X-Hub-Signature` header.
    #[error("no X-Hub-Signature header")]
    Missing,
    /// More than one `X-Hub-Signature` header.
    #[error("more than one X-Hub-Signature header")]
    Repeated,
    /// The header is not `sha256=` and 64 hex digits.
    #[error("X-Hub-Signature is not `sha256=<64 hex digits>`")]
    Malformed,
    /// Well-formed, but not the HMAC of this body under our secret.
    #[error("signature does not match the body")]
    Mismatch,
}

/// Checks signatures under one secret. Its `Debug` shows no key material.
#[derive(Clone)]
pub struct Verifier {
    keyed: Hmac<Sha256>,
}

impl fmt::Debug for Verifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Verifier { .. }")
    }
}

impl Verifier {
    /// A verifier for `secret` (any length: HMAC hashes long keys).
    pub fn new(secret: &[u8]) -> Verifier {
        Verifier {
            keyed: Hmac::<Sha256>::new_from_slice(secret).expect("HMAC takes keys of any length"),
        }
    }

    /// Checks the `X-Hub-Signature` headers of a request against `body`.
    pub(crate) fn verify_headers(
        &self,
        headers: GetAll<'_, HeaderValue>,
        body: &[u8],
    ) -> Result<(), SignatureError> {
        let mut values = headers.iter();
        let value = values.next().ok_or(SignatureError::Missing)?;
        if values.next().is_some() {
            return Err(SignatureError::Repeated);
        }
        self.verify(value.as_bytes(), body)
    }

    /// Checks one header value (`sha256=<hex>`) against `body`, in constant time.
    pub(crate) fn verify(&self, header: &[u8], body: &[u8]) -> Result<(), SignatureError> {
        let hex_digits = header
            .strip_prefix(PREFIX.as_bytes())
            .ok_or(SignatureError::Malformed)?;
        let mut tag = [0u8; 32];
        hex::decode_to_slice(hex_digits, &mut tag).map_err(|_| SignatureError::Malformed)?;
        let mut mac = self.keyed.clone();
        mac.update(body);
        mac.verify_slice(&tag).map_err(|_| SignatureError::Mismatch)
    }

    /// The header value Jira would send for `body` (for tests and the load generator).
    pub fn sign(&self, body: &[u8]) -> String {
        let mut mac = self.keyed.clone();
        mac.update(body);
        format!("{PREFIX}{}", hex::encode(mac.finalize().into_bytes()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_signature_made_with_the_secret_verifies() {
        let v = Verifier::new(b"It's a Secret to Everybody");
        // The WebSub/GitHub documentation vector: HMAC-SHA256("Hello, World!").
        let header = v.sign(b"Hello, World!");
        assert_eq!(
            header,
            "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17"
        );
        assert_eq!(v.verify(header.as_bytes(), b"Hello, World!"), Ok(()));
    }

    #[test]
    fn anything_else_is_refused() {
        let v = Verifier::new(b"secret");
        let good = v.sign(b"{}");
        assert_eq!(
            v.verify(good.as_bytes(), b"{ }"),
            Err(SignatureError::Mismatch)
        );
        let other = Verifier::new(b"secreT").sign(b"{}");
        assert_eq!(
            v.verify(other.as_bytes(), b"{}"),
            Err(SignatureError::Mismatch)
        );
        let upper = good.to_uppercase();
        assert_eq!(
            v.verify(upper.as_bytes(), b"{}"),
            Err(SignatureError::Malformed)
        );
        let sha1 = good.replacen("sha256=", "sha1=", 1);
        assert_eq!(
            v.verify(sha1.as_bytes(), b"{}"),
            Err(SignatureError::Malformed)
        );
        let short = &good[..good.len() - 2];
        assert_eq!(
            v.verify(short.as_bytes(), b"{}"),
            Err(SignatureError::Malformed)
        );
        assert_eq!(v.verify(b"", b"{}"), Err(SignatureError::Malformed));
        assert_eq!(format!("{v:?}"), "Verifier { .. }");
    }

    #[test]
    fn headers_must_hold_exactly_one_signature() {
        let v = Verifier::new(b"secret");
        let mut headers = axum::http::HeaderMap::new();
        assert_eq!(
            v.verify_headers(headers.get_all(HEADER), b"{}"),
            Err(SignatureError::Missing)
        );
        headers.append(HEADER, v.sign(b"{}").parse().unwrap());
        assert_eq!(v.verify_headers(headers.get_all(HEADER), b"{}"), Ok(()));
        headers.append(HEADER, v.sign(b"{}").parse().unwrap());
        assert_eq!(
            v.verify_headers(headers.get_all(HEADER), b"{}"),
            Err(SignatureError::Repeated)
        );
    }
}

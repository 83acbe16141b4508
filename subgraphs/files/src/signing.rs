//! Signed, expiring URLs of the local backend: `?expires=<unix s>&signature=<hex>`
//! where the signature is an HMAC-SHA256 of what the URL may do (upload or
//! download), the file and the expiry, under a key kept in files' database
//! (every replica and restart agree). Anything altered, or past its expiry,
//! is refused. S3 presigns its own.

use chrono::{DateTime, Utc};
use hmac::{Hmac, Mac};
use sha2::Sha256;
use uuid::Uuid;

/// What a signed URL allows.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Grant {
    Upload,
    Download,
}

impl Grant {
    fn as_str(self) -> &'static str {
        match self {
            Self::Upload => "upload",
            Self::Download => "download",
        }
    }
}

#[derive(Clone)]
pub struct UrlSigner {
    secret: Vec<u8>,
}

impl std::fmt::Debug for UrlSigner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("UrlSigner(..)")
    }
}

/// Why a signed URL is refused.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum Refused {
    #[error("the URL is not signed")]
    Unsigned,
    #[error("the URL's signature does not match")]
    BadSignature,
    #[error("the URL expired")]
    Expired,
}

impl UrlSigner {
    pub fn new(secret: Vec<u8>) -> Self {
        Self { secret }
    }

    fn mac(&self, grant: Grant, file: Uuid, expires: i64) -> Hmac<Sha256> {
        // checked: HMAC accepts keys of any length.
        let mut mac = Hmac::<Sha256>::new_from_slice(&self.secret).expect("HMAC takes any key length");
        mac.update(format!("{}\n{file}\n{expires}", grant.as_str()).as_bytes());
        mac
    }

    /// The query string that lets its holder do `grant` on `file` until `expires_at`.
    pub fn query(&self, grant: Grant, file: Uuid, expires_at: DateTime<Utc>) -> String {
        let expires = expires_at.timestamp();
        let signature = hex(&self.mac(grant, file, expires).finalize().into_bytes());
        format!("expires={expires}&signature={signature}")
    }

    /// Checks a URL's `expires` and `signature` (as received) at `now`.
    pub fn verify(
        &self,
        grant: Grant,
        file: Uuid,
        expires: Option<&str>,
        signature: Option<&str>,
        now: DateTime<Utc>,
    ) -> Result<(), Refused> {
        let (Some(expires), Some(signature)) = (expires, signature) else { return Err(Refused::Unsigned) };
        let expires: i64 = expires.parse().map_err(|_| Refused::BadSignature)?;
        let signature = unhex(signature).ok_or(Refused::BadSignature)?;
        // Constant time: the signature is checked before the expiry is believed.
        self.mac(grant, file, expires).verify_slice(&signature).map_err(|_| Refused::BadSignature)?;
        if now.timestamp() >= expires {
            return Err(Refused::Expired);
        }
        Ok(())
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn unhex(text: &str) -> Option<Vec<u8>> {
    if !text.len().is_multiple_of(2) || text.len() > 128 {
        return None;
    }
    (0..text.len()).step_by(2).map(|i| text.get(i..i + 2).and_then(|pair| u8::from_str_radix(pair, 16).ok())).collect()
}

#[cfg(test)]
mod tests {
    use chrono::Duration;

    use super::*;

    fn parts(query: &str) -> (String, String) {
        let mut expires = String::new();
        let mut signature = String::new();
        for pair in query.split('&') {
            match pair.split_once('=') {
                Some(("expires", v)) => expires = v.into(),
                Some(("signature", v)) => signature = v.into(),
                _ => {}
            }
        }
        (expires, signature)
    }

    #[test]
    fn a_url_does_only_what_it_was_signed_for_until_it_expires() {
        let signer = UrlSigner::new(b"secret".to_vec());
        let file = Uuid::now_v7();
        let now = Utc::now();
        let (expires, signature) = parts(&signer.query(Grant::Upload, file, now + Duration::minutes(15)));
        let check = |grant, file, expires: &str, signature: &str, at| {
            signer.verify(grant, file, Some(expires), Some(signature), at)
        };
        assert_eq!(check(Grant::Upload, file, &expires, &signature, now), Ok(()));
        assert_eq!(check(Grant::Download, file, &expires, &signature, now), Err(Refused::BadSignature));
        assert_eq!(check(Grant::Upload, Uuid::now_v7(), &expires, &signature, now), Err(Refused::BadSignature));
        let later = (expires.parse::<i64>().unwrap() + 3600).to_string();
        assert_eq!(check(Grant::Upload, file, &later, &signature, now), Err(Refused::BadSignature));
        let mut tampered = signature.clone().into_bytes();
        tampered[0] = if tampered[0] == b'0' { b'1' } else { b'0' };
        let tampered = String::from_utf8(tampered).unwrap();
        assert_eq!(check(Grant::Upload, file, &expires, &tampered, now), Err(Refused::BadSignature));
        assert_eq!(
            check(Grant::Upload, file, &expires, &signature, now + Duration::minutes(16)),
            Err(Refused::Expired)
        );
        assert_eq!(check(Grant::Upload, file, &expires, "zz", now), Err(Refused::BadSignature));
        assert_eq!(check(Grant::Upload, file, "soon", &signature, now), Err(Refused::BadSignature));
        assert_eq!(signer.verify(Grant::Upload, file, None, Some(&signature), now), Err(Refused::Unsigned));
        let other = UrlSigner::new(b"another".to_vec());
        assert_eq!(
            other.verify(Grant::Upload, file, Some(&expires), Some(&signature), now),
            Err(Refused::BadSignature)
        );
    }
}

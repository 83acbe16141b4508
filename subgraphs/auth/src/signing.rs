//! The Ed25519 key that signs access tokens, kept in auth's database and
//! published as a JWKS document. The first replica to start creates it; the
//! one-active-key index makes concurrent starters agree on a single key.

use std::sync::Arc;

use async_trait::async_trait;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::Utc;
use ed25519_dalek::SigningKey;
use ed25519_dalek::pkcs8::EncodePrivateKey;
use jobtracker_kit::auth::{AUDIENCE, Claims, ISSUER, KeySource};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header};
use rand::rngs::OsRng;
use serde_json::json;
use uuid::Uuid;

use crate::store::SigningKeyRow;

pub const ACCESS_TOKEN_TTL_SECS: i64 = 15 * 60;

#[derive(Clone)]
pub struct Signer {
    inner: Arc<SignerKey>,
}

struct SignerKey {
    kid: String,
    encoding: EncodingKey,
    public_key: Vec<u8>,
}

impl Signer {
    /// A fresh key pair, as stored on first start.
    pub fn generate() -> anyhow::Result<SigningKeyRow> {
        let key = SigningKey::generate(&mut OsRng);
        let der = key.to_pkcs8_der().map_err(|err| anyhow::anyhow!("encoding signing key: {err}"))?;
        Ok(SigningKeyRow {
            kid: Uuid::now_v7().simple().to_string(),
            private_key_der: der.as_bytes().to_vec(),
            public_key: key.verifying_key().to_bytes().to_vec(),
        })
    }

    pub fn from_row(row: SigningKeyRow) -> Self {
        Self {
            inner: Arc::new(SignerKey {
                encoding: EncodingKey::from_ed_der(&row.private_key_der),
                kid: row.kid,
                public_key: row.public_key,
            }),
        }
    }

    /// Signs a 15-minute access token for the user.
    pub fn access_token(&self, user_id: Uuid) -> anyhow::Result<String> {
        let now = Utc::now().timestamp();
        let claims = Claims {
            sub: user_id.to_string(),
            iss: ISSUER.into(),
            aud: AUDIENCE.into(),
            iat: now,
            exp: now + ACCESS_TOKEN_TTL_SECS,
            jti: Uuid::now_v7().to_string(),
        };
        let mut header = Header::new(Algorithm::EdDSA);
        header.kid = Some(self.inner.kid.clone());
        jsonwebtoken::encode(&header, &claims, &self.inner.encoding)
            .map_err(|err| anyhow::anyhow!("signing token: {err}"))
    }

    /// The public half as a JWKS document.
    pub fn jwks(&self) -> serde_json::Value {
        json!({
            "keys": [{
                "kty": "OKP",
                "crv": "Ed25519",
                "alg": "EdDSA",
                "use": "sig",
                "kid": self.inner.kid,
                "x": URL_SAFE_NO_PAD.encode(&self.inner.public_key),
            }]
        })
    }
}

#[async_trait]
impl KeySource for Signer {
    async fn key(&self, kid: &str) -> Option<DecodingKey> {
        (kid == self.inner.kid)
            .then(|| DecodingKey::from_ed_components(&URL_SAFE_NO_PAD.encode(&self.inner.public_key)).ok())?
    }
}

//! Domain rules of accounts: what a valid e-mail, password and name are, and
//! how passwords and refresh tokens are protected. No I/O here.

use argon2::Argon2;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jobtracker_kit::AppError;
use jobtracker_kit::validate;
use rand::RngCore;
use rand::rngs::OsRng;
use sha2::{Digest, Sha256};

pub const MIN_PASSWORD_CHARS: usize = 10;
const MAX_PASSWORD_CHARS: usize = 256;

/// The shared e-mail rule (contacts match accounts by it).
pub use jobtracker_kit::validate::Email;

/// A password a user may choose: at least 10 characters.
pub struct Password(String);

impl std::fmt::Debug for Password {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Password(***)")
    }
}

impl Password {
    pub fn parse(raw: &str, field: &str) -> Result<Self, AppError> {
        let chars = raw.chars().count();
        if chars < MIN_PASSWORD_CHARS {
            return Err(AppError::bad_input(
                field,
                format!("password must have at least {MIN_PASSWORD_CHARS} characters"),
            ));
        }
        if chars > MAX_PASSWORD_CHARS {
            return Err(AppError::bad_input(
                field,
                format!("password must have at most {MAX_PASSWORD_CHARS} characters"),
            ));
        }
        Ok(Self(raw.to_string()))
    }

    /// Whether a login password could be right at all: registration never
    /// accepted a longer one, so a longer one is refused without hashing it.
    pub fn may_exist(raw: &str) -> bool {
        raw.chars().count() <= MAX_PASSWORD_CHARS
    }

    /// argon2id with a random salt (PHC string). CPU- and memory-heavy: call
    /// it on a blocking thread.
    pub fn hash(&self) -> anyhow::Result<String> {
        let salt = SaltString::generate(&mut OsRng);
        Argon2::default()
            .hash_password(self.0.as_bytes(), &salt)
            .map(|hash| hash.to_string())
            .map_err(|err| anyhow::anyhow!("hashing password: {err}"))
    }
}

/// Checks a candidate password against a stored PHC hash.
pub fn verify_password(candidate: &str, stored_hash: &str) -> bool {
    PasswordHash::new(stored_hash)
        .map(|hash| Argon2::default().verify_password(candidate.as_bytes(), &hash).is_ok())
        .unwrap_or(false)
}

/// The hash of a random, forgotten password with the default parameters,
/// verified against when the e-mail is unknown so that both failures cost the
/// same time. A constant: nothing to compute (or fail) on a request's path.
pub const DECOY_HASH: &str =
    "$argon2id$v=19$m=19456,t=2,p=1$OuZ0r9xyy6ihfxbVPLoG6w$DdiEhe5ekAWWjABGujbU07zkQIA+B+TFa7m9zXDOdMs";

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FullName(String);

impl FullName {
    /// The rule users applies to profile edits too (`kit::validate::full_name`).
    pub fn parse(raw: &str, field: &str) -> Result<Self, AppError> {
        validate::full_name(raw, field).map(Self)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// An opaque refresh token: 32 random bytes for the client, only their
/// SHA-256 in the database.
pub struct RefreshToken {
    pub token: String,
    pub hash: Vec<u8>,
}

impl RefreshToken {
    pub fn generate() -> Self {
        let mut bytes = [0u8; 32];
        OsRng.fill_bytes(&mut bytes);
        let token = URL_SAFE_NO_PAD.encode(bytes);
        let hash = hash_refresh_token(&token);
        Self { token, hash }
    }
}

pub fn hash_refresh_token(token: &str) -> Vec<u8> {
    Sha256::digest(token.as_bytes()).to_vec()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn email_is_normalised() {
        assert_eq!(Email::parse("  Ada@Example.COM ", "email").unwrap().as_str(), "ada@example.com");
    }

    #[test]
    fn malformed_emails_are_refused_with_the_field() {
        for raw in [
            "",
            "ada",
            "ada@",
            "@example.com",
            "ada@example",
            "ada@@example.com",
            "a da@example.com",
            "ada@-x.com",
            "ada@x..com",
        ] {
            assert_eq!(Email::parse(raw, "input.email").unwrap_err().field(), Some("input.email"), "{raw:?}");
        }
    }

    #[test]
    fn password_needs_ten_characters() {
        assert_eq!(Password::parse("123456789", "input.password").unwrap_err().field(), Some("input.password"));
        assert!(Password::parse("1234567890", "input.password").is_ok());
        // Characters, not bytes: ten multi-byte characters are enough.
        assert!(Password::parse("éééééééééé", "input.password").is_ok());
    }

    #[test]
    fn password_hash_is_argon2id_and_verifies() {
        let hash = Password::parse("correct horse battery", "p").unwrap().hash().unwrap();
        assert!(hash.starts_with("$argon2id$"));
        assert!(verify_password("correct horse battery", &hash));
        assert!(!verify_password("wrong horse battery", &hash));
        assert!(!verify_password("anything", "not a phc string"));
    }

    #[test]
    fn the_decoy_hash_costs_what_a_real_hash_costs() {
        let real = Password::parse("correct horse battery", "p").unwrap().hash().unwrap();
        let (real, decoy) = (PasswordHash::new(&real).unwrap(), PasswordHash::new(DECOY_HASH).unwrap());
        assert_eq!(decoy.algorithm, real.algorithm);
        assert_eq!(decoy.version, real.version);
        assert_eq!(decoy.params, real.params);
    }

    #[test]
    fn overlong_login_passwords_cannot_exist() {
        assert!(Password::may_exist(&"x".repeat(256)));
        assert!(!Password::may_exist(&"x".repeat(257)));
    }

    #[test]
    fn full_name_is_trimmed_and_required() {
        assert_eq!(FullName::parse("  Ada   Lovelace ", "n").unwrap().as_str(), "Ada Lovelace");
        assert_eq!(FullName::parse("   ", "input.fullName").unwrap_err().field(), Some("input.fullName"));
    }

    #[test]
    fn refresh_tokens_are_random_and_stored_hashed() {
        let a = RefreshToken::generate();
        let b = RefreshToken::generate();
        assert_ne!(a.token, b.token);
        assert_eq!(a.hash, hash_refresh_token(&a.token));
        assert_eq!(a.hash.len(), 32);
    }
}

//! Passwords: argon2id hashes (the crate's defaults, OWASP's minimum: 19 MiB, 2 passes),
//! computed off the async workers and at most two at a time, so a burst of sign-ins costs
//! the server bounded memory and leaves its other requests served.

use std::sync::LazyLock;

use argon2::Argon2;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use tokio::sync::Semaphore;

use super::ApiResult;
use crate::error::ApiError;

/// Hashes at once; each takes 19 MiB.
static HASHING: Semaphore = Semaphore::const_new(2);

/// A hash of a password nobody knows: checked against when the user does not exist, so a
/// wrong name takes as long as a wrong password and the answer tells neither apart.
static NOBODY: LazyLock<String> = LazyLock::new(|| {
    let Ok(salt) = salt() else {
        return String::new();
    };
    Argon2::default()
        .hash_password(b"no user has this password", &salt)
        .map(|h| h.to_string())
        .unwrap_or_default()
});

/// The shortest password taken.
const MIN_LEN: usize = 12;

/// The PHC string of `password` (salt and parameters inside).
pub(super) async fn hash(password: String) -> ApiResult<String> {
    if password.chars().count() < MIN_LEN {
        return Err(ApiError::BadRequest(format!(
            "the password is shorter than {MIN_LEN} characters: pick a longer one (a passphrase of a few words will do)"
        )));
    }
    blocking(move || {
        let salt = salt()?;
        Argon2::default()
            .hash_password(password.as_bytes(), &salt)
            .map(|h| h.to_string())
            .map_err(|e| ApiError::Internal(format!("hashing a password: {e}")))
    })
    .await
}

/// Whether `password` matches `stored` (a PHC string); `None` checks against a hash nobody
/// knows and is false, in the same time.
pub(super) async fn verify(password: String, stored: Option<String>) -> ApiResult<bool> {
    blocking(move || {
        let known = stored.is_some();
        let phc = stored.unwrap_or_else(|| NOBODY.clone());
        let Ok(parsed) = PasswordHash::new(&phc) else {
            return Ok(false);
        };
        let matches = Argon2::default()
            .verify_password(password.as_bytes(), &parsed)
            .is_ok();
        Ok(known && matches)
    })
    .await
}

async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> ApiResult<T> + Send + 'static,
) -> ApiResult<T> {
    let _permit = HASHING
        .acquire()
        .await
        .map_err(|_| ApiError::Unavailable("the server is stopping".into()))?;
    tokio::task::spawn_blocking(work)
        .await
        .map_err(|e| ApiError::Internal(format!("checking a password: {e}")))?
}

/// 16 random bytes from the system, as the PHC string's salt.
fn salt() -> ApiResult<SaltString> {
    let mut bytes = [0u8; 16];
    getrandom::fill(&mut bytes)
        .map_err(|e| ApiError::Internal(format!("no randomness for a salt: {e}")))?;
    SaltString::encode_b64(&bytes).map_err(|e| ApiError::Internal(format!("encoding a salt: {e}")))
}

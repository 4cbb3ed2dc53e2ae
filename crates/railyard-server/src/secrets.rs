//! Secrets at rest: XChaCha20-Poly1305 under the operator's key file (32 random bytes, hex or
//! base64). Each value has a random 24-byte nonce (random nonces of this size never collide
//! in practice); the associated data binds project and name, so a sealed value copied into
//! another project's or name's row fails to open. A second, old key lets a server read values
//! sealed before a rotation, and [`prepare`] seals them again under the new one at start.

use std::path::{Path, PathBuf};

use chacha20poly1305::aead::{Aead, Generate, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use railyard_store::{SealedSecret, Store};
use railyard_types::ProjectName;
use railyard_types::secrets::SecretValue;
use sha2::{Digest, Sha256};

/// One key: the cipher and its id (a digest of the key, safe to store and show).
struct Key {
    cipher: XChaCha20Poly1305,
    id: String,
    file: PathBuf,
}

/// The server's secrets keys: the one it seals with and, during a rotation, the old one.
pub struct SecretKeys {
    current: Key,
    old: Option<Key>,
}

impl std::fmt::Debug for SecretKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "SecretKeys(key {})", self.current.id)
    }
}

/// A key file that cannot be used, or secrets this server cannot open.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    /// The file is missing, unreadable or not 32 bytes of hex or base64.
    #[error("secrets key file {file}: {why}")]
    File {
        /// The file.
        file: PathBuf,
        /// What is wrong.
        why: String,
    },
    /// Stored secrets were sealed under a key this server was not given.
    #[error(
        "{count} stored secret(s) (e.g. `{example}`) were sealed under another key (id {key_id}) \
         than the one in {file} (id {current}): start the server with the key they were made \
         with, or during a rotation with the old one as --secrets-old-key-file"
    )]
    Foreign {
        /// How many.
        count: usize,
        /// One of them, `project/name`.
        example: String,
        /// The key id they name.
        key_id: String,
        /// The current key's id.
        current: String,
        /// The current key file.
        file: PathBuf,
    },
    /// A sealed value that does not open under the key its row names.
    #[error("secret `{name}` of project `{project}` does not open: {why}")]
    Open {
        /// The project.
        project: ProjectName,
        /// The secret's name.
        name: String,
        /// What happened.
        why: String,
    },
    /// The database.
    #[error(transparent)]
    Store(#[from] railyard_store::StoreError),
}

impl Key {
    fn read(file: &Path) -> Result<Key, KeyError> {
        let bad = |why: String| KeyError::File {
            file: file.to_owned(),
            why,
        };
        let text = std::fs::read_to_string(file).map_err(|e| bad(format!("{e}")))?;
        let bytes = decode_key(text.trim()).ok_or_else(|| {
            bad("not 32 bytes in hex (64 digits) or base64; make one with \
                 `openssl rand -hex 32 > FILE` (or `head -c 32 /dev/urandom | base64`)"
                .into())
        })?;
        let cipher = XChaCha20Poly1305::new_from_slice(&bytes)
            .map_err(|_| bad("not a 32-byte key".into()))?;
        let digest = Sha256::digest([b"railyard secrets key\0".as_slice(), &bytes].concat());
        Ok(Key {
            cipher,
            id: hex::encode(&digest[..8]),
            file: file.to_owned(),
        })
    }

    fn seal(&self, project: &ProjectName, name: &str, value: &SecretValue) -> String {
        let nonce = XNonce::generate();
        let aad = aad(project, name);
        let sealed = self
            .cipher
            .encrypt(
                &nonce,
                Payload {
                    msg: value.expose().as_bytes(),
                    aad: &aad,
                },
            )
            .expect("sealing a value in memory cannot fail");
        let mut out = nonce.to_vec();
        out.extend_from_slice(&sealed);
        hex::encode(out)
    }

    fn open(&self, project: &ProjectName, name: &str, sealed: &str) -> Result<SecretValue, String> {
        let bytes = hex::decode(sealed).map_err(|_| "the stored value is not hex".to_string())?;
        if bytes.len() < 24 + 16 {
            return Err("the stored value is too short".into());
        }
        let (nonce, ciphertext) = bytes.split_at(24);
        let nonce = XNonce::try_from(nonce).map_err(|_| "a bad nonce".to_string())?;
        let aad = aad(project, name);
        let plain = self
            .cipher
            .decrypt(
                &nonce,
                Payload {
                    msg: ciphertext,
                    aad: &aad,
                },
            )
            .map_err(|_| {
                "the tag does not match (sealed for another project or name, or altered)"
                    .to_string()
            })?;
        String::from_utf8(plain)
            .map(SecretValue::new)
            .map_err(|_| "the value is not UTF-8".into())
    }
}

/// What a sealed value is bound to: project and name, each length-prefixed.
fn aad(project: &ProjectName, name: &str) -> Vec<u8> {
    let mut aad = b"railyard secret v1\0".to_vec();
    for part in [project.as_str(), name] {
        aad.extend_from_slice(&(part.len() as u64).to_be_bytes());
        aad.extend_from_slice(part.as_bytes());
    }
    aad
}

/// 32 bytes from 64 hex digits or from base64 (standard or URL-safe, padded or not).
fn decode_key(text: &str) -> Option<Vec<u8>> {
    if text.len() == 64
        && let Ok(bytes) = hex::decode(text)
    {
        return Some(bytes);
    }
    let mut bits = 0u32;
    let mut nbits = 0;
    let mut out = Vec::new();
    for c in text.trim_end_matches('=').bytes() {
        let v = match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' | b'-' => 62,
            b'/' | b'_' => 63,
            _ => return None,
        };
        bits = (bits << 6) | u32::from(v);
        nbits += 6;
        if nbits >= 8 {
            nbits -= 8;
            out.push((bits >> nbits) as u8);
            bits &= (1 << nbits) - 1;
        }
    }
    (out.len() == 32).then_some(out)
}

impl SecretKeys {
    /// Reads the key file, and the old one of a rotation.
    pub fn load(file: &Path, old: Option<&Path>) -> Result<SecretKeys, KeyError> {
        let current = Key::read(file)?;
        let old = old.map(Key::read).transpose()?;
        Ok(SecretKeys { current, old })
    }

    /// Seals a value under the current key.
    pub fn seal(
        &self,
        project: &ProjectName,
        name: &str,
        value: &SecretValue,
        protected_refs: Vec<String>,
    ) -> SealedSecret {
        SealedSecret {
            project: project.clone(),
            name: name.to_owned(),
            key_id: self.current.id.clone(),
            sealed: self.current.seal(project, name, value),
            protected_refs,
        }
    }

    /// Opens a stored value with the key its row names.
    pub fn open(&self, secret: &SealedSecret) -> Result<SecretValue, KeyError> {
        let key = [Some(&self.current), self.old.as_ref()]
            .into_iter()
            .flatten()
            .find(|k| k.id == secret.key_id)
            .ok_or_else(|| KeyError::Open {
                project: secret.project.clone(),
                name: secret.name.clone(),
                why: format!(
                    "sealed under key {}, which this server was not given (its key file {} is key {})",
                    secret.key_id,
                    self.current.file.display(),
                    self.current.id
                ),
            })?;
        key.open(&secret.project, &secret.name, &secret.sealed)
            .map_err(|why| KeyError::Open {
                project: secret.project.clone(),
                name: secret.name.clone(),
                why,
            })
    }
}

/// At start: refuses secrets sealed under a key this server was not given (naming the key
/// file), seals those of the old key again under the current one, and moves credentials found
/// in repository URLs (`https://user:token@host/…`) into each project's `@repo` secret.
pub async fn prepare(store: &Store, keys: Option<&SecretKeys>) -> Result<(), KeyError> {
    let sealed = store.all_sealed_secrets().await?;
    if let Some(keys) = keys {
        let known =
            |id: &str| id == keys.current.id || keys.old.as_ref().is_some_and(|o| o.id == id);
        let foreign: Vec<&SealedSecret> = sealed.iter().filter(|s| !known(&s.key_id)).collect();
        if let Some(first) = foreign.first() {
            return Err(KeyError::Foreign {
                count: foreign.len(),
                example: format!("{}/{}", first.project, first.name),
                key_id: first.key_id.clone(),
                current: keys.current.id.clone(),
                file: keys.current.file.clone(),
            });
        }
        // Each old value is opened first: a key file of the right id that fails to open
        // (an altered row) stops the start, rather than a job later.
        let mut resealed = 0;
        for s in sealed.iter().filter(|s| s.key_id != keys.current.id) {
            let value = keys.open(s)?;
            let new = keys.seal(&s.project, &s.name, &value, s.protected_refs.clone());
            if store.reseal_secret(&new, &s.sealed).await? {
                resealed += 1;
            }
        }
        if resealed > 0 {
            tracing::info!(
                "{resealed} secret(s) sealed again under the key in {} (key {}): the old key \
                 file is no longer needed",
                keys.current.file.display(),
                keys.current.id
            );
        }
    } else if !sealed.is_empty() {
        tracing::warn!(
            "{} stored secret(s), and no --secrets-key-file: jobs naming them fail until the \
             server is started with the key they were sealed under",
            sealed.len()
        );
    }
    move_url_credentials(store, keys).await
}

/// Moves a credential in a project's repository URL into its `@repo` secret and strips it
/// from the project and its queue rows. Without a key, leaves them and says how to fix it.
async fn move_url_credentials(store: &Store, keys: Option<&SecretKeys>) -> Result<(), KeyError> {
    use railyard_types::secrets::{REPO_CREDENTIAL, split_url_credential};
    let mut moved = Vec::new();
    for project in store.projects().await? {
        let Some((url, credential)) = split_url_credential(&project.repo_url) else {
            continue;
        };
        let Some(keys) = keys else {
            tracing::warn!(
                "project `{}` has a credential in its repository URL, where logs, errors and \
                 the API can show it: start the server with --secrets-key-file to move it \
                 into the project's `@repo` secret",
                project.name
            );
            continue;
        };
        if store
            .sealed_secret(&project.name, REPO_CREDENTIAL)
            .await?
            .is_none()
        {
            let sealed = keys.seal(&project.name, REPO_CREDENTIAL, &credential, Vec::new());
            store
                .set_secret(&sealed, railyard_types::Millis::now())
                .await?;
        }
        store
            .replace_repo_url(&project.name, &project.repo_url, &url)
            .await?;
        moved.push(project.name.to_string());
    }
    // Queue rows of runs queued under an earlier URL of the project.
    if keys.is_some() {
        for (project, url) in store.queue_repo_urls().await? {
            if let Some((clean, _)) = split_url_credential(&url) {
                store.replace_repo_url(&project, &url, &clean).await?;
            }
        }
    }
    if !moved.is_empty() {
        tracing::info!(
            "the credentials in the repository URLs of {} moved into their `@repo` secret",
            moved.join(", ")
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(bytes: [u8; 32]) -> (tempfile::TempDir, PathBuf) {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("key");
        std::fs::write(&file, hex::encode(bytes)).unwrap();
        (dir, file)
    }

    #[test]
    fn a_value_opens_only_for_its_project_and_name() {
        let (_d, file) = key([7; 32]);
        let keys = SecretKeys::load(&file, None).unwrap();
        let value = SecretValue::new("hunter22");
        let sealed = keys.seal(&"a".into(), "DEPLOY_KEY", &value, vec![]);
        assert!(!sealed.sealed.contains(&hex::encode("hunter22")));
        assert_eq!(keys.open(&sealed).unwrap(), value);
        let again = keys.seal(&"a".into(), "DEPLOY_KEY", &value, vec![]);
        assert_ne!(again.sealed, sealed.sealed, "a fresh nonce each time");
        for (project, name) in [("b", "DEPLOY_KEY"), ("a", "OTHER")] {
            let moved = SealedSecret {
                project: project.into(),
                name: name.into(),
                ..sealed.clone()
            };
            let e = keys.open(&moved).unwrap_err().to_string();
            assert!(e.contains("does not open"), "{e}");
        }
        let (_d2, other) = key([8; 32]);
        let other = SecretKeys::load(&other, None).unwrap();
        let e = other.open(&sealed).unwrap_err().to_string();
        assert!(e.contains("which this server was not given"), "{e}");
    }

    #[test]
    fn key_files_take_hex_or_base64_and_name_the_file_else() {
        let dir = tempfile::tempdir().unwrap();
        let b64 = dir.path().join("b64");
        std::fs::write(
            &b64,
            format!("{}\n", railyard_types::secrets::base64(&[9; 32])),
        )
        .unwrap();
        let hexed = dir.path().join("hex");
        std::fs::write(&hexed, hex::encode([9; 32])).unwrap();
        let a = SecretKeys::load(&b64, None).unwrap();
        let b = SecretKeys::load(&hexed, None).unwrap();
        assert_eq!(a.current.id, b.current.id);
        let short = dir.path().join("short");
        std::fs::write(&short, "abcd").unwrap();
        for f in [short, dir.path().join("missing")] {
            let e = SecretKeys::load(&f, None).unwrap_err().to_string();
            assert!(e.contains(&f.display().to_string()), "{e}");
        }
    }
}

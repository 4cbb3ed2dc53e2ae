//! rpm: the SQLite rpmdb (`var/lib/rpm/rpmdb.sqlite`), whose `Packages` table holds one
//! rpm header blob per package.
//!
//! A header blob is `il` (index entries) and `dl` (data bytes) as big-endian u32, then `il`
//! 16-byte entries (tag, type, offset, count), then the data store.

use super::Found;
use crate::package::Ecosystem;

const NAME: u32 = 1000;
const VERSION: u32 = 1001;
const RELEASE: u32 = 1002;
const EPOCH: u32 = 1003;
const LICENSE: u32 = 1014;
const ARCH: u32 = 1022;
const SOURCERPM: u32 = 1044;

const T_INT32: u32 = 4;
const T_STRING: u32 = 6;
const T_I18NSTRING: u32 = 9;

/// Packages in an rpmdb.sqlite file's bytes. The bytes go to a private temporary file that
/// SQLite opens read-only and immutable.
pub fn parse_sqlite(bytes: &[u8]) -> Result<Vec<Found>, String> {
    let dir = tempfile::tempdir().map_err(|e| format!("temporary folder: {e}"))?;
    let path = dir.path().join("rpmdb.sqlite");
    std::fs::write(&path, bytes).map_err(|e| format!("temporary file: {e}"))?;
    let blobs = std::thread::scope(|s| {
        s.spawn(|| {
            let rt = tokio::runtime::Builder::new_current_thread()
                .build()
                .map_err(|e| e.to_string())?;
            rt.block_on(read_blobs(&path))
        })
        .join()
        .unwrap_or_else(|_| Err("rpmdb reader panicked".to_string()))
    })?;
    Ok(blobs.iter().filter_map(|b| parse_header(b)).collect())
}

async fn read_blobs(path: &std::path::Path) -> Result<Vec<Vec<u8>>, String> {
    use sqlx::{ConnectOptions, Connection, Row};
    let mut conn = sqlx::sqlite::SqliteConnectOptions::new()
        .filename(path)
        .read_only(true)
        .immutable(true)
        .connect()
        .await
        .map_err(|e| format!("not an SQLite rpmdb: {e}"))?;
    let rows = sqlx::query("SELECT blob FROM Packages")
        .fetch_all(&mut conn)
        .await
        .map_err(|e| format!("rpmdb has no readable Packages table: {e}"))?;
    let _ = conn.close().await;
    rows.iter()
        .map(|r| r.try_get::<Vec<u8>, _>(0).map_err(|e| e.to_string()))
        .collect()
}

/// One package from a header blob; `None` for blobs that are malformed or not packages
/// (`gpg-pubkey` entries).
pub fn parse_header(b: &[u8]) -> Option<Found> {
    let be = |at: usize| -> Option<u32> {
        Some(u32::from_be_bytes(b.get(at..at + 4)?.try_into().ok()?))
    };
    let il = be(0)? as usize;
    let dl = be(4)? as usize;
    let store = 8usize.checked_add(il.checked_mul(16)?)?;
    let data = b.get(store..store.checked_add(dl)?)?;
    let mut name = None;
    let mut version = None;
    let mut release = None;
    let mut epoch = None;
    let mut license = None;
    let mut arch = None;
    let mut sourcerpm = None;
    for i in 0..il {
        let e = 8 + i * 16;
        let (tag, ty, off) = (be(e)?, be(e + 4)?, be(e + 8)? as usize);
        let string = || -> Option<String> {
            if ty != T_STRING && ty != T_I18NSTRING {
                return None;
            }
            let s = data.get(off..)?;
            let end = memchr::memchr(0, s)?;
            Some(String::from_utf8_lossy(&s[..end]).into_owned())
        };
        match tag {
            NAME => name = string(),
            VERSION => version = string(),
            RELEASE => release = string(),
            LICENSE => license = string(),
            ARCH => arch = string(),
            SOURCERPM => sourcerpm = string(),
            EPOCH if ty == T_INT32 => {
                epoch = Some(u32::from_be_bytes(data.get(off..off + 4)?.try_into().ok()?));
            }
            _ => {}
        }
    }
    let name = name?;
    if name == "gpg-pubkey" {
        return None;
    }
    let mut v = version?;
    if let Some(r) = release {
        v = format!("{v}-{r}");
    }
    if let Some(e) = epoch.filter(|e| *e > 0) {
        v = format!("{e}:{v}");
    }
    let mut f = Found::new(name, v, Ecosystem::Rpm);
    f.license = license;
    f.arch = arch;
    // `bash-5.1.8-6.el9.src.rpm` → source `bash`, version `5.1.8-6.el9`.
    if let Some(src) = sourcerpm {
        let base = src.trim_end_matches(".rpm");
        let base = base.rsplit_once('.').map(|(b, _)| b).unwrap_or(base);
        let mut parts = base.rsplitn(3, '-');
        let (rel, ver, sname) = (parts.next(), parts.next(), parts.next());
        if let (Some(rel), Some(ver), Some(sname)) = (rel, ver, sname) {
            if sname != f.name {
                f.source_name = Some(sname.to_string());
            }
            let sv = format!("{ver}-{rel}");
            let bare = f
                .version
                .split_once(':')
                .map(|(_, v)| v)
                .unwrap_or(&f.version);
            if sv != bare {
                f.source_version = Some(sv);
            }
        }
    }
    Some(f)
}

/// Builds a header blob; used by tests here and in the integration tests.
#[doc(hidden)]
pub fn build_header(strings: &[(u32, &str)], epoch: Option<u32>) -> Vec<u8> {
    let mut index = Vec::new();
    let mut data = Vec::new();
    if let Some(e) = epoch {
        index.push((EPOCH, T_INT32, data.len() as u32));
        data.extend_from_slice(&e.to_be_bytes());
    }
    for (tag, s) in strings {
        index.push((*tag, T_STRING, data.len() as u32));
        data.extend_from_slice(s.as_bytes());
        data.push(0);
    }
    let mut b = Vec::new();
    b.extend_from_slice(&(index.len() as u32).to_be_bytes());
    b.extend_from_slice(&(data.len() as u32).to_be_bytes());
    for (tag, ty, off) in index {
        for v in [tag, ty, off, 1] {
            b.extend_from_slice(&v.to_be_bytes());
        }
    }
    b.extend_from_slice(&data);
    b
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_fields() {
        let b = build_header(
            &[
                (NAME, "bash-completion"),
                (VERSION, "2.11"),
                (RELEASE, "5.el9"),
                (LICENSE, "GPLv2+"),
                (ARCH, "noarch"),
                (SOURCERPM, "bash-completion-2.11-5.el9.src.rpm"),
            ],
            Some(1),
        );
        let f = parse_header(&b).unwrap();
        assert_eq!(f.name, "bash-completion");
        assert_eq!(f.version, "1:2.11-5.el9");
        assert_eq!(f.license.as_deref(), Some("GPLv2+"));
        assert_eq!(f.source_name, None);
        assert_eq!(f.source_version, None);
        let b = build_header(
            &[
                (NAME, "openssl-libs"),
                (VERSION, "3.0.7"),
                (RELEASE, "24.el9"),
                (SOURCERPM, "openssl-3.0.7-24.el9.src.rpm"),
            ],
            None,
        );
        let f = parse_header(&b).unwrap();
        assert_eq!(f.source_name.as_deref(), Some("openssl"));
        assert_eq!(f.version, "3.0.7-24.el9");
    }

    #[test]
    fn malformed_headers() {
        assert!(parse_header(&[]).is_none());
        assert!(parse_header(&[0xff; 8]).is_none());
        let mut b = build_header(&[(NAME, "x"), (VERSION, "1")], None);
        b.truncate(b.len() - 3);
        assert!(parse_header(&b).is_none());
        assert!(
            parse_header(&build_header(&[(NAME, "gpg-pubkey"), (VERSION, "1")], None)).is_none()
        );
    }

    #[test]
    fn sqlite_rpmdb() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("db.sqlite");
        let blob = build_header(
            &[(NAME, "zlib"), (VERSION, "1.2.11"), (RELEASE, "40.el9")],
            None,
        );
        std::thread::scope(|s| {
            s.spawn(|| {
                let rt = tokio::runtime::Builder::new_current_thread().build().unwrap();
                rt.block_on(async {
                    use sqlx::{ConnectOptions, Connection};
                    let mut c = sqlx::sqlite::SqliteConnectOptions::new()
                        .filename(&path)
                        .create_if_missing(true)
                        .connect()
                        .await
                        .unwrap();
                    sqlx::query("CREATE TABLE Packages (hnum INTEGER PRIMARY KEY AUTOINCREMENT, blob BLOB NOT NULL)")
                        .execute(&mut c).await.unwrap();
                    sqlx::query("INSERT INTO Packages (blob) VALUES ($1)")
                        .bind(&blob).execute(&mut c).await.unwrap();
                    c.close().await.unwrap();
                });
            })
            .join()
            .unwrap();
        });
        let bytes = std::fs::read(&path).unwrap();
        let found = parse_sqlite(&bytes).unwrap();
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].version, "1.2.11-40.el9");
        assert!(parse_sqlite(b"not sqlite at all").is_err());
    }
}

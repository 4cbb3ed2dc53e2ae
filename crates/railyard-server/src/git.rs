//! The server's view of repositories: a bare mirror per project under the data folder,
//! fetched on each trigger, from which the commit is resolved and the pipeline read with
//! `git show`. The server never checks out a work tree.

use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::error::ApiError;

mod mirror_lock;

/// How long the check of a new project's repository may take: `git ls-remote` of a host that
/// drops packets would otherwise hold the request for minutes.
const CHECK_WITHIN: Duration = Duration::from_secs(60);

/// Checks that `url` is a repository this server can read (`git ls-remote`, as the trigger's
/// clone will reach it): a wrong path, host or credentials are refused when the project is
/// added, not at its first run. Any credentials in the URL are masked in the error.
pub async fn check_remote(url: &str) -> Result<(), ApiError> {
    let shown = mask_url(url);
    let mut ls_remote = command();
    ls_remote.args(["ls-remote", "--quiet", "--", url, "HEAD"]);
    let out = tokio::time::timeout(CHECK_WITHIN, ls_remote.output())
        .await
        .map_err(|_| {
            ApiError::Git(format!(
                "cannot read the repository {shown}: no answer within {} s; check the host and \
                 the network between it and this server",
                CHECK_WITHIN.as_secs()
            ))
        })?
        .map_err(|e| ApiError::Git(format!("running git: {e} (is git installed?)")))?;
    if out.status.success() {
        return Ok(());
    }
    let said = mask_in(url, &String::from_utf8_lossy(&out.stderr));
    let said: Vec<&str> = said
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect();
    Err(ApiError::Git(format!(
        "cannot read the repository {shown}: git says: {}; check the URL, and that this server \
         can reach it with its credentials",
        said.join(" ")
    )))
}

/// `url` with the password, or a user that may be a token (an `http(s)` URL's user without a
/// password), replaced by `***`: a repository URL may carry credentials, and errors are
/// shown to people and logged.
pub fn mask_url(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_owned();
    };
    let authority_end = rest.find('/').unwrap_or(rest.len());
    let Some(at) = rest[..authority_end].rfind('@') else {
        return url.to_owned();
    };
    let user = match rest[..at].split_once(':') {
        Some((user, _password)) => format!("{user}:***"),
        None if scheme.eq_ignore_ascii_case("http") || scheme.eq_ignore_ascii_case("https") => {
            "***".to_owned()
        }
        None => return url.to_owned(),
    };
    format!("{scheme}://{user}{}", &rest[at..])
}

/// `text` (git's own words) with the URL's credentials masked wherever git repeated them.
fn mask_in(url: &str, text: &str) -> String {
    let masked = mask_url(url);
    if masked == url {
        return text.to_owned();
    }
    // The userinfo as typed, and as git may print it (the whole URL, or the URL with its
    // userinfo alone): replace the longest first.
    let start = url.find("://").map_or(0, |i| i + 3);
    let at = url[start..].find('/').map_or(url.len(), |i| start + i);
    let at = url[start..at].rfind('@').map_or(start, |i| start + i);
    let secret = &url[start..at];
    let shown = &masked[start..masked.len() - (url.len() - at)];
    text.replace(url, &masked).replace(secret, shown)
}

/// Fetches (or first clones) the project's mirror and resolves `git_ref` to a commit.
pub async fn resolve(
    mirrors: &Path,
    project: &str,
    url: &str,
    git_ref: &str,
) -> Result<(PathBuf, String), ApiError> {
    let mirror = mirrors.join(format!("{project}.git"));
    mirror_lock::fetch(&mirror, || fetch_retrying(mirrors, &mirror, url)).await?;
    let spec = format!("{git_ref}^{{commit}}");
    let commit = git(&mirror, &["rev-parse", "--verify", "--quiet", &spec])
        .await
        .map_err(|_| {
            ApiError::BadRequest(format!(
                "no branch, tag or commit `{git_ref}` in {}",
                mask_url(url)
            ))
        })?;
    Ok((mirror, String::from_utf8_lossy(&commit).trim().to_string()))
}

/// One fetch (or first clone) of the mirror, again while git says another process holds one
/// of its lock files: another server on this host (sharing the data folder) fetching the
/// same mirror. The fetches of this process take turns already ([`mirror_lock`]).
async fn fetch_retrying(mirrors: &Path, mirror: &Path, url: &str) -> Result<(), ApiError> {
    let mut tries = 0;
    loop {
        tries += 1;
        let cloning = !mirror.join("HEAD").exists();
        let out = fetch_once(mirrors, mirror, url, cloning).await?;
        if out.status.success() {
            return Ok(());
        }
        let said = String::from_utf8_lossy(&out.stderr);
        // A clone that lost the race to another process's finds the mirror there: fetch.
        let raced = cloning && mirror.join("HEAD").exists();
        if tries < FETCH_TRIES && (raced || lock_held(&said)) {
            tracing::info!(mirror = %mirror.display(), tries, "the mirror is being fetched by another process: trying again");
            tokio::time::sleep(Duration::from_millis(100 << tries)).await;
            continue;
        }
        return Err(ApiError::Git(format!(
            "cannot fetch {}: {}",
            mask_url(url),
            mask_in(url, said.trim())
        )));
    }
}

/// How many times a fetch is tried while another process holds the mirror's locks (the
/// waits between add up to about 3 s).
const FETCH_TRIES: u32 = 5;

/// Whether git failed on a lock file another git holds (`cannot lock ref`, `index.lock`,
/// `Unable to create '….lock': File exists`), so that trying again may succeed.
fn lock_held(said: &str) -> bool {
    said.contains("cannot lock ref")
        || said.contains(".lock': File exists")
        || said.contains("index.lock")
        || said.contains("shallow.lock")
}

async fn fetch_once(
    mirrors: &Path,
    mirror: &Path,
    url: &str,
    cloning: bool,
) -> Result<std::process::Output, ApiError> {
    if cloning {
        tokio::fs::create_dir_all(mirrors)
            .await
            .map_err(|e| ApiError::Git(format!("creating {}: {e}", mirrors.display())))?;
        command()
            .args(["clone", "--quiet", "--mirror", "--", url])
            .arg(mirror)
            .output()
            .await
    } else {
        // From the project's URL rather than the mirror's `origin`: a project removed and
        // added again under its name with another repository must not fetch the old one
        // (another server's mirror outlives the removal).
        command()
            .arg("--git-dir")
            .arg(mirror)
            .args(["fetch", "--quiet", "--prune", "--force", "--", url])
            .arg("+refs/*:refs/*")
            .output()
            .await
    }
    .map_err(|e| ApiError::Git(format!("running git: {e} (is git installed?)")))
}

/// The full name of the branch or tag `git_ref` names in the mirror (`main` →
/// `refs/heads/main`, `HEAD` → the default branch's); `None` for a commit or an expression
/// (`main~1`), which name no ref.
pub async fn full_ref(mirror: &Path, git_ref: &str) -> Option<String> {
    if git_ref.starts_with('-') {
        return None;
    }
    let out = git(mirror, &["rev-parse", "--symbolic-full-name", git_ref])
        .await
        .ok()?;
    let name = String::from_utf8_lossy(&out).trim().to_owned();
    name.starts_with("refs/").then_some(name)
}

/// The pipeline file's text at a commit.
pub async fn pipeline_at(mirror: &Path, commit: &str) -> Result<String, ApiError> {
    let spec = format!("{commit}:{}", railyard_pipeline::FILE_NAME);
    let out = git(mirror, &["show", &spec])
        .await
        .map_err(|_| ApiError::Pipeline {
            commit: commit.into(),
            message: format!("no {} at the repository root", railyard_pipeline::FILE_NAME),
        })?;
    String::from_utf8(out).map_err(|_| ApiError::Pipeline {
        commit: commit.into(),
        message: "the file is not UTF-8".into(),
    })
}

/// `git`, never asking for anything: the server has no one to answer a credentials prompt
/// (run in a terminal, git would wait there and hold the request).
fn command() -> tokio::process::Command {
    let mut command = tokio::process::Command::new("git");
    command
        .env("GIT_TERMINAL_PROMPT", "0")
        .stdin(std::process::Stdio::null())
        .kill_on_drop(true);
    crate::git_auth::apply_current(&mut command);
    command
}

async fn git(dir: &Path, args: &[&str]) -> Result<Vec<u8>, ApiError> {
    let out = command()
        .arg("--git-dir")
        .arg(dir)
        .args(args)
        .output()
        .await
        .map_err(|e| ApiError::Git(format!("running git: {e} (is git installed?)")))?;
    if out.status.success() {
        Ok(out.stdout)
    } else {
        Err(ApiError::Git(format!(
            "git {}: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::{lock_held, mask_in, mask_url};

    /// Git's words when another process holds a lock of the mirror are tried again; a
    /// failure of the repository itself is not.
    #[test]
    fn another_gits_lock_is_tried_again() {
        for said in [
            "error: cannot lock ref 'refs/heads/main': Unable to create \
             '/srv/mirrors/demo.git/refs/heads/main.lock': File exists.",
            "fatal: Unable to create '/srv/mirrors/demo.git/packed-refs.lock': File exists.",
            "fatal: Unable to create '/srv/mirrors/demo.git/shallow.lock': File exists.",
        ] {
            assert!(lock_held(said), "{said}");
        }
        for said in [
            "fatal: repository '/srv/r.git' does not exist",
            "fatal: couldn't find remote ref main",
        ] {
            assert!(!lock_held(said), "{said}");
        }
    }

    #[test]
    fn credentials_in_a_url_are_masked() {
        for (url, shown) in [
            (
                "https://bob:s3cret@git.example.com/web.git",
                "https://bob:***@git.example.com/web.git",
            ),
            (
                "https://ghp_token@github.com/o/r.git",
                "https://***@github.com/o/r.git",
            ),
            ("ssh://git@host/r.git", "ssh://git@host/r.git"),
            ("ssh://git:pw@host:22/r.git", "ssh://git:***@host:22/r.git"),
            ("git@host:o/r.git", "git@host:o/r.git"),
            ("file:///srv/a@b.git", "file:///srv/a@b.git"),
            ("https://host/p@th.git", "https://host/p@th.git"),
        ] {
            assert_eq!(mask_url(url), shown, "{url}");
        }
        let url = "https://bob:s3cret@git.example.com/web.git";
        let said = "fatal: unable to access 'https://bob:s3cret@git.example.com/web.git/': \
                    403; remote: bob:s3cret rejected";
        let masked = mask_in(url, said);
        assert!(!masked.contains("s3cret"), "{masked}");
        assert!(masked.contains("https://bob:***@git.example.com/web.git/"));
    }
}

//! Tokens and CA certificates read from files: a token given as a flag or a variable shows in
//! `ps` and in `/proc/PID/environ` to anyone on the machine, a file need not (mode 0600).

use std::path::Path;

use super::Expected;

/// The token in `path`: its content without the trailing newline (`echo … > file` writes
/// one). An unreadable or empty file is an input error naming the file and `flag`.
pub fn read_token_file(path: &Path, flag: &str) -> Result<String, Expected> {
    let text = std::fs::read_to_string(path).map_err(|e| {
        Expected::Input(format!(
            "cannot read the token file {} ({flag}): {e}; give a readable file holding the token",
            path.display()
        ))
    })?;
    let token = text.trim_end_matches(['\n', '\r']);
    if token.trim().is_empty() {
        return Err(Expected::Input(format!(
            "the token file {} ({flag}) is empty; write the token into it",
            path.display()
        )));
    }
    Ok(token.to_string())
}

/// The token from `value` (a flag or variable) or from the file `file`, whichever is given
/// (`None` for neither). Both at once is an input error: which one was meant is a guess.
pub fn token_from(
    value: Option<String>,
    file: Option<&Path>,
    flag: &str,
) -> Result<Option<String>, Expected> {
    let value = value.filter(|v| !v.is_empty());
    match (value, file) {
        (Some(_), Some(path)) => Err(Expected::Input(format!(
            "both a token and a token file ({flag} {}) are given; pass only one",
            path.display()
        ))),
        (Some(token), None) => Ok(Some(token)),
        (None, Some(path)) => read_token_file(path, flag).map(Some),
        (None, None) => Ok(None),
    }
}

/// What a client trusts an HTTPS server's certificate by: the CA file when given, else the
/// system's roots.
pub fn trust(ca_cert: Option<&Path>) -> Result<railyard_agent::Trust, Expected> {
    match ca_cert {
        Some(path) => railyard_agent::Trust::ca_file(path).map_err(Expected::Input),
        None => Ok(railyard_agent::Trust::default()),
    }
}

/// `registry` with the credentials in `auth_file` (`user:password`, one line): an operator's
/// secret, read here and never shown. A file without a registry is an input error, as is one
/// that cannot be read or does not hold `user:password`.
pub fn registry_with_auth(
    registry: Option<railyard_runner::Registry>,
    auth_file: Option<&Path>,
) -> Result<Option<railyard_runner::Registry>, Expected> {
    let Some(path) = auth_file else {
        return Ok(registry);
    };
    let Some(mut registry) = registry else {
        return Err(Expected::Input(format!(
            "registry credentials are given ({}) but no registry: pass --registry too",
            path.display()
        )));
    };
    let text = std::fs::read_to_string(path).map_err(|e| {
        Expected::Input(format!(
            "cannot read the registry credentials file {}: {e}; give a readable file holding `user:password`",
            path.display()
        ))
    })?;
    let auth = railyard_docker::RegistryAuth::parse(&text)
        .map_err(|why| Expected::Input(format!("{}: {why}", path.display())))?;
    registry.auth = Some(auth);
    Ok(Some(registry))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_token_file_loses_its_trailing_newline_only() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("t");
        std::fs::write(&file, "s3cret token\r\n").unwrap();
        assert_eq!(
            read_token_file(&file, "--token-file").unwrap(),
            "s3cret token"
        );
    }

    #[test]
    fn an_empty_or_missing_token_file_is_an_error_naming_it() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("t");
        std::fs::write(&file, "\n").unwrap();
        let e = read_token_file(&file, "--token-file")
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("is empty") && e.contains(&file.display().to_string()),
            "{e}"
        );
        let gone = dir.path().join("gone");
        let e = read_token_file(&gone, "--token-file")
            .unwrap_err()
            .to_string();
        assert!(e.contains("cannot read") && e.contains("gone"), "{e}");
    }

    #[test]
    fn a_token_and_a_token_file_together_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("t");
        std::fs::write(&file, "a").unwrap();
        let e = token_from(Some("b".into()), Some(&file), "--token-file").unwrap_err();
        assert!(e.to_string().contains("pass only one"), "{e}");
        assert_eq!(
            token_from(None, Some(&file), "x").unwrap().as_deref(),
            Some("a")
        );
    }
}

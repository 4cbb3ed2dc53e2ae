//! Credentials for a registry of the operator's (`user:password`), sent to the engine as its
//! `X-Registry-Auth` header with a pull or a push of that registry's images, and nowhere else:
//! never to another registry, never in a log line (its `Debug` shows the user only).

/// A user and password for one registry.
#[derive(Clone, PartialEq, Eq)]
pub struct RegistryAuth {
    username: String,
    password: String,
}

impl RegistryAuth {
    /// Reads `user:password` (a trailing newline dropped), as an operator's secret file holds
    /// it. The error says what the text should be and never repeats it.
    pub fn parse(text: &str) -> Result<RegistryAuth, String> {
        let text = text.trim_end_matches(['\n', '\r']);
        match text.split_once(':') {
            Some((user, password)) if !user.is_empty() && !password.is_empty() => {
                Ok(RegistryAuth {
                    username: user.to_string(),
                    password: password.to_string(),
                })
            }
            _ => {
                Err("registry credentials must be one line `user:password` (neither empty)".into())
            }
        }
    }

    /// The user name (safe to show).
    pub fn username(&self) -> &str {
        &self.username
    }

    /// The password, for a client of the registry's own API (deleting manifests); never to
    /// be shown.
    pub fn password(&self) -> &str {
        &self.password
    }

    /// The header's credentials for the registry `server` (`host:port`).
    pub(crate) fn for_server(&self, server: &str) -> bollard::auth::DockerCredentials {
        bollard::auth::DockerCredentials {
            username: Some(self.username.clone()),
            password: Some(self.password.clone()),
            serveraddress: Some(server.to_string()),
            ..Default::default()
        }
    }
}

impl std::fmt::Debug for RegistryAuth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "RegistryAuth({}:***)", self.username)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credentials_parse_from_one_line_and_never_show_the_password() {
        let auth = RegistryAuth::parse("ci:s3cret:with-colon\n").unwrap();
        assert_eq!(auth.username(), "ci");
        assert_eq!(
            auth.for_server("h:1").password.as_deref(),
            Some("s3cret:with-colon")
        );
        assert!(!format!("{auth:?}").contains("s3cret"));
        for bad in ["", "nopassword", ":pw", "user:"] {
            let e = RegistryAuth::parse(bad).unwrap_err();
            assert!(!e.contains("pw"), "{e}");
        }
    }
}

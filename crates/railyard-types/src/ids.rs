//! Ids and times as types: a run's id cannot be passed where an agent's is expected, and
//! every time is a [`Millis`] read from one clock. Each serializes exactly as the plain
//! string or integer the API, the store and `--json` always carried.

use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

macro_rules! string_id {
    ($($(#[$doc:meta])* $name:ident;)*) => {$(
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
        #[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
        #[serde(transparent)]
        pub struct $name(String);

        impl $name {
            /// The id as text.
            pub fn as_str(&self) -> &str {
                &self.0
            }

            /// The id's text, taken out.
            pub fn into_string(self) -> String {
                self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl FromStr for $name {
            type Err = std::convert::Infallible;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                Ok(Self(s.to_owned()))
            }
        }

        impl From<String> for $name {
            fn from(s: String) -> Self {
                Self(s)
            }
        }

        impl From<&str> for $name {
            fn from(s: &str) -> Self {
                Self(s.to_owned())
            }
        }

        impl From<$name> for String {
            fn from(id: $name) -> String {
                id.0
            }
        }

        /// An id reads as its text wherever text is expected (`&id` as `&str`).
        impl std::ops::Deref for $name {
            type Target = str;
            fn deref(&self) -> &str {
                &self.0
            }
        }

        impl AsRef<str> for $name {
            fn as_ref(&self) -> &str {
                &self.0
            }
        }

        impl std::borrow::Borrow<str> for $name {
            fn borrow(&self) -> &str {
                &self.0
            }
        }

        impl PartialEq<str> for $name {
            fn eq(&self, other: &str) -> bool {
                self.0 == other
            }
        }

        impl PartialEq<String> for $name {
            fn eq(&self, other: &String) -> bool {
                &self.0 == other
            }
        }

        impl PartialEq<$name> for String {
            fn eq(&self, other: &$name) -> bool {
                self == &other.0
            }
        }

        impl PartialEq<$name> for &str {
            fn eq(&self, other: &$name) -> bool {
                *self == other.0
            }
        }

        impl PartialEq<&str> for $name {
            fn eq(&self, other: &&str) -> bool {
                self.0 == *other
            }
        }
    )*};
}

string_id! {
    /// A run: a ULID (26 characters, sortable by creation time).
    RunId;
    /// A queued job (a queue row): the job's handle in the agent protocol.
    JobId;
    /// A registered agent, named in each of its calls.
    AgentId;
    /// A project's unique name.
    ProjectName;
    /// A stored API token's unique name (`ci-runner-3`).
    TokenName;
    /// A person's unique name (`alice`).
    UserName;
}

/// A moment: milliseconds since the Unix epoch, as the store, the API and `--json` keep it.
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(transparent)]
pub struct Millis(pub i64);

impl Millis {
    /// The one clock: now, by the system's wall clock (0 if it is set before 1970).
    pub fn now() -> Millis {
        Millis(
            SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX)),
        )
    }

    /// The milliseconds since the epoch.
    pub fn as_i64(self) -> i64 {
        self.0
    }

    /// This moment plus `d` (saturating).
    pub fn plus(self, d: Duration) -> Millis {
        Millis(
            self.0
                .saturating_add(i64::try_from(d.as_millis()).unwrap_or(i64::MAX)),
        )
    }

    /// This moment minus `d` (saturating).
    pub fn minus(self, d: Duration) -> Millis {
        Millis(
            self.0
                .saturating_sub(i64::try_from(d.as_millis()).unwrap_or(i64::MAX)),
        )
    }

    /// How long after `earlier` this is; zero when it is not after it.
    pub fn since(self, earlier: Millis) -> Duration {
        Duration::from_millis(u64::try_from(self.0.saturating_sub(earlier.0)).unwrap_or(0))
    }
}

impl From<i64> for Millis {
    fn from(ms: i64) -> Millis {
        Millis(ms)
    }
}

impl From<Millis> for i64 {
    fn from(m: Millis) -> i64 {
        m.0
    }
}

impl fmt::Display for Millis {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// What an API token may do: `admin` (the whole server), `agent` (register, claim, report)
/// or `user` (a person's own token: its owner's rights per project, see
/// [`crate::people::ProjectRole`]). Stored and sent as those words.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(try_from = "String", into = "&'static str", rename_all = "lowercase")]
pub enum Role {
    /// People and scripts managing the server.
    Admin,
    /// Agents running jobs.
    Agent,
    /// A person's token, with its owner's rights.
    User,
}

impl Role {
    /// `admin`, `agent` or `user`.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Admin => "admin",
            Role::Agent => "agent",
            Role::User => "user",
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Role {
    type Err = String;
    fn from_str(s: &str) -> Result<Role, String> {
        match s {
            "admin" => Ok(Role::Admin),
            "agent" => Ok(Role::Agent),
            "user" => Ok(Role::User),
            _ => Err(format!(
                "role `{s}`: a token's role is `admin`, `agent` or `user`"
            )),
        }
    }
}

impl TryFrom<String> for Role {
    type Error = String;
    fn try_from(s: String) -> Result<Role, String> {
        s.parse()
    }
}

impl From<Role> for &'static str {
    fn from(r: Role) -> &'static str {
        r.as_str()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_times_and_roles_serialize_as_plain_strings_and_numbers() {
        let run = RunId::from("01J0000000000000000000000A");
        assert_eq!(
            serde_json::to_string(&run).unwrap(),
            r#""01J0000000000000000000000A""#
        );
        let back: RunId = serde_json::from_str(r#""01J0000000000000000000000A""#).unwrap();
        assert_eq!(back, run);
        assert_eq!(
            serde_json::to_string(&Millis(1_700_000_000_123)).unwrap(),
            "1700000000123"
        );
        assert_eq!(serde_json::to_string(&Role::Agent).unwrap(), r#""agent""#);
        let bad = serde_json::from_str::<Role>(r#""root""#).unwrap_err();
        assert!(bad.to_string().contains("role `root`"), "{bad}");
    }

    #[test]
    fn the_clock_reads_after_2020() {
        assert!(Millis::now() > Millis(1_577_836_800_000));
        let t = Millis(1_000);
        assert_eq!(t.plus(Duration::from_millis(500)), Millis(1_500));
        assert_eq!(Millis(1_500).since(t), Duration::from_millis(500));
        assert_eq!(t.since(Millis(1_500)), Duration::ZERO);
    }
}

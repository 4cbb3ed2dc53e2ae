//! API tokens: a name, a role (`admin`, `agent`, or `user` for a person's own token with
//! its owner and narrowing) and the token's SHA-256, never the token.
//! The server hashes what a request shows and looks the hash up here (unique index), so a
//! check is one indexed read and a revoke takes effect on the next request, on every server.

use railyard_types::people::TokenScope;
pub use railyard_types::protocol::TokenInfo;
use railyard_types::{Millis, ProjectName, Role, TokenName, UserName};
use sqlx::Row;
use sqlx::any::AnyRow;

use crate::{Store, StoreError};

impl Store {
    /// Stores a token by its SHA-256 (hex); false when the name is taken (nothing changes).
    pub async fn add_token(
        &self,
        name: &TokenName,
        role: Role,
        sha256_hex: &str,
        at: Millis,
    ) -> Result<bool, StoreError> {
        let done = sqlx::query(
            "INSERT INTO api_tokens (name, role, sha256, created_at) VALUES ($1, $2, $3, $4) \
             ON CONFLICT (name) DO NOTHING",
        )
        .bind(name.as_str())
        .bind(role.as_str())
        .bind(sha256_hex)
        .bind(at.as_i64())
        .execute(self.pool())
        .await
        .map_err(self.query_error("storing a token"))?;
        Ok(done.rows_affected() == 1)
    }

    /// The role of the live (not revoked) token with this SHA-256, if any.
    pub async fn token_role(&self, sha256_hex: &str) -> Result<Option<Role>, StoreError> {
        let row =
            sqlx::query("SELECT role FROM api_tokens WHERE sha256 = $1 AND revoked_at IS NULL")
                .bind(sha256_hex)
                .fetch_optional(self.pool())
                .await
                .map_err(self.query_error("checking a token"))?;
        row.map(|r| role_at(&r, 0))
            .transpose()
            .map_err(self.query_error("checking a token"))
    }

    /// Stores a person's token by its SHA-256 (hex), narrowed by `scope`; false when the
    /// name is taken (nothing changes).
    pub async fn add_personal_token(
        &self,
        name: &TokenName,
        owner: &UserName,
        scope: &TokenScope,
        sha256_hex: &str,
        at: Millis,
        expires_at: Option<Millis>,
    ) -> Result<bool, StoreError> {
        let done = sqlx::query(
            "INSERT INTO api_tokens (name, role, sha256, created_at, owner, project, read_only, \
             expires_at) VALUES ($1, 'user', $2, $3, $4, $5, $6, $7) ON CONFLICT (name) DO NOTHING",
        )
        .bind(name.as_str())
        .bind(sha256_hex)
        .bind(at.as_i64())
        .bind(owner.as_str())
        .bind(scope.project.as_ref().map(|p| p.as_str()))
        .bind(i64::from(scope.read_only))
        .bind(expires_at.map(Millis::as_i64))
        .execute(self.pool())
        .await
        .map_err(self.query_error("storing a token"))?;
        Ok(done.rows_affected() == 1)
    }

    /// Who the live token with this SHA-256 speaks for at `now`: its role and, for a
    /// person's token, its active owner and narrowing. `None` for an unknown, revoked or
    /// expired token, and for a token whose owner was removed.
    pub async fn token_holder(
        &self,
        sha256_hex: &str,
        now: Millis,
    ) -> Result<Option<TokenHolder>, StoreError> {
        let err = self.query_error("checking a token");
        let row = sqlx::query(
            "SELECT t.name, t.role, t.owner, t.project, t.read_only, u.admin, \
             (u.name IS NOT NULL AND u.disabled_at IS NULL) FROM api_tokens t LEFT JOIN users u ON u.name = t.owner \
             WHERE t.sha256 = $1 AND t.revoked_at IS NULL \
             AND (t.expires_at IS NULL OR t.expires_at > $2)",
        )
        .bind(sha256_hex)
        .bind(now.as_i64())
        .fetch_optional(self.pool())
        .await
        .map_err(&err)?;
        let Some(r) = row else { return Ok(None) };
        let holder = (|| -> Result<Option<TokenHolder>, sqlx::Error> {
            let owner = r.try_get::<Option<String>, _>(2)?.map(UserName::from);
            let active = r
                .try_get::<Option<bool>, _>(6)
                .or_else(|_| r.try_get::<Option<i64>, _>(6).map(|v| v.map(|v| v != 0)))?;
            if owner.is_some() && active != Some(true) {
                return Ok(None);
            }
            Ok(Some(TokenHolder {
                name: TokenName::from(r.try_get::<String, _>(0)?),
                role: role_at(&r, 1)?,
                owner,
                scope: TokenScope {
                    project: r.try_get::<Option<String>, _>(3)?.map(ProjectName::from),
                    read_only: r.try_get::<i64, _>(4)? != 0,
                },
                owner_admin: r.try_get::<Option<i64>, _>(5)?.unwrap_or(0) != 0,
            }))
        })();
        holder.map_err(&err)
    }

    /// A person's tokens, oldest first.
    pub async fn personal_tokens(&self, owner: &UserName) -> Result<Vec<TokenInfo>, StoreError> {
        let err = self.query_error("listing tokens");
        let rows = sqlx::query(
            "SELECT name, role, created_at, revoked_at FROM api_tokens WHERE owner = $1 \
             ORDER BY created_at, name",
        )
        .bind(owner.as_str())
        .fetch_all(self.pool())
        .await
        .map_err(&err)?;
        rows.iter()
            .map(token_info)
            .collect::<Result<_, _>>()
            .map_err(&err)
    }

    /// Revokes one of a person's tokens; false when they have no live token of that name.
    pub async fn revoke_personal_token(
        &self,
        owner: &UserName,
        name: &TokenName,
        at: Millis,
    ) -> Result<bool, StoreError> {
        let done = sqlx::query(
            "UPDATE api_tokens SET revoked_at = $3 WHERE name = $1 AND owner = $2 \
             AND revoked_at IS NULL",
        )
        .bind(name.as_str())
        .bind(owner.as_str())
        .bind(at.as_i64())
        .execute(self.pool())
        .await
        .map_err(self.query_error("revoking a token"))?;
        Ok(done.rows_affected() == 1)
    }

    /// Every stored token, oldest first.
    pub async fn tokens(&self) -> Result<Vec<TokenInfo>, StoreError> {
        let err = self.query_error("listing tokens");
        let rows = sqlx::query(
            "SELECT name, role, created_at, revoked_at FROM api_tokens ORDER BY created_at, name",
        )
        .fetch_all(self.pool())
        .await
        .map_err(&err)?;
        rows.iter()
            .map(token_info)
            .collect::<Result<_, _>>()
            .map_err(&err)
    }

    /// Revokes the named token; false when there is no live token of that name.
    pub async fn revoke_token(&self, name: &TokenName, at: Millis) -> Result<bool, StoreError> {
        let done = sqlx::query(
            "UPDATE api_tokens SET revoked_at = $2 WHERE name = $1 AND revoked_at IS NULL",
        )
        .bind(name.as_str())
        .bind(at.as_i64())
        .execute(self.pool())
        .await
        .map_err(self.query_error("revoking a token"))?;
        Ok(done.rows_affected() == 1)
    }
}

/// The role in column `i`; a word the server never writes is a decode error.
fn role_at(row: &AnyRow, i: usize) -> Result<Role, sqlx::Error> {
    row.try_get::<String, _>(i)?
        .parse()
        .map_err(|e: String| sqlx::Error::Decode(e.into()))
}

/// Who a token speaks for (see [`Store::token_holder`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenHolder {
    /// The token's name.
    pub name: TokenName,
    /// Its role.
    pub role: Role,
    /// The person, for a `user` token.
    pub owner: Option<UserName>,
    /// What a person's token is narrowed to.
    pub scope: TokenScope,
    /// Whether the person is a server-wide admin.
    pub owner_admin: bool,
}

fn token_info(r: &AnyRow) -> Result<TokenInfo, sqlx::Error> {
    Ok(TokenInfo {
        name: TokenName::from(r.try_get::<String, _>(0)?),
        role: role_at(r, 1)?,
        created_at: Millis(r.try_get(2)?),
        revoked_at: r.try_get::<Option<i64>, _>(3)?.map(Millis),
    })
}

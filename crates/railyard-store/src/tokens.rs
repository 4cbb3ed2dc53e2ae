//! API tokens: a name, a role (`admin` or `agent`) and the token's SHA-256, never the token.
//! The server hashes what a request shows and looks the hash up here (unique index), so a
//! check is one indexed read and a revoke takes effect on the next request, on every server.

pub use railyard_types::protocol::TokenInfo;
use railyard_types::{Millis, Role, TokenName};
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
            .map(|r| {
                Ok(TokenInfo {
                    name: TokenName::from(r.try_get::<String, _>(0)?),
                    role: role_at(r, 1)?,
                    created_at: Millis(r.try_get(2)?),
                    revoked_at: r.try_get::<Option<i64>, _>(3)?.map(Millis),
                })
            })
            .collect::<Result<_, sqlx::Error>>()
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

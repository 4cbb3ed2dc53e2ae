//! People and their roles per project. The server decides what a role allows; the store
//! keeps who has which, and answers the one question a request asks: what may this person
//! do in this project (one read on the primary key).

use railyard_types::people::{ProjectMembership, ProjectRole, UserInfo};
use railyard_types::{Millis, ProjectName, UserName};
use sqlx::Row;
use sqlx::any::AnyRow;

use crate::{Store, StoreError};

/// A person as signing in needs them: whether they may, and the hash to check against.
#[derive(Debug, Clone)]
pub struct Credentials {
    /// Their password's argon2 hash (PHC string), if they have one.
    pub password_hash: Option<String>,
    /// False once they were removed.
    pub active: bool,
}

impl Store {
    /// Adds a person; false when the name is taken (nothing changes).
    pub async fn add_user(
        &self,
        name: &UserName,
        admin: bool,
        password_hash: Option<&str>,
        at: Millis,
    ) -> Result<bool, StoreError> {
        let done = sqlx::query(
            "INSERT INTO users (name, admin, password_hash, created_at) VALUES ($1, $2, $3, $4) \
             ON CONFLICT (name) DO NOTHING",
        )
        .bind(name.as_str())
        .bind(i64::from(admin))
        .bind(password_hash)
        .bind(at.as_i64())
        .execute(self.pool())
        .await
        .map_err(self.query_error("adding a user"))?;
        Ok(done.rows_affected() == 1)
    }

    /// Removes a person: their roles go, and their tokens stop working at once (a token's
    /// check joins its owner's row, which stays, disabled, so the name is not reused by
    /// someone who would inherit the old audit trail). False when no active user has that name.
    pub async fn disable_user(&self, name: &UserName, at: Millis) -> Result<bool, StoreError> {
        let err = self.query_error("removing a user");
        let mut tx = self.pool().begin().await.map_err(&err)?;
        let done = sqlx::query(
            "UPDATE users SET disabled_at = $2 WHERE name = $1 AND disabled_at IS NULL",
        )
        .bind(name.as_str())
        .bind(at.as_i64())
        .execute(&mut *tx)
        .await
        .map_err(&err)?;
        if done.rows_affected() == 0 {
            return Ok(false);
        }
        for sql in [
            "DELETE FROM project_roles WHERE user_name = $1",
            "UPDATE api_tokens SET revoked_at = $2 WHERE owner = $1 AND revoked_at IS NULL",
        ] {
            sqlx::query(sql)
                .bind(name.as_str())
                .bind(at.as_i64())
                .execute(&mut *tx)
                .await
                .map_err(&err)?;
        }
        tx.commit().await.map_err(&err)?;
        Ok(true)
    }

    /// What signing in as `name` checks against; `None` for no such user.
    pub async fn user_credentials(
        &self,
        name: &UserName,
    ) -> Result<Option<Credentials>, StoreError> {
        let err = self.query_error("reading a user");
        let row = sqlx::query("SELECT password_hash, disabled_at FROM users WHERE name = $1")
            .bind(name.as_str())
            .fetch_optional(self.pool())
            .await
            .map_err(&err)?;
        row.map(|r| {
            Ok(Credentials {
                password_hash: r.try_get(0)?,
                active: r.try_get::<Option<i64>, _>(1)?.is_none(),
            })
        })
        .transpose()
        .map_err(&err)
    }

    /// Every person with their roles, by name.
    pub async fn users(&self) -> Result<Vec<UserInfo>, StoreError> {
        let err = self.query_error("listing users");
        let rows = sqlx::query(
            "SELECT name, admin, password_hash IS NOT NULL, created_at, disabled_at \
             FROM users ORDER BY name",
        )
        .fetch_all(self.pool())
        .await
        .map_err(&err)?;
        let roles = sqlx::query(
            "SELECT project, user_name, role, granted_at FROM project_roles \
             ORDER BY user_name, project",
        )
        .fetch_all(self.pool())
        .await
        .map_err(&err)?
        .iter()
        .map(membership)
        .collect::<Result<Vec<_>, _>>()
        .map_err(&err)?;
        rows.iter()
            .map(|r| {
                let name = UserName::from(r.try_get::<String, _>(0)?);
                Ok(UserInfo {
                    roles: roles.iter().filter(|m| m.user == name).cloned().collect(),
                    name,
                    admin: r.try_get::<i64, _>(1)? != 0,
                    has_password: flag(r, 2)?,
                    created_at: Millis(r.try_get(3)?),
                    disabled_at: r.try_get::<Option<i64>, _>(4)?.map(Millis),
                })
            })
            .collect::<Result<_, sqlx::Error>>()
            .map_err(&err)
    }

    /// Gives an active person a role in a project (replacing the one they had); `None` when
    /// there is no such active user.
    pub async fn set_project_role(
        &self,
        project: &ProjectName,
        user: &UserName,
        role: ProjectRole,
        at: Millis,
    ) -> Result<Option<ProjectMembership>, StoreError> {
        let done = sqlx::query(
            "INSERT INTO project_roles (project, user_name, role, granted_at) \
             SELECT $1, name, $3, $4 FROM users WHERE name = $2 AND disabled_at IS NULL \
             ON CONFLICT (project, user_name) DO UPDATE SET role = $3, granted_at = $4",
        )
        .bind(project.as_str())
        .bind(user.as_str())
        .bind(role.as_str())
        .bind(at.as_i64())
        .execute(self.pool())
        .await
        .map_err(self.query_error("setting a role"))?;
        Ok((done.rows_affected() == 1).then(|| ProjectMembership {
            project: project.clone(),
            user: user.clone(),
            role,
            granted_at: at,
        }))
    }

    /// Takes a person's role in a project away; false when they had none.
    pub async fn remove_project_role(
        &self,
        project: &ProjectName,
        user: &UserName,
    ) -> Result<bool, StoreError> {
        let done = sqlx::query("DELETE FROM project_roles WHERE project = $1 AND user_name = $2")
            .bind(project.as_str())
            .bind(user.as_str())
            .execute(self.pool())
            .await
            .map_err(self.query_error("removing a role"))?;
        Ok(done.rows_affected() == 1)
    }

    /// A person's role in a project, if they have one.
    pub async fn project_role(
        &self,
        project: &ProjectName,
        user: &UserName,
    ) -> Result<Option<ProjectRole>, StoreError> {
        let err = self.query_error("checking a role");
        let row =
            sqlx::query("SELECT role FROM project_roles WHERE project = $1 AND user_name = $2")
                .bind(project.as_str())
                .bind(user.as_str())
                .fetch_optional(self.pool())
                .await
                .map_err(&err)?;
        row.map(|r| role_at(&r, 0)).transpose().map_err(&err)
    }

    /// The people of a project, or the projects of a person: every membership matching.
    pub async fn memberships(
        &self,
        project: Option<&ProjectName>,
        user: Option<&UserName>,
    ) -> Result<Vec<ProjectMembership>, StoreError> {
        let err = self.query_error("listing roles");
        sqlx::query(
            "SELECT project, user_name, role, granted_at FROM project_roles \
             WHERE ($1 IS NULL OR project = $1) AND ($2 IS NULL OR user_name = $2) \
             ORDER BY project, user_name",
        )
        .bind(project.map(|p| p.as_str()))
        .bind(user.map(|u| u.as_str()))
        .fetch_all(self.pool())
        .await
        .map_err(&err)?
        .iter()
        .map(membership)
        .collect::<Result<_, _>>()
        .map_err(&err)
    }
}

fn membership(r: &AnyRow) -> Result<ProjectMembership, sqlx::Error> {
    Ok(ProjectMembership {
        project: ProjectName::from(r.try_get::<String, _>(0)?),
        user: UserName::from(r.try_get::<String, _>(1)?),
        role: role_at(r, 2)?,
        granted_at: Millis(r.try_get(3)?),
    })
}

/// A boolean expression's value: SQLite gives an integer, PostgreSQL a boolean.
fn flag(r: &AnyRow, i: usize) -> Result<bool, sqlx::Error> {
    r.try_get::<bool, _>(i)
        .or_else(|_| r.try_get::<i64, _>(i).map(|v| v != 0))
}

/// The role in column `i`; a word the server never writes is a decode error.
fn role_at(row: &AnyRow, i: usize) -> Result<ProjectRole, sqlx::Error> {
    row.try_get::<String, _>(i)?
        .parse()
        .map_err(|e: String| sqlx::Error::Decode(e.into()))
}

//! Who a request speaks for, and what they may do in a project.
//!
//! The token is checked before the handler runs ([`authenticate`]); for an endpoint that a
//! person may call, the handler takes a [`Caller`] and asks it about the project the request
//! turns out to be about (a run's project is known only once the run is found). A caller who
//! may not even see the project gets the same 404 as for something that does not exist, so a
//! token cannot probe other projects' names; one who may see it but not do this gets 403
//! naming the role it needs.

use std::marker::PhantomData;

use axum::extract::FromRequestParts;
use axum::http::HeaderMap;
use axum::http::request::Parts;
use railyard_store::{RunDetail, Seen};
use railyard_types::api::{Auth, Endpoint};
use railyard_types::people::{ProjectRole, TokenScope};
use railyard_types::{Millis, ProjectName, Role, TokenName, UserName};

use super::ApiResult;
use crate::error::ApiError;
use crate::{AppState, TokenHash};

/// Who a token speaks for.
#[derive(Debug, Clone)]
pub(crate) enum Who {
    /// The bootstrap admin token (`actor` `admin`) or a stored admin token (`token:NAME`).
    Admin { actor: String },
    /// A person's own token.
    Person {
        user: UserName,
        admin: bool,
        token: TokenName,
        scope: TokenScope,
    },
}

impl Who {
    /// As the audit trail names the caller.
    pub(crate) fn actor(&self) -> String {
        match self {
            Who::Admin { actor } => actor.clone(),
            Who::Person { user, .. } => format!("user:{user}"),
        }
    }

    /// Server-wide admin rights: an admin token, or an admin's token narrowed to nothing.
    pub(crate) fn is_admin(&self) -> bool {
        match self {
            Who::Admin { .. } => true,
            Who::Person { admin, scope, .. } => *admin && *scope == TokenScope::default(),
        }
    }

    /// What the caller may do in `project`: `None` when they may not even see it. An admin
    /// is a maintainer everywhere; a token narrowed to another project sees nothing of this
    /// one; a read-only token reads at most.
    pub(crate) async fn role_in(
        &self,
        state: &AppState,
        project: &ProjectName,
    ) -> ApiResult<Option<ProjectRole>> {
        let Who::Person {
            user, admin, scope, ..
        } = self
        else {
            return Ok(Some(ProjectRole::Maintainer));
        };
        if scope.project.as_ref().is_some_and(|p| p != project) {
            return Ok(None);
        }
        let role = if *admin {
            Some(ProjectRole::Maintainer)
        } else {
            state.store().project_role(project, user).await?
        };
        Ok(if scope.read_only {
            role.map(|r| r.min(ProjectRole::Viewer))
        } else {
            role
        })
    }

    /// Ok when the caller has at least `need` in `project`; else `hidden()` (the 404 of
    /// something not found) when they may not see it, or 403 naming what is missing.
    pub(crate) async fn require(
        &self,
        state: &AppState,
        project: &ProjectName,
        need: ProjectRole,
        hidden: impl FnOnce() -> ApiError,
    ) -> ApiResult<()> {
        match self.role_in(state, project).await? {
            None => Err(hidden()),
            Some(role) if role >= need => Ok(()),
            Some(role) => {
                let why = match self {
                    Who::Person { scope, token, .. } if scope.read_only => {
                        format!("token `{token}` is read-only")
                    }
                    _ => format!("{} is a {role} of project `{project}`", self.actor()),
                };
                Err(ApiError::Forbidden(format!(
                    "{why}: this needs the {need} role there (a maintainer of the project or an admin can give it: `railyard member set {project} USER {need}`)"
                )))
            }
        }
    }

    /// The projects the caller may see, for a listing (narrowed further to `asked`, the
    /// one project a listing asks for, if any). Asking for a project one may not see is the
    /// 404 of an unknown project.
    pub(crate) async fn visible(
        &self,
        state: &AppState,
        asked: Option<&ProjectName>,
    ) -> ApiResult<Visible> {
        if let Some(project) = asked {
            self.require(state, project, ProjectRole::Viewer, || {
                ApiError::NotFound(format!("project `{project}`"))
            })
            .await?;
            return Ok(Visible::Project(project.clone()));
        }
        Ok(match self {
            Who::Admin { .. } => Visible::All,
            Who::Person {
                scope:
                    TokenScope {
                        project: Some(only),
                        ..
                    },
                ..
            } => match self.role_in(state, only).await? {
                Some(_) => Visible::Project(only.clone()),
                None => Visible::Nothing,
            },
            Who::Person { admin: true, .. } => Visible::All,
            Who::Person { user, .. } => Visible::Member(user.clone()),
        })
    }
}

/// What a listing shows a caller (see [`Who::visible`]).
#[derive(Debug, Clone)]
pub(crate) enum Visible {
    All,
    Project(ProjectName),
    Member(UserName),
    Nothing,
}

impl Visible {
    /// The store's filter; `None` when nothing is visible.
    pub(crate) fn seen(&self) -> Option<Seen<'_>> {
        match self {
            Visible::All => Some(Seen::All),
            Visible::Project(p) => Some(Seen::Project(p)),
            Visible::Member(u) => Some(Seen::Member(u)),
            Visible::Nothing => None,
        }
    }
}

/// The caller of a person's endpoint `E`, as the token check found them.
pub(crate) struct Caller<E> {
    pub who: Who,
    endpoint: PhantomData<fn() -> E>,
}

impl<E: Endpoint> Caller<E> {
    /// The role `E` declares that it needs.
    fn need() -> ProjectRole {
        match E::AUTH {
            Auth::Developer => ProjectRole::Developer,
            Auth::Maintainer => ProjectRole::Maintainer,
            _ => ProjectRole::Viewer,
        }
    }

    /// The run `id` names (id, id prefix or number), when the caller has the role `E`
    /// needs in its project: a run of a project they may not see is not found.
    pub(crate) async fn run(&self, state: &AppState, id: &str) -> ApiResult<RunDetail> {
        let not_found = || ApiError::NotFound(format!("run `{id}`"));
        let detail = state
            .store()
            .find_run(None, id)
            .await?
            .ok_or_else(not_found)?;
        self.require(state, &detail.run.project, not_found).await?;
        Ok(detail)
    }

    /// Ok when the caller has the role `E` needs in `project` (see [`Who::require`]).
    pub(crate) async fn require(
        &self,
        state: &AppState,
        project: &ProjectName,
        hidden: impl FnOnce() -> ApiError,
    ) -> ApiResult<()> {
        self.who.require(state, project, Self::need(), hidden).await
    }
}

impl<E: Send + Sync, S: Send + Sync> FromRequestParts<S> for Caller<E> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> ApiResult<Self> {
        let who = parts.extensions.get::<Who>().cloned().ok_or_else(|| {
            ApiError::Internal("the caller was not checked before the handler".into())
        })?;
        Ok(Caller {
            who,
            endpoint: PhantomData,
        })
    }
}

/// The bearer token of a request, if it sent one.
pub(crate) fn bearer(headers: &HeaderMap) -> Option<&str> {
    headers
        .get(axum::http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .filter(|t| !t.is_empty())
}

/// Who the request's token speaks for: the bootstrap admin token (in memory, constant time),
/// else a stored live admin or person's token (one indexed read; revoked, expired and
/// removed people's tokens fail at once, on every server). An agent's token is no person.
pub(super) async fn authenticate(headers: &HeaderMap, state: &AppState) -> ApiResult<Who> {
    let refused = || ApiError::Unauthorized("admin or personal");
    let given = bearer(headers).ok_or_else(refused)?;
    if state.config().admin_token.matches(given) {
        return Ok(Who::Admin {
            actor: "admin".into(),
        });
    }
    let holder = state
        .store()
        .token_holder(&TokenHash::of(given).hex(), Millis::now())
        .await?
        .ok_or_else(refused)?;
    match (holder.role, holder.owner) {
        (Role::Admin, _) => Ok(Who::Admin {
            actor: format!("token:{}", holder.name),
        }),
        (Role::User, Some(user)) => Ok(Who::Person {
            user,
            admin: holder.owner_admin,
            token: holder.name,
            scope: holder.scope,
        }),
        _ => Err(refused()),
    }
}

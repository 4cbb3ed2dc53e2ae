//! Handlers checked against their endpoint's declaration. A handler of endpoint `E` takes
//! only what `E` declares — [`Params<E>`] (`E::Path`), [`Query<E>`] (`E::Query`),
//! [`Body<E>`] (`E::Request`) or the raw [`Payload<E>`] and [`Upload<E>`] — besides the
//! server's state, and answers [`Reply<E>`] (`E::Response`) or, where the body cannot be a
//! value, [`Raw<E>`]: [`Routes::at`](super::Routes::at) takes it only for `E` ([`Serves`]),
//! so a handler that reads or answers other types than the document and the clients do
//! does not compile. When the route is built, the parts it reads are checked against the
//! declared media (a JSON body where JSON is declared, path parameters where the path has
//! them), and the token is checked for the declared [`Auth`] before the handler runs.

use std::future::Future;
use std::marker::PhantomData;
use std::pin::Pin;

use axum::extract::rejection::{PathRejection, QueryRejection};
use axum::extract::{FromRequest, FromRequestParts, OptionalFromRequest, Request, State};
use axum::handler::Handler;
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use railyard_types::api::{Auth, Endpoint, Media};
use serde::de::DeserializeOwned;

use super::caller::{Caller, authenticate};
use super::{ApiResult, authorize_agent, read_json};
use crate::AppState;
use crate::error::ApiError;

/// The path parameters of `E`, as it declares them (`RunId`, `(RunId, String)`, …). A
/// value that does not parse is refused as the framework refuses it.
pub(crate) struct Params<E: Endpoint>(pub E::Path);

impl<E: Endpoint, S: Send + Sync> FromRequestParts<S> for Params<E>
where
    E::Path: DeserializeOwned + Send,
{
    type Rejection = PathRejection;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, PathRejection> {
        let axum::extract::Path(path) =
            axum::extract::Path::from_request_parts(parts, state).await?;
        Ok(Params(path))
    }
}

/// The query of `E`.
pub(crate) struct Query<E: Endpoint>(pub E::Query);

impl<E: Endpoint, S: Send + Sync> FromRequestParts<S> for Query<E> {
    type Rejection = QueryRejection;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, QueryRejection> {
        let axum::extract::Query(query) =
            axum::extract::Query::from_request_parts(parts, state).await?;
        Ok(Query(query))
    }
}

/// The JSON body of `E`. Every way it can be wrong is our error, in the envelope: 415
/// without a JSON `Content-Type`, 413 over the route's body limit, 400 for text that is not
/// JSON or does not fit `E::Request` (serde names the field and the place). As
/// `Option<Body<E>>` (a body that may be left out), an empty body is `None`.
pub(crate) struct Body<E: Endpoint>(pub E::Request);

impl<E: Endpoint, S: Send + Sync> FromRequest<S> for Body<E> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> ApiResult<Self> {
        let route = format!("{} {}", req.method(), req.uri().path());
        read_json(req, state).await?.map(Body).ok_or_else(|| {
            ApiError::BadRequest(format!(
                "{route} takes a JSON body and got none (GET /api/v1/openapi.json describes it)"
            ))
        })
    }
}

impl<E: Endpoint, S: Send + Sync> OptionalFromRequest<S> for Body<E> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> ApiResult<Option<Self>> {
        Ok(read_json(req, state).await?.map(Body))
    }
}

/// The body of `E` as a stream with the request's headers, for a payload that is checked
/// against a signature over its bytes (a forge's webhook): not typed, since its shape is the
/// forge's, and not read here, so that the handler checks what it can before reading it and
/// counts it against its own cap as it comes.
pub(crate) struct Payload<E> {
    pub headers: HeaderMap,
    pub body: axum::body::Body,
    endpoint: PhantomData<fn() -> E>,
}

impl<E: Endpoint, S: Send + Sync> FromRequest<S> for Payload<E> {
    type Rejection = std::convert::Infallible;

    async fn from_request(req: Request, _: &S) -> Result<Self, Self::Rejection> {
        let (parts, body) = req.into_parts();
        Ok(Payload {
            headers: parts.headers,
            body,
            endpoint: PhantomData,
        })
    }
}

/// The body of `E` as a stream (an artifact file): not typed, and not held by the route's
/// body limit; the handler counts it against its own.
pub(crate) struct Upload<E> {
    pub body: axum::body::Body,
    /// The `Content-Length` the client declared, if any: a body declared over the limit is
    /// refused before a byte of it is read.
    pub length: Option<u64>,
    endpoint: PhantomData<fn() -> E>,
}

impl<E: Endpoint, S: Send + Sync> FromRequest<S> for Upload<E> {
    type Rejection = std::convert::Infallible;

    async fn from_request(req: Request, _: &S) -> Result<Self, Self::Rejection> {
        let length = req
            .headers()
            .get(axum::http::header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse().ok());
        Ok(Upload {
            body: req.into_body(),
            length,
            endpoint: PhantomData,
        })
    }
}

/// The answer of `E`: `E::Response` with the declared success status, as JSON, or as text
/// where `E` answers text. A value that is JSON `null` (`()`, or `None` where `E` may have
/// nothing to give) is 204 with no body.
pub(crate) struct Reply<E: Endpoint> {
    body: E::Response,
    status: u16,
    content_type: Option<&'static str>,
}

impl<E: Endpoint> Reply<E> {
    /// `body` with `E`'s success status.
    pub(crate) fn new(body: E::Response) -> Self {
        Reply {
            body,
            status: E::OK.0,
            content_type: None,
        }
    }

    /// `body` with another status `E` documents (a webhook's 200 for a delivery it ignores).
    pub(crate) fn with_status(status: StatusCode, body: E::Response) -> Self {
        Reply {
            status: status.as_u16(),
            ..Reply::new(body)
        }
    }

    /// With a `Content-Type` more precise than the media's (Prometheus' text version).
    pub(crate) fn content_type(self, content_type: &'static str) -> Self {
        Reply {
            content_type: Some(content_type),
            ..self
        }
    }
}

impl<E: Endpoint> IntoResponse for Reply<E> {
    fn into_response(self) -> Response {
        let status = StatusCode::from_u16(self.status).unwrap_or(StatusCode::OK);
        let (bytes, content_type) = if E::RESPONSE == Media::Text {
            let text = match serde_json::to_value(&self.body) {
                Ok(serde_json::Value::String(text)) => text,
                _ => String::new(),
            };
            (text.into_bytes(), "text/plain; charset=utf-8")
        } else {
            match serde_json::to_vec(&self.body) {
                Ok(json) if json == b"null" => return StatusCode::NO_CONTENT.into_response(),
                Ok(json) => (json, "application/json"),
                Err(e) => {
                    return ApiError::Internal(format!("writing the answer as JSON: {e}"))
                        .into_response();
                }
            }
        };
        let content_type = HeaderValue::from_static(self.content_type.unwrap_or(content_type));
        (status, [(header::CONTENT_TYPE, content_type)], bytes).into_response()
    }
}

/// An answer of `E` whose body is not a value: a stream (artifact bytes, server-sent events)
/// or the OpenAPI document, built from the declarations themselves. Its type still names
/// `E`, so it serves no other route.
pub(crate) struct Raw<E>(Response, PhantomData<fn() -> E>);

impl<E: Endpoint> Raw<E> {
    pub(crate) fn new(answer: impl IntoResponse) -> Self {
        Raw(answer.into_response(), PhantomData)
    }
}

impl<E> IntoResponse for Raw<E> {
    fn into_response(self) -> Response {
        self.0
    }
}

/// The part of a request an argument of a handler reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Part {
    /// The server's state.
    State,
    /// The path parameters.
    Path,
    /// The query.
    Query,
    /// The body, as this media.
    Body(Media),
    /// Who called (a person's or an admin's token).
    Caller,
}

/// What a handler of `E` may take.
pub(crate) trait Takes<E> {
    /// What it reads.
    const PART: Part;
}

impl<E> Takes<E> for State<AppState> {
    const PART: Part = Part::State;
}
impl<E: Endpoint> Takes<E> for Caller<E> {
    const PART: Part = Part::Caller;
}
impl<E: Endpoint> Takes<E> for Params<E> {
    const PART: Part = Part::Path;
}
impl<E: Endpoint> Takes<E> for Query<E> {
    const PART: Part = Part::Query;
}
impl<E: Endpoint> Takes<E> for Body<E> {
    const PART: Part = Part::Body(Media::Json);
}
impl<E: Endpoint> Takes<E> for Option<Body<E>> {
    const PART: Part = Part::Body(Media::OptionalJson);
}
impl<E: Endpoint> Takes<E> for Payload<E> {
    const PART: Part = Part::Body(Media::Payload);
}
impl<E: Endpoint> Takes<E> for Upload<E> {
    const PART: Part = Part::Body(Media::Bytes);
}

/// What a handler of `E` may answer.
pub(crate) trait Answers<E> {
    /// Whether it can carry an answer of `media`.
    fn carries(media: Media) -> bool;
}

impl<E: Endpoint> Answers<E> for ApiResult<Reply<E>> {
    fn carries(media: Media) -> bool {
        matches!(media, Media::Json | Media::Text | Media::None)
    }
}

impl<E: Endpoint> Answers<E> for ApiResult<Raw<E>> {
    fn carries(_: Media) -> bool {
        true
    }
}

/// A handler of endpoint `E`: an async function whose arguments are each something `E`
/// [`Takes`] and whose answer is one `E` [`Answers`]. `A` is the tuple of its arguments.
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not a handler of endpoint `{E}`",
    note = "a handler of `{E}` takes `State<AppState>`, `Params<{E}>`, `Query<{E}>`, `Body<{E}>` (or `Payload`, `Upload`) and answers `ApiResult<Reply<{E}>>` or `ApiResult<Raw<{E}>>`"
)]
pub(crate) trait Serves<E, A> {
    /// What its arguments read, in order.
    fn parts() -> Vec<Part>;
    /// Whether its answer can carry `media`.
    fn carries(media: Media) -> bool;
}

macro_rules! serves {
    ($($arg:ident),*) => {
        impl<E, F, Fut, $($arg,)*> Serves<E, ($($arg,)*)> for F
        where
            E: Endpoint,
            F: FnOnce($($arg),*) -> Fut,
            Fut: Future,
            Fut::Output: Answers<E>,
            $($arg: Takes<E>,)*
        {
            fn parts() -> Vec<Part> {
                vec![$($arg::PART),*]
            }
            fn carries(media: Media) -> bool {
                <Fut::Output as Answers<E>>::carries(media)
            }
        }
    };
}
serves!();
serves!(A1);
serves!(A1, A2);
serves!(A1, A2, A3);
serves!(A1, A2, A3, A4);
serves!(A1, A2, A3, A4, A5);

/// Checks that a handler of `E` reads the parts `E` declares and answers in its media;
/// panics (when the router is built, so at every start and in the route test) if not.
pub(crate) fn check<E: Endpoint, A, H: Serves<E, A>>() {
    let parts = H::parts();
    let route = format!("{} {}", E::METHOD.as_str(), E::PATH);
    let body = parts.iter().find_map(|p| match p {
        Part::Body(media) => Some(*media),
        _ => None,
    });
    assert_eq!(
        body.unwrap_or(Media::None),
        E::REQUEST,
        "{route}: its handler reads another body than declared"
    );
    assert_eq!(
        parts.contains(&Part::Path),
        E::PATH.contains('{'),
        "{route}: its handler and its path disagree on path parameters"
    );
    let people = matches!(
        E::AUTH,
        Auth::Signed | Auth::Viewer | Auth::Developer | Auth::Maintainer
    );
    if people {
        assert!(
            parts.contains(&Part::Caller),
            "{route}: a person may call it, so its handler must take the `Caller` and check the project"
        );
    } else if E::AUTH != Auth::Admin {
        assert!(
            !parts.contains(&Part::Caller),
            "{route}: no person calls it, so its handler has no `Caller`"
        );
    }
    assert!(
        H::carries(E::RESPONSE),
        "{route}: its handler's answer cannot carry {:?}",
        E::RESPONSE
    );
}

/// A handler run once the request's token is the one `E` declares: an admin's or an agent's
/// token, or none for open endpoints and webhooks (which check their signature). Checked
/// before any part of the request is read, so a bad token gets 401 whatever the body.
pub(crate) struct Authorized<E, H>(H, PhantomData<fn() -> E>);

impl<E, H: Clone> Clone for Authorized<E, H> {
    fn clone(&self) -> Self {
        Authorized(self.0.clone(), PhantomData)
    }
}

impl<E, H> Authorized<E, H> {
    pub(crate) fn new(handler: H) -> Self {
        Authorized(handler, PhantomData)
    }
}

impl<E, H, T> Handler<T, AppState> for Authorized<E, H>
where
    E: Endpoint + 'static,
    H: Handler<T, AppState>,
{
    type Future = Pin<Box<dyn Future<Output = Response> + Send>>;

    fn call(self, req: Request, state: AppState) -> Self::Future {
        Box::pin(async move {
            let mut req = req;
            match E::AUTH {
                Auth::Open | Auth::Webhook => {}
                Auth::Agent => {
                    if let Err(e) = authorize_agent(req.headers(), &state).await {
                        return e.into_response();
                    }
                }
                Auth::Admin | Auth::Signed | Auth::Viewer | Auth::Developer | Auth::Maintainer => {
                    let who = match authenticate(req.headers(), &state).await {
                        Ok(who) => who,
                        Err(e) => return e.into_response(),
                    };
                    if E::AUTH == Auth::Admin && !who.is_admin() {
                        return ApiError::Forbidden(format!(
                            "{} is not a server admin: {} {} needs an admin's token",
                            who.actor(),
                            E::METHOD.as_str(),
                            E::PATH
                        ))
                        .into_response();
                    }
                    req.extensions_mut().insert(who);
                }
            }
            self.0.call(req, state).await
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use railyard_types::Role;
    use railyard_types::api;
    use railyard_types::protocol::{CreatedToken, Health, WebhookAnswer};

    fn answer(response: Response) -> (u16, Option<String>) {
        let content_type = response
            .headers()
            .get(header::CONTENT_TYPE)
            .map(|v| v.to_str().unwrap().to_owned());
        (response.status().as_u16(), content_type)
    }

    /// The answers the handlers gave by hand before: the declared status, JSON or text with
    /// the same `Content-Type`, 204 with no type for nothing.
    #[test]
    fn a_reply_answers_as_declared() {
        let health = || Health {
            status: "ok".into(),
        };
        let json = Some("application/json".to_owned());
        let token = CreatedToken {
            name: "ci".into(),
            role: Role::Agent,
            token: "ry_1".into(),
        };
        let created = Reply::<api::CreateToken>::new(token).into_response();
        assert_eq!(answer(created), (201, json.clone()));
        let ping = WebhookAnswer {
            run: None,
            ignored: Some("ping".into()),
        };
        let ignored = Reply::<api::Webhook>::with_status(StatusCode::OK, ping);
        assert_eq!(answer(ignored.into_response()), (200, json.clone()));
        assert_eq!(
            answer(Reply::<api::Healthz>::new(health()).into_response()),
            (200, json)
        );
        let none = Reply::<api::ClaimJob>::new(None).into_response();
        assert_eq!(answer(none), (204, None));
        assert_eq!(
            answer(Reply::<api::Complete>::new(()).into_response()),
            (204, None)
        );
        let log = Reply::<api::JobLog>::new("line\n".into()).into_response();
        assert_eq!(answer(log), (200, Some("text/plain; charset=utf-8".into())));
        let metrics =
            Reply::<api::Metrics>::new(String::new()).content_type("text/plain; version=0.0.4");
        assert_eq!(
            answer(metrics.into_response()),
            (200, Some("text/plain; version=0.0.4".into()))
        );
    }

    /// What the types allow but the declaration does not: a body where `GetRun` takes none.
    #[test]
    #[should_panic(expected = "GET /api/v1/runs/{id}: its handler reads another body")]
    fn a_handler_reading_an_undeclared_body_is_refused() {
        async fn handler(
            _: Params<api::GetRun>,
            _: Body<api::GetRun>,
        ) -> ApiResult<Reply<api::GetRun>> {
            unreachable!()
        }
        fn route<A, H: Serves<api::GetRun, A>>(_: H) {
            check::<api::GetRun, A, H>();
        }
        route(handler);
    }
}

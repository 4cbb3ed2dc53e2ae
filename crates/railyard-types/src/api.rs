//! Every endpoint of the server, declared once: its method, path, who may call it, its path
//! parameters, query, request body and answer. The server routes by these declarations and
//! generates its OpenAPI document from them (with the bodies' schemas, feature `openapi`);
//! the agent and the CLI call them through one typed call that fills the path from them. A
//! route added here is served, documented and callable, or the build or the server's test
//! says which is missing.

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::people::*;
use crate::protocol::*;
use crate::records::{Deployment, JobRecord, RunDetail, RunRecord};
use crate::{AgentId, JobId, ProjectName, RunId, TokenName, UserName};

/// An HTTP method of the API.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Method {
    /// Reads.
    Get,
    /// Creates or acts.
    Post,
    /// Stores a file.
    Put,
    /// Changes some fields.
    Patch,
}

impl Method {
    /// `GET`, `POST`, … as sent.
    pub fn as_str(self) -> &'static str {
        match self {
            Method::Get => "GET",
            Method::Post => "POST",
            Method::Put => "PUT",
            Method::Patch => "PATCH",
        }
    }
}

/// Who may call an endpoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Auth {
    /// A server-wide admin: the bootstrap or a stored admin token, or an admin's personal
    /// token that is narrowed to nothing.
    Admin,
    /// Anyone signed in (an admin or a person's token): the handler shows each caller only
    /// the projects they may see.
    Signed,
    /// A person with at least the `viewer` role in the project the request is about (an
    /// admin always); the handler finds the project and checks.
    Viewer,
    /// At least `developer` in the project.
    Developer,
    /// At least `maintainer` in the project.
    Maintainer,
    /// An agent token.
    Agent,
    /// Nobody needs a token (scrapers, probes, the document).
    Open,
    /// The project's webhook secret (signature or token header).
    Webhook,
}

/// How a body travels.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Media {
    /// No body.
    None,
    /// JSON of the endpoint's type.
    Json,
    /// JSON of the endpoint's type, or no body at all (the type's default).
    OptionalJson,
    /// JSON that the endpoint reads as it comes (a forge's webhook payload), not by the
    /// API's JSON rules.
    Payload,
    /// Plain text.
    Text,
    /// Bytes as they are (an artifact file).
    Bytes,
    /// Server-sent events.
    Events,
}

impl Media {
    /// The `Content-Type`, if there is a body.
    pub fn content_type(self) -> Option<&'static str> {
        match self {
            Media::None => None,
            Media::Json | Media::OptionalJson | Media::Payload => Some("application/json"),
            Media::Text => Some("text/plain"),
            Media::Bytes => Some("application/octet-stream"),
            Media::Events => Some("text/event-stream"),
        }
    }
}

/// A body or query type the document can describe: every such type has a schema when the
/// `openapi` feature is on, and nothing is asked of it otherwise.
#[cfg(feature = "openapi")]
pub trait Documented: utoipa::ToSchema {}
#[cfg(feature = "openapi")]
impl<T: utoipa::ToSchema> Documented for T {}
/// A body or query type the document can describe: every such type has a schema when the
/// `openapi` feature is on, and nothing is asked of it otherwise.
#[cfg(not(feature = "openapi"))]
pub trait Documented {}
#[cfg(not(feature = "openapi"))]
impl<T> Documented for T {}

/// One endpoint. Implemented by one zero-sized type per endpoint, declared below.
pub trait Endpoint {
    /// Its method.
    const METHOD: Method;
    /// Its path as the router takes it: `{name}` is one segment, `{*name}` the rest of the
    /// path (several segments).
    const PATH: &'static str;
    /// Who may call it.
    const AUTH: Auth;
    /// What it does, in a line.
    const SUMMARY: &'static str;
    /// Its success status and what it answers then.
    const OK: (u16, &'static str);
    /// The errors particular to it (every endpoint may answer 400, 401 and 404).
    const ERRORS: &'static [(u16, &'static str)];
    /// How its request body travels.
    const REQUEST: Media;
    /// How its answer travels.
    const RESPONSE: Media;
    /// Its path parameters, in the order of [`Endpoint::PATH`].
    type Path: PathArgs;
    /// Its query (`()` for none).
    type Query: Serialize + DeserializeOwned + Documented;
    /// Its request body (`()` for none).
    type Request: Serialize + DeserializeOwned + Documented;
    /// Its answer (`()` for none; `Option` when it may answer 204 instead).
    type Response: Serialize + DeserializeOwned + Documented;

    /// The path with `path` filled in, each value percent-encoded (a `{*rest}` value keeps
    /// its `/`s), and the query appended.
    fn url(path: &Self::Path, query: &Self::Query) -> String {
        let mut args = path.args().into_iter();
        let mut out = String::with_capacity(Self::PATH.len() + 32);
        for (i, seg) in Self::PATH.split('/').enumerate() {
            if i > 0 {
                out.push('/');
            }
            if let Some(name) = seg.strip_prefix('{').and_then(|s| s.strip_suffix('}')) {
                let value = args.next().unwrap_or_default();
                if name.starts_with('*') {
                    let parts: Vec<String> = value.split('/').map(path_segment).collect();
                    out.push_str(&parts.join("/"));
                } else {
                    out.push_str(&path_segment(value));
                }
            } else {
                out.push_str(seg);
            }
        }
        let query = serde_urlencoded::to_string(query).unwrap_or_default();
        if !query.is_empty() {
            out.push('?');
            out.push_str(&query);
        }
        out
    }
}

/// One value of a path parameter.
pub trait Segment {
    /// The value as text (encoded when the path is filled in).
    fn segment(&self) -> &str;
}

impl<T: AsRef<str> + ?Sized> Segment for T {
    fn segment(&self) -> &str {
        self.as_ref()
    }
}

/// An endpoint's path parameters: none, one value, or a tuple of values.
pub trait PathArgs {
    /// The values in order.
    fn args(&self) -> Vec<&str>;
}

impl PathArgs for () {
    fn args(&self) -> Vec<&str> {
        Vec::new()
    }
}

macro_rules! one_arg {
    ($($ty:ty),*) => {$(
        impl PathArgs for $ty {
            fn args(&self) -> Vec<&str> {
                vec![self.segment()]
            }
        }
    )*};
}
one_arg!(
    String,
    RunId,
    JobId,
    AgentId,
    ProjectName,
    TokenName,
    UserName
);

impl<A: Segment, B: Segment> PathArgs for (A, B) {
    fn args(&self) -> Vec<&str> {
        vec![self.0.segment(), self.1.segment()]
    }
}

impl<A: Segment, B: Segment, C: Segment> PathArgs for (A, B, C) {
    fn args(&self) -> Vec<&str> {
        vec![self.0.segment(), self.1.segment(), self.2.segment()]
    }
}

/// Declares endpoints: a zero-sized type each, its [`Endpoint`] impl, and [`for_each`]
/// visiting them all.
macro_rules! endpoints {
    ($(
        $(#[$doc:meta])*
        $name:ident = $method:ident $path:literal, $auth:ident, $summary:literal,
        path: $p:ty, query: $q:ty,
        takes: $req_media:ident $req:ty,
        answers: $status:literal $resp_media:ident $resp:ty, $ok:literal
        $(, errors: [$(($code:literal, $text:literal)),* $(,)?])?;
    )*) => {
        $(
            #[doc = $summary]
            $(#[$doc])*
            #[derive(Debug, Clone, Copy)]
            pub struct $name;

            impl Endpoint for $name {
                const METHOD: Method = Method::$method;
                const PATH: &'static str = $path;
                const AUTH: Auth = Auth::$auth;
                const SUMMARY: &'static str = $summary;
                const OK: (u16, &'static str) = ($status, $ok);
                const ERRORS: &'static [(u16, &'static str)] = &[$($(($code, $text)),*)?];
                const REQUEST: Media = Media::$req_media;
                const RESPONSE: Media = Media::$resp_media;
                type Path = $p;
                type Query = $q;
                type Request = $req;
                type Response = $resp;
            }
        )*

        /// Calls `visit` with every endpoint, in the order declared.
        pub fn for_each<V: Visit>(visit: &mut V) {
            $(visit.visit::<$name>();)*
        }
    };
}

/// What [`for_each`] calls with each endpoint.
pub trait Visit {
    /// Called once per endpoint.
    fn visit<E: Endpoint>(&mut self);
}

endpoints! {
    AddProject = Post "/api/v1/projects", Admin,
        "Add a project; its repository is checked with `git ls-remote` first",
        path: (), query: (),
        takes: Json NewProject,
        answers: 201 Json Project, "the project",
        errors: [
            (409, "a project of that name exists"),
            (422, "`git`: the server cannot read the repository (what git said, credentials masked)"),
        ];
    ListProjects = Get "/api/v1/projects", Signed, "List the projects the caller may see",
        path: (), query: (),
        takes: None (),
        answers: 200 Json Vec<Project>, "`[project]`";
    UpdateProject = Patch "/api/v1/projects/{name}", Maintainer,
        "Set a project's share (weight, max running), retention (keep days, keep runs), artifact quota and cancel_superseded",
        path: ProjectName, query: (),
        takes: Json ProjectShare,
        answers: 200 Json Project, "the project";
    Trigger = Post "/api/v1/projects/{name}/trigger", Developer, "Start a run of a ref",
        path: ProjectName, query: (),
        takes: OptionalJson TriggerRequest,
        answers: 201 Json Triggered,
            "`{run, jobs}` (the run's `ref`: the branch or tag named, in full)",
        errors: [
            (422, "`pipeline`: the file is invalid, or expands to more jobs than the server's --max-jobs"),
        ];
    RemoveProject = Post "/api/v1/projects/{name}/remove", Admin,
        "Remove a project with its runs, logs, artifacts and timings",
        path: ProjectName, query: (),
        takes: OptionalJson RemoveProjectRequest,
        answers: 200 Json RemovedProject, "`{name, runs, unfinished}`",
        errors: [
            (409, "runs of it are unfinished (named): wait, cancel them, or send `{force: true}`"),
        ];
    Webhook = Post "/api/v1/projects/{name}/webhook", Webhook,
        "A forge's push webhook (GitHub, GitLab, Gitea)",
        path: ProjectName, query: (),
        takes: Payload (),
        answers: 201 Json WebhookAnswer, "`{run}`; 200 `{ignored}` for pings and deleted branches";
    ListRuns = Get "/api/v1/runs", Signed,
        "List the runs of the projects the caller may see, newest first (`?project=&limit=`)",
        path: (), query: RunsQuery,
        takes: None (),
        answers: 200 Json Vec<RunRecord>, "`[run]`";
    ListDeployments = Get "/api/v1/deployments/{env}", Signed,
        "What was deployed to an environment, newest first (`?limit=`)",
        path: String, query: DeploymentsQuery,
        takes: None (),
        answers: 200 Json Vec<Deployment>, "`[deployment]`";
    GetRun = Get "/api/v1/runs/{id}", Viewer, "A run with its jobs (id, id prefix or number)",
        path: RunId, query: (),
        takes: None (),
        answers: 200 Json RunDetail, "`{run, jobs}`";
    GetJob = Get "/api/v1/runs/{id}/jobs/{job}", Viewer,
        "One job of a run (a shard by its name, `test [2/4]`): where commit statuses link",
        path: (RunId, String), query: (),
        takes: None (),
        answers: 200 Json JobRecord, "`{name, status, steps, ...}`",
        errors: [(404, "the run has no such job")];
    CancelRun = Post "/api/v1/runs/{id}/cancel", Developer, "Cancel a run",
        path: RunId, query: (),
        takes: None (),
        answers: 202 Json RunDetail, "`{run, jobs}`; 409 if it ended";
    ApproveJob = Post "/api/v1/runs/{id}/jobs/{job}/approve", Developer,
        "Approve a manual job awaiting approval (a sharded job's name approves all its shards)",
        path: (RunId, String), query: (),
        takes: None (),
        answers: 200 Json RunDetail, "`{run, jobs}`",
        errors: [
            (404, "the run has no such job"),
            (409, "the job is not manual, or not awaiting approval (its state named)"),
        ];
    RerunRun = Post "/api/v1/runs/{id}/rerun", Developer,
        "Run a finished run again as its next attempt: every job, or only the failed ones",
        path: RunId, query: (),
        takes: OptionalJson RerunRequest,
        answers: 200 Json RunDetail, "`{run, jobs, attempt, earlier_attempts}`",
        errors: [
            (404, "no such run"),
            (409, "the run has not finished, or nothing failed (with failed_only)"),
        ];
    JobLog = Get "/api/v1/runs/{id}/logs/{job}", Viewer, "A job's log",
        path: (RunId, String), query: (),
        takes: None (),
        answers: 200 Text String, "the log, text/plain";
    FollowLog = Get "/api/v1/runs/{id}/logs/{job}/follow", Viewer,
        "Follow a job's log (server-sent events)",
        path: (RunId, String), query: (),
        takes: None (),
        answers: 200 Events String, "`data:` per line, then `event: end` with the job's status";
    ListAgents = Get "/api/v1/agents", Admin, "List the agents",
        path: (), query: (),
        takes: None (),
        answers: 200 Json Vec<AgentInfo>, "`[{id, name, slots, running, last_seen}]`";
    Register = Post "/api/v1/agents/register", Agent, "Register an agent",
        path: (), query: (),
        takes: Json RegisterRequest,
        answers: 200 Json Registered, "`{agent_id, lease_ms}`";
    ClaimJob = Post "/api/v1/agents/claim", Agent, "Long-poll for a job",
        path: (), query: (),
        takes: Json ClaimRequest,
        answers: 200 Json Option<Claim>,
            "the claim (`ref`: the branch or tag of its run, for RAILYARD_REF); 204 after the wait";
    Heartbeat = Post "/api/v1/jobs/{id}/heartbeat", Agent, "Renew a job's lease",
        path: JobId, query: (),
        takes: Json LeaseRef,
        answers: 200 Json Renewed, "`{lease_until, cancel}`; 410 if the lease was lost";
    SendLog = Post "/api/v1/jobs/{id}/logs", Agent, "Send a numbered log chunk",
        path: JobId, query: (),
        takes: Json LogChunk,
        answers: 200 Json LogAck,
            "`{acked}` (a chunk after chunks the database lost is kept after a line naming them); 410 if the lease was lost";
    Complete = Post "/api/v1/jobs/{id}/complete", Agent,
        "Report a job's result, its step records and its tests' timings",
        path: JobId, query: (),
        takes: Json Completion,
        answers: 204 None (), "recorded",
        errors: [(413, "over 16 MiB: report the job failed without its timings")];
    EnvBuildLease = Post "/api/v1/jobs/{id}/env-lease", Agent,
        "Ask for (or renew) the build lease of an env key of the leased job's project (never another's)",
        path: JobId, query: (),
        takes: Json crate::env_images::EnvLeaseRequest,
        answers: 200 Json crate::env_images::EnvLeaseAnswer,
            "`{answer: build, lease_ms}`, `{answer: wait, holder}` or `{answer: ready, digest}`; 410 if the job's lease was lost",
        errors: [(400, "`key` is not an env cache key, or the body names fields it may not (`project`)")];
    EnvImageBuilt = Post "/api/v1/jobs/{id}/env-lease/built", Agent,
        "Report an env key pushed under its build lease: its reference and manifest digest",
        path: JobId, query: (),
        takes: Json crate::env_images::EnvBuiltRequest,
        answers: 200 Json crate::env_images::EnvLeaseAnswer,
            "where the key stands now (`ready` with the digest recorded); 410 if the job's lease was lost";
    OpenTests = Post "/api/v1/jobs/{id}/tests", Agent,
        "A shard posts the test ids it listed: the first opens the job's test queue, the others must agree (409)",
        path: JobId, query: (),
        takes: Json TestsOpen,
        answers: 200 Json TestsOpened, "`{timings}`: what every shard splits by",
        errors: [(413, "over 16 MiB")];
    NextTests = Post "/api/v1/jobs/{id}/tests/next", Agent,
        "Queue mode: complete the shard's last batch and take its next",
        path: JobId, query: (),
        takes: Json NextBatch,
        answers: 200 Json NextAnswer,
            "`{batch?: {id, tests, predicted_secs}, wait_ms?}`; neither once drained";
    GiveBackTests = Post "/api/v1/jobs/{id}/tests/give-back", Agent,
        "Queue mode: a stopping shard gives its unfinished batches back",
        path: JobId, query: (),
        takes: Json GiveBack,
        answers: 204 None (), "given back";
    UploadArtifact = Put "/api/v1/jobs/{id}/artifacts/{*path}", Agent,
        "Upload one artifact file under the job's lease (`?agent_id=&attempt=`); 413 over the server's limit (1 GiB by default)",
        path: (JobId, String), query: UploadQuery,
        takes: Bytes (),
        answers: 204 None (), "stored";
    ListInputs = Get "/api/v1/jobs/{id}/inputs", Agent,
        "The artifacts of the leased job's run, with their sizes and digests (`?agent_id=&attempt=`): what it fetches its `needs`' artifacts from",
        path: JobId, query: UploadQuery,
        takes: None (),
        answers: 200 Json Vec<InputArtifact>,
            "`[{job, pipeline_job, shard?, shards, path, size, sha256?}]`; 410 if the lease was lost";
    DownloadInput = Get "/api/v1/jobs/{id}/inputs/{job}/{*path}", Agent,
        "Download one artifact of the leased job's run, by the job that stored it (`?agent_id=&attempt=`)",
        path: (JobId, String, String), query: UploadQuery,
        takes: None (),
        answers: 200 Bytes (), "the file's bytes; 410 if the lease was lost";
    LookupCache = Get "/api/v1/jobs/{id}/caches/{name}", Agent,
        "Which stored cache the leased job restores (`?agent_id=&attempt=&key=&prefix=`): the key in the run's scope, then in `shared`; then the newest of the prefix, same order",
        path: (JobId, String), query: CacheLookup,
        takes: None (),
        answers: 200 Json CacheAnswer, "`{found?: {key, scope, size, sha256}}`; 410 if the lease was lost";
    DownloadCache = Get "/api/v1/jobs/{id}/caches/{name}/{key}", Agent,
        "Download a cache's archive for the leased job (`?agent_id=&attempt=`), from the run's scope or `shared`",
        path: (JobId, String, String), query: UploadQuery,
        takes: None (),
        answers: 200 Bytes (), "the archive; 410 if the lease was lost";
    UploadCache = Put "/api/v1/jobs/{id}/caches/{name}/{key}", Agent,
        "Store a cache's archive under the leased job's scope, which the server decides (`?agent_id=&attempt=&prefix=`); the project's least recently used caches past its budget are dropped",
        path: (JobId, String, String), query: CacheUploadQuery,
        takes: Bytes (),
        answers: 204 None (), "stored",
        errors: [(413, "larger than the project's cache budget (`--cache-budget`)")];
    ListArtifacts = Get "/api/v1/runs/{id}/artifacts/{job}", Viewer, "List a job's artifacts",
        path: (RunId, String), query: (),
        takes: None (),
        answers: 200 Json Vec<ArtifactEntry>, "`[{path, size, sha256?}]`";
    DownloadArtifact = Get "/api/v1/runs/{id}/artifacts/{job}/{*path}", Viewer,
        "Download one artifact file",
        path: (RunId, String, String), query: (),
        takes: None (),
        answers: 200 Bytes (), "the file's bytes";
    ListEnvImages = Get "/api/v1/env-images", Admin,
        "The env keys built through the registry, with their digests and last use (`?unused_days=N`: only those no job used for N days, for garbage collection)",
        path: (), query: crate::env_images::EnvImagesQuery,
        takes: None (),
        answers: 200 Json Vec<crate::env_images::EnvImageInfo>,
            "`[{project, key, reference, digest, built_by, built_at, last_used_at, lease_holder, lease_until}]`";
    RemoveEnvImage = Post "/api/v1/env-images/{project}/{key}/remove", Admin,
        "Forget an env key whose manifest was deleted from the registry (garbage collection): only while its digest is the one given",
        path: (ProjectName, String), query: (),
        takes: Json crate::env_images::RemoveEnvImage,
        answers: 204 None (), "forgotten; 404 if the key is unknown or was built again since (another digest)",
        errors: [(400, "`key` or `digest` is not one")];
    CreateToken = Post "/api/v1/tokens", Admin, "Create a stored token (shown once)",
        path: (), query: (),
        takes: Json NewToken,
        answers: 201 Json CreatedToken, "`{name, role, token}`";
    ListTokens = Get "/api/v1/tokens", Admin, "List stored tokens (never the tokens)",
        path: (), query: (),
        takes: None (),
        answers: 200 Json Vec<TokenInfo>, "`[{name, role, created_at, revoked_at}]`";
    RevokeToken = Post "/api/v1/tokens/{name}/revoke", Admin, "Revoke a stored token",
        path: TokenName, query: (),
        takes: None (),
        answers: 204 None (), "revoked; 404 if no live token has that name";
    AddUser = Post "/api/v1/users", Admin, "Add a person (a server-wide admin, or roles per project later)",
        path: (), query: (),
        takes: Json NewUser,
        answers: 201 Json UserInfo, "the user",
        errors: [(409, "a user of that name exists")];
    ListUsers = Get "/api/v1/users", Admin, "List the people with their roles (never a password)",
        path: (), query: (),
        takes: None (),
        answers: 200 Json Vec<UserInfo>, "`[user]`";
    RemoveUser = Post "/api/v1/users/{name}/remove", Admin,
        "Remove a person: their roles go and their tokens stop working at once",
        path: UserName, query: (),
        takes: None (),
        answers: 204 None (), "removed; 404 if no such user";
    ListMembers = Get "/api/v1/projects/{name}/members", Viewer, "The people of a project with their roles",
        path: ProjectName, query: (),
        takes: None (),
        answers: 200 Json Vec<ProjectMembership>, "`[{project, user, role, granted_at}]`";
    SetMember = Put "/api/v1/projects/{name}/members/{user}", Maintainer,
        "Give a person a role in the project (a maintainer gives at most `maintainer`)",
        path: (ProjectName, UserName), query: (),
        takes: Json RoleGrant,
        answers: 200 Json ProjectMembership, "the membership";
    RemoveMember = Post "/api/v1/projects/{name}/members/{user}/remove", Maintainer,
        "Take a person's role in the project away",
        path: (ProjectName, UserName), query: (),
        takes: None (),
        answers: 204 None (), "removed; 404 if they had none";
    Login = Post "/api/v1/login", Open,
        "Sign in with a name and password for a personal token (valid 30 days)",
        path: (), query: (),
        takes: Json LoginRequest,
        answers: 201 Json PersonalToken, "the token, shown once",
        errors: [(401, "the name or the password is wrong (one answer for both)")];
    WhoAmI = Get "/api/v1/me", Signed, "Who the token speaks for and what it may do",
        path: (), query: (),
        takes: None (),
        answers: 200 Json Me, "`{actor, user?, admin, project?, read_only, roles}`";
    CreatePersonalToken = Post "/api/v1/me/tokens", Signed,
        "Make a personal token of the caller's own, narrowed to a project or to reading",
        path: (), query: (),
        takes: Json NewPersonalToken,
        answers: 201 Json PersonalToken, "the token, shown once";
    ListPersonalTokens = Get "/api/v1/me/tokens", Signed, "The caller's personal tokens",
        path: (), query: (),
        takes: None (),
        answers: 200 Json Vec<TokenInfo>, "`[{name, role, created_at, revoked_at}]`";
    RevokePersonalToken = Post "/api/v1/me/tokens/{name}/revoke", Signed,
        "Revoke one of the caller's personal tokens",
        path: TokenName, query: (),
        takes: None (),
        answers: 204 None (), "revoked; 404 if the caller has no live token of that name";
    ListAudit = Get "/api/v1/audit", Signed,
        "Who changed what, newest first (`?project=&limit=`): an admin sees all, a maintainer their project's",
        path: (), query: AuditQuery,
        takes: None (),
        answers: 200 Json Vec<AuditEntry>, "`[{at, actor, action, project?, target?, detail?}]`";
    SetSecret = Put "/api/v1/projects/{name}/secrets/{secret}", Maintainer,
        "Set a project secret (sealed at rest; never read back); `@repo` is the repository credential, `@forge` the token commit statuses are sent with",
        path: (ProjectName, String), query: (),
        takes: Json crate::secrets::SetSecret,
        answers: 200 Json crate::secrets::SecretInfo, "`{name, created_at, updated_at, protected_refs}`",
        errors: [
            (400, "a bad name or protected-ref pattern, or the server has no --secrets-key-file"),
            (404, "no such project"),
        ];
    ListSecrets = Get "/api/v1/projects/{name}/secrets", Maintainer,
        "A project's secrets by name (never their values)",
        path: ProjectName, query: (),
        takes: None (),
        answers: 200 Json Vec<crate::secrets::SecretInfo>, "`[{name, created_at, updated_at, protected_refs}]`";
    ListCaches = Get "/api/v1/projects/{name}/caches", Viewer,
        "A project's dependency caches kept on the server, least recently used first: what an upload past the budget drops next",
        path: ProjectName, query: (),
        takes: None (),
        answers: 200 Json Vec<CacheInfo>, "`[{scope, name, key, size, sha256, created_at, last_used_at}]`";
    ListCommitStatuses = Get "/api/v1/projects/{name}/statuses", Maintainer,
        "A project's commit-status outbox, newest first (at most 500 rows): what was sent to its forge, what waits for a retry and why, what was refused or expired",
        path: ProjectName, query: (),
        takes: None (),
        answers: 200 Json Vec<crate::statuses::CommitStatusRecord>, "`[{id, run_id, context, commit, status, attempts, outcome, last_error, ...}]`";
    RemoveSecret = Post "/api/v1/projects/{name}/secrets/{secret}/remove", Maintainer,
        "Remove a project secret",
        path: (ProjectName, String), query: (),
        takes: None (),
        answers: 204 None (), "removed; 404 if the project has no such secret";
    AddSchedule = Post "/api/v1/projects/{name}/schedules", Maintainer,
        "Add a cron schedule (UTC): the server starts a run of the ref at each time it names",
        path: ProjectName, query: (),
        takes: Json crate::schedules::NewSchedule,
        answers: 201 Json crate::schedules::ScheduleInfo, "the schedule, with its next fire time",
        errors: [
            (400, "a bad `cron`, `ref` or `name`, or a cron firing more often than the server's minimum interval"),
            (404, "no such project"),
            (409, "the project has a schedule of that `name`"),
        ];
    ListSchedules = Get "/api/v1/schedules", Signed,
        "The schedules of the projects the caller may see (`?project=`), with how each last fired",
        path: (), query: crate::schedules::SchedulesQuery,
        takes: None (),
        answers: 200 Json Vec<crate::schedules::ScheduleInfo>, "`[schedule]`";
    RemoveSchedule = Post "/api/v1/projects/{name}/schedules/{schedule}/remove", Maintainer,
        "Remove a schedule: it fires no more",
        path: (ProjectName, String), query: (),
        takes: None (),
        answers: 204 None (), "removed; 404 if the project has no such schedule";
    LookupImageScan = Post "/api/v1/jobs/{id}/image-scan/lookup", Agent,
        "Under the job's lease: does the server hold an inventory of this image ID (scanned once, by any agent, for any project)? If so it is filed under the job's project and run and matched with the server's advisories",
        path: JobId, query: (),
        takes: Json crate::inventory::ScanLookup,
        answers: 200 Json Option<crate::inventory::ScanVerdict>,
            "`{scan_id, image_id, packages, findings}`; 204 when the image was never scanned: scan it and send it; 410 if the lease was lost";
    UploadImageScan = Post "/api/v1/jobs/{id}/image-scan", Agent,
        "Under the job's lease: store an image's inventory for the job's project and run, match the server's advisories, answer the findings",
        path: JobId, query: (),
        takes: Json crate::inventory::ScanUpload,
        answers: 200 Json crate::inventory::ScanVerdict, "`{scan_id, image_id, packages, findings}`",
        errors: [
            (400, "the inventory is out of bounds (the field named)"),
            (410, "the lease was lost"),
            (413, "over 32 MiB"),
        ];
    ListScans = Get "/api/v1/scans", Signed,
        "The stored image scans of the projects the caller may see, newest first (`?project=&image=`; at most 500)",
        path: (), query: crate::inventory::ScansQuery,
        takes: None (),
        answers: 200 Json Vec<crate::inventory::ScanSummary>,
            "`[{id, project, run_id, reference, image_id, distro, scanned_at, packages, findings}]`";
    GetScan = Get "/api/v1/scans/{id}", Signed,
        "One stored scan: its inventory layer by layer and its findings",
        path: String, query: (),
        takes: None (),
        answers: 200 Json crate::inventory::ScanDetail, "`{scan, inventory, findings}`",
        errors: [(404, "no such scan in a project the caller may see")];
    WhoHas = Get "/api/v1/inventory/who-has", Signed,
        "The stored images holding a package (`?name=`; binary or source name), in the projects the caller may see",
        path: (), query: crate::inventory::WhoHasQuery,
        takes: None (),
        answers: 200 Json Vec<crate::inventory::PackageHolder>,
            "`[{project, reference, image_id, name, version, layer_index, instruction, ...}]`";
    AdvisoryAffected = Get "/api/v1/advisories/{id}/affected", Signed,
        "The stored images hit by an advisory (id or alias), in the projects the caller may see",
        path: String, query: (),
        takes: None (),
        answers: 200 Json Vec<crate::inventory::AffectedImage>,
            "`[{advisory_id, project, image, package, version, layer_index, severity, fixed, ...}]`",
        errors: [(404, "no advisory with that id or alias on the server")];
    ImportAdvisories = Put "/api/v1/advisories/import", Admin,
        "Import one OSV file (a JSON advisory, an array of them, or an OSV zip archive) as the body (`?name=` for warnings); `POST /api/v1/advisories/rematch` after the last file matches every stored scan again",
        path: (), query: crate::inventory::AdvisoryFileQuery,
        takes: Bytes (),
        answers: 200 Json crate::inventory::AdvisoriesImported,
            "`{documents, read, added, updated, unchanged, warnings}`",
        errors: [(413, "over 256 MiB")];
    RematchAdvisories = Post "/api/v1/advisories/rematch", Admin,
        "Match every stored scan again with the stored advisories: the projects newly hit",
        path: (), query: (),
        takes: None (),
        answers: 200 Json crate::inventory::Rematched,
            "`{scans, findings, new_findings, gone_findings, newly_affected: [{project, advisories, images}]}`";
    OpenApi = Get "/api/v1/openapi.json", Open, "This document",
        path: (), query: (),
        takes: None (),
        answers: 200 Json (), "OpenAPI 3.1 JSON";
    Healthz = Get "/healthz", Open, "Liveness: the process answers",
        path: (), query: (),
        takes: None (),
        answers: 200 Json Health, "`{status: \"ok\"}`";
    Readyz = Get "/readyz", Open,
        "Readiness: the database answers (within 5 s) and holds every migration",
        path: (), query: (),
        takes: None (),
        answers: 200 Json Health, "`{status: \"ok\"}`",
        errors: [(503, "`unavailable`: what is not ready")];
    Metrics = Get "/metrics", Open, "Prometheus metrics",
        path: (), query: (),
        takes: None (),
        answers: 200 Text String, "Prometheus text format 0.0.4";
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_path_is_filled_with_encoded_values_and_the_query() {
        let job = (RunId::from("01J"), "unit [2/4]".to_string());
        assert_eq!(
            JobLog::url(&job, &()),
            "/api/v1/runs/01J/logs/unit%20%5B2%2F4%5D"
        );
        let file = (JobId::from("7"), "out dir/report.xml".to_string());
        let lease = UploadQuery {
            agent_id: "a b".into(),
            attempt: 2,
        };
        assert_eq!(
            UploadArtifact::url(&file, &lease),
            "/api/v1/jobs/7/artifacts/out%20dir/report.xml?agent_id=a+b&attempt=2"
        );
        assert_eq!(ListRuns::url(&(), &RunsQuery::default()), "/api/v1/runs");
    }
}

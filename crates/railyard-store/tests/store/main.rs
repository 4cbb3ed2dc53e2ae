//! The store's integration tests: one binary, a module per area. SQLite tests use real files
//! in temp folders; PostgreSQL tests run when `RAILYARD_TEST_POSTGRES_URL` is set (see
//! `scripts/postgres-test-db.sh`), each in a fresh database of its own.

mod artifacts;
mod bad_input;
mod caches;
mod common;
mod concurrency;
mod deploys;
mod env_images;
mod job_logs;
mod logs;
mod pools;
mod projects;
mod queue;
mod queued_runs;
mod retention;
mod rule_skips;
mod run_events;
mod schedules;
mod schemas;
mod shares;
mod statuses;
mod story;
mod test_queues;
mod tokens;

//! A real server process, real agent processes and a real bare git repository on loopback:
//! pipelines queued by `railyard trigger` run on the agents against the real Docker engine.
//! One test binary, a module per area; `fleet` holds what they share. What needs only the HTTP
//! API runs in-process in `crates/railyard-server/tests/api`.

mod acceptance;
mod api;
mod auth;
mod caches;
mod checkout;
mod commit_statuses;
mod config;
mod console;
mod deploys;
mod durability;
mod env_leases;
mod env_registry;
mod env_reuse;
mod failures;
mod fleet;
mod fleet_scale;
mod fleet_scan;
mod forge_events;
mod forge_loop;
mod forgotten;
mod handover;
mod image_build;
mod limits;
mod lists;
mod log_memory;
mod logs;
mod manual;
mod one_clock;
mod people;
mod pools;
mod projects;
mod proxy;
mod queue;
mod quota;
mod refs;
mod reruns;
mod results;
mod rules;
mod schedules;
mod secrets;
mod server_away;
mod shards;
mod slots;
mod story;
mod tls;
mod uploads;

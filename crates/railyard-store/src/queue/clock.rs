//! One clock for leases. A lease's deadline is set by one server (claim, heartbeat) and
//! compared by another (the sweep, the lease checks of every server on the database): if
//! each read its own host's clock, a server whose clock ran 60 s ahead would take leases
//! another had just renewed. So the servers read the time of the database they share:
//!
//! - **PostgreSQL**: the database host's `clock_timestamp()` (the time of the call, not of
//!   the transaction's start), one round trip.
//! - **SQLite**: the host's clock. The database is one file that every server on it opens on
//!   the same machine (SQLite over a network file system is not supported), so that host's
//!   clock is already the one clock.
//!
//! The store's lease functions take the time as an argument (so tests can move it); the
//! server passes [`Store::now`].

use railyard_types::Millis;
use sqlx::Row;

use crate::{Backend, Store, StoreError};

impl Store {
    /// The time by the database's clock, in ms since the epoch (see the module's doc).
    pub async fn now(&self) -> Result<Millis, StoreError> {
        if self.backend() == Backend::Sqlite {
            return Ok(Millis::now());
        }
        let err = self.query_error("reading the database's clock");
        let row = sqlx::query("SELECT (extract(epoch from clock_timestamp()) * 1000)::bigint")
            .fetch_one(self.pool())
            .await
            .map_err(&err)?;
        Ok(Millis(row.try_get(0).map_err(&err)?))
    }
}

//! The SQLite and PostgreSQL migrations make the same schema: all of each applied to a fresh
//! database (by opening a store on it), then tables, columns (a normalised type, nullability),
//! primary keys, indexes (by columns, uniqueness, partial or not) and triggers compared. The differences
//! meant to be there are listed in [`INTENDED`] with why; any other is drift between the two
//! folders of migrations.

use std::collections::BTreeSet;

use sqlx::any::AnyRow;
use sqlx::{AnyPool, Row};

use crate::common::{PgDb, data_dir};

/// Differences on purpose: (the fact as the `describe_*` functions write it, the only backend
/// that has it, why).
const INTENDED: &[(&str, &str, &str)] = &[
    (
        "trigger queue_claimed on queue",
        "sqlite",
        "a claim's start and queue wait are recorded by this trigger on SQLite (one statement \
         per hand-off to sqlx's worker is the claim's cost there) and by the claim's own CTE on \
         PostgreSQL (see queue/claim.rs)",
    ),
    (
        "trigger queue_ended on queue",
        "sqlite",
        "a job's end is recorded by this trigger on SQLite and by the ending statement's CTE on \
         PostgreSQL, for the same reason",
    ),
];

#[tokio::test(flavor = "multi_thread")]
async fn sqlite_and_postgres_migrations_make_the_same_schema() {
    let Some(pg) = PgDb::create("sqlite_and_postgres_migrations_make_the_same_schema").await else {
        return;
    };
    let dir = data_dir();
    railyard_store::Store::open_in(dir.path())
        .await
        .unwrap()
        .close()
        .await;
    railyard_store::Store::open(&pg.url)
        .await
        .unwrap()
        .close()
        .await;
    sqlx::any::install_default_drivers();
    let file = format!("sqlite://{}", dir.path().join("railyard.db").display());
    let sqlite = describe_sqlite(&AnyPool::connect(&file).await.unwrap()).await;
    let pool = AnyPool::connect(&pg.url).await.unwrap();
    let postgres = describe_postgres(&pool).await;
    pool.close().await;
    pg.drop_db().await;

    assert!(sqlite.iter().any(|f| f == "table runs"), "{sqlite:#?}");
    let mut drift = Vec::new();
    for (only, mine, other) in [
        ("sqlite", &sqlite, &postgres),
        ("postgres", &postgres, &sqlite),
    ] {
        for fact in mine.difference(other) {
            if !INTENDED.iter().any(|(f, o, _)| f == fact && *o == only) {
                drift.push(format!("only on {only}: {fact}"));
            }
        }
    }
    for (fact, only, why) in INTENDED {
        let (mine, other) = match *only {
            "sqlite" => (&sqlite, &postgres),
            _ => (&postgres, &sqlite),
        };
        assert!(
            mine.contains(*fact) && !other.contains(*fact),
            "the intended difference `{fact}` (only on {only}: {why}) is gone: drop it from INTENDED"
        );
    }
    assert!(
        drift.is_empty(),
        "the migrations drifted apart (add a migration to both folders, or list an intended \
         difference with why):\n{}",
        drift.join("\n")
    );
}

/// One line per table, column, primary key and index of the schema.
type Schema = BTreeSet<String>;

/// A type as both backends would agree on it.
fn normalise(declared: &str) -> &'static str {
    match declared.to_ascii_lowercase().as_str() {
        "integer" | "int" | "bigint" | "smallint" | "int4" | "int8" | "int2" => "integer",
        "text" | "varchar" | "character varying" => "text",
        "real" | "double precision" | "float" | "double" => "real",
        "blob" | "bytea" => "bytes",
        "boolean" | "bool" => "boolean",
        other => panic!("a column type to normalise: {other}"),
    }
}

fn column(table: &str, name: &str, declared: &str, not_null: bool) -> String {
    let null = if not_null { "not null" } else { "null" };
    format!("column {table}.{name} {} {null}", normalise(declared))
}

fn index(table: &str, columns: &str, unique: bool, partial: bool) -> String {
    let unique = if unique { " unique" } else { "" };
    let partial = if partial { " partial" } else { "" };
    format!("index {table} ({columns}){unique}{partial}")
}

/// The rows of `sql` with `$1` bound to `value`.
async fn rows(pool: &AnyPool, sql: &'static str, value: &str) -> Vec<AnyRow> {
    sqlx::query(sql).bind(value).fetch_all(pool).await.unwrap()
}

async fn describe_sqlite(pool: &AnyPool) -> Schema {
    let mut schema = Schema::new();
    let tables: Vec<String> = sqlx::query(
        "SELECT name FROM sqlite_master WHERE type = 'table' \
         AND name NOT LIKE 'sqlite_%' AND name <> '_sqlx_migrations'",
    )
    .fetch_all(pool)
    .await
    .unwrap()
    .iter()
    .map(|r| r.get(0))
    .collect();
    for table in tables {
        schema.insert(format!("table {table}"));
        let columns = rows(
            pool,
            "SELECT name, type, \"notnull\", pk FROM pragma_table_info($1) ORDER BY pk, cid",
            &table,
        )
        .await;
        let mut key = Vec::new();
        for c in &columns {
            let (name, declared): (String, String) = (c.get(0), c.get(1));
            let (not_null, pk): (i64, i64) = (c.get(2), c.get(3));
            // A key column is never null on PostgreSQL; SQLite allows it unless declared.
            schema.insert(column(&table, &name, &declared, not_null == 1 || pk > 0));
            if pk > 0 {
                key.push(name);
            }
        }
        if !key.is_empty() {
            schema.insert(format!("primary key {table} ({})", key.join(", ")));
        }
        let triggers = rows(
            pool,
            "SELECT name FROM sqlite_master WHERE type = 'trigger' AND tbl_name = $1",
            &table,
        )
        .await;
        for t in &triggers {
            schema.insert(format!("trigger {} on {table}", t.get::<String, _>(0)));
        }
        let indexes = rows(pool, "SELECT name, \"unique\", origin, partial FROM pragma_index_list($1) WHERE origin <> 'pk'", &table).await;
        for i in &indexes {
            let name: String = i.get(0);
            let (unique, partial): (i64, i64) = (i.get(1), i.get(3));
            let columns: Vec<String> = rows(
                pool,
                "SELECT name FROM pragma_index_info($1) ORDER BY seqno",
                &name,
            )
            .await
            .iter()
            .map(|r| {
                r.try_get::<String, _>(0)
                    .unwrap_or_else(|_| "(expr)".into())
            })
            .collect();
            schema.insert(index(
                &table,
                &columns.join(", "),
                unique == 1,
                partial == 1,
            ));
        }
    }
    schema
}

async fn describe_postgres(pool: &AnyPool) -> Schema {
    let mut schema = Schema::new();
    let columns = sqlx::query(
        "SELECT c.table_name::text, c.column_name::text, c.data_type::text, \
         (c.is_nullable = 'NO') AS not_null \
         FROM information_schema.columns c JOIN information_schema.tables t \
         ON t.table_schema = c.table_schema AND t.table_name = c.table_name \
         WHERE c.table_schema = 'public' AND t.table_type = 'BASE TABLE' \
         AND c.table_name <> '_sqlx_migrations'",
    )
    .fetch_all(pool)
    .await
    .unwrap();
    for c in &columns {
        let (table, name, declared): (String, String, String) = (c.get(0), c.get(1), c.get(2));
        schema.insert(format!("table {table}"));
        schema.insert(column(&table, &name, &declared, c.get(3)));
    }
    let indexes = sqlx::query(
        "SELECT t.relname::text, ix.indisprimary, ix.indisunique, (ix.indpred IS NOT NULL), \
         array_to_string(ARRAY(SELECT COALESCE(a.attname::text, '(expr)') \
           FROM unnest(ix.indkey) WITH ORDINALITY AS k(attnum, ord) \
           LEFT JOIN pg_attribute a ON a.attrelid = t.oid AND a.attnum = k.attnum \
           ORDER BY k.ord), ', ') \
         FROM pg_index ix JOIN pg_class t ON t.oid = ix.indrelid \
         JOIN pg_namespace n ON n.oid = t.relnamespace \
         WHERE n.nspname = 'public' AND t.relname <> '_sqlx_migrations'",
    )
    .fetch_all(pool)
    .await
    .unwrap();
    for i in &indexes {
        let (table, columns): (String, String) = (i.get(0), i.get(4));
        if i.get::<bool, _>(1) {
            schema.insert(format!("primary key {table} ({columns})"));
        } else {
            schema.insert(index(&table, &columns, i.get(2), i.get(3)));
        }
    }
    let triggers = sqlx::query(
        "SELECT tg.tgname::text, t.relname::text FROM pg_trigger tg \
         JOIN pg_class t ON t.oid = tg.tgrelid JOIN pg_namespace n ON n.oid = t.relnamespace \
         WHERE n.nspname = 'public' AND NOT tg.tgisinternal",
    )
    .fetch_all(pool)
    .await
    .unwrap();
    for t in &triggers {
        let (name, table): (String, String) = (t.get(0), t.get(1));
        schema.insert(format!("trigger {name} on {table}"));
    }
    schema
}

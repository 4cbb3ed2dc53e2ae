//! `sqlx::migrate!` embeds the migration files at compile time; make Cargo rebuild when one is
//! added or changed (the scanner's migrations land in the same folders).
fn main() {
    println!("cargo:rerun-if-changed=migrations");
}

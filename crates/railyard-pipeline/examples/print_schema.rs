//! Prints the pipeline file's JSON Schema (what `railyard schema` may print).
fn main() {
    println!("{:#}", railyard_pipeline::json_schema());
}

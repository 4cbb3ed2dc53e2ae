//! `cargo run --release --example scan -- IMAGE…`: scans images with one in-memory cache and
//! prints a summary per scan (the second scan of the same image shows the cache at work).
use railyard_scan::{MemoryCache, scan_image};
use std::time::Instant;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let docker = bollard::Docker::connect_with_local_defaults()?;
    let cache = MemoryCache::default();
    for reference in std::env::args().skip(1) {
        let t = Instant::now();
        let inv = scan_image(&docker, &reference, &cache).await?;
        println!(
            "{reference}: {} packages, distro {:?}, {:?}, {:.3}s",
            inv.packages.len(),
            inv.distro
                .as_ref()
                .map(|d| format!("{}:{}", d.id, d.version_id)),
            inv.stats,
            t.elapsed().as_secs_f64()
        );
        for w in &inv.warnings {
            println!("  warning: {w}");
        }
    }
    Ok(())
}

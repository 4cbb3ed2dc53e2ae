//! The addresses of job networks. Each job gets a bridge network of its own; left to
//! Docker, each takes a /16 or /20 of its default pools, which hold about 30 networks, and
//! the 31st job on an engine fails. Railyard instead carves small subnets (a /28 by default:
//! 13 addresses for the job container and its services) out of a range the operator sets,
//! so thousands of jobs fit on one engine; when every subnet is taken, a job waits for one.

use crate::errors::RunnerError;
use railyard_docker::{Docker, DockerError};
use std::collections::HashMap;
use std::net::Ipv4Addr;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

/// The range job networks are carved from unless the operator says otherwise.
pub const DEFAULT_POOL: &str = "10.213.0.0/16:28";

/// Where job networks take their addresses: `BASE/PREFIX:SIZE` (subnets of /SIZE carved
/// from BASE/PREFIX), or `docker` for the engine's own default pools.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NetworkPool {
    /// Subnets of `size` bits carved from `base/prefix`.
    Carved {
        /// The range's first address.
        base: Ipv4Addr,
        /// The range's prefix length.
        prefix: u8,
        /// Each network's prefix length.
        size: u8,
    },
    /// The engine's default address pools (about 30 networks at once).
    Docker,
}

impl Default for NetworkPool {
    fn default() -> Self {
        DEFAULT_POOL.parse().expect("the default pool parses")
    }
}

impl std::str::FromStr for NetworkPool {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        let text = text.trim();
        if text == "docker" {
            return Ok(NetworkPool::Docker);
        }
        let usage = || {
            format!(
                "`{text}` is not a network pool: write BASE/PREFIX:SIZE, e.g. `{DEFAULT_POOL}` (a /28 for each job from 10.213.0.0/16), or `docker` for Docker's default pools"
            )
        };
        let (range, size) = text.split_once(':').unwrap_or((text, "28"));
        let (base, prefix) = range.split_once('/').ok_or_else(usage)?;
        let base: Ipv4Addr = base.parse().map_err(|_| usage())?;
        let prefix: u8 = prefix.parse().map_err(|_| usage())?;
        let size: u8 = size.trim_start_matches('/').parse().map_err(|_| usage())?;
        if prefix > 30 || !(prefix..=29).contains(&size) {
            return Err(format!(
                "{}: the range's prefix must be at most the subnets' size, and a subnet at most /29 (a gateway and a few containers)",
                usage()
            ));
        }
        if u32::from(base) & !mask(prefix) != 0 {
            return Err(format!(
                "{}: {base} is not the first address of a /{prefix}",
                usage()
            ));
        }
        Ok(NetworkPool::Carved { base, prefix, size })
    }
}

impl std::fmt::Display for NetworkPool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            NetworkPool::Carved { base, prefix, size } => write!(f, "{base}/{prefix}:{size}"),
            NetworkPool::Docker => f.write_str("docker"),
        }
    }
}

fn mask(prefix: u8) -> u32 {
    if prefix == 0 {
        0
    } else {
        u32::MAX << (32 - prefix)
    }
}

/// An IPv4 subnet as (first address, prefix length).
fn parse_subnet(text: &str) -> Option<(u32, u8)> {
    let (addr, prefix) = text.split_once('/')?;
    let addr: Ipv4Addr = addr.parse().ok()?;
    let prefix: u8 = prefix.parse().ok().filter(|p| *p <= 32)?;
    Some((u32::from(addr) & mask(prefix), prefix))
}

fn overlaps((a, pa): (u32, u8), (b, pb): (u32, u8)) -> bool {
    let common = mask(pa.min(pb));
    a & common == b & common
}

impl NetworkPool {
    /// How many subnets the pool holds.
    pub fn len(&self) -> u32 {
        match self {
            NetworkPool::Carved { prefix, size, .. } => 1 << (size - prefix),
            NetworkPool::Docker => 0,
        }
    }

    /// Whether the pool holds no subnet of its own (Docker's pools are used).
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Subnet `i` of the pool, as (first address, prefix length).
    fn subnet(&self, i: u32) -> (u32, u8) {
        match self {
            NetworkPool::Carved { base, size, .. } => {
                (u32::from(*base) + (i << (32 - size)), *size)
            }
            NetworkPool::Docker => (0, 0),
        }
    }

    fn show((addr, prefix): (u32, u8)) -> String {
        format!("{}/{prefix}", Ipv4Addr::from(addr))
    }

    /// Creates the network `name` on a free subnet of the pool. Each try starts at a
    /// different place (a hash of the name), so jobs created at once rarely pick the same
    /// subnet; one the engine refuses as taken makes it look at what the engine has and try
    /// a free one. With every subnet taken by Railyard's networks, it waits for one to be
    /// freed (calling `waiting` once) until `cancel`; a pool that other networks fill is an
    /// error saying which.
    pub async fn create(
        &self,
        docker: &Docker,
        name: &str,
        labels: &HashMap<String, String>,
        cancel: &CancellationToken,
        waiting: &mut (dyn FnMut(String) + Send),
    ) -> Result<String, RunnerError> {
        if self.is_empty() {
            return Ok(docker.create_network(name, labels).await?);
        }
        let n = self.len();
        let start = {
            let hash = blake3::hash(format!("{name}\0{:?}", std::time::Instant::now()).as_bytes());
            u32::from_le_bytes(hash.as_bytes()[..4].try_into().expect("4 bytes"))
        };
        let mut told = false;
        let mut pause = Duration::from_millis(100);
        // Subnets the engine holds; unknown until the first refusal.
        let mut taken: Option<Vec<((u32, u8), bool)>> = None;
        loop {
            let free: Vec<u32> = (0..n)
                .map(|k| start.wrapping_add(k) % n)
                .filter(|i| {
                    taken.as_ref().is_none_or(|taken| {
                        !taken.iter().any(|(t, _)| overlaps(*t, self.subnet(*i)))
                    })
                })
                .take(if taken.is_some() { 8 } else { 1 })
                .collect();
            for i in free {
                let subnet = Self::show(self.subnet(i));
                match docker.create_network_in(name, labels, Some(&subnet)).await {
                    Ok(id) => return Ok(id),
                    Err(DockerError::SubnetTaken { .. }) => continue,
                    Err(e) => return Err(e.into()),
                }
            }
            // Refused (another job took it first): see what the engine holds.
            let networks = docker.network_subnets().await?;
            let in_pool: Vec<((u32, u8), bool)> = networks
                .iter()
                .flat_map(|net| {
                    let ours = net.labels.contains_key(railyard_types::labels::RUN);
                    net.subnets
                        .iter()
                        .filter_map(|s| parse_subnet(s))
                        .map(move |s| (s, ours))
                })
                .filter(|(s, _)| overlaps(*s, self.range()))
                .collect();
            let full = (0..n).all(|i| in_pool.iter().any(|(t, _)| overlaps(*t, self.subnet(i))));
            if full {
                if !in_pool.iter().any(|(_, ours)| *ours) {
                    let others: Vec<&str> = networks
                        .iter()
                        .filter(|net| {
                            net.subnets
                                .iter()
                                .filter_map(|s| parse_subnet(s))
                                .any(|s| overlaps(s, self.range()))
                        })
                        .map(|net| net.name.as_str())
                        .collect();
                    return Err(RunnerError::Network(format!(
                        "the network pool {self} is taken by other Docker networks ({}): give Railyard a free range with --network-pool or RAILYARD_NETWORK_POOL",
                        others.join(", ")
                    )));
                }
                if !told {
                    told = true;
                    waiting(format!(
                        "waiting for a free network: all {n} subnets of {self} are in use by other jobs"
                    ));
                }
                tokio::select! {
                    _ = tokio::time::sleep(pause) => {}
                    _ = cancel.cancelled() => return Err(RunnerError::Network(format!(
                        "cancelled while waiting for a free network of {self}"
                    ))),
                }
                pause = (pause * 2).min(Duration::from_secs(2));
            } else if taken.is_some() {
                // Refused though the engine lists a free subnet: one just removed is still
                // being torn down. Not a busy loop meanwhile.
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            taken = Some(in_pool);
        }
    }

    /// The whole range, as (first address, prefix length).
    fn range(&self) -> (u32, u8) {
        match self {
            NetworkPool::Carved { base, prefix, .. } => (u32::from(*base), *prefix),
            NetworkPool::Docker => (0, 0),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pools_parse_and_refuse_what_cannot_work() {
        let pool: NetworkPool = "10.213.0.0/16:28".parse().unwrap();
        assert_eq!(pool.len(), 4096);
        assert_eq!(pool.to_string(), "10.213.0.0/16:28");
        assert_eq!(NetworkPool::show(pool.subnet(0)), "10.213.0.0/28");
        assert_eq!(NetworkPool::show(pool.subnet(4095)), "10.213.255.240/28");
        assert_eq!(
            "192.168.128.0/20".parse::<NetworkPool>().unwrap().len(),
            256
        );
        assert_eq!("docker".parse::<NetworkPool>(), Ok(NetworkPool::Docker));
        assert_eq!(NetworkPool::default().to_string(), DEFAULT_POOL);
        for bad in [
            "10.213.0.1/16",
            "10.213.0.0",
            "10.213.0.0/16:30",
            "10.213.0.0/24:20",
            "x/16",
        ] {
            let e = bad.parse::<NetworkPool>().unwrap_err();
            assert!(e.contains(bad) && e.contains("BASE/PREFIX:SIZE"), "{e}");
        }
    }

    #[test]
    fn overlap_is_containment_either_way() {
        let s = |t: &str| parse_subnet(t).unwrap();
        assert!(overlaps(s("10.213.0.0/16"), s("10.213.4.16/28")));
        assert!(overlaps(s("10.213.4.16/28"), s("10.213.0.0/16")));
        assert!(!overlaps(s("10.213.4.16/28"), s("10.213.4.32/28")));
        assert!(!overlaps(s("172.17.0.0/16"), s("10.213.0.0/16")));
        assert_eq!(parse_subnet("fd00::/64"), None);
    }
}

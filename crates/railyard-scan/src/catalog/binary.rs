//! Executables: Go build info and cargo-auditable's `.dep-v0` section, found in one pass over
//! the file's bytes with bounded memory.
//!
//! A layer is a stream, so the ELF section table (at the end of the file) comes after the
//! sections it describes. Instead of seeking, the scanner looks for the payloads themselves:
//! Go's `\xff Go buildinf:` magic, and zlib streams whose first inflated bytes are
//! cargo-auditable's JSON (`{"packages":…`). It keeps only a small window between chunks and
//! the payload once found (capped).

use super::Found;
use crate::package::Ecosystem;
use flate2::{Decompress, FlushDecompress, Status};

const GO_MAGIC: &[u8] = b"\xff Go buildinf:";
/// Bytes after a zlib header that a probe inflates to recognise cargo-auditable's JSON.
const PROBE: usize = 1024;
/// Largest Go build info kept.
const GO_CAP: usize = 1 << 20;
/// Largest inflated cargo-auditable JSON kept.
const RUST_CAP: usize = 16 << 20;

enum Go {
    Searching,
    Capturing(Vec<u8>),
    Done(Vec<Found>),
}

enum Rust {
    Searching,
    Inflating { dec: Box<Decompress>, out: Vec<u8> },
    Done(Vec<Found>),
}

/// Fed an executable's bytes chunk by chunk; [`BinaryScanner::finish`] names the modules or
/// crates compiled into it.
pub struct BinaryScanner {
    /// Bytes not yet fully examined (the tail of earlier chunks plus the newest chunk).
    buf: Vec<u8>,
    /// Absolute offset of `buf[0]`.
    buf_start: u64,
    /// Absolute offset up to which candidate positions have been examined.
    examined: u64,
    /// Absolute offset up to which a capture or inflate has consumed.
    consumed: u64,
    go: Go,
    rust: Rust,
}

impl Default for BinaryScanner {
    fn default() -> Self {
        Self::new()
    }
}

impl BinaryScanner {
    /// A scanner at the start of a file.
    pub fn new() -> Self {
        BinaryScanner {
            buf: Vec::new(),
            buf_start: 0,
            examined: 0,
            consumed: 0,
            go: Go::Searching,
            rust: Rust::Searching,
        }
    }

    /// True once nothing more can be learnt from further bytes.
    pub fn done(&self) -> bool {
        matches!(self.go, Go::Done(_)) && matches!(self.rust, Rust::Done(_))
    }

    /// Examines the next chunk of the file.
    pub fn feed(&mut self, chunk: &[u8]) {
        self.buf.extend_from_slice(chunk);
        self.step(false);
    }

    /// Ends the file and returns what was found.
    pub fn finish(mut self) -> Vec<Found> {
        self.step(true);
        let mut out = Vec::new();
        match self.go {
            Go::Done(v) => out.extend(v),
            Go::Capturing(b) => out.extend(parse_go(&b, true).unwrap_or_default()),
            Go::Searching => {}
        }
        match self.rust {
            Rust::Done(v) => out.extend(v),
            Rust::Inflating { out: json, .. } => out.extend(parse_auditable(&json)),
            Rust::Searching => {}
        }
        out
    }

    fn step(&mut self, last: bool) {
        let end = self.buf_start + self.buf.len() as u64;
        // Positions whose look-ahead is complete (all of them at the end of the file).
        let limit = if last {
            end
        } else {
            end.saturating_sub(PROBE as u64).max(self.examined)
        };
        let from = (self.examined - self.buf_start) as usize;
        let to = (limit - self.buf_start) as usize;
        let fresh = (self.consumed.max(self.buf_start) - self.buf_start) as usize;

        // Go.
        match &mut self.go {
            Go::Searching => {
                let hay = &self.buf[from..(to + GO_MAGIC.len() - 1).min(self.buf.len())];
                if let Some(i) = memchr::memmem::find(hay, GO_MAGIC) {
                    let cap = self.buf[from + i..].to_vec();
                    self.go = Go::Capturing(cap);
                    self.consumed = end;
                    self.check_go(last);
                }
            }
            Go::Capturing(b) => {
                b.extend_from_slice(&self.buf[fresh..]);
                self.consumed = end;
                self.check_go(last);
            }
            Go::Done(_) => {}
        }

        // Rust.
        match &mut self.rust {
            Rust::Searching => {
                let mut found = None;
                for i in memchr::memchr_iter(0x78, &self.buf[from..to]) {
                    let p = from + i;
                    if probe_auditable(&self.buf[p..(p + PROBE).min(self.buf.len())]) {
                        found = Some(p);
                        break;
                    }
                }
                if let Some(p) = found {
                    let mut dec = Box::new(Decompress::new(true));
                    let mut out = Vec::new();
                    let fin = inflate(&mut dec, &self.buf[p..], &mut out);
                    self.rust = if fin || out.len() >= RUST_CAP {
                        Rust::Done(parse_auditable(&out))
                    } else {
                        Rust::Inflating { dec, out }
                    };
                }
            }
            Rust::Inflating { dec, out } => {
                let fin = inflate(dec, &self.buf[fresh..], out);
                if fin || out.len() >= RUST_CAP {
                    self.rust = Rust::Done(parse_auditable(out));
                }
            }
            Rust::Done(_) => {}
        }
        self.consumed = end;
        self.examined = limit;
        // Keep only the unexamined tail.
        let drop = (limit - self.buf_start) as usize;
        self.buf.drain(..drop);
        self.buf_start = limit;
    }

    fn check_go(&mut self, last: bool) {
        if let Go::Capturing(b) = &self.go {
            if let Some(v) = parse_go(b, last) {
                self.go = Go::Done(v);
            } else if b.len() >= GO_CAP {
                self.go = Go::Done(Vec::new());
            }
        }
    }
}

/// Inflates `input` into `out`; true at the end of the zlib stream or on an error.
fn inflate(dec: &mut Decompress, mut input: &[u8], out: &mut Vec<u8>) -> bool {
    loop {
        if out.capacity() - out.len() < 32 << 10 {
            out.reserve(64 << 10);
        }
        let before_in = dec.total_in();
        let before_out = dec.total_out();
        let res = dec.decompress_vec(input, out, FlushDecompress::None);
        let used = (dec.total_in() - before_in) as usize;
        input = &input[used..];
        match res {
            Ok(Status::StreamEnd) | Err(_) => return true,
            Ok(_) => {
                if out.len() >= RUST_CAP {
                    return true;
                }
                if input.is_empty() || (used == 0 && dec.total_out() == before_out) {
                    return false;
                }
            }
        }
    }
}

/// True when `b` starts a zlib stream that inflates to cargo-auditable's JSON.
fn probe_auditable(b: &[u8]) -> bool {
    if b.len() < 8
        || b[0] != 0x78
        || b[1] & 0x20 != 0
        || !(0x7800u16 | b[1] as u16).is_multiple_of(31)
    {
        return false;
    }
    let mut dec = Decompress::new(true);
    let mut out = [0u8; 64];
    let _ = dec.decompress(b, &mut out, FlushDecompress::None);
    let n = dec.total_out() as usize;
    let head = &out[..n];
    head.starts_with(b"{\"") && memchr::memmem::find(head, b"\"packages\"").is_some()
        || head.starts_with(b"{\"format\"")
}

/// Crates listed in cargo-auditable's JSON.
fn parse_auditable(json: &[u8]) -> Vec<Found> {
    #[derive(serde::Deserialize)]
    struct Info {
        packages: Vec<Pkg>,
    }
    #[derive(serde::Deserialize)]
    struct Pkg {
        name: String,
        version: String,
        #[serde(default)]
        source: Option<String>,
    }
    let Ok(info) = serde_json::from_slice::<Info>(json) else {
        return Vec::new();
    };
    info.packages
        .into_iter()
        .filter(|p| !p.name.is_empty())
        .map(|p| {
            let mut f = Found::new(p.name, p.version, Ecosystem::Cargo);
            // Crates not from a registry (local, git) have no advisories by version; say so.
            f.source_name = p.source.filter(|s| s != "crates.io");
            f
        })
        .collect()
}

/// Go ≥ 1.18 build info: a 32-byte header after which the Go version and the module info
/// are inline, each as a uvarint length and bytes. `None` while more bytes are needed.
fn parse_go(b: &[u8], last: bool) -> Option<Vec<Found>> {
    if b.len() < 32 {
        return last.then(Vec::new);
    }
    let flags = b[15];
    if flags & 0x2 == 0 {
        // Before Go 1.18 the header points into the data segment: not readable as a stream.
        return Some(Vec::new());
    }
    let mut pos = 32;
    let mut strings = Vec::new();
    for _ in 0..2 {
        let Some((len, n)) = uvarint(&b[pos..]) else {
            return last.then(Vec::new);
        };
        let start = pos + n;
        let Some(s) = b.get(start..start.saturating_add(len as usize)) else {
            if len as usize > GO_CAP {
                return Some(Vec::new());
            }
            return last.then(Vec::new);
        };
        strings.push(s);
        pos = start + len as usize;
    }
    let version = String::from_utf8_lossy(strings[0]).to_string();
    let mut modinfo = strings[1];
    // Module info is framed by 16-byte sentinels.
    if modinfo.len() >= 33 && modinfo[modinfo.len() - 17] == b'\n' {
        modinfo = &modinfo[16..modinfo.len() - 16];
    }
    let text = String::from_utf8_lossy(modinfo);
    let mut out: Vec<Found> = Vec::new();
    if version.starts_with("go") {
        out.push(Found::new("stdlib", version, Ecosystem::Go));
    }
    for line in text.lines() {
        let cols: Vec<&str> = line.split('\t').collect();
        match cols.as_slice() {
            ["mod", path, ver, ..] | ["dep", path, ver, ..] => {
                out.push(Found::new(*path, *ver, Ecosystem::Go));
            }
            ["=>", path, ver, ..] => {
                // A replacement: the module actually compiled in. A local folder
                // (`./dep`) keeps the module's name; its version is unknown (`(devel)`).
                if let Some(last) = out.last_mut() {
                    if !(path.starts_with('.') || path.starts_with('/')) {
                        last.name = path.to_string();
                    }
                    last.version = ver.to_string();
                }
            }
            _ => {}
        }
    }
    Some(out)
}

fn uvarint(b: &[u8]) -> Option<(u64, usize)> {
    let mut x = 0u64;
    for (i, &byte) in b.iter().enumerate().take(10) {
        x |= u64::from(byte & 0x7f) << (7 * i);
        if byte & 0x80 == 0 {
            return Some((x, i + 1));
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn go_blob() -> Vec<u8> {
        let mut b = GO_MAGIC.to_vec();
        b.push(8); // pointer size
        b.push(0x2); // inline strings
        b.resize(32, 0);
        let v = b"go1.21.5";
        let mut info = vec![0x30u8; 16];
        info.extend_from_slice(
            b"path\texample.com/app\nmod\texample.com/app\t(devel)\t\ndep\tgolang.org/x/net\tv0.17.0\th1:abc=\ndep\tgithub.com/old/x\tv1.0.0\t\n=>\tgithub.com/new/x\tv1.2.0\th1:x=\nbuild\t-compiler=gc\n",
        );
        info.extend_from_slice(&[0xf9u8; 16]);
        b.push(v.len() as u8);
        b.extend_from_slice(v);
        // two-byte uvarint for the longer string
        let n = info.len();
        b.push((n as u8 & 0x7f) | 0x80);
        b.push((n >> 7) as u8);
        b.extend_from_slice(&info);
        b
    }

    fn auditable_blob() -> Vec<u8> {
        let json = br#"{"packages":[{"name":"app","version":"0.1.0","source":"local","root":true,"dependencies":[1]},{"name":"smallvec","version":"1.11.0","source":"crates.io"}]}"#;
        let mut e = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::new(7));
        e.write_all(json).unwrap();
        e.finish().unwrap()
    }

    /// Noise with many 0x78 bytes and false zlib headers, the payloads at odd offsets, fed in
    /// small chunks so that payloads straddle chunk boundaries.
    fn scan_in_chunks(file: &[u8], chunk: usize) -> Vec<Found> {
        let mut s = BinaryScanner::new();
        for c in file.chunks(chunk) {
            s.feed(c);
        }
        s.finish()
    }

    fn noise(n: usize, seed: u32) -> Vec<u8> {
        let mut x = seed;
        (0..n)
            .map(|i| {
                x = x.wrapping_mul(1_103_515_245).wrapping_add(12345);
                if i % 97 == 0 {
                    0x78
                } else if i % 97 == 1 {
                    0x9c
                } else {
                    (x >> 16) as u8
                }
            })
            .collect()
    }

    #[test]
    fn finds_go_and_rust_payloads_across_chunks() {
        let mut file = b"\x7fELF".to_vec();
        file.extend(noise(70_001, 1));
        file.extend(go_blob());
        file.extend(noise(5_003, 2));
        file.extend(auditable_blob());
        file.extend(noise(40_000, 3));
        for chunk in [1, 7, 333, 4096, 65536, 1 << 20] {
            let found = scan_in_chunks(&file, chunk);
            let names: Vec<(&str, &str)> = found
                .iter()
                .map(|f| (f.name.as_str(), f.version.as_str()))
                .collect();
            assert_eq!(
                names,
                vec![
                    ("stdlib", "go1.21.5"),
                    ("example.com/app", "(devel)"),
                    ("golang.org/x/net", "v0.17.0"),
                    ("github.com/new/x", "v1.2.0"),
                    ("app", "0.1.0"),
                    ("smallvec", "1.11.0"),
                ],
                "chunk size {chunk}"
            );
            assert_eq!(found[4].source_name.as_deref(), Some("local"));
            assert_eq!(found[5].source_name, None);
        }
    }

    #[test]
    fn truncated_payloads_do_not_panic() {
        let mut g = go_blob();
        g.truncate(40);
        assert!(scan_in_chunks(&g, 5).is_empty());
        let mut r = auditable_blob();
        r.truncate(r.len() / 2);
        assert!(scan_in_chunks(&r, 3).is_empty());
        assert!(scan_in_chunks(&noise(300_000, 9), 8192).is_empty());
    }

    /// A real Go binary on this machine (Debian's docker.io ships several), when present.
    #[test]
    fn real_go_binary_if_present() {
        for path in ["/usr/bin/runc", "/usr/sbin/runc", "/usr/bin/containerd"] {
            let Ok(bytes) = std::fs::read(path) else {
                continue;
            };
            let found = scan_in_chunks(&bytes, 65536);
            assert!(
                found
                    .iter()
                    .any(|f| f.name == "stdlib" && f.version.starts_with("go1.")),
                "{path}: {found:?}"
            );
            return;
        }
        railyard_test_support::skip("no Go binary on this machine (runc or containerd)");
    }
}

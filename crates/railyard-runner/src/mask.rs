//! Secret masking. Output reaches reporters as whole lines (see `lines`), so a value split
//! across chunks is masked like any other; a multi-line value is masked line by line. Each
//! value is also masked in the forms a job most often prints it in by accident: base64
//! (`echo $TOKEN | base64`, an `Authorization: Basic` header) and URL-encoded (a token in a
//! query string or a URL's userinfo).

/// What replaces a secret in a log line.
pub const MASK: &str = "***";

/// Lines shorter than this are not masked: masking `a` or `1` would blank ordinary output
/// and tell more than it hides.
const MIN_LEN: usize = 3;

/// Replaces the values of secrets in log lines.
#[derive(Debug, Clone, Default)]
pub struct Masker {
    /// The lines of every value, longest first, so a value holding another is masked whole.
    needles: Vec<String>,
}

impl Masker {
    /// A masker for these secret values.
    pub fn new<'a>(values: impl IntoIterator<Item = &'a str>) -> Masker {
        let mut needles: Vec<String> = values
            .into_iter()
            .flat_map(|v| {
                let lines = v.lines().map(|l| l.trim_end_matches('\r').to_string());
                lines.chain(encoded_forms(v))
            })
            .filter(|l| l.trim().len() >= MIN_LEN)
            .collect();
        needles.sort_by(|a, b| b.len().cmp(&a.len()).then_with(|| a.cmp(b)));
        needles.dedup();
        Masker { needles }
    }

    /// The length in bytes of the longest secret line: how far a cut must look ahead.
    pub fn longest(&self) -> usize {
        self.needles.first().map_or(0, String::len)
    }

    /// A cut position at or before `at` that splits no secret in `buf`, so that an over-long
    /// line cut in two still has each secret whole in one piece (and masked). `buf` must hold
    /// at least [`Masker::longest`] bytes past `at`. A secret too long to fit is cut anyway.
    pub fn safe_cut(&self, buf: &[u8], at: usize) -> usize {
        let mut cut = at;
        loop {
            let straddling = self
                .needles
                .iter()
                .filter_map(|n| {
                    let n = n.as_bytes();
                    let from = (cut + 1).saturating_sub(n.len());
                    (from..cut).find(|&start| buf.get(start..start + n.len()) == Some(n))
                })
                .min();
            match straddling {
                Some(0) => return at,
                Some(start) => cut = start,
                None => return cut,
            }
        }
    }

    /// The line with every secret replaced by [`MASK`].
    pub fn mask(&self, line: &str) -> String {
        let mut out = line.to_string();
        for needle in &self.needles {
            if out.contains(needle.as_str()) {
                out = out.replace(needle.as_str(), MASK);
            }
        }
        out
    }
}

/// The value's base64 (with and without its trailing newline, as `echo` adds one; the
/// part of it that does not depend on what comes before or after, so a value inside a longer
/// encoded text is masked too) and its URL encoding, when they differ from the value.
fn encoded_forms(value: &str) -> Vec<String> {
    if value.trim().len() < MIN_LEN {
        return Vec::new();
    }
    let mut forms = Vec::new();
    for text in [value.to_string(), format!("{value}\n")] {
        let b64 = railyard_types::secrets::base64(text.as_bytes());
        forms.push(b64.trim_end_matches('=').to_string());
        forms.push(b64);
        // The same bytes at any offset of a longer text: the characters that encode only
        // the value's own bytes (its whole groups of three).
        for shift in 0..=2usize {
            let mut padded = vec![0u8; shift];
            padded.extend_from_slice(text.as_bytes());
            let enc = railyard_types::secrets::base64(&padded);
            let whole = (padded.len() / 3) * 4;
            let inner = enc
                .get(if shift == 0 { 0 } else { 4 }..whole)
                .unwrap_or_default();
            if inner.len() >= 8 {
                forms.push(inner.to_string());
            }
        }
    }
    let url = url_encode(value);
    if url != value {
        forms.push(url.clone());
        forms.push(url.replace("%20", "+"));
    }
    forms
}

/// Percent-encoding of everything but unreserved characters (RFC 3986), as
/// `encodeURIComponent`, `urllib.parse.quote(safe='')` and `jq @uri` print a value.
fn url_encode(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for b in value.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_and_url_encoded_forms_are_masked() {
        let secret = "s3cr3t/value+with spaces&more";
        let m = Masker::new([secret]);
        let b64 = railyard_types::secrets::base64(secret.as_bytes());
        assert_eq!(m.mask(&format!("got {b64} here")), "got *** here");
        let echoed = railyard_types::secrets::base64(format!("{secret}\n").as_bytes());
        assert_eq!(m.mask(&echoed), "***", "`echo $S | base64`");
        let basic = railyard_types::secrets::base64(format!("user:{secret}").as_bytes());
        assert!(
            !m.mask(&basic).contains(&basic[8..20]),
            "inside a longer text: {}",
            m.mask(&basic)
        );
        let url = "s3cr3t%2Fvalue%2Bwith%20spaces%26more";
        assert_eq!(m.mask(&format!("https://h/?t={url}")), "https://h/?t=***");
        let form = url.replace("%20", "+");
        assert_eq!(m.mask(&format!("t={form}")), "t=***");
    }

    #[test]
    fn values_are_masked_wherever_they_appear() {
        let m = Masker::new(["hunter22", "tok-123"]);
        assert_eq!(
            m.mask("login hunter22 then tok-123."),
            "login *** then ***."
        );
        assert_eq!(m.mask("nothing here"), "nothing here");
    }

    #[test]
    fn multi_line_values_are_masked_line_by_line() {
        let m = Masker::new(["-----BEGIN KEY-----\nabcdefgh\n-----END KEY-----\n"]);
        assert_eq!(m.mask("abcdefgh"), "***");
        assert_eq!(m.mask("-----BEGIN KEY-----"), "***");
    }

    #[test]
    fn a_value_holding_another_is_masked_whole() {
        let m = Masker::new(["abc", "abcdef"]);
        assert_eq!(m.mask("xabcdefx"), "x***x");
    }

    #[test]
    fn cuts_move_before_a_secret_they_would_split() {
        let m = Masker::new(["secret-value"]);
        let buf = b"xxxxsecret-valueyyyy";
        assert_eq!(m.safe_cut(buf, 10), 4, "inside the secret");
        assert_eq!(m.safe_cut(buf, 4), 4, "already before it");
        assert_eq!(m.safe_cut(buf, 16), 16, "right after it");
        assert_eq!(
            m.safe_cut(b"secret-value", 5),
            5,
            "no room before: cut anyway"
        );
    }

    #[test]
    fn very_short_values_are_left_alone() {
        let m = Masker::new(["1", "ab", ""]);
        assert_eq!(m.mask("1 ab"), "1 ab");
    }
}

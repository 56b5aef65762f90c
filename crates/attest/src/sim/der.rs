//! A minimal DER writer for the Intel SGX PCK certificate extension (the only hand-built ASN.1 here;
//! certificates and CRLs are made by rcgen).

/// Tag numbers used by the SGX extension.
pub(crate) const BOOLEAN: u8 = 0x01;
pub(crate) const INTEGER: u8 = 0x02;
pub(crate) const OCTET_STRING: u8 = 0x04;
pub(crate) const OID: u8 = 0x06;
pub(crate) const ENUMERATED: u8 = 0x0a;
pub(crate) const SEQUENCE: u8 = 0x30;

/// One TLV with a definite length.
pub(crate) fn tlv(tag: u8, contents: &[u8]) -> Vec<u8> {
    let mut out = vec![tag];
    let len = contents.len();
    if len < 0x80 {
        out.push(len as u8);
    } else {
        let bytes = len.to_be_bytes();
        let skip = bytes.iter().take_while(|b| **b == 0).count();
        let significant = bytes.get(skip..).unwrap_or_default();
        out.push(0x80 | significant.len() as u8);
        out.extend_from_slice(significant);
    }
    out.extend_from_slice(contents);
    out
}

/// SEQUENCE of already-encoded elements.
pub(crate) fn sequence(elements: &[Vec<u8>]) -> Vec<u8> {
    tlv(SEQUENCE, &elements.concat())
}

/// A non-negative INTEGER (minimal encoding, leading 0x00 when the high bit is set).
pub(crate) fn unsigned(tag: u8, value: u64) -> Vec<u8> {
    let bytes = value.to_be_bytes();
    let skip = bytes.iter().take_while(|b| **b == 0).count().min(7);
    let mut contents = bytes.get(skip..).unwrap_or_default().to_vec();
    if contents.first().is_some_and(|b| b & 0x80 != 0) {
        contents.insert(0, 0);
    }
    tlv(tag, &contents)
}

/// An OBJECT IDENTIFIER from its arcs (first arc 0..=2, second < 40 for arcs 0 and 1).
pub(crate) fn oid(arcs: &[u64]) -> Vec<u8> {
    let mut contents = Vec::new();
    let (first, second, rest) = match arcs {
        [a, b, rest @ ..] => (*a, *b, rest),
        _ => (0, 0, &[][..]),
    };
    base128(first * 40 + second, &mut contents);
    for arc in rest {
        base128(*arc, &mut contents);
    }
    tlv(OID, &contents)
}

fn base128(mut value: u64, out: &mut Vec<u8>) {
    let mut tmp = vec![(value & 0x7f) as u8];
    value >>= 7;
    while value > 0 {
        tmp.push(0x80 | (value & 0x7f) as u8);
        value >>= 7;
    }
    tmp.reverse();
    out.extend(tmp);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encodes_like_the_intel_extension() {
        // 1.2.840.113741.1.13.1 as it appears in every Intel PCK certificate.
        assert_eq!(
            hex::encode(oid(&[1, 2, 840, 113741, 1, 13, 1])),
            "06092a864886f84d010d01"
        );
        assert_eq!(unsigned(INTEGER, 0), [2, 1, 0]);
        assert_eq!(unsigned(INTEGER, 255), [2, 2, 0, 255]);
        assert_eq!(unsigned(INTEGER, 13), [2, 1, 13]);
        let long = tlv(OCTET_STRING, &[0u8; 300]);
        assert_eq!(long.get(..4).unwrap(), [4, 0x82, 0x01, 0x2c]);
    }
}

//! x509-parser errors in words, for messages that name what is wrong with a certificate or CRL
//! file instead of printing a Rust debug form
//! (`Parsing Error: Der(UnexpectedTag { expected: Some(Tag(16)), actual: Tag(60) })`).

use x509_parser::asn1_rs::Error as Asn1;
use x509_parser::error::X509Error;
use x509_parser::nom::error::ErrorKind;
use x509_parser::nom::Err;

/// What is wrong, in words: `DER tag: expected Sequence, got Boolean`, `ends before its encoded
/// length`, ...
pub fn describe_x509_error(e: &Err<X509Error>) -> String {
    match e {
        Err::Incomplete(_) => "ends before its encoded length".into(),
        Err::Error(e) | Err::Failure(e) => match e {
            X509Error::Der(Asn1::UnexpectedTag {
                expected: Some(want),
                actual,
            }) => format!("DER tag: expected {want}, got {actual}"),
            X509Error::Der(Asn1::Incomplete(_)) | X509Error::NomError(ErrorKind::Eof) => {
                "ends before its encoded length".into()
            }
            X509Error::Der(inner) => format!("DER: {inner}"),
            other => other.to_string(),
        },
    }
}

#[cfg(test)]
mod tests {
    use x509_parser::prelude::{FromDer, X509Certificate};
    use x509_parser::revocation_list::CertificateRevocationList;

    use super::*;

    #[test]
    fn garbage_and_truncation_are_described_in_words() {
        let e = X509Certificate::from_der(&[0x01, 0x01, 0xff]).unwrap_err();
        assert_eq!(
            describe_x509_error(&e),
            "DER tag: expected Sequence, got Boolean"
        );
        let e = CertificateRevocationList::from_der(&[0x30, 0x82, 0x01]).unwrap_err();
        assert_eq!(describe_x509_error(&e), "ends before its encoded length");
    }
}

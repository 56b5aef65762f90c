//! SEV-SNP inputs on arbitrary bytes: the report parser (through `Evidence::parse`, which routes
//! SNP-looking bytes to it), the certificate table of `auxblob`, and the RA-TLS endorsement
//! payload. Never panics; a parsed report re-parses from its own raw bytes to the same value, and
//! a parsed certificate table re-encodes to bytes that parse to the same table.
#![no_main]

use initra_evidence::snp::{CertTable, SnpReport};
use initra_evidence::Evidence;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(Evidence::Snp(report)) = Evidence::parse(data) {
        let again = SnpReport::parse(report.raw()).expect("raw() of a parsed report parses");
        assert_eq!(again, report);
    }
    if let Ok(table) = CertTable::parse(data) {
        let bytes = table.to_bytes().expect("a parsed table re-encodes");
        assert_eq!(CertTable::parse(&bytes).expect("re-encoded table parses"), table);
    }
    let _ = initra_evidence::ratls_ext::decode_snp_endorsement(data);
});

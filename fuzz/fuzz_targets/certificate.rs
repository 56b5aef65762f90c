//! RA-TLS certificate reader (DER or PEM, every evidence OID, DICE CBOR, key bindings) on arbitrary
//! bytes: never panics.
#![no_main]

use initra_ratls::read_certificate_pem_or_der;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(evidence) = read_certificate_pem_or_der(data) {
        let _ = evidence.bound_quote();
        let _ = evidence.check_validity(std::time::SystemTime::UNIX_EPOCH);
    }
});

//! Quote parser on arbitrary bytes, raw and through the hex/binary input decoder: never panics,
//! and a parsed quote re-parses from its own raw bytes to the same value.
#![no_main]

use initra_evidence::input::decode_evidence;
use initra_evidence::Quote;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(quote) = Quote::parse(data) {
        let again = Quote::parse(quote.raw()).expect("raw() of a parsed quote parses");
        assert_eq!(again, quote);
    }
    if let Ok(bytes) = decode_evidence(data) {
        let _ = Quote::parse(&bytes);
    }
    let _ = initra_evidence::ratls_ext::decode_tagged_evidence(data);
});

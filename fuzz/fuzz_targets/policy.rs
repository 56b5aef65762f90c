//! Policy reader (initra policy file or Occlum verify config, detected by keys) on arbitrary bytes:
//! never panics.
#![no_main]

use initra_verify::Policy;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = Policy::from_bytes(data, "fuzz");
});

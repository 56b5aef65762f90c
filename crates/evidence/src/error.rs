//! The crate's single error type.

/// Why evidence could not be parsed. Every variant names the field or format it concerns.
#[derive(Debug, thiserror::Error, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Error {
    /// A CBOR item was malformed or not the expected one.
    #[error("{field}: {reason}")]
    Cbor {
        /// What was being decoded.
        field: &'static str,
        /// What was wrong.
        reason: String,
    },
    /// The input was empty.
    #[error("evidence is empty")]
    Empty,
    /// Text input that looked like hex but was not valid hex.
    #[error("invalid hex: {reason}")]
    InvalidHex {
        /// What was wrong (character and offset, or odd length).
        reason: String,
    },
    /// A declared length is larger than its bound.
    #[error("{field}: length {actual} exceeds the maximum {max}")]
    LengthLimit {
        /// The length field.
        field: &'static str,
        /// The declared length.
        actual: usize,
        /// The bound.
        max: usize,
    },
    /// A value did not have the fixed size of its type.
    #[error("{field}: expected {expected} bytes, got {actual}")]
    LengthMismatch {
        /// The typed value being built.
        field: &'static str,
        /// The required size.
        expected: usize,
        /// The size given.
        actual: usize,
    },
    /// A field held a value the format does not allow.
    #[error("{field}: expected {expected}, got {actual}")]
    Malformed {
        /// The field.
        field: &'static str,
        /// What the format requires.
        expected: String,
        /// What was found.
        actual: String,
    },
    /// Non-zero bytes follow the quote's own length (zero bytes are padding and allowed).
    #[error("trailing data: non-zero byte at offset {offset} after the quote's {quote_len} bytes")]
    TrailingData {
        /// Offset of the first non-zero trailing byte.
        offset: usize,
        /// The quote's own length.
        quote_len: usize,
    },
    /// The input ended before a field was complete.
    #[error("{field}: truncated: need {needed} bytes, {available} available")]
    Truncated {
        /// The field being read.
        field: &'static str,
        /// Bytes the field needs.
        needed: usize,
        /// Bytes left.
        available: usize,
    },
    /// The quote version / TEE type combination is not supported.
    #[error("unsupported quote: {what}")]
    Unsupported {
        /// What is unsupported (version, TEE type, body type), with the value found.
        what: String,
    },
}

impl Error {
    pub(crate) fn malformed(
        field: &'static str,
        expected: impl Into<String>,
        actual: impl Into<String>,
    ) -> Self {
        Self::Malformed {
            field,
            expected: expected.into(),
            actual: actual.into(),
        }
    }
}

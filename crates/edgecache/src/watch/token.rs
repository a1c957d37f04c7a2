//! Continue tokens of [`WatchCache::list_page`](super::WatchCache::list_page).
//!
//! A token names the snapshot (its resourceVersion) and where the next page
//! starts: just after the last key returned. It is written byte for byte in
//! the apiserver's own format: base64url (no padding) of the JSON
//! `{"v":"meta.k8s.io/v1","rv":N,"start":"<last key>\u0000"}`, the NUL
//! making the start key sort right after the last one. For namespaced
//! objects keyed `namespace/name` (the apiserver's key below its resource
//! prefix) a token from this cache and one from the apiserver are
//! interchangeable. `rv: -1` (what the apiserver hands out after an expired
//! token) continues from the current state. Callers treat it as opaque.

use base64::Engine;
use base64::engine::general_purpose::{URL_SAFE, URL_SAFE_NO_PAD};

use super::error::WatchError;

const VERSION: &str = "meta.k8s.io/v1";

/// Encodes a token for the snapshot at `rv` whose last page ended at key
/// `last`.
pub(crate) fn encode(rv: u64, last: &str) -> String {
    // Written by hand to keep the apiserver's field order (v, rv, start);
    // serde_json escapes the key (and the NUL as \u0000, as Go does).
    let start = serde_json::Value::String(format!("{last}\0"));
    URL_SAFE_NO_PAD.encode(format!(r#"{{"v":"{VERSION}","rv":{rv},"start":{start}}}"#))
}

/// Decodes a token into `(rv, start)`: `rv` is `None` for the apiserver's
/// "-1" (continue from the current state); `start` is the first key the
/// next page may hold.
///
/// # Errors
/// [`WatchError::InvalidArgument`] for anything that is not a token of this
/// format (bad base64, bad JSON, another version, a resourceVersion of 0
/// or below -1, no start key).
pub(crate) fn decode(token: &str) -> Result<(Option<u64>, String), WatchError> {
    let bad = |why: &str| WatchError::invalid(format!("continue key is not valid: {why}"));
    // The apiserver writes unpadded tokens and accepts padded ones.
    let raw = URL_SAFE_NO_PAD.decode(token).or_else(|_| URL_SAFE.decode(token)).map_err(|_| bad("not base64url"))?;
    let v: serde_json::Value = serde_json::from_slice(&raw).map_err(|_| bad("not JSON"))?;
    if v.get("v").and_then(|x| x.as_str()) != Some(VERSION) {
        return Err(bad("unknown version"));
    }
    let rv = match v.get("rv") {
        Some(n) if n.as_i64() == Some(-1) => None,
        Some(n) => Some(n.as_u64().filter(|rv| *rv > 0).ok_or_else(|| bad("no resource version"))?),
        None => return Err(bad("no resource version")),
    };
    let start = v.get("start").and_then(|x| x.as_str()).ok_or_else(|| bad("no start key"))?;
    if start.is_empty() {
        return Err(bad("empty start key"));
    }
    Ok((rv, start.to_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_any_key() {
        for key in ["a", "default/pod-1", "ns/with space/and\"quote", "ünïcode/ключ", "x\u{0}y"] {
            let t = encode(42, key);
            assert!(t.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'), "{t}");
            assert_eq!(decode(&t).unwrap(), (Some(42), format!("{key}\0")));
        }
    }

    #[test]
    fn is_the_apiservers_format_byte_for_byte() {
        let json = URL_SAFE_NO_PAD.decode(encode(10, "second/bar")).unwrap();
        assert_eq!(String::from_utf8(json).unwrap(), r#"{"v":"meta.k8s.io/v1","rv":10,"start":"second/bar\u0000"}"#);
        let minus_one = URL_SAFE_NO_PAD.encode(r#"{"v":"meta.k8s.io/v1","rv":-1,"start":"a\u0000"}"#);
        assert_eq!(decode(&minus_one).unwrap(), (None, "a\0".to_owned()));
    }

    #[test]
    fn rejects_what_is_not_a_token() {
        let padded = URL_SAFE.encode(r#"{"v":"meta.k8s.io/v1","rv":7,"start":"k"}"#);
        assert_eq!(decode(&padded).unwrap(), (Some(7), "k".to_owned()));
        for bad in [
            "",
            "!!!",
            &URL_SAFE_NO_PAD.encode("not json"),
            &URL_SAFE_NO_PAD.encode(r#"{"v":"other","rv":7,"start":"k"}"#),
            &URL_SAFE_NO_PAD.encode(r#"{"v":"meta.k8s.io/v1","rv":0,"start":"k"}"#),
            &URL_SAFE_NO_PAD.encode(r#"{"v":"meta.k8s.io/v1","rv":-3,"start":"k"}"#),
            &URL_SAFE_NO_PAD.encode(r#"{"v":"meta.k8s.io/v1","rv":"7","start":"k"}"#),
            &URL_SAFE_NO_PAD.encode(r#"{"v":"meta.k8s.io/v1","rv":7}"#),
            &URL_SAFE_NO_PAD.encode(r#"{"v":"meta.k8s.io/v1","rv":7,"start":""}"#),
        ] {
            assert!(matches!(decode(bad), Err(WatchError::InvalidArgument(_))), "{bad}");
        }
    }
}

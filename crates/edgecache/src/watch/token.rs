//! Continue tokens of [`WatchCache::list_page`](super::WatchCache::list_page).
//!
//! A token names the snapshot (its resourceVersion) and the key the next
//! page starts at. It is written in the apiserver's own format: base64url
//! (no padding) of the JSON `{"v":"meta.k8s.io/v1","rv":N,"start":"key"}`,
//! so it survives any client that passes `continue` through untouched, and
//! looks like what clients already see. Callers treat it as opaque.

use base64::Engine;
use base64::engine::general_purpose::{URL_SAFE, URL_SAFE_NO_PAD};

use super::error::WatchError;

const VERSION: &str = "meta.k8s.io/v1";

/// Encodes a token for the snapshot at `rv`, resuming at key `start`.
pub(crate) fn encode(rv: u64, start: &str) -> String {
    let json = serde_json::json!({ "v": VERSION, "rv": rv, "start": start });
    URL_SAFE_NO_PAD.encode(json.to_string())
}

/// Decodes a token into `(rv, start)`.
///
/// # Errors
/// [`WatchError::InvalidArgument`] for anything that is not a token of this
/// format (bad base64, bad JSON, another version, a resourceVersion of 0).
pub(crate) fn decode(token: &str) -> Result<(u64, String), WatchError> {
    let bad = |why: &str| WatchError::invalid(format!("continue key is not valid: {why}"));
    // The apiserver writes unpadded tokens and accepts padded ones.
    let raw = URL_SAFE_NO_PAD.decode(token).or_else(|_| URL_SAFE.decode(token)).map_err(|_| bad("not base64url"))?;
    let v: serde_json::Value = serde_json::from_slice(&raw).map_err(|_| bad("not JSON"))?;
    if v.get("v").and_then(|x| x.as_str()) != Some(VERSION) {
        return Err(bad("unknown version"));
    }
    let rv = v
        .get("rv")
        .and_then(serde_json::Value::as_u64)
        .filter(|rv| *rv > 0)
        .ok_or_else(|| bad("no resource version"))?;
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
            assert_eq!(decode(&t).unwrap(), (42, key.to_owned()));
        }
    }

    #[test]
    fn rejects_what_is_not_a_token() {
        let padded = URL_SAFE.encode(r#"{"v":"meta.k8s.io/v1","rv":7,"start":"k"}"#);
        assert_eq!(decode(&padded).unwrap(), (7, "k".to_owned()));
        for bad in [
            "",
            "!!!",
            &URL_SAFE_NO_PAD.encode("not json"),
            &URL_SAFE_NO_PAD.encode(r#"{"v":"other","rv":7,"start":"k"}"#),
            &URL_SAFE_NO_PAD.encode(r#"{"v":"meta.k8s.io/v1","rv":0,"start":"k"}"#),
            &URL_SAFE_NO_PAD.encode(r#"{"v":"meta.k8s.io/v1","rv":-3,"start":"k"}"#),
            &URL_SAFE_NO_PAD.encode(r#"{"v":"meta.k8s.io/v1","rv":7}"#),
            &URL_SAFE_NO_PAD.encode(r#"{"v":"meta.k8s.io/v1","rv":7,"start":""}"#),
        ] {
            assert!(matches!(decode(bad), Err(WatchError::InvalidArgument(_))), "{bad}");
        }
    }
}

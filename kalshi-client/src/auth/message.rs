//! What gets signed, and the headers it travels in.

/// Header carrying the API key id.
pub const ACCESS_KEY_HEADER: &str = "KALSHI-ACCESS-KEY";
/// Header carrying the signing time in Unix milliseconds.
pub const ACCESS_TIMESTAMP_HEADER: &str = "KALSHI-ACCESS-TIMESTAMP";
/// Header carrying the base64 signature.
pub const ACCESS_SIGNATURE_HEADER: &str = "KALSHI-ACCESS-SIGNATURE";

/// The exact bytes Kalshi verifies: `timestamp_ms + method + path`, with
/// nothing added or normalised.
///
/// `method` must be the method as sent (uppercase, `GET`), and `path` the
/// full path as sent on the wire including `/trade-api/v2`, percent-encoding
/// intact, and **without** the query string or fragment (see [`wire_path`]).
/// The body is never part of the message.
///
/// ```
/// # use kalshi_client::auth::signing_message;
/// let message = signing_message(1703123456789, "GET", "/trade-api/v2/portfolio/balance");
/// assert_eq!(message, "1703123456789GET/trade-api/v2/portfolio/balance");
/// ```
#[must_use]
pub fn signing_message(timestamp_ms: u64, method: &str, path: &str) -> String {
    format!("{timestamp_ms}{method}{path}")
}

/// The path of `url` exactly as it goes on the wire: percent-encoding kept
/// (`%20` stays `%20`, `%2F` is not turned into `/`), query and fragment dropped.
///
/// Signing anything else (a decoded path, or one with `?limit=5` attached)
/// makes Kalshi reject the request with 401, so the transport should sign
/// `wire_path(&request_url)` rather than a path it assembled itself.
#[must_use]
pub fn wire_path(url: &reqwest::Url) -> &str {
    url.path()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signing_message_is_plain_concatenation() {
        let message = signing_message(1_703_123_456_789, "GET", "/trade-api/v2/portfolio/balance");
        assert_eq!(message, "1703123456789GET/trade-api/v2/portfolio/balance");
        assert_eq!(signing_message(0, "", ""), "0");
    }

    fn path_of(url: &str) -> String {
        let url = reqwest::Url::parse(url).expect("test URL parses");
        wire_path(&url).to_owned()
    }

    #[test]
    fn wire_path_keeps_encoding_and_drops_query_and_fragment() {
        let base = "https://api.elections.kalshi.com";
        let cases = [
            (
                "/trade-api/v2/portfolio/balance",
                "/trade-api/v2/portfolio/balance",
            ),
            (
                "/trade-api/v2/portfolio/orders?limit=5",
                "/trade-api/v2/portfolio/orders",
            ),
            (
                "/trade-api/v2/markets/A%20B?x=1#frag",
                "/trade-api/v2/markets/A%20B",
            ),
            ("/trade-api/v2/markets/A%2FB", "/trade-api/v2/markets/A%2FB"),
            (
                "/trade-api/v2/markets/a%2fb#f",
                "/trade-api/v2/markets/a%2fb",
            ),
            (
                "/trade-api/v2/events/X#only-fragment",
                "/trade-api/v2/events/X",
            ),
            ("", "/"),
        ];
        for (path, expected) in cases {
            assert_eq!(path_of(&format!("{base}{path}")), expected, "{path}");
        }
    }

    /// A space typed into a URL is encoded by the URL parser, and the
    /// encoded form is what goes on the wire and must be signed.
    #[test]
    fn wire_path_is_the_encoded_form() {
        let url = "https://api.elections.kalshi.com/trade-api/v2/markets/A B";
        assert_eq!(path_of(url), "/trade-api/v2/markets/A%20B");
    }
}

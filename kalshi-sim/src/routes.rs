//! Which operation a request is, by the spec's own path templates.

use std::collections::HashMap;

use kalshi_gen::Operation;

/// The operation `method path` addresses (path below `/trade-api/v2`), with
/// its path parameters percent-decoded. Literal segments win over
/// parameters, so `/portfolio/orders/queue_positions` is not an order id.
pub(crate) fn find(
    method: &str,
    path: &str,
) -> Option<(&'static Operation, HashMap<String, String>)> {
    let segments: Vec<&str> = path.trim_matches('/').split('/').collect();
    // The Trade API first: an operation in both documents
    // (`intra_exchange_instance_transfer`) is the Trade API's.
    operations()
        .filter(|(_, op)| op.method == method)
        .filter_map(|(rank, op)| {
            matches(op.path, &segments).map(|(params, literals)| (op, params, (literals, rank)))
        })
        .max_by_key(|(_, _, key)| *key)
        .map(|(op, params, _)| (op, params))
}

/// Every operation of both documents, with a rank that prefers the Trade
/// API's on a tie.
fn operations() -> impl Iterator<Item = (u8, &'static Operation)> {
    let trade = kalshi_gen::OPERATIONS.iter().map(|op| (1, op));
    trade.chain(kalshi_gen::margin::OPERATIONS.iter().map(|op| (0, op)))
}

/// Whether some operation lives at `path` under any method (so another
/// method is a 405, not a 404).
pub(crate) fn known_path(path: &str) -> bool {
    let segments: Vec<&str> = path.trim_matches('/').split('/').collect();
    operations().any(|(_, op)| matches(op.path, &segments).is_some())
}

fn matches(template: &str, segments: &[&str]) -> Option<(HashMap<String, String>, usize)> {
    let parts: Vec<&str> = template.trim_matches('/').split('/').collect();
    if parts.len() != segments.len() {
        return None;
    }
    let mut params = HashMap::new();
    let mut literals = 0;
    for (part, segment) in parts.iter().zip(segments) {
        match part.strip_prefix('{').and_then(|p| p.strip_suffix('}')) {
            Some(name) => {
                params.insert(name.to_owned(), percent_decode(segment));
            }
            None if part == segment => literals += 1,
            None => return None,
        }
    }
    Some((params, literals))
}

/// `%XX` decoding of one path segment (`+` stays `+`); bytes that are not
/// UTF-8 are replaced, as a path that names nothing.
pub(crate) fn percent_decode(text: &str) -> String {
    percent_encoding::percent_decode_str(text)
        .decode_utf8_lossy()
        .into_owned()
}

/// Query pairs, decoded as `application/x-www-form-urlencoded` (`+` is a
/// space); repeated keys keep every value.
pub(crate) fn query_pairs(query: &str) -> Vec<(String, String)> {
    form_urlencoded::parse(query.as_bytes())
        .map(|(key, value)| (key.into_owned(), value.into_owned()))
        .collect()
}

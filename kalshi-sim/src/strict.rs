//! Accepting parameters only where the spec puts them.
//!
//! Kalshi answers 400 when a request carries a parameter the endpoint does
//! not take, for example `subaccount` in the body of a cancel (it belongs in
//! the query there). The generated operation table (`kalshi_gen::OPERATIONS`)
//! lists every operation's query parameters and body properties, read from
//! the vendored spec; the simulator refuses the rest, so a client that routes
//! a parameter to the wrong place fails here too.

use kalshi_gen::Operation;
use serde_json::Value;

use crate::http::ApiErr;

/// 400 when `query` or `body` holds a name `operation` does not take.
pub(crate) fn check(
    operation: &Operation,
    query: &[(String, String)],
    body: Option<&Value>,
) -> Result<(), ApiErr> {
    if let Some((name, _)) = query
        .iter()
        .find(|(name, _)| !operation.query.contains(&name.as_str()))
    {
        return Err(unexpected(&format!("query parameter `{name}`")));
    }
    let Some(Value::Object(fields)) = body else {
        return Ok(());
    };
    for (name, value) in fields {
        if !operation.body.contains(&name.as_str()) {
            return Err(unexpected(&format!("body field `{name}`")));
        }
        let items = operation.body_items.iter().find(|(array, _)| array == name);
        if let (Some((_, item_names)), Value::Array(elements)) = (items, value) {
            for field in elements
                .iter()
                .filter_map(Value::as_object)
                .flat_map(|o| o.keys())
            {
                if !item_names.contains(&field.as_str()) {
                    return Err(unexpected(&format!("field `{field}` in `{name}[]`")));
                }
            }
        }
    }
    Ok(())
}

fn unexpected(what: &str) -> ApiErr {
    ApiErr::new(
        400,
        "invalid_parameters",
        &format!("unexpected {what} for this endpoint"),
    )
}

//! Every operation of both documents (the Trade API and the margin API) has
//! a handler: a request for any of them is answered from the exchange's
//! state, never `not_implemented`.

use std::collections::HashMap;

use serde_json::json;

use crate::http::Call;
use crate::{Account, ApiKey, Shared, SimConfig, api};

/// Path parameters filled with a placeholder.
fn params(template: &str) -> HashMap<String, String> {
    template
        .split('/')
        .filter_map(|part| part.strip_prefix('{')?.strip_suffix('}'))
        .map(|name| (name.to_owned(), "SIM-UNKNOWN".to_owned()))
        .collect()
}

#[test]
fn every_operation_of_the_spec_has_a_handler() {
    let config = SimConfig::new().account(Account::new("alice", &ApiKey::ed25519("alice-key")));
    let shared = Shared::new(&config);
    let mut missing = Vec::new();
    let margin = kalshi_gen::margin::OPERATIONS.iter();
    for operation in kalshi_gen::OPERATIONS.iter().chain(margin) {
        for body in [None, Some(json!({}))] {
            let call = Call {
                operation,
                user: operation.authenticated.then(|| "alice".to_owned()),
                params: params(operation.path),
                query: Vec::new(),
                body,
                now_ms: 1_800_000_000_000,
            };
            let mut state = shared.state();
            if let Err(error) = api::dispatch(&mut state, &call)
                && error.code == api::NOT_IMPLEMENTED
            {
                missing.push(operation.name);
                break;
            }
        }
    }
    assert!(
        missing.is_empty(),
        "{} operations answer not_implemented: {missing:?}",
        missing.len()
    );
}

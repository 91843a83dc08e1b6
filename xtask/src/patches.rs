//! Named fixes applied to the spec before generation.
//!
//! Each patch names the upstream defect it works around and reports how many
//! places it changed. A patch that changes nothing fails generation: the
//! defect was fixed upstream (or moved), and the patch must be revisited
//! rather than silently carried along.

use serde_json::{Value, json};

/// A named edit of the spec tree; returns how many places it changed.
pub struct Patch {
    /// Shown in errors and in the generated file's header.
    pub name: &'static str,
    /// Applies the patch, or says why it no longer applies.
    pub apply: fn(&mut Value) -> Result<usize, String>,
}

/// Every patch, in the order they are applied.
pub const PATCHES: &[Patch] = &[
    Patch {
        name: "historical_fills_uniform_error_bodies",
        apply: historical_fills_uniform_error_bodies,
    },
    Patch {
        name: "omit_unset_request_integers",
        apply: omit_unset_request_integers,
    },
    Patch {
        name: "price_range_bounds_are_dollars",
        apply: price_range_bounds_are_dollars,
    },
    Patch {
        name: "typed_status_filters",
        apply: typed_status_filters,
    },
];

/// Applies every patch; fails naming the first one that no longer applies.
pub fn apply_all(doc: &mut Value) -> Result<Vec<(&'static str, usize)>, String> {
    PATCHES
        .iter()
        .map(|patch| match (patch.apply)(doc) {
            Ok(0) => Err(format!(
                "spec patch `{}` changed nothing: the upstream defect it fixes is gone or moved; \
                 update or delete the patch in xtask/src/patches.rs",
                patch.name
            )),
            Ok(changed) => Ok((patch.name, changed)),
            Err(why) => Err(format!(
                "spec patch `{}` no longer applies: {why}",
                patch.name
            )),
        })
        .collect()
}

/// Upstream defect: `GET /historical/fills` (GetFillsHistorical) declares its
/// 404 with the shared `ErrorResponse` body but its 400, 401 and 500 with no
/// body at all. progenitor requires one error type per operation and panics
/// (`response_types.len() <= 1`). The live API sends the same JSON error body
/// for all of them, so point the bodyless ones at the shared responses every
/// other operation uses.
fn historical_fills_uniform_error_bodies(doc: &mut Value) -> Result<usize, String> {
    let responses = doc
        .pointer_mut("/paths/~1historical~1fills/get/responses")
        .and_then(Value::as_object_mut)
        .ok_or("GET /historical/fills has no responses")?;
    let shared = [
        ("400", "BadRequestError"),
        ("401", "UnauthorizedError"),
        ("500", "InternalServerError"),
    ];
    let mut changed = 0;
    for (status, component) in shared {
        if let Some(response) = responses.get_mut(status) {
            let bodyless = response.get("$ref").is_none() && response.get("content").is_none();
            if bodyless {
                *response = json!({ "$ref": format!("#/components/responses/{component}") });
                changed += 1;
            }
        }
    }
    Ok(changed)
}

/// Request-body integers that the spec gives `default: 0`.
const UNSET_INTEGERS: [(&str, &str); 11] = [
    ("AmendOrderRequest", "exchange_index"),
    ("AmendOrderRequest", "subaccount"),
    ("BatchCancelOrdersRequestOrder", "exchange_index"),
    ("BatchCancelOrdersRequestOrder", "subaccount"),
    ("CreateOrderGroupRequest", "exchange_index"),
    ("CreateOrderRequest", "exchange_index"),
    ("CreateOrderRequest", "subaccount"),
    (
        "IntraExchangeInstanceTransferRequest",
        "destination_exchange_shard",
    ),
    (
        "IntraExchangeInstanceTransferRequest",
        "destination_subaccount",
    ),
    (
        "IntraExchangeInstanceTransferRequest",
        "source_exchange_shard",
    ),
    ("IntraExchangeInstanceTransferRequest", "source_subaccount"),
];

/// Upstream defect: these request-body integers (subaccount, exchange index,
/// shard) carry `default: 0`, so typify makes them plain integers that are
/// always serialized. A caller who never chose a subaccount would send
/// `"subaccount": 0`, and keys restricted to a subaccount reject requests for
/// a subaccount they do not own. Without the default the fields become
/// `Option` and are left out when unset; the exchange applies the same
/// default server-side.
fn omit_unset_request_integers(doc: &mut Value) -> Result<usize, String> {
    for (schema, property) in UNSET_INTEGERS {
        let pointer = format!("/components/schemas/{schema}/properties/{property}");
        let node = doc
            .pointer_mut(&pointer)
            .and_then(Value::as_object_mut)
            .ok_or_else(|| format!("{schema}.{property} is gone"))?;
        if node.remove("default") != Some(json!(0)) {
            return Err(format!("{schema}.{property} no longer has `default: 0`"));
        }
    }
    Ok(UNSET_INTEGERS.len())
}

/// Upstream defect: `PriceRange.start`, `.end` and `.step` are dollar amounts
/// ("Starting price for this range in dollars") typed as plain strings, so
/// tick sizes would reach users as `String`. Make them `FixedPointDollars`.
fn price_range_bounds_are_dollars(doc: &mut Value) -> Result<usize, String> {
    let mut changed = 0;
    for property in ["start", "end", "step"] {
        let pointer = format!("/components/schemas/PriceRange/properties/{property}");
        let node = doc
            .pointer_mut(&pointer)
            .ok_or_else(|| format!("PriceRange.{property} is gone"))?;
        if node.get("type") != Some(&json!("string")) || node.get("$ref").is_some() {
            return Err(format!("PriceRange.{property} is no longer a plain string"));
        }
        let description = node.get("description").cloned();
        let mut replacement = json!({ "$ref": "#/components/schemas/FixedPointDollars" });
        if let Some(description) = description {
            replacement = json!({ "allOf": [replacement], "description": description });
        }
        *node = replacement;
        changed += 1;
    }
    Ok(changed)
}

/// Status filters the spec types as a bare string although the values they
/// take are an enum elsewhere in the spec: (where, the enum it filters by).
const STATUS_FILTERS: [(&str, &str); 3] = [
    // `StatusQuery` (GetOrders): "Possible values depend on the endpoint";
    // its only user filters orders, whose status is `OrderStatus`.
    (
        "/components/parameters/StatusQuery",
        "#/components/schemas/OrderStatus",
    ),
    // GetRFQs: the values of `RFQ.status`.
    (
        "/paths/~1communications~1rfqs/get/parameters",
        "#/components/schemas/RFQ/properties/status",
    ),
    // GetQuotes: the values of `Quote.status`.
    (
        "/paths/~1communications~1quotes/get/parameters",
        "#/components/schemas/Quote/properties/status",
    ),
];

/// Upstream defect: the `status` filters of orders, RFQs and quotes are bare
/// strings, so a typo (`"open"` for orders) reaches the exchange instead of
/// failing to compile. Each gets the enum of the status it filters by: a
/// reference when that enum is a component (the filter of orders is then
/// the same `OrderStatus` type an order's `status` has), a copy of the
/// values when it is inline. Open, like every generated enum, so a status
/// Kalshi adds still passes. GetBlockTradeProposals' `status` stays a
/// string: the spec names no values for it anywhere.
fn typed_status_filters(doc: &mut Value) -> Result<usize, String> {
    for (location, source) in STATUS_FILTERS {
        let values = crate::spec::lookup(doc, source)
            .and_then(|s| {
                let s = crate::spec::resolve(doc, s);
                s.get("enum").cloned()
            })
            .ok_or_else(|| format!("{source} has no enum any more"))?;
        let schema = status_parameter_schema(doc, location)?;
        if schema.get("enum").is_some() || schema.get("$ref").is_some() {
            return Err(format!(
                "the status filter at {location} is typed upstream now"
            ));
        }
        if schema.get("type") != Some(&json!("string")) {
            return Err(format!(
                "the status filter at {location} is no longer a string"
            ));
        }
        if source.matches('/').count() == 3 {
            schema.clear();
            schema.insert("$ref".to_owned(), json!(source));
        } else {
            schema.insert("enum".to_owned(), values);
        }
    }
    Ok(STATUS_FILTERS.len())
}

/// The schema object of the `status` parameter at `location`: a parameter
/// component, or an operation's parameter list holding it inline.
fn status_parameter_schema<'a>(
    doc: &'a mut Value,
    location: &str,
) -> Result<&'a mut serde_json::Map<String, Value>, String> {
    let node = doc
        .pointer_mut(location)
        .ok_or_else(|| format!("{location} is gone"))?;
    let parameter = match node {
        Value::Array(list) => list
            .iter_mut()
            .find(|p| p.get("name") == Some(&json!("status")))
            .ok_or_else(|| format!("{location} has no inline `status` parameter"))?,
        other => other,
    };
    parameter
        .get_mut("schema")
        .and_then(Value::as_object_mut)
        .ok_or_else(|| format!("the status filter at {location} has no schema"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vendored() -> Value {
        crate::spec::parse(kalshi_openapi::SPEC_YAML).expect("vendored spec parses")
    }

    #[test]
    fn every_patch_applies_to_the_vendored_spec() {
        let mut doc = vendored();
        let applied = apply_all(&mut doc).expect("patches apply");
        assert_eq!(applied.len(), PATCHES.len());
    }

    #[test]
    fn a_patch_that_no_longer_applies_fails_loudly() {
        let mut doc = vendored();
        apply_all(&mut doc).expect("first application");
        // Applying again finds nothing to fix: that must be an error.
        let err = apply_all(&mut doc).unwrap_err();
        assert!(
            err.contains("historical_fills_uniform_error_bodies"),
            "{err}"
        );
    }

    #[test]
    fn status_filters_get_the_enum_they_filter_by() {
        let mut doc = vendored();
        typed_status_filters(&mut doc).unwrap();
        let orders = &doc["components"]["parameters"]["StatusQuery"]["schema"];
        assert_eq!(orders, &json!({"$ref": "#/components/schemas/OrderStatus"}));
        let rfqs = &doc["paths"]["/communications/rfqs"]["get"]["parameters"];
        let status = rfqs
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["name"] == "status")
            .unwrap();
        assert_eq!(status["schema"]["enum"], json!(["open", "closed"]));
    }

    #[test]
    fn unset_integer_defaults_are_removed() {
        let mut doc = vendored();
        omit_unset_request_integers(&mut doc).unwrap();
        let node = &doc["components"]["schemas"]["CreateOrderRequest"]["properties"]["subaccount"];
        assert!(node.get("default").is_none());
    }
}

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

/// The margin (perpetuals) document's patches, in the order they are applied.
pub const MARGIN_PATCHES: &[Patch] = &[
    Patch {
        name: "margin_fee_tier_rates_uniform_error_bodies",
        apply: margin_fee_tier_rates_uniform_error_bodies,
    },
    Patch {
        name: "margin_numbers_are_ratios",
        apply: margin_numbers_are_ratios,
    },
    Patch {
        name: "margin_dollar_amounts_stay_dollars",
        apply: margin_dollar_amounts_stay_dollars,
    },
    Patch {
        name: "margin_dollar_strings_are_dollars",
        apply: margin_dollar_strings_are_dollars,
    },
];

/// Margin properties documented as fixed-point dollar strings but typed
/// plain `string`: `(schema, property, values of a map?)`.
const MARGIN_DOLLAR_STRINGS: [(&str, &str, bool); 7] = [
    ("MarginFill", "price", false),
    ("MarginFill", "entry_price", false),
    ("MarginFill", "fees", false),
    ("MarginFill", "realized_pnl", false),
    ("MarginTrade", "price", false),
    (
        "NotionalRiskLimitResponse",
        "default_notional_value_risk_limit",
        false,
    ),
    (
        "NotionalRiskLimitResponse",
        "notional_value_risk_limits_by_market_ticker",
        true,
    ),
];

/// Upstream defect (margin document): a fill's price, entry price, fees and
/// realized P&L, a trade's price and the notional risk limits are described
/// as fixed-point dollars ("Fill price in fixed-point dollars", "5000.0000")
/// but typed `string`, so they would reach users as text. Each is pointed at
/// `FixedPointDollars`, i.e. `Dollars`. A listed property that is no longer
/// a plain string fails the patch (fixed upstream: revisit the list).
fn margin_dollar_strings_are_dollars(doc: &mut Value) -> Result<usize, String> {
    let dollars = json!({ "$ref": "#/components/schemas/FixedPointDollars" });
    for (schema, property, map) in MARGIN_DOLLAR_STRINGS {
        let pointer = format!("/components/schemas/{schema}/properties/{property}");
        let node = doc
            .pointer_mut(&pointer)
            .ok_or_else(|| format!("{schema}.{property} is gone"))?;
        let target = if map {
            node.get_mut("additionalProperties")
                .ok_or_else(|| format!("{schema}.{property} is no longer a map"))?
        } else {
            node
        };
        if target.get("type").and_then(Value::as_str) != Some("string") {
            return Err(format!("{schema}.{property} is no longer a plain string"));
        }
        *target = dollars.clone();
    }
    Ok(MARGIN_DOLLAR_STRINGS.len())
}

/// Upstream shape (margin document): two request amounts
/// (`UpdateFCMNotionalRiskLimitRequest.notional_value_risk_limit`,
/// `UpdateFCMSubtraderRiskControlsRequest.im_cap`) are `allOf:
/// [FixedPointDollars]` with a `pattern` and `maxLength` beside it, which
/// makes typify mint a new string type instead of using `Dollars`. The
/// pattern only restates what `Dollars` holds (a plain decimal, up to 4
/// places once written); non-negativity is checked by the hand-written
/// layer. Dropping the siblings keeps the amounts `Dollars`.
fn margin_dollar_amounts_stay_dollars(doc: &mut Value) -> Result<usize, String> {
    let schemas = doc
        .pointer_mut("/components/schemas")
        .and_then(Value::as_object_mut)
        .ok_or("the margin document has no components/schemas")?;
    let mut changed = 0;
    for schema in schemas.values_mut() {
        let Some(properties) = schema.get_mut("properties").and_then(Value::as_object_mut) else {
            continue;
        };
        for property in properties.values_mut() {
            let dollars = property
                .pointer("/allOf/0/$ref")
                .and_then(Value::as_str)
                .is_some_and(|r| r.ends_with("/FixedPointDollars"));
            if let (true, Some(map)) = (dollars, property.as_object_mut())
                && map.remove("pattern").is_some()
            {
                map.remove("maxLength");
                changed += 1;
            }
        }
    }
    Ok(changed)
}

/// The schema name the margin document's decimal numbers are given, which
/// the generator maps to `kalshi_gen::Ratio`.
pub const RATIO_SCHEMA: &str = "Ratio";

/// Upstream shape (margin document): rates, margin-ratio thresholds,
/// leverage and return on equity are bare `type: number` properties (JSON
/// numbers), which typify makes `f64`. Money-adjacent figures must not be
/// floats in this SDK, so each is pointed at one added schema, `Ratio`, that
/// the generator replaces with the Decimal newtype `kalshi_gen::Ratio`.
/// Only `components/schemas` holds such numbers today; the patch fails if
/// the name `Ratio` is ever taken by Kalshi.
fn margin_numbers_are_ratios(doc: &mut Value) -> Result<usize, String> {
    let schemas = doc
        .pointer_mut("/components/schemas")
        .and_then(Value::as_object_mut)
        .ok_or("the margin document has no components/schemas")?;
    if schemas.contains_key(RATIO_SCHEMA) {
        return Err(format!("the document defines `{RATIO_SCHEMA}` itself now"));
    }
    let mut changed = 0;
    for schema in schemas.values_mut() {
        changed += numbers_to_ratio(schema);
    }
    schemas.insert(
        RATIO_SCHEMA.to_owned(),
        json!({
            "type": "number",
            "format": "double",
            "description": "A dimensionless decimal sent as a JSON number (rate, ratio, leverage)."
        }),
    );
    Ok(changed)
}

/// Replaces every `type: number` schema under `node` with a `Ratio`
/// reference; returns how many.
fn numbers_to_ratio(node: &mut Value) -> usize {
    if node.get("type").and_then(Value::as_str) == Some("number") {
        *node = json!({ "$ref": format!("#/components/schemas/{RATIO_SCHEMA}") });
        return 1;
    }
    match node {
        Value::Object(map) => map.values_mut().map(numbers_to_ratio).sum(),
        Value::Array(items) => items.iter_mut().map(numbers_to_ratio).sum(),
        _ => 0,
    }
}

/// Applies every patch of the Trade API document; fails naming the first one
/// that no longer applies.
pub fn apply_all(doc: &mut Value) -> Result<Vec<(&'static str, usize)>, String> {
    apply(doc, PATCHES)
}

/// Applies `patches` in order; fails naming the first one that no longer
/// applies.
pub fn apply(doc: &mut Value, patches: &[Patch]) -> Result<Vec<(&'static str, usize)>, String> {
    patches
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

/// Upstream defect (margin document): `GET /margin/fee_tier_rates`
/// (GetMarginFeeTierRates) declares its 401 and 500 with the shared
/// `ErrorResponse` body but its 403 with none, which trips progenitor's
/// one-error-type rule as above. Every other margin operation's 403 is the
/// shared `ForbiddenError` response, so this one is pointed at it too.
fn margin_fee_tier_rates_uniform_error_bodies(doc: &mut Value) -> Result<usize, String> {
    let forbidden = doc
        .pointer_mut("/paths/~1margin~1fee_tier_rates/get/responses/403")
        .ok_or("GET /margin/fee_tier_rates has no 403 response")?;
    if forbidden.get("$ref").is_some() || forbidden.get("content").is_some() {
        return Ok(0);
    }
    *forbidden = json!({ "$ref": "#/components/responses/ForbiddenError" });
    Ok(1)
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

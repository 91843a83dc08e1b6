//! Decimal money and open enums in the generated types.

use kalshi_gen::types::{Market, MarketStatus, Order, OrderStatus};
use kalshi_gen::{Count, Dollars};
use rust_decimal::Decimal;
use serde_json::json;

fn order_json(status: &str) -> serde_json::Value {
    json!({
        "order_id": "ord-1", "user_id": "u-1", "client_order_id": "c-1", "ticker": "KX-1",
        "side": "yes", "action": "buy", "type": "limit", "status": status,
        "book_side": "bid", "outcome_side": "yes",
        "yes_price_dollars": "0.5600", "no_price_dollars": "0.4400",
        "fill_count_fp": "2.00", "remaining_count_fp": "8.00", "initial_count_fp": "10.00",
        "taker_fees_dollars": "0.010000", "maker_fees_dollars": "0.0000",
        "taker_fill_cost_dollars": "1.12", "maker_fill_cost_dollars": "0.0000",
        "expiration_time": null, "created_time": "2026-11-01T12:00:00Z",
        "self_trade_prevention_type": "taker_at_cross"
    })
}

#[test]
fn known_enum_values_decode_to_their_variants() {
    let order: Order = serde_json::from_value(order_json("resting")).expect("order decodes");
    assert_eq!(order.status, OrderStatus::Resting);
    assert_eq!(order.yes_price_dollars, "0.56".parse::<Dollars>().unwrap());
    assert_eq!(order.remaining_count_fp.value(), Decimal::new(800, 2));
}

#[test]
fn a_status_added_by_kalshi_later_decodes_and_round_trips() {
    let order: Order =
        serde_json::from_value(order_json("pending_review")).expect("order still decodes");
    assert_eq!(order.status, OrderStatus::Unknown("pending_review".into()));
    assert_eq!(order.status.to_string(), "pending_review");
    let back = serde_json::to_value(&order).unwrap();
    assert_eq!(back["status"], "pending_review");
}

#[test]
fn every_value_serializes_back_exactly_as_received() {
    for text in [
        "resting",
        "canceled",
        "executed",
        "",
        "RESTING",
        "new-status",
    ] {
        let status: OrderStatus = serde_json::from_value(json!(text)).unwrap();
        assert_eq!(
            serde_json::to_value(&status).unwrap(),
            json!(text),
            "{text:?}"
        );
        assert_eq!(status.as_str(), text);
    }
    assert_eq!(
        "resting".parse::<OrderStatus>().unwrap(),
        OrderStatus::Resting
    );
}

#[test]
fn open_enums_work_in_query_parameters_and_nested_types() {
    let status: MarketStatus = serde_json::from_value(json!("halted_for_review")).unwrap();
    assert!(matches!(status, MarketStatus::Unknown(ref s) if s == "halted_for_review"));
    let market = json!({"status": "active"});
    assert_eq!(
        serde_json::from_value::<MarketStatus>(market["status"].clone()).unwrap(),
        MarketStatus::Active
    );
    // A whole Market with a status unknown to these bindings still decodes.
    let err = serde_json::from_value::<Market>(json!({"status": "brand_new"}))
        .unwrap_err()
        .to_string();
    assert!(!err.contains("unknown variant"), "{err}");
}

#[test]
fn decimals_keep_every_place_kalshi_sends() {
    let order: Order = serde_json::from_value(order_json("resting")).unwrap();
    assert_eq!(order.taker_fees_dollars.to_string(), "0.010000");
    assert_eq!(order.maker_fill_cost_dollars.to_string(), "0.0000");
    let count: Count = serde_json::from_value(json!("2.5")).unwrap();
    assert_eq!(serde_json::to_value(count).unwrap(), json!("2.50"));
}

#[test]
fn a_generated_private_key_never_appears_in_debug_output() {
    let response: kalshi_gen::types::GenerateApiKeyResponse = serde_json::from_value(json!({
        "api_key_id": "key-1",
        "private_key": "-----BEGIN RSA PRIVATE KEY-----\nMIIEsecretsecret\n-----END RSA PRIVATE KEY-----"
    }))
    .expect("decodes");
    let debug = format!("{response:?} {response:#?}");
    assert!(!debug.contains("MIIEsecret"), "{debug}");
    assert!(
        debug.contains("key-1") && debug.contains("<redacted>"),
        "{debug}"
    );
    assert!(
        response.private_key.contains("MIIEsecret"),
        "the key itself is kept for the caller"
    );
}

/// Every string enum of the bindings is open, the ones 3.34.0 added
/// included: a value Kalshi adds later decodes instead of failing.
#[test]
fn every_generated_string_enum_has_an_unknown_variant() {
    let path = xtask::workspace_root().join(xtask::regen::GENERATED);
    let file = syn::parse_file(&std::fs::read_to_string(path).unwrap()).unwrap();
    let types = file
        .items
        .into_iter()
        .find_map(|item| match item {
            syn::Item::Mod(m) if m.ident == "types" => m.content.map(|(_, items)| items),
            _ => None,
        })
        .expect("types module");
    let mut open = Vec::new();
    let mut closed = Vec::new();
    for item in types {
        let syn::Item::Enum(e) = item else { continue };
        let has_unknown = e.variants.iter().any(|v| v.ident == "Unknown");
        let unit_only = e
            .variants
            .iter()
            .filter(|v| v.ident != "Unknown")
            .all(|v| matches!(v.fields, syn::Fields::Unit));
        match (unit_only, has_unknown) {
            (true, true) => open.push(e.ident.to_string()),
            (true, false) => closed.push(e.ident.to_string()),
            (false, _) => {}
        }
    }
    assert!(closed.is_empty(), "closed string enums: {closed:?}");
    for new in [
        "RfqBatchStatus",
        "RfqBatchQuoteStatus",
        "AcceptRfqBatchRequestAcceptedSide",
    ] {
        assert!(open.iter().any(|e| e == new), "{new} is not open: {open:?}");
    }
    let status: kalshi_gen::types::RfqBatchStatus =
        serde_json::from_value(serde_json::json!("expired")).unwrap();
    assert_eq!(
        status,
        kalshi_gen::types::RfqBatchStatus::Unknown("expired".into())
    );
}

/// The margin bindings: Kalshi's own `unknown` status is the known variant
/// `UnknownValue` (as in the stream bindings), a new value is `Unknown`, and
/// rates are exact decimals.
#[test]
fn margin_types_keep_kalshis_unknown_and_exact_rates() {
    use kalshi_gen::margin::types::{ExitTriggerStatus, MarginFundingRate};
    let known: ExitTriggerStatus = serde_json::from_str(r#""unknown""#).unwrap();
    assert_eq!(known, ExitTriggerStatus::UnknownValue);
    let added: ExitTriggerStatus = serde_json::from_str(r#""paused""#).unwrap();
    assert_eq!(added, ExitTriggerStatus::Unknown("paused".to_owned()));
    assert_eq!(serde_json::to_string(&added).unwrap(), r#""paused""#);

    let rate: MarginFundingRate = serde_json::from_value(serde_json::json!({
        "funding_rate": 0.0003,
        "funding_time": "2026-12-01T08:00:00Z",
        "mark_price": "101.2500",
        "market_ticker": "KXBTCPERP"
    }))
    .unwrap();
    assert_eq!(rate.funding_rate.value().to_string(), "0.0003");
    let back = serde_json::to_value(&rate).unwrap();
    assert_eq!(back["funding_rate"], serde_json::json!(0.0003));
    assert_eq!(back["mark_price"], "101.2500");
}

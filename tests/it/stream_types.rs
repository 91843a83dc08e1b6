//! The generated WebSocket bindings against the document they come from:
//! every channel and message has a type, every example of the document
//! decodes to its message and serializes back to the same JSON, and what
//! Kalshi may add later (types, fields, enum values, error codes) decodes.

use std::collections::BTreeSet;

use kalshi_gen::stream::{CHANNELS, Command, ERROR_CODES, SERVER_MESSAGES, ServerMessage, types};
use serde_json::{Value, json};

fn document() -> Value {
    xtask::spec::parse(kalshi_openapi::asyncapi::YAML).expect("the AsyncAPI document parses")
}

/// `(message name, example payload)` for every example of the document.
fn examples(doc: &Value) -> Vec<(String, Value)> {
    let messages = doc["components"]["messages"].as_object().expect("messages");
    messages
        .iter()
        .flat_map(|(name, message)| {
            message["examples"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(move |e| Some((name.clone(), e.get("payload")?.clone())))
        })
        .filter(|(_, payload)| payload.is_object())
        .collect()
}

/// Numbers compare by value: the document writes `0.5` where serde writes `0.5`.
fn normalized(value: &Value) -> Value {
    serde_json::from_str(&value.to_string()).expect("reparses")
}

#[test]
fn every_channel_and_message_of_the_document_has_a_generated_type() {
    let doc = document();
    let channels: BTreeSet<&str> = doc["channels"]
        .as_object()
        .expect("channels")
        .keys()
        .map(String::as_str)
        .collect();
    let generated: BTreeSet<&str> = CHANNELS.iter().map(|c| c.name).collect();
    assert_eq!(generated, channels);
    assert_eq!(channels.len(), 15);

    let server: BTreeSet<&str> = SERVER_MESSAGES.iter().map(|(name, _)| *name).collect();
    let mut commands = 0;
    for (name, message) in doc["components"]["messages"].as_object().expect("messages") {
        let Some(schema) = xtask::spec::ref_name(&message["payload"]) else {
            continue; // ping and pong are WebSocket control frames
        };
        let payload = &doc["components"]["schemas"][schema];
        if payload["properties"]["cmd"].get("const").is_some() {
            commands += 1;
        } else {
            assert!(
                server.contains(name.as_str()),
                "no ServerMessage variant for {name}"
            );
        }
    }
    assert_eq!(server.len() + commands, 47);
    for channel in CHANNELS {
        for kind in channel.message_types {
            assert!(
                SERVER_MESSAGES.iter().any(|(_, k)| k == kind),
                "{}: {kind}",
                channel.name
            );
        }
    }
}

#[test]
fn every_example_decodes_to_its_message_and_back_to_the_same_json() {
    let doc = document();
    let examples = examples(&doc);
    assert!(examples.len() >= 70, "only {} examples", examples.len());
    let mut server = 0;
    for (name, payload) in &examples {
        let text = payload.to_string();
        if payload.get("cmd").is_some() {
            let command = Command::decode(&text).unwrap_or_else(|e| panic!("{name}: {e}"));
            assert_eq!(
                normalized(&command.to_json().unwrap()),
                normalized(payload),
                "{name}"
            );
            continue;
        }
        server += 1;
        let message = ServerMessage::decode(&text).unwrap_or_else(|e| panic!("{name}: {e}"));
        let variant = SERVER_MESSAGES
            .iter()
            .find(|(n, _)| n == name)
            .unwrap_or_else(|| panic!("{name} is not a server message"));
        assert_eq!(message.kind(), variant.1, "{name}");
        assert!(!matches!(message, ServerMessage::Unknown(_)), "{name}");
        // The message decoded is the one the example belongs to.
        let debug = format!("{message:?}");
        let expected = heck::ToUpperCamelCase::to_upper_camel_case(name.as_str());
        assert!(
            debug.starts_with(&expected),
            "{name} decoded as {debug:.60}"
        );
        assert_eq!(
            normalized(&message.to_json().unwrap()),
            normalized(payload),
            "{name}"
        );
        assert_eq!(message.sid(), payload["sid"].as_u64(), "{name}");
        assert_eq!(message.seq(), payload["seq"].as_u64(), "{name}");
    }
    assert!(server >= 40);
}

#[test]
fn what_kalshi_adds_later_decodes() {
    let unknown = ServerMessage::decode(r#"{"type":"weather_alert","sid":9,"seq":3,"msg":{}}"#)
        .expect("an unknown type decodes");
    let ServerMessage::Unknown(ref kept) = unknown else {
        panic!("{unknown:?}");
    };
    assert_eq!(
        (kept.kind.as_str(), unknown.sid(), unknown.seq()),
        ("weather_alert", Some(9), Some(3))
    );
    assert_eq!(unknown.to_json().unwrap()["msg"], json!({}));

    let trade = ServerMessage::decode(
        r#"{"type":"trade","sid":1,"seq":1,"brand_new_field":true,"msg":{"trade_id":"9b0f6b43-5b68-4f9f-9f02-9a2d1b8ac1a1","market_ticker":"KX",
        "yes_price_dollars":"0.56","no_price_dollars":"0.44","count_fp":"3.00","taker_side":"maybe",
        "taker_outcome_side":"yes","taker_book_side":"bid","is_block_trade":false,"ts":1,"ts_ms":1000,
        "also_new":[1,2]}}"#,
    )
    .expect("unknown fields and enum values decode");
    let ServerMessage::Trade(trade) = trade else {
        panic!("{trade:?}");
    };
    assert_eq!(trade.msg.yes_price_dollars.to_string(), "0.5600");
    assert_eq!(format!("{:?}", trade.msg.taker_side), r#"Unknown("maybe")"#);

    let error = ServerMessage::decode(r#"{"type":"error","id":4,"msg":{"code":99,"msg":"new"}}"#)
        .expect("an unknown error code decodes");
    let ServerMessage::ErrorResponse(error) = error else {
        panic!("{error:?}");
    };
    assert_eq!(error.msg.code, 99);
    assert!(
        ERROR_CODES
            .iter()
            .any(|(code, name, _)| *code == 25 && name.contains("overflow"))
    );

    let bad_price = ServerMessage::decode(
        r#"{"type":"trade","sid":1,"seq":1,"msg":{"trade_id":"9b0f6b43-5b68-4f9f-9f02-9a2d1b8ac1a1","market_ticker":"KX",
        "yes_price_dollars":"8e-2","no_price_dollars":"0.44","count_fp":"3.00","taker_side":"yes",
        "taker_outcome_side":"yes","taker_book_side":"bid","is_block_trade":false,"ts":1,"ts_ms":1000}}"#,
    );
    assert!(bad_price.is_err(), "an exponent in a price is refused");
}

#[test]
fn money_counts_and_levels_are_typed() {
    let snapshot = ServerMessage::decode(
        r#"{"type":"orderbook_snapshot","sid":2,"seq":2,"msg":{"market_ticker":"KX","market_id":
        "9b0f6b43-5b68-4f9f-9f02-9a2d1b8ac1a1","clock":7,"yes_dollars_fp":[["0.08","300.00"]]}}"#,
    )
    .expect("decodes");
    let ServerMessage::OrderbookSnapshot(snapshot) = snapshot else {
        panic!("{snapshot:?}");
    };
    let level: kalshi_gen::PriceLevel = snapshot.msg.yes_dollars_fp[0];
    assert_eq!(
        (level.price.to_string(), level.count.to_string()),
        ("0.0800".into(), "300.00".into())
    );
    assert!(
        snapshot.msg.no_dollars_fp.is_empty(),
        "an absent side is an empty side"
    );

    let generated =
        std::fs::read_to_string(xtask::workspace_root().join(xtask::regen::STREAM_GENERATED))
            .unwrap();
    let file = syn::parse_file(&generated).unwrap();
    let mut offenders = Vec::new();
    let mut checked = 0;
    for item in file.items {
        let syn::Item::Mod(m) = item else { continue };
        for inner in m.content.into_iter().flat_map(|(_, items)| items) {
            let syn::Item::Struct(s) = inner else {
                continue;
            };
            for field in &s.fields {
                let Some(name) = field.ident.as_ref().map(ToString::to_string) else {
                    continue;
                };
                if !(name.ends_with("_dollars") || name.ends_with("_fp")) {
                    continue;
                }
                checked += 1;
                let ty = quote::ToTokens::to_token_stream(&field.ty).to_string();
                if ty.contains("String") || ty.contains("f64") {
                    offenders.push(format!("{}.{name}: {ty}", s.ident));
                }
            }
        }
    }
    assert!(checked > 60, "only {checked} money fields found");
    assert!(offenders.is_empty(), "{offenders:#?}");
}

/// An unset subscribe option is left out, so the server's default applies.
#[test]
fn a_subscribe_sends_only_what_was_set() {
    let params: types::SubscribeCommandPayloadParams =
        serde_json::from_value(json!({"channels": ["ticker"]})).unwrap();
    let command: types::SubscribeCommandPayload =
        serde_json::from_value(json!({"id": 1, "params": params})).unwrap();
    assert_eq!(
        Command::SubscribeCommand(command).to_json().unwrap(),
        json!({"cmd": "subscribe", "id": 1, "params": {"channels": ["ticker"]}})
    );
}

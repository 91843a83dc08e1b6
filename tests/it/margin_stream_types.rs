//! The generated margin WebSocket bindings (`kalshi_gen::margin::stream`)
//! against the margin AsyncAPI document, as `stream_types` does for the
//! Trade API's: every channel and message has a type, and every example
//! decodes to its message and serializes back to the same JSON.

use std::collections::BTreeSet;

use kalshi_gen::margin::stream::{CHANNELS, Command, ERROR_CODES, SERVER_MESSAGES, ServerMessage};
use serde_json::Value;

fn document() -> Value {
    xtask::spec::parse(kalshi_openapi::margin::asyncapi::YAML)
        .expect("the margin AsyncAPI document parses")
}

/// Numbers compare by value.
fn normalized(value: &Value) -> Value {
    serde_json::from_str(&value.to_string()).expect("reparses")
}

#[test]
fn every_margin_channel_and_message_has_a_generated_type() {
    let doc = document();
    let channels: BTreeSet<&str> = doc["channels"]
        .as_object()
        .expect("channels")
        .keys()
        .map(String::as_str)
        .collect();
    let generated: BTreeSet<&str> = CHANNELS.iter().map(|c| c.name).collect();
    assert_eq!(generated, channels);
    assert_eq!(channels.len(), 9);
    assert!(channels.contains("corporate_actions"), "{channels:?}");

    let server: BTreeSet<&str> = SERVER_MESSAGES.iter().map(|(name, _)| *name).collect();
    for (name, message) in doc["components"]["messages"].as_object().expect("messages") {
        let Some(schema) = xtask::spec::ref_name(&message["payload"]) else {
            continue; // ping and pong are WebSocket control frames
        };
        let payload = &doc["components"]["schemas"][schema];
        if payload["properties"]["cmd"].get("const").is_none() {
            assert!(
                server.contains(name.as_str()),
                "no ServerMessage variant for {name}"
            );
        }
    }
    for channel in CHANNELS {
        for kind in channel.message_types {
            assert!(
                SERVER_MESSAGES.iter().any(|(_, k)| k == kind),
                "{}: {kind}",
                channel.name
            );
        }
    }
    // The codes of the document's error payload, named by the Trade API's
    // table since the document says the numbering is shared.
    assert!(ERROR_CODES.contains(&1) && ERROR_CODES.contains(&28));
    for code in ERROR_CODES.iter().filter(|c| ![23, 24, 28].contains(*c)) {
        assert!(
            kalshi_gen::stream::ERROR_CODES
                .iter()
                .any(|(c, _, _)| c == code),
            "margin error code {code} has no name in the Trade API's table"
        );
    }
}

#[test]
fn every_margin_example_decodes_and_serializes_back() {
    let doc = document();
    let mut checked = 0;
    for (name, message) in doc["components"]["messages"].as_object().expect("messages") {
        for example in message["examples"].as_array().into_iter().flatten() {
            let Some(payload) = example.get("payload").filter(|p| p.is_object()) else {
                continue;
            };
            let text = payload.to_string();
            checked += 1;
            if payload.get("cmd").is_some() {
                let command = Command::decode(&text).unwrap_or_else(|e| panic!("{name}: {e}"));
                assert_eq!(
                    normalized(&command.to_json().unwrap()),
                    normalized(payload),
                    "{name}"
                );
                continue;
            }
            let decoded = ServerMessage::decode(&text).unwrap_or_else(|e| panic!("{name}: {e}"));
            assert!(!matches!(decoded, ServerMessage::Unknown(_)), "{name}");
            let expected = heck::ToUpperCamelCase::to_upper_camel_case(name.as_str());
            let debug = format!("{decoded:?}");
            assert!(
                debug.starts_with(&expected),
                "{name} decoded as {debug:.60}"
            );
            assert_eq!(
                normalized(&decoded.to_json().unwrap()),
                normalized(payload),
                "{name}"
            );
        }
    }
    // The margin document carries one JSON example today (order group
    // updates); frames of every channel are checked once the simulator
    // streams margin markets.
    assert!(checked >= 1, "no example decoded");
}

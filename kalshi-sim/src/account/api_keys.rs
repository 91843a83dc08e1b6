//! API keys: listing, registering a public key, generating a key pair,
//! deleting, and what a key made through the API may do.
//!
//! Every key lives in `State::keys`, which authenticates requests, so a key
//! created or generated here signs the very next request and a deleted one
//! is refused with 401. Keys given to the simulator at start-up are listed
//! too, as unrestricted keys named by their id.
//!
//! Restrictions are enforced before a request runs ([`authorize`]):
//! * scopes: `read` grants every GET, `write` every other method;
//!   `read::portfolio_balance` grants the balance, `write::trade` order and
//!   order-group writes, `write::transfer` transfers, and the
//!   `*::block_trade_accept` scopes the block-trade endpoints. A request
//!   the key's scopes do not grant is refused with 403.
//! * a subaccount: every subaccount parameter of the request must name
//!   it, and one left out is set to it (Kalshi: "restricted keys default to
//!   their locked subaccount"); creating subaccounts and moving cash
//!   between them is refused with 403; the subaccount balances list only
//!   its own.

use std::collections::HashMap;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde_json::{Value, json};

use super::{bad, subaccounts_of};
use crate::State;
use crate::api::ok;
use crate::http::{Answer, ApiErr, Call};
use crate::{ApiKey, PublicKey};

/// The scopes of the spec's `ApiKeyScope`.
const SCOPES: [&str; 8] = [
    "read",
    "write",
    "read::block_trade_accept",
    "read::portfolio_balance",
    "write::trade",
    "write::transfer",
    "write::fcm_risk",
    "write::block_trade_accept",
];

/// What the simulator knows about the keys made through the API.
#[derive(Debug, Default)]
pub(super) struct Keys {
    by_id: HashMap<String, KeyMeta>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct KeyMeta {
    name: String,
    scopes: Vec<String>,
    subaccount: Option<u32>,
}

impl KeyMeta {
    /// Whether the scopes grant `operation`.
    fn grants(&self, operation: &kalshi_gen::Operation) -> bool {
        let has = |scope: &str| self.scopes.iter().any(|s| s == scope);
        let name = operation.name;
        if operation.method == "GET" {
            has("read")
                || (has("read::portfolio_balance") && name == "get_balance")
                || (has("read::block_trade_accept") && name.contains("block_trade"))
        } else {
            has("write")
                || (has("write::trade") && matches!(operation.tag, "orders" | "order-groups"))
                || (has("write::transfer") && name.contains("transfer"))
                || (has("write::block_trade_accept") && name.contains("block_trade"))
                || (has("write::fcm_risk") && operation.tag == "fcm")
        }
    }
}

/// The spec's `ApiKey` of one key of `State::keys`.
fn key_json(state: &State, id: &str) -> Value {
    let meta = state.account.keys.by_id.get(id);
    let mut json = json!({
        "api_key_id": id,
        "name": meta.map_or(id, |m| m.name.as_str()),
        "scopes": meta.map_or_else(|| vec!["read".to_owned(), "write".to_owned()], |m| m.scopes.clone()),
    });
    if let Some(subaccount) = meta.and_then(|m| m.subaccount) {
        json["subaccount"] = json!(subaccount);
    }
    json
}

/// The caller's keys, by id. No key of the simulator is bound to an FCM
/// subtrader, so asking for one lists none.
pub(super) fn list(state: &State, call: &Call) -> Answer {
    let mut ids: Vec<&str> = state
        .keys
        .iter()
        .filter(|(_, (user, _))| user == call.user())
        .map(|(id, _)| id.as_str())
        .collect();
    ids.sort_unstable();
    let keys: Vec<Value> = if call.query("fcm_subtrader_id").is_some() {
        Vec::new()
    } else {
        ids.into_iter().map(|id| key_json(state, id)).collect()
    };
    ok(json!({ "api_keys": keys }))
}

/// `name`, `scopes` and `subaccount` of a create or generate body.
fn meta(state: &State, call: &Call) -> Result<KeyMeta, ApiErr> {
    let body = call.body();
    let name = body["name"]
        .as_str()
        .filter(|n| !n.trim().is_empty() && n.len() <= 200)
        .ok_or_else(|| bad("invalid_parameters", "`name` must be 1 to 200 characters"))?;
    if !body["fcm_subtrader_id"].is_null() {
        return Err(ApiErr::new(
            403,
            "fcm_member_required",
            "only FCM members can bind a key to a subtrader",
        ));
    }
    Ok(KeyMeta {
        name: name.to_owned(),
        scopes: scopes(&body["scopes"])?,
        subaccount: key_subaccount(state, call)?,
    })
}

/// The requested scopes, all of them when none are named (absent or
/// empty); `write` needs `read`.
fn scopes(value: &Value) -> Result<Vec<String>, ApiErr> {
    let full = || vec!["read".to_owned(), "write".to_owned()];
    let items = match value {
        Value::Null => return Ok(full()),
        Value::Array(items) if items.is_empty() => return Ok(full()),
        Value::Array(items) => items,
        _ => return Err(bad("invalid_parameters", "`scopes` must be an array")),
    };
    let mut scopes: Vec<String> = Vec::new();
    for item in items {
        let scope = item
            .as_str()
            .filter(|s| SCOPES.contains(s))
            .ok_or_else(|| bad("invalid_scope", &format!("unknown scope {item}")))?;
        if !scopes.iter().any(|s| s == scope) {
            scopes.push(scope.to_owned());
        }
    }
    if scopes.iter().any(|s| s == "write") && !scopes.iter().any(|s| s == "read") {
        return Err(bad("invalid_scope", "the write scope requires read"));
    }
    Ok(scopes)
}

/// The subaccount a new key is locked to: one the caller has.
fn key_subaccount(state: &State, call: &Call) -> Result<Option<u32>, ApiErr> {
    let value = &call.body()["subaccount"];
    if value.is_null() {
        return Ok(None);
    }
    let number = value
        .as_u64()
        .filter(|n| *n <= 63)
        .and_then(|n| u32::try_from(n).ok())
        .ok_or_else(|| bad("invalid_subaccount", "`subaccount` must be 0 to 63"))?;
    if !subaccounts_of(state, call.user()).contains(&number) {
        return Err(bad(
            "invalid_subaccount",
            &format!("subaccount {number} does not exist"),
        ));
    }
    Ok(Some(number))
}

/// Accepts `public_key` for signing the caller's requests from now on.
fn register(state: &mut State, call: &Call, meta: KeyMeta, public_key: PublicKey) -> String {
    let id = uuid::Uuid::new_v4().to_string();
    state
        .keys
        .insert(id.clone(), (call.user().to_owned(), public_key));
    state.account.keys.by_id.insert(id.clone(), meta);
    id
}

/// Registers the caller's own public key (RSA or Ed25519, SPKI PEM).
pub(super) fn create(state: &mut State, call: &Call) -> Answer {
    let meta = meta(state, call)?;
    let pem = call.body()["public_key"]
        .as_str()
        .ok_or_else(|| bad("invalid_parameters", "`public_key` is required"))?;
    let public_key = PublicKey::from_pem(pem).map_err(|e| {
        bad(
            "invalid_public_key",
            &format!("`public_key` is not an RSA or Ed25519 public key in PEM: {e}"),
        )
    })?;
    let id = register(state, call, meta, public_key);
    Ok((201, Some(json!({ "api_key_id": id }))))
}

/// Makes a key pair (RSA 2048 by default, or Ed25519) and hands out the
/// private key, once: PKCS#1 PEM for RSA, PKCS#8 PEM for Ed25519, as the
/// spec says.
pub(super) fn generate(state: &mut State, call: &Call) -> Answer {
    let meta = meta(state, call)?;
    let key_type = match call.body()["key_type"].as_str() {
        None if call.body()["key_type"].is_null() => "rsa",
        Some(t @ ("rsa" | "ed25519")) => t,
        _ => {
            return Err(bad(
                "invalid_parameters",
                "`key_type` must be rsa or ed25519",
            ));
        }
    };
    let (key, private_key) = if key_type == "rsa" {
        let key = ApiKey::rsa("generated");
        let pem =
            pkcs1_pem(key.private_key_pem()).unwrap_or_else(|| key.private_key_pem().to_owned());
        (key, pem)
    } else {
        let key = ApiKey::ed25519("generated");
        let pem = key.private_key_pem().to_owned();
        (key, pem)
    };
    let id = register(state, call, meta, key.public_key());
    Ok((
        201,
        Some(json!({ "api_key_id": id, "key_type": key_type, "private_key": private_key })),
    ))
}

/// An RSA key's PKCS#8 PEM rewritten as PKCS#1 (`BEGIN RSA PRIVATE KEY`):
/// the PKCS#1 key is the PKCS#8 envelope's payload.
fn pkcs1_pem(pkcs8_pem: &str) -> Option<String> {
    let body: String = pkcs8_pem
        .lines()
        .filter(|l| !l.starts_with("-----"))
        .collect();
    let der = STANDARD.decode(body).ok()?;
    let info = rsa::pkcs8::PrivateKeyInfo::try_from(der.as_slice()).ok()?;
    Some(crate::keys::pem("RSA PRIVATE KEY", info.private_key))
}

/// Deletes one of the caller's keys: it signs nothing from now on.
pub(super) fn delete(state: &mut State, call: &Call) -> Answer {
    let id = call.param("api_key");
    let owned = state
        .keys
        .get(id)
        .is_some_and(|(user, _)| user == call.user());
    if !owned {
        return Err(ApiErr::new(404, "not_found", "no such API key"));
    }
    state.keys.remove(id);
    state.account.keys.by_id.remove(id);
    Ok((204, None))
}

// ---------------------------------------------------------------------------
// Enforcing a key's restrictions
// ---------------------------------------------------------------------------

/// Query and body fields that name a subaccount, and whether a restricted
/// key's subaccount fills them in when left out.
const SUBACCOUNT_FIELDS: [(&str, bool); 6] = [
    ("subaccount", true),
    ("source_subaccount", true),
    ("destination_subaccount", true),
    ("subaccount_number", false),
    ("from_subaccount", false),
    ("to_subaccount", false),
];

/// Refuses (403) a request the signing key's scopes or subaccount do not
/// allow, and sets a subaccount-locked key's subaccount where the request
/// leaves it out. Keys the simulator was started with are unrestricted.
pub(crate) fn authorize(
    state: &State,
    key_id: &str,
    operation: &kalshi_gen::Operation,
    query: &mut Vec<(String, String)>,
    body: &mut Option<Value>,
) -> Result<(), ApiErr> {
    let Some(meta) = state.account.keys.by_id.get(key_id) else {
        return Ok(());
    };
    if !meta.grants(operation) {
        return Err(ApiErr::new(
            403,
            "insufficient_scope",
            "this API key's scopes do not allow this request",
        ));
    }
    let Some(locked) = meta.subaccount else {
        return Ok(());
    };
    let forbidden = || {
        ApiErr::new(
            403,
            "subaccount_restricted",
            &format!("this API key may only act on subaccount {locked}"),
        )
    };
    if matches!(
        operation.name,
        "create_subaccount" | "apply_subaccount_transfer"
    ) {
        return Err(forbidden());
    }
    lock_query(operation, query, locked).map_err(|()| forbidden())?;
    // Kalshi answers a restricted key's balances listing with its own
    // subaccount only; the listing takes no subaccount, so the lock is
    // handed to it as one (strict mode has checked the caller's query).
    if operation.name == "get_subaccount_balances" {
        query.push(("subaccount".to_owned(), locked.to_string()));
    }
    if let Some(Value::Object(fields)) = body {
        lock_object(fields, operation.body, locked).map_err(|()| forbidden())?;
        for (array, item_fields) in operation.body_items {
            if let Some(Value::Array(items)) = fields.get_mut(*array) {
                for item in items.iter_mut().filter_map(Value::as_object_mut) {
                    lock_object(item, item_fields, locked).map_err(|()| forbidden())?;
                }
            }
        }
    } else if body.is_none() && operation.body.contains(&"subaccount") {
        let mut fields = serde_json::Map::new();
        lock_object(&mut fields, operation.body, locked).map_err(|()| forbidden())?;
        *body = Some(Value::Object(fields));
    }
    Ok(())
}

fn lock_query(
    operation: &kalshi_gen::Operation,
    query: &mut Vec<(String, String)>,
    locked: u32,
) -> Result<(), ()> {
    for (field, fill) in SUBACCOUNT_FIELDS {
        if !operation.query.contains(&field) {
            continue;
        }
        let named: Vec<&str> = query
            .iter()
            .filter(|(k, _)| k == field)
            .map(|(_, v)| v.as_str())
            .collect();
        if named.iter().any(|v| v.parse::<u32>() != Ok(locked)) {
            return Err(());
        }
        if named.is_empty() && fill {
            query.push((field.to_owned(), locked.to_string()));
        }
    }
    Ok(())
}

fn lock_object(
    fields: &mut serde_json::Map<String, Value>,
    declared: &[&str],
    locked: u32,
) -> Result<(), ()> {
    for (field, fill) in SUBACCOUNT_FIELDS {
        if !declared.contains(&field) {
            continue;
        }
        match fields.get(field) {
            None | Some(Value::Null) if fill => {
                fields.insert(field.to_owned(), json!(locked));
            }
            None | Some(Value::Null) => {}
            Some(value) if value.as_u64() == Some(u64::from(locked)) => {}
            Some(_) => return Err(()),
        }
    }
    Ok(())
}

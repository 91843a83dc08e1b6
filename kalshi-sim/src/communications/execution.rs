//! Executing a negotiated trade (an RFQ quote, a block trade) through the
//! matching engine, so its fills, positions and cash are the engine's own.
//!
//! The maker's order is placed first, good till canceled, at the agreed
//! price; the taker's order then trades against the book at that price,
//! immediately or cancel unless the taker keeps its remainder. Both orders
//! are ordinary orders on the public book, as on Kalshi: a better resting
//! price, or an earlier order at the agreed one, is matched first. What the
//! maker's order does not fill is canceled unless the maker keeps its
//! remainder.

use rust_decimal::Decimal;

use crate::engine::{Engine, NewOrder, Owner, Reject, SelfTradePrevention, Side, TimeInForce};
use crate::http::ApiErr;

/// One party's order.
pub(super) struct Leg {
    owner: Owner,
    side: Side,
    /// Who this party is, for error messages.
    role: &'static str,
}

impl Leg {
    pub(super) fn new(owner: Owner, side: Side, role: &'static str) -> Self {
        Self { owner, side, role }
    }
}

/// A trade two parties agreed on.
pub(super) struct Crossing {
    pub ticker: String,
    pub maker: Leg,
    pub taker: Leg,
    /// YES price.
    pub price: Decimal,
    pub count: Decimal,
    pub maker_post_only: bool,
    pub maker_keeps_remainder: bool,
    pub taker_keeps_remainder: bool,
    /// The orders' client order ids are this plus `-maker` / `-taker`.
    pub client_order_prefix: String,
}

/// What the execution did.
pub(super) struct Executed {
    pub maker_order_id: String,
    pub taker_order_id: String,
    /// Contracts the taker's order filled.
    pub filled: Decimal,
}

/// Places both orders; nothing changes when either party cannot pay.
pub(super) fn cross(engine: &mut Engine, crossing: &Crossing) -> Result<Executed, ApiErr> {
    for leg in [&crossing.maker, &crossing.taker] {
        let needed = leg.side.unit_cost(crossing.price) * crossing.count;
        let available = engine.available(&leg.owner);
        if needed > available {
            return Err(ApiErr::bad_request(
                "insufficient_balance",
                &format!(
                    "{} needs ${needed} for this trade; ${available} is available",
                    leg.role
                ),
            ));
        }
    }
    let maker = engine
        .place(order(crossing, &crossing.maker, "maker", true))
        .map_err(|e| refused(&crossing.maker, &e))?
        .order;
    let taker = engine.place(order(
        crossing,
        &crossing.taker,
        "taker",
        crossing.taker_keeps_remainder,
    ));
    let taker = match taker {
        Ok(placed) => placed.order,
        Err(error) => {
            // Leave the book as it was before the trade.
            let _ = engine.cancel(&crossing.maker.owner, &maker.order_id);
            return Err(refused(&crossing.taker, &error));
        }
    };
    if !crossing.maker_keeps_remainder {
        // Not resting any more is fine: it filled or was canceled.
        let _ = engine.cancel(&crossing.maker.owner, &maker.order_id);
    }
    Ok(Executed {
        maker_order_id: maker.order_id,
        taker_order_id: taker.order_id,
        filled: taker.fill_count,
    })
}

fn order(crossing: &Crossing, leg: &Leg, role: &str, rests: bool) -> NewOrder {
    NewOrder {
        owner: leg.owner.clone(),
        ticker: crossing.ticker.clone(),
        side: leg.side,
        price: crossing.price,
        count: crossing.count,
        client_order_id: format!("{}-{role}", crossing.client_order_prefix),
        time_in_force: if rests {
            TimeInForce::GoodTillCanceled
        } else {
            TimeInForce::ImmediateOrCancel
        },
        self_trade_prevention: SelfTradePrevention::TakerAtCross,
        post_only: role == "maker" && crossing.maker_post_only,
        reduce_only: false,
        order_group_id: None,
        expiration_ts: None,
    }
}

/// An engine refusal as Kalshi's error, naming the party.
fn refused(leg: &Leg, error: &Reject) -> ApiErr {
    ApiErr::bad_request(error.code(), &format!("{}: {}", leg.role, error.message()))
}

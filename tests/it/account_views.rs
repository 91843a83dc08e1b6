//! The account as the stream tests and the soak compare it: fills, orders
//! and positions reduced to what a trading program relies on, whether a
//! stream message, a recovery's REST listing or a REST read of the end
//! state brought them.

use kalshi_client::stream::RecoveredPosition;
use kalshi_gen::stream::types::{FillPayload, MarketPositionPayload, UserOrderPayload};
use kalshi_gen::types::{Fill, MarketPosition, Order};
use rust_decimal::Decimal;

/// A fill: trade id, order id, yes price, count, whether it was the taker.
pub(crate) type FillView = (String, String, Decimal, Decimal, bool);

/// A fill as REST lists it.
pub(crate) fn rest_fill(f: &Fill) -> FillView {
    (
        f.trade_id.clone(),
        f.order_id.clone(),
        f.yes_price_dollars.value(),
        f.count_fp.value(),
        f.is_taker,
    )
}

/// A fill as the stream carries it.
pub(crate) fn streamed_fill(fill: &FillPayload) -> FillView {
    (
        fill.msg.trade_id.to_string(),
        fill.msg.order_id.to_string(),
        fill.msg.yes_price_dollars.value(),
        fill.msg.count_fp.value(),
        fill.msg.is_taker,
    )
}

/// An order as the tests compare it: status, filled, remaining.
pub(crate) type OrderView = (String, Decimal, Decimal);

pub(crate) fn streamed_order(update: &UserOrderPayload) -> (String, OrderView) {
    let order = &update.msg;
    let view = (
        order.status.to_string(),
        order.fill_count_fp.value(),
        order.remaining_count_fp.value(),
    );
    (order.order_id.to_string(), view)
}

/// An order as REST lists it, its id spelled as the stream spells it.
pub(crate) fn rest_order(order: &Order) -> (String, OrderView) {
    let id =
        uuid::Uuid::parse_str(&order.order_id).map_or(order.order_id.clone(), |u| u.to_string());
    let view = (
        order.status.to_string(),
        order.fill_count_fp.value(),
        order.remaining_count_fp.value(),
    );
    (id, view)
}

/// A position's size, realized P&L and fees paid (normalized).
pub(crate) type PositionState = (Decimal, Decimal, Decimal);

/// A position as delivery is concerned: its subaccount and market, and its
/// state.
pub(crate) type PositionView = ((u32, String), PositionState);

pub(crate) fn streamed_position(update: &MarketPositionPayload) -> PositionView {
    let p = &update.msg;
    let subaccount = u32::try_from(p.subaccount.unwrap_or(0)).unwrap();
    let state = (
        p.position_fp.value().normalize(),
        p.realized_pnl_dollars.value().normalize(),
        p.fees_paid_dollars.value().normalize(),
    );
    ((subaccount, p.market_ticker.to_string()), state)
}

pub(crate) fn rest_position(subaccount: u32, p: &MarketPosition) -> PositionView {
    let state = (
        p.position_fp.value().normalize(),
        p.realized_pnl_dollars.value().normalize(),
        p.fees_paid_dollars.value().normalize(),
    );
    ((subaccount, p.ticker.clone()), state)
}

pub(crate) fn recovered_position(p: &RecoveredPosition) -> PositionView {
    rest_position(p.subaccount, &p.position)
}

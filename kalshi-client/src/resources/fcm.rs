//! FCM: endpoints for futures commission merchants and their subtraders.
use crate::resources::resource_group;

resource_group! {
    /// FCM: fills, orders and positions of an FCM member's subtraders, and
    /// their trading controls. Requires FCM member access.
    Fcm => fcm {
        /// Fills across your subtraders (cursor-paginated: `.page()` /
        /// `.stream()`).
        ///
        /// `GET /fcm/fills`
        fills() => get_fcm_fills: GetFcmFills;
        /// Orders of your subtraders (cursor-paginated: `.page()` /
        /// `.stream()`).
        ///
        /// `GET /fcm/orders`
        orders() => get_fcm_orders: GetFcmOrders;
        /// Market positions of your subtraders (cursor-paginated: `.page()` /
        /// `.stream()`).
        ///
        /// `GET /fcm/positions`
        positions() => get_fcm_positions: GetFcmPositions;
        /// Your event-contract subtraders, with their trading block status.
        ///
        /// `GET /fcm/subtraders`
        subtraders() => list_fcm_subtraders: ListFcmSubtraders;
        /// Creates a subtrader on the event-contract exchange.
        ///
        /// `POST /fcm/subtraders`
        create_subtrader() => create_fcm_subtrader: CreateFcmSubtrader;
        /// A subtrader's daily premium cap and its current utilization.
        ///
        /// `GET /fcm/subtraders/event_contract_daily_cap`
        daily_cap() => get_fcm_event_contract_daily_cap: GetFcmEventContractDailyCap;
        /// Sets a subtrader's daily premium cap.
        ///
        /// `PUT /fcm/subtraders/event_contract_daily_cap`
        set_daily_cap() => update_fcm_event_contract_daily_cap: UpdateFcmEventContractDailyCap;
        /// Removes a subtrader's daily premium cap, which closes its bound API
        /// keys to new orders until a cap is set again.
        ///
        /// `DELETE /fcm/subtraders/event_contract_daily_cap`
        delete_daily_cap() => delete_fcm_event_contract_daily_cap: DeleteFcmEventContractDailyCap;
        /// The event categories blocked for a subtrader.
        ///
        /// `GET /fcm/subtraders/blocked_categories`
        blocked_categories() => get_fcm_subtrader_blocked_categories: GetFcmSubtraderBlockedCategories;
        /// Blocks or unblocks one event category for a subtrader.
        ///
        /// `PUT /fcm/subtraders/blocked_categories`
        set_blocked_categories() => update_fcm_subtrader_blocked_categories: UpdateFcmSubtraderBlockedCategories;
        /// Moves one market's position from a subtrader into a subtrader of
        /// your FCM's error account, booked like a trade at the given YES
        /// price. Not idempotent: after a timeout or 5xx, check the position
        /// before sending again.
        ///
        /// `POST /fcm/positions/transfers`
        create_position_transfer() => create_fcm_position_transfer: CreateFcmPositionTransfer;
    }
}

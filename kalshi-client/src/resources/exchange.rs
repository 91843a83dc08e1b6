//! Exchange: trading status, schedule and data freshness.
use crate::resources::resource_group;

resource_group! {
    /// Exchange: whether trading is open, the trading schedule, and how fresh
    /// the portfolio data is.
    Exchange => exchange {
        /// Whether the exchange and trading are active; check before trading.
        ///
        /// `GET /exchange/status`
        status() => get_exchange_status: GetExchangeStatus;
        /// The exchange's weekly trading hours and maintenance windows.
        ///
        /// `GET /exchange/schedule`
        schedule() => get_exchange_schedule: GetExchangeSchedule;
        /// When balance, orders, fills and positions were last validated, to
        /// judge how current those endpoints' answers are.
        ///
        /// `GET /exchange/user_data_timestamp`
        user_data_timestamp() => get_user_data_timestamp: GetUserDataTimestamp;
    }
}

//! Events: the real-world occurrences that markets are grouped under.
use crate::resources::resource_group;

resource_group! {
    /// Events: the real-world occurrences (an election, a game, a data
    /// release) whose outcomes markets trade.
    Events => events {
        /// Events matching the filters, excluding multivariate events
        /// (cursor-paginated: `.page()` / `.stream()`).
        ///
        /// `GET /events`
        list() => get_events: GetEvents;
        /// One event by ticker, optionally with its markets nested.
        ///
        /// `GET /events/{event_ticker}`
        get(event_ticker) => get_event: GetEvent;
        /// Only the metadata of one event.
        ///
        /// `GET /events/{event_ticker}/metadata`
        metadata(event_ticker) => get_event_metadata: GetEventMetadata;
        /// Multivariate (combo) events created from multivariate event
        /// collections (cursor-paginated: `.page()` / `.stream()`).
        ///
        /// `GET /events/multivariate`
        multivariate() => get_multivariate_events: GetMultivariateEvents;
        /// Event-level fee overrides on top of their series' fees
        /// (cursor-paginated: `.page()` / `.stream()`).
        ///
        /// `GET /events/fee_changes`
        fee_changes() => get_event_fee_changes: GetEventFeeChanges;
        /// An event's forecast history at chosen percentiles; `ticker` is the
        /// event ticker.
        ///
        /// `GET /series/{series_ticker}/events/{ticker}/forecast_percentile_history`
        forecast_percentile_history(series_ticker, ticker) => get_event_forecast_percentiles_history: GetEventForecastPercentilesHistory;
        /// Candlesticks aggregated across all markets of an event; `ticker` is
        /// the event ticker.
        ///
        /// `GET /series/{series_ticker}/events/{ticker}/candlesticks`
        candlesticks(series_ticker, ticker) => get_market_candlesticks_by_event: GetMarketCandlesticksByEvent;
    }
}

//! Series: the templates that recurring events follow.
use crate::resources::resource_group;

resource_group! {
    /// Series: the templates for recurring events (rules, settlement sources,
    /// fees).
    Series => series {
        /// One series by ticker, with its rules and settlement sources.
        ///
        /// `GET /series/{series_ticker}`
        get(series_ticker) => get_series: GetSeries;
        /// Series matching the filters (category, tags), to discover what can
        /// be traded.
        ///
        /// `GET /series`
        list() => get_series_list: GetSeriesList;
        /// Scheduled fee changes of series (past ones too with
        /// `show_historical`).
        ///
        /// `GET /series/fee_changes`
        fee_changes() => get_series_fee_changes: GetSeriesFeeChanges;
    }
}

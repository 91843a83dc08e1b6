//! Account: API usage tier, rate limits and endpoint costs.
use crate::resources::resource_group;

resource_group! {
    /// Account: your API usage tier, its rate limits, endpoint costs and
    /// progress toward higher tiers.
    Account => account {
        /// Your API usage tier and token-bucket limits.
        ///
        /// `GET /account/limits`
        limits() => get_account_api_limits: GetAccountApiLimits;
        /// Endpoints whose token cost differs from the default.
        ///
        /// `GET /account/endpoint_costs`
        endpoint_costs() => get_account_endpoint_costs: GetAccountEndpointCosts;
        /// Your trading volume progress toward volume-based API usage tiers.
        ///
        /// `GET /account/api_usage_level/volume_progress`
        volume_progress() => get_account_api_usage_level_volume_progress: GetAccountApiUsageLevelVolumeProgress;
        /// Requests the permanent Advanced API usage level, granted if one of
        /// your last 100 orders was placed through the API.
        ///
        /// `POST /account/api_usage_level/upgrade`
        upgrade_usage_level() => upgrade_account_api_usage_level: UpgradeAccountApiUsageLevel;
    }
}

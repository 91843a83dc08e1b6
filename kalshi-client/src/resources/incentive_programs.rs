//! Incentive programs: rewards for trading activity.
use crate::resources::resource_group;

resource_group! {
    /// Incentive programs: rewards for trading activity on specific markets.
    IncentivePrograms => incentive_programs {
        /// Incentive programs matching the filters (cursor-paginated:
        /// `.page()` / `.stream()`).
        ///
        /// `GET /incentive_programs`
        list() => get_incentive_programs: GetIncentivePrograms;
    }
}

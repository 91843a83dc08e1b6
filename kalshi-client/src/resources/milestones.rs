//! Milestones: the real-world happenings events and live data refer to.
use crate::resources::resource_group;

resource_group! {
    /// Milestones: real-world happenings (games, races, ...) that events and
    /// live data refer to.
    Milestones => milestones {
        /// Milestones matching the filters (cursor-paginated: `.page()` /
        /// `.stream()`).
        ///
        /// `GET /milestones`
        list() => get_milestones: GetMilestones;
        /// One milestone by id.
        ///
        /// `GET /milestones/{milestone_id}`
        get(milestone_id) => get_milestone: GetMilestone;
    }
}

//! Structured targets: the entities (teams, players, ...) markets refer to.
use crate::resources::resource_group;

resource_group! {
    /// Structured targets: the entities (teams, players, ...) that markets
    /// refer to.
    StructuredTargets => structured_targets {
        /// Structured targets matching the filters (cursor-paginated:
        /// `.page()` / `.stream()`).
        ///
        /// `GET /structured_targets`
        list() => get_structured_targets: GetStructuredTargets;
        /// One structured target by id.
        ///
        /// `GET /structured_targets/{structured_target_id}`
        get(structured_target_id) => get_structured_target: GetStructuredTarget;
    }
}

//! Order groups: contract limits over a rolling window that cancel a group
//! of orders when hit.
use crate::resources::resource_group;

resource_group! {
    /// Order groups: a contracts limit over a rolling 15-second window; when
    /// it is hit, every order in the group is canceled and no new ones are
    /// accepted until the group is reset.
    OrderGroups => order_groups {
        /// Creates an order group with a contracts limit.
        ///
        /// `POST /portfolio/order_groups/create`
        create() => create_order_group: CreateOrderGroup;
        /// All your order groups.
        ///
        /// `GET /portfolio/order_groups`
        list() => get_order_groups: GetOrderGroups [subaccount];
        /// One order group with its order ids and auto-cancel status.
        ///
        /// `GET /portfolio/order_groups/{order_group_id}`
        get(order_group_id) => get_order_group: GetOrderGroup [subaccount];
        /// Deletes an order group and cancels all of its orders.
        ///
        /// `DELETE /portfolio/order_groups/{order_group_id}`
        delete(order_group_id) => delete_order_group: DeleteOrderGroup [subaccount];
        /// Resets the group's matched-contracts counter so it accepts orders
        /// again after its limit was hit.
        ///
        /// `PUT /portfolio/order_groups/{order_group_id}/reset`
        reset(order_group_id) => reset_order_group: ResetOrderGroup [subaccount];
        /// Triggers the group by hand: cancels its orders and blocks new ones
        /// until reset.
        ///
        /// `PUT /portfolio/order_groups/{order_group_id}/trigger`
        trigger(order_group_id) => trigger_order_group: TriggerOrderGroup [subaccount];
        /// Changes the group's contracts limit; a limit already exceeded
        /// triggers the group at once.
        ///
        /// `PUT /portfolio/order_groups/{order_group_id}/limit`
        update_limit(order_group_id) => update_order_group_limit: UpdateOrderGroupLimit [subaccount];
    }
}

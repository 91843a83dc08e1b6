//! Subaccounts: creating them, moving funds between them, netting.
use crate::resources::resource_group;

resource_group! {
    /// Subaccounts: creating them, their balances, transfers between them,
    /// and their netting settings (0 is the primary account, 1–63 numbered
    /// subaccounts).
    Subaccounts => subaccounts {
        /// Creates the next numbered subaccount.
        ///
        /// `POST /portfolio/subaccounts`
        create() => create_subaccount: CreateSubaccount;
        /// Moves funds between two of your subaccounts.
        ///
        /// `POST /portfolio/subaccounts/transfer`
        transfer() => apply_subaccount_transfer: ApplySubaccountTransfer;
        /// Balances of every subaccount, the primary account included.
        ///
        /// `GET /portfolio/subaccounts/balances`
        balances() => get_subaccount_balances: GetSubaccountBalances;
        /// History of transfers between subaccounts (cursor-paginated:
        /// `.page()` / `.stream()`).
        ///
        /// `GET /portfolio/subaccounts/transfers`
        transfers() => get_subaccount_transfers: GetSubaccountTransfers;
        /// Whether netting is enabled, per subaccount.
        ///
        /// `GET /portfolio/subaccounts/netting`
        netting() => get_subaccount_netting: GetSubaccountNetting;
        /// Enables or disables netting for one subaccount.
        ///
        /// `PUT /portfolio/subaccounts/netting`
        set_netting() => update_subaccount_netting: UpdateSubaccountNetting;
    }
}

//! Moving funds within your account: between exchange instances, shards and
//! subaccounts (`POST /portfolio/intra_exchange_instance_transfer`).
//!
//! Kalshi takes the amount in centicents and prevents duplicates by a
//! `client_transfer_id`: a request repeated with an id Kalshi already
//! accepted is answered 409 ([`Error::Conflict`])
//! and moves nothing. [`ExchangeTransfer`] fixes that id when the transfer
//! is made, like `client_order_id` on orders, so every retry of one transfer
//! sends the same id and a transfer can never be executed twice by a retry.

use kalshi_gen::types::{self, ExchangeInstance};
use rust_decimal::Decimal;
use uuid::Uuid;

use crate::Error;
use crate::order::Subaccount;

/// The highest exchange shard index Kalshi accepts in a transfer.
pub const MAX_SHARD: u8 = 100;

/// One transfer of funds within the account.
///
/// Kalshi supports `client_transfer_id` only for transfers between primary
/// accounts; a transfer that involves a numbered subaccount is sent without
/// one (Kalshi would refuse it), so for those a lost response must be
/// checked with `client.portfolio().exchange_transfers()` before sending again.
///
/// ```
/// use kalshi_client::generated::types::ExchangeInstance;
/// use kalshi_client::transfer::ExchangeTransfer;
/// let transfer = ExchangeTransfer::new(
///     ExchangeInstance::EventContract,
///     ExchangeInstance::Margined,
///     "25.50".parse()?,
/// )?;
/// assert_eq!(transfer.centicents(), 255_000);
/// assert!(transfer.client_transfer_id().is_some());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[must_use]
pub struct ExchangeTransfer {
    source: ExchangeInstance,
    destination: ExchangeInstance,
    centicents: i64,
    source_subaccount: Option<Subaccount>,
    destination_subaccount: Option<Subaccount>,
    source_shard: Option<u8>,
    destination_shard: Option<u8>,
    id: Uuid,
}

impl ExchangeTransfer {
    /// Moves `dollars` (positive, at most 4 decimal places: Kalshi counts
    /// centicents) from `source` to `destination`, under a new
    /// `client_transfer_id`.
    pub fn new(
        source: ExchangeInstance,
        destination: ExchangeInstance,
        dollars: Decimal,
    ) -> Result<Self, Error> {
        Ok(Self {
            source,
            destination,
            centicents: centicents(dollars)?,
            source_subaccount: None,
            destination_subaccount: None,
            source_shard: None,
            destination_shard: None,
            id: Uuid::new_v4(),
        })
    }

    /// Takes the funds from this subaccount (Kalshi's default: the primary account).
    pub fn from_subaccount(mut self, subaccount: Subaccount) -> Self {
        self.source_subaccount = Some(subaccount);
        self
    }

    /// Puts the funds into this subaccount (Kalshi's default: the primary account).
    pub fn to_subaccount(mut self, subaccount: Subaccount) -> Self {
        self.destination_subaccount = Some(subaccount);
        self
    }

    /// Takes the funds from this exchange shard (0–100; Kalshi's default 0).
    pub fn from_shard(mut self, shard: u8) -> Result<Self, Error> {
        self.source_shard = Some(shard_index(shard)?);
        Ok(self)
    }

    /// Puts the funds on this exchange shard (0–100; Kalshi's default 0).
    pub fn to_shard(mut self, shard: u8) -> Result<Self, Error> {
        self.destination_shard = Some(shard_index(shard)?);
        Ok(self)
    }

    /// The same transfer under a new id, to move the funds once more on purpose.
    pub fn with_fresh_id(mut self) -> Self {
        self.id = Uuid::new_v4();
        self
    }

    /// The amount in centicents, as sent.
    pub fn centicents(&self) -> i64 {
        self.centicents
    }

    /// The duplicate-prevention id sent with the transfer: `None` when a
    /// numbered subaccount is involved, where Kalshi does not accept one.
    pub fn client_transfer_id(&self) -> Option<Uuid> {
        let primary = |s: Option<Subaccount>| s.is_none_or(|s| s == Subaccount::PRIMARY);
        (primary(self.source_subaccount) && primary(self.destination_subaccount)).then_some(self.id)
    }

    /// The request body, complete: every required field is set.
    pub(crate) fn to_request(&self) -> types::builder::IntraExchangeInstanceTransferRequest {
        let number = |s: Option<Subaccount>| s.map(|s| i64::from(s.number()));
        types::IntraExchangeInstanceTransferRequest::builder()
            .amount(self.centicents)
            .client_transfer_id(self.client_transfer_id())
            .destination(self.destination.clone())
            .destination_exchange_shard(self.destination_shard.map(i64::from))
            .destination_subaccount(number(self.destination_subaccount))
            .source(self.source.clone())
            .source_exchange_shard(self.source_shard.map(i64::from))
            .source_subaccount(number(self.source_subaccount))
    }
}

/// Dollars to centicents, exactly: positive, at most 4 decimal places.
fn centicents(dollars: Decimal) -> Result<i64, Error> {
    if dollars <= Decimal::ZERO {
        return Err(Error::invalid(format!(
            "transfer amount {dollars} must be positive"
        )));
    }
    let scaled = dollars * Decimal::from(10_000);
    if !scaled.fract().is_zero() {
        return Err(Error::invalid(format!(
            "transfer amount {dollars} has more than 4 decimal places (Kalshi counts centicents)"
        )));
    }
    i64::try_from(scaled)
        .map_err(|_| Error::invalid(format!("transfer amount {dollars} is too large")))
}

fn shard_index(shard: u8) -> Result<u8, Error> {
    if shard > MAX_SHARD {
        return Err(Error::invalid(format!(
            "exchange shard {shard} is out of range (0–{MAX_SHARD})"
        )));
    }
    Ok(shard)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn transfer(amount: &str) -> Result<ExchangeTransfer, Error> {
        ExchangeTransfer::new(
            ExchangeInstance::EventContract,
            ExchangeInstance::EventContract,
            amount.parse().expect("decimal"),
        )
    }

    fn body(transfer: &ExchangeTransfer) -> types::IntraExchangeInstanceTransferRequest {
        transfer.to_request().try_into().expect("complete body")
    }

    #[test]
    fn amounts_become_exact_centicents() {
        assert_eq!(transfer("0.0001").unwrap().centicents(), 1);
        assert_eq!(transfer("12.34").unwrap().centicents(), 123_400);
        for bad in ["0", "-1", "0.00001"] {
            let error = transfer(bad).unwrap_err();
            assert!(
                matches!(error, Error::InvalidRequest { .. }),
                "{bad}: {error}"
            );
        }
        assert!(
            transfer("1000000000000000").is_err(),
            "beyond i64 centicents"
        );
    }

    #[test]
    fn the_id_is_fixed_once_and_left_out_for_numbered_subaccounts() {
        let t = transfer("1").unwrap();
        let id = t
            .client_transfer_id()
            .expect("primary to primary carries an id");
        assert_eq!(body(&t).client_transfer_id, Some(id));
        assert_ne!(t.clone().with_fresh_id().client_transfer_id(), Some(id));
        let explicit_primary = t.clone().from_subaccount(Subaccount::PRIMARY);
        assert_eq!(explicit_primary.client_transfer_id(), Some(id));
        let numbered = t.to_subaccount(Subaccount::new(3).unwrap());
        assert_eq!(numbered.client_transfer_id(), None);
        let body = body(&numbered);
        assert_eq!(
            (
                body.client_transfer_id,
                body.destination_subaccount,
                body.source_subaccount
            ),
            (None, Some(3), None)
        );
    }

    #[test]
    fn shards_are_range_checked() {
        assert!(transfer("1").unwrap().from_shard(MAX_SHARD).is_ok());
        assert!(transfer("1").unwrap().to_shard(MAX_SHARD + 1).is_err());
    }
}

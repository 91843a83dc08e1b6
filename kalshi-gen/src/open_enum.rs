//! Support for open string enums.
//!
//! Kalshi adds enum values without notice (a new order status, a new market
//! type). The generator (xtask `postprocess::open_enums`) gives every string
//! enum an `Unknown(String)` variant and these serde impls, so an unexpected
//! value decodes and serializes back exactly as received, instead of failing
//! the whole response it arrived in.

use std::fmt;
use std::marker::PhantomData;
use std::str::FromStr;

/// A string enum that also accepts values it does not know.
pub trait OpenEnum: FromStr + Sized {
    /// The wire form of this value.
    fn as_str(&self) -> &str;

    /// Whether this value was unknown when the bindings were generated.
    fn is_unknown(&self) -> bool;
}

/// Deserializes an open enum from borrowed text: known values never allocate.
pub fn deserialize<'de, D, T>(deserializer: D) -> Result<T, D::Error>
where
    D: serde::Deserializer<'de>,
    T: OpenEnum,
{
    deserializer.deserialize_str(Visitor(PhantomData))
}

struct Visitor<T>(PhantomData<T>);

impl<T: OpenEnum> serde::de::Visitor<'_> for Visitor<T> {
    type Value = T;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a string")
    }

    fn visit_str<E: serde::de::Error>(self, text: &str) -> Result<T, E> {
        // Open enums' FromStr never fails: unknown text becomes `Unknown`.
        text.parse()
            .map_err(|_| E::custom(format!("unparseable enum value {text:?}")))
    }
}

/// The JSON schema of an open enum: any string, the known values listed.
#[cfg(feature = "schemars")]
pub fn schema(known: &[&str]) -> schemars::schema::Schema {
    use schemars::schema::{InstanceType, Metadata, SchemaObject};
    SchemaObject {
        instance_type: Some(InstanceType::String.into()),
        metadata: Some(Box::new(Metadata {
            description: Some(format!(
                "One of {known:?}, or a value added by Kalshi later"
            )),
            ..Default::default()
        })),
        ..Default::default()
    }
    .into()
}

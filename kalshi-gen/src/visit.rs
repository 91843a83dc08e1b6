//! Every generated type, for checks that must cover all of them.
//!
//! `cargo xtask regen` writes [`visit_types`](crate::visit_types) for the
//! REST bindings and [`stream::visit_types`](crate::stream::visit_types) for
//! the WebSocket ones: each calls a [`TypeVisitor`] once per operation and
//! once per open string enum. A check written once against this trait (the
//! fuzz targets decode every response and round-trip every enum through it)
//! covers what the next spec bump adds without anyone listing it.

use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::open_enum::OpenEnum;
use crate::request::Request;

/// What to do with each generated type; see the [module](self) docs.
pub trait TypeVisitor {
    /// One operation, given by its request builder: `R::OPERATION` is its
    /// name, `R::Response` its success body and `R::ErrorBody` the error body
    /// the spec documents (`()` for none, and for success without a body).
    fn operation<R>(&mut self)
    where
        R: Request,
        R::Response: DeserializeOwned + Serialize,
        R::ErrorBody: DeserializeOwned + Serialize;

    /// One open string enum (its name is `std::any::type_name::<E>()`).
    fn open_enum<E>(&mut self)
    where
        E: OpenEnum + DeserializeOwned + Serialize;
}

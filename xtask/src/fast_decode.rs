//! Fast decoders for the stream's flat messages (`kalshi_gen`'s
//! `fast_json`), written from the typify types.
//!
//! A server message qualifies when its payload type, and every struct it
//! contains, has only fields that are single JSON tokens (strings, integers,
//! booleans, `null`: money, counts, ids, open enums, timestamps) or structs
//! that qualify themselves, and no serde attribute beyond the few whose
//! meaning the generated code reproduces (`rename`, `default`,
//! `skip_serializing_if`, `deny_unknown_fields`, and the required-but-
//! nullable `deserialize_with = "Option::deserialize"`). Arrays, maps, JSON
//! values and derived enums disqualify a type: those messages keep
//! `serde_json` alone. Each field's value is still decoded by the field
//! type's own `Deserialize`, so the generated code decides only the object
//! layout: which key fills which field, which fields are required.

use std::collections::{BTreeMap, BTreeSet};

use proc_macro2::TokenStream;
use quote::{format_ident, quote};
use syn::{Fields, GenericArgument, Item, ItemStruct, LitStr, PathArguments, Type};

use crate::postprocess::{derive_paths, path_ends_with};

/// The payload types that get a fast decoder, and their impls.
pub struct FastDecoders {
    /// Names of the qualifying types, message payloads and nested structs.
    pub types: BTreeSet<String>,
    /// `impl FastDecode` for each of them.
    pub impls: TokenStream,
}

/// Type names (last path segment) that are never a single JSON token.
const COMPOUND: &[&str] = &[
    "Vec", "HashMap", "BTreeMap", "Map", "Value", "Box", "Number", "HashSet", "BTreeSet",
];

/// The fast decoders for the payload types `roots` (those that qualify),
/// read off the `types` module of `file`.
pub fn plan<'a>(
    file: &syn::File,
    roots: impl IntoIterator<Item = &'a str>,
) -> Result<FastDecoders, String> {
    let items = types_items(file).ok_or("the generated file has no `types` module")?;
    let mut space = Space::new(items);
    let mut types = BTreeSet::new();
    for root in roots {
        // The fast path resumes after a frame's leading `type` member
        // without reading it: a payload that keeps `type` as a field of its
        // own would lose it there, and one that refuses unknown fields
        // would refuse it; both stay with serde_json.
        if space.qualifies(root) && !space.has_field(root, "type") && !space.denies_unknown(root) {
            space.collect(root, &mut types);
        }
    }
    let impls = types
        .iter()
        .map(|name| space.decoder(name))
        .collect::<Result<TokenStream, String>>()?;
    Ok(FastDecoders { types, impls })
}

fn types_items(file: &syn::File) -> Option<&[Item]> {
    file.items.iter().find_map(|item| match item {
        Item::Mod(m) if m.ident == "types" => m.content.as_ref().map(|(_, items)| &items[..]),
        _ => None,
    })
}

/// How a field of a qualifying struct is decoded.
enum Field {
    /// One token through the field type's `Deserialize`; `required` unless
    /// the type is an `Option` or the field has `#[serde(default)]`.
    Token { required: bool },
    /// The struct `name`, which qualifies, or an optional one.
    Nested { name: String, optional: bool },
}

struct Shape {
    deny_unknown: bool,
    /// (Rust field name, wire name, how it decodes).
    fields: Vec<(syn::Ident, String, Field)>,
}

/// The generated types, and which of them qualify.
struct Space<'f> {
    structs: BTreeMap<String, &'f ItemStruct>,
    /// Enums that are not open (derived `Deserialize`): not one token.
    /// Open enums read one string and count as tokens.
    closed_enums: BTreeSet<String>,
    shapes: BTreeMap<String, Option<Shape>>,
}

impl<'f> Space<'f> {
    fn new(items: &'f [Item]) -> Self {
        let mut space = Space {
            structs: BTreeMap::new(),
            closed_enums: BTreeSet::new(),
            shapes: BTreeMap::new(),
        };
        for item in items {
            match item {
                Item::Struct(s) => {
                    space.structs.insert(s.ident.to_string(), s);
                }
                Item::Enum(e) => {
                    let derived = derive_paths(&e.attrs)
                        .iter()
                        .any(|p| path_ends_with(p, "Deserialize"));
                    let open = e.variants.iter().any(|v| v.ident == "Unknown");
                    if derived || !open {
                        space.closed_enums.insert(e.ident.to_string());
                    }
                }
                _ => {}
            }
        }
        space
    }

    /// Whether the struct `name` qualifies (memoized; a cycle does not).
    fn qualifies(&mut self, name: &str) -> bool {
        if let Some(shape) = self.shapes.get(name) {
            return shape.is_some();
        }
        // Provisionally not, so a recursive type ends the walk.
        self.shapes.insert(name.to_owned(), None);
        let shape = self.shape(name);
        let qualifies = shape.is_some();
        self.shapes.insert(name.to_owned(), shape);
        qualifies
    }

    fn shape(&mut self, name: &str) -> Option<Shape> {
        let item = *self.structs.get(name)?;
        let Fields::Named(named) = &item.fields else {
            return None;
        };
        let derived = derive_paths(&item.attrs)
            .iter()
            .any(|p| path_ends_with(p, "Deserialize"));
        let container = serde_args(&item.attrs)?;
        if !derived || container.iter().any(|(k, _)| k != "deny_unknown_fields") {
            return None;
        }
        let mut fields = Vec::new();
        for field in &named.named {
            let ident = field.ident.clone()?;
            let (wire, field_kind) = self.field(&ident, &field.attrs, &field.ty)?;
            fields.push((ident, wire, field_kind));
        }
        Some(Shape {
            deny_unknown: !container.is_empty(),
            fields,
        })
    }

    fn field(
        &mut self,
        ident: &syn::Ident,
        attrs: &[syn::Attribute],
        ty: &Type,
    ) -> Option<(String, Field)> {
        let mut wire = ident.to_string().trim_start_matches("r#").to_owned();
        let (mut default, mut nullable_required) = (false, false);
        for (key, value) in serde_args(attrs)? {
            match (key.as_str(), value.as_deref()) {
                ("rename", Some(name)) => wire = name.to_owned(),
                ("default", None) => default = true,
                ("skip_serializing_if", _) => {}
                // Present but possibly `null`: the `Option` is required.
                ("deserialize_with", Some("::std::option::Option::deserialize")) => {
                    nullable_required = true;
                }
                _ => return None,
            }
        }
        // Keys are compared as raw bytes: a name JSON would escape is left
        // to serde_json.
        if wire
            .chars()
            .any(|c| c == '"' || c == '\\' || c.is_control())
        {
            return None;
        }
        let (optional, inner) = match option_inner(ty) {
            Some(inner) => (true, inner),
            None => (false, ty),
        };
        if nullable_required && !optional {
            return None;
        }
        let name = single_segment_name(inner)?;
        let kind = if self.structs.contains_key(&name) && self.is_named_struct(&name) {
            // A nested `Option` decoded as a token would not be reached.
            if nullable_required || default || !self.qualifies(&name) {
                return None;
            }
            Field::Nested { name, optional }
        } else if self.closed_enums.contains(&name) || COMPOUND.contains(&name.as_str()) {
            return None;
        } else {
            Field::Token {
                required: nullable_required || !(optional || default),
            }
        };
        Some((wire, kind))
    }

    fn has_field(&self, name: &str, wire: &str) -> bool {
        matches!(self.shapes.get(name), Some(Some(shape)) if shape.fields.iter().any(|(_, w, _)| w == wire))
    }

    fn denies_unknown(&self, name: &str) -> bool {
        matches!(self.shapes.get(name), Some(Some(shape)) if shape.deny_unknown)
    }

    fn is_named_struct(&self, name: &str) -> bool {
        self.structs
            .get(name)
            .is_some_and(|s| matches!(s.fields, Fields::Named(_)))
    }

    /// `name` and every struct nested in it.
    fn collect(&self, name: &str, into: &mut BTreeSet<String>) {
        if !into.insert(name.to_owned()) {
            return;
        }
        if let Some(Some(shape)) = self.shapes.get(name) {
            for (_, _, field) in &shape.fields {
                if let Field::Nested { name, .. } = field {
                    self.collect(name, into);
                }
            }
        }
    }

    /// The `FastDecode` impl of the qualifying struct `name`.
    fn decoder(&self, name: &str) -> Result<TokenStream, String> {
        let Some(Some(shape)) = self.shapes.get(name) else {
            return Err(format!("{name} was collected but does not qualify"));
        };
        let ty = format_ident!("{name}");
        let idents: Vec<&syn::Ident> = shape.fields.iter().map(|(i, _, _)| i).collect();
        // Each key with its closing quote, compared as a constant so the
        // compiler inlines the comparison.
        let keys: Vec<(usize, proc_macro2::Literal, usize)> = shape
            .fields
            .iter()
            .enumerate()
            .map(|(index, (_, wire, _))| {
                let key = format!("{wire}\"");
                (
                    index,
                    proc_macro2::Literal::byte_string(key.as_bytes()),
                    key.len(),
                )
            })
            .collect();
        let expected = keys.iter().map(|(index, key, length)| {
            quote! { #index if rest.starts_with(#key) => return Some((#index, #length)) }
        });
        let any = keys.iter().map(|(index, key, length)| {
            quote! { if rest.starts_with(#key) { return Some((#index, #length)); } }
        });
        let arms = shape
            .fields
            .iter()
            .enumerate()
            .map(|(index, (ident, _, field))| {
                let read = match field {
                    Field::Token { .. } => quote! { cursor.value(&mut #ident) },
                    Field::Nested {
                        optional: false, ..
                    } => quote! { cursor.nested(&mut #ident) },
                    Field::Nested { optional: true, .. } => {
                        quote! { cursor.nested_option(&mut #ident) }
                    }
                };
                quote! { Some(#index) => #read }
            });
        let unknown = if shape.deny_unknown {
            quote! { _ => None }
        } else {
            quote! { _ => cursor.skip() }
        };
        let build = shape.fields.iter().map(|(ident, _, field)| match field {
            Field::Token { required: true }
            | Field::Nested {
                optional: false, ..
            } => {
                quote! { #ident: #ident? }
            }
            _ => quote! { #ident: #ident.unwrap_or_default() },
        });
        Ok(quote! {
            impl crate::fast_json::FastDecode for #ty {
                fn fast(cursor: &mut crate::fast_json::Cursor<'_>) -> Option<Self> {
                    #(let mut #idents = None;)*
                    let known = |rest: &[u8], next: usize| {
                        match next {
                            #(#expected,)*
                            _ => {}
                        }
                        #(#any)*
                        None
                    };
                    cursor.object(known, |cursor, key| match key {
                        #(#arms,)*
                        #unknown,
                    })?;
                    Some(Self { #(#build,)* })
                }
            }
        })
    }
}

/// The `(key, value)` pairs of every `#[serde(...)]` attribute (values of
/// string literals or paths as text); `None` when one does not parse.
fn serde_args(attrs: &[syn::Attribute]) -> Option<Vec<(String, Option<String>)>> {
    let mut args = Vec::new();
    for attr in attrs.iter().filter(|a| a.path().is_ident("serde")) {
        attr.parse_nested_meta(|meta| {
            let key = meta
                .path
                .get_ident()
                .map(ToString::to_string)
                .unwrap_or_default();
            let value = if meta.input.peek(syn::Token![=]) {
                Some(meta.value()?.parse::<LitStr>()?.value())
            } else {
                None
            };
            args.push((key, value));
            Ok(())
        })
        .ok()?;
    }
    Some(args)
}

/// `T` of `Option<T>` (any path ending in `Option`).
fn option_inner(ty: &Type) -> Option<&Type> {
    let Type::Path(path) = ty else { return None };
    let last = path.path.segments.last()?;
    if last.ident != "Option" {
        return None;
    }
    match &last.arguments {
        PathArguments::AngleBracketed(args) => match args.args.first()? {
            GenericArgument::Type(inner) => Some(inner),
            _ => None,
        },
        _ => None,
    }
}

/// The last segment's name of a path type; `None` for tuples, arrays,
/// references and other non-path types, which are never one token.
fn single_segment_name(ty: &Type) -> Option<String> {
    let Type::Path(path) = ty else { return None };
    path.path.segments.last().map(|s| s.ident.to_string())
}

#[cfg(test)]
mod tests {
    use super::plan;

    fn file(types: &str) -> syn::File {
        syn::parse_str(&format!("pub mod types {{ {types} }}")).expect("test types parse")
    }

    #[test]
    fn flat_payloads_qualify_with_their_nested_structs() {
        let file = file(
            r#"
            #[derive(::serde::Deserialize)]
            pub struct Payload { pub msg: Msg, pub sid: u64, pub seq: u64 }
            #[derive(::serde::Deserialize)]
            pub struct Msg {
                pub ticker: ::std::string::String,
                #[serde(rename = "type")]
                pub kind: Side,
                #[serde(default, skip_serializing_if = "Option::is_none")]
                pub ts: ::std::option::Option<i64>,
                #[serde(deserialize_with = "::std::option::Option::deserialize")]
                pub price: ::std::option::Option<crate::num::Dollars>,
            }
            pub enum Side { Yes, No, Unknown(::std::string::String) }
            "#,
        );
        let planned = plan(&file, ["Payload"]).unwrap();
        assert_eq!(
            planned.types.iter().map(String::as_str).collect::<Vec<_>>(),
            ["Msg", "Payload"]
        );
        let code = planned.impls.to_string();
        assert!(
            code.contains(
                r#"1usize if rest . starts_with (b"type\"") => return Some ((1usize , 5usize))"#
            ),
            "{code}"
        );
        assert!(
            code.contains("Some (1usize) => cursor . value (& mut kind)"),
            "{code}"
        );
        assert!(code.contains("msg : msg ?"), "{code}");
        // Required but nullable; optional.
        assert!(code.contains("price : price ?"), "{code}");
        assert!(code.contains("ts : ts . unwrap_or_default ()"), "{code}");
    }

    #[test]
    fn arrays_derived_enums_and_unknown_attributes_disqualify() {
        let file = file(
            r#"
            #[derive(::serde::Deserialize)]
            pub struct WithArray { pub levels: ::std::vec::Vec<u64> }
            #[derive(::serde::Deserialize)]
            pub struct WithEnum { pub e: Tagged }
            #[derive(::serde::Deserialize)]
            pub enum Tagged { A(u64), B(u64) }
            #[derive(::serde::Deserialize)]
            pub struct WithFlatten { #[serde(flatten)] pub rest: Inner }
            #[derive(::serde::Deserialize)]
            pub struct Inner { pub a: u64 }
            #[derive(::serde::Deserialize)]
            pub struct Outer { pub inner: WithArray }
            #[derive(::serde::Deserialize)]
            #[serde(untagged)]
            pub struct Untagged { pub a: u64 }
            #[derive(::serde::Deserialize)]
            pub struct Typed { #[serde(rename = "type")] pub kind: u64 }
            #[derive(::serde::Deserialize)]
            #[serde(deny_unknown_fields)]
            pub struct Strict { pub a: u64 }
            #[derive(::serde::Deserialize)]
            pub struct Quoted { #[serde(rename = "a\"b")] pub a: u64 }
            "#,
        );
        let planned = plan(
            &file,
            [
                "WithArray",
                "WithEnum",
                "WithFlatten",
                "Outer",
                "Untagged",
                "Typed",
                "Missing",
            ],
        )
        .unwrap();
        assert!(planned.types.is_empty(), "{:?}", planned.types);
    }
}

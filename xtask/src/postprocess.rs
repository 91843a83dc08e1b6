//! Rewrites of progenitor's output that no generator setting offers.
//!
//! Each rewrite is a syntax-tree transform with a count: regen checks the
//! count against what the spec implies, so a progenitor upgrade that changes
//! the shape of its output fails generation instead of slipping through.

use proc_macro2::{Span, TokenStream};
use quote::quote;
use syn::punctuated::Punctuated;
use syn::visit_mut::{self, VisitMut};
use syn::{Attribute, Expr, Fields, Ident, Item, ItemEnum, LitStr, Path, Stmt, Token};

/// Removes the `api-version` header progenitor adds to every request.
///
/// progenitor sends `info.version` of the spec as an `api-version` header.
/// Kalshi does not define that header; sending it leaks the SDK's spec
/// version to the server and costs a header map per request. Returns how many
/// operations were rewritten.
pub fn drop_api_version_header(file: &mut syn::File) -> usize {
    let mut visitor = ApiVersionHeader { removed: 0 };
    visitor.visit_file_mut(file);
    visitor.removed
}

struct ApiVersionHeader {
    removed: usize,
}

/// `header_map.append(HeaderName::from_static("api-version"), ...)`.
fn is_api_version_append(stmt: &Stmt) -> bool {
    let Stmt::Expr(Expr::MethodCall(call), _) = stmt else {
        return false;
    };
    call.method == "append" && quote!(#call).to_string().contains("\"api-version\"")
}

/// `let mut header_map = ...HeaderMap::with_capacity(1usize);`
fn is_header_map_local(stmt: &Stmt) -> bool {
    let Stmt::Local(local) = stmt else {
        return false;
    };
    let text = quote!(#local).to_string();
    text.contains("header_map") && text.contains("with_capacity")
}

/// `<receiver>.headers(header_map)`.
fn is_headers_call(expr: &Expr) -> bool {
    matches!(expr, Expr::MethodCall(call)
        if call.method == "headers"
        && call.args.len() == 1
        && matches!(&call.args[0], Expr::Path(p) if p.path.is_ident("header_map")))
}

impl VisitMut for ApiVersionHeader {
    fn visit_block_mut(&mut self, block: &mut syn::Block) {
        let appends: Vec<usize> = (0..block.stmts.len())
            .filter(|&i| is_api_version_append(&block.stmts[i]))
            .collect();
        // Only rewrite when the header map holds nothing but api-version:
        // any other header (none in Kalshi's spec today) keeps the map.
        let other_appends = block
            .stmts
            .iter()
            .filter(|s| quote!(#s).to_string().contains("header_map . append"))
            .count()
            - appends.len();
        if appends.len() == 1 && other_appends == 0 {
            block
                .stmts
                .retain(|s| !is_api_version_append(s) && !is_header_map_local(s));
            self.removed += 1;
            HeadersCall.visit_block_mut(block);
        }
        visit_mut::visit_block_mut(self, block);
    }
}

struct HeadersCall;

impl VisitMut for HeadersCall {
    fn visit_expr_mut(&mut self, expr: &mut Expr) {
        if is_headers_call(expr)
            && let Expr::MethodCall(call) = expr
        {
            *expr = (*call.receiver).clone();
        }
        visit_mut::visit_expr_mut(self, expr);
    }
}

/// A wire value `unknown` (an order status) makes typify name a variant
/// `Unknown`, the name of the open variant: the known one becomes
/// `UnknownValue`, keeping its serde name.
pub fn rename_known_unknown(file: &mut syn::File) -> usize {
    let mut renamed = 0;
    for item in &mut file.items {
        let syn::Item::Mod(module) = item else {
            continue;
        };
        for inner in module
            .content
            .iter_mut()
            .flat_map(|(_, items)| items.iter_mut())
        {
            let syn::Item::Enum(e) = inner else { continue };
            for variant in &mut e.variants {
                if variant.ident == "Unknown" && matches!(variant.fields, syn::Fields::Unit) {
                    variant.ident = quote::format_ident!("UnknownValue");
                    renamed += 1;
                }
            }
        }
    }
    // Impls typify wrote for those enums name the variant too.
    if renamed > 0 {
        struct Rename;
        impl syn::visit_mut::VisitMut for Rename {
            fn visit_path_mut(&mut self, path: &mut syn::Path) {
                let last = path.segments.len();
                if last >= 2
                    && path.segments[last - 1].ident == "Unknown"
                    && path.segments[last - 2].ident == "Self"
                {
                    path.segments[last - 1].ident = quote::format_ident!("UnknownValue");
                }
                syn::visit_mut::visit_path_mut(self, path);
            }
        }
        syn::visit_mut::VisitMut::visit_file_mut(&mut Rename, file);
    }
    renamed
}

/// Makes every generated string enum open.
///
/// typify emits closed enums: a value Kalshi adds later (a new order status)
/// would fail the whole response. Each unit-only enum with serde renames
/// gains an `Unknown(String)` variant and hand-rolled serde, `Display`,
/// `FromStr` and `JsonSchema` impls so unknown values round-trip verbatim.
/// Returns how many enums were opened.
pub fn open_enums(file: &mut syn::File) -> Result<usize, String> {
    let types = types_module(file).ok_or("progenitor output has no `types` module")?;
    let mut opened = Vec::new();
    for item in types.iter_mut() {
        if let Item::Enum(item_enum) = item
            && let Some(values) = string_enum_values(item_enum)?
        {
            open_enum_definition(item_enum)?;
            opened.push((item_enum.ident.clone(), values));
        }
    }
    types.retain(|item| !is_replaced_impl(item, &opened));
    for (ident, values) in &opened {
        let impls: syn::File = syn::parse2(open_enum_impls(ident, values))
            .map_err(|e| format!("open enum impls for {ident} do not parse: {e}"))?;
        types.extend(impls.items);
    }
    Ok(opened.len())
}

/// The items of the generated `types` module.
pub(crate) fn types_module(file: &mut syn::File) -> Option<&mut Vec<Item>> {
    file.items.iter_mut().find_map(|item| match item {
        Item::Mod(m) if m.ident == "types" => m.content.as_mut().map(|(_, items)| items),
        _ => None,
    })
}

/// The wire value of each variant, when `item` is a serde string enum.
fn string_enum_values(item: &ItemEnum) -> Result<Option<Vec<(Ident, String)>>, String> {
    let derives = derive_paths(&item.attrs);
    let is_serde = derives.iter().any(|p| path_ends_with(p, "Deserialize"));
    let all_unit = item
        .variants
        .iter()
        .all(|v| matches!(v.fields, Fields::Unit));
    let untagged = item
        .attrs
        .iter()
        .any(|a| quote!(#a).to_string().contains("untagged"));
    if !is_serde || !all_unit || untagged || item.variants.is_empty() {
        return Ok(None);
    }
    if item.variants.iter().any(|v| v.ident == "Unknown") {
        return Err(format!(
            "enum {} already has an `Unknown` variant; choose another name for the open variant",
            item.ident
        ));
    }
    let values = item
        .variants
        .iter()
        .map(|v| {
            let rename = v.attrs.iter().find_map(serde_rename);
            (
                v.ident.clone(),
                rename.unwrap_or_else(|| v.ident.to_string()),
            )
        })
        .collect();
    Ok(Some(values))
}

pub(crate) fn derive_paths(attrs: &[Attribute]) -> Vec<Path> {
    attrs
        .iter()
        .filter(|a| a.path().is_ident("derive"))
        .filter_map(|a| {
            a.parse_args_with(Punctuated::<Path, Token![,]>::parse_terminated)
                .ok()
        })
        .flatten()
        .collect()
}

pub(crate) fn path_ends_with(path: &Path, name: &str) -> bool {
    path.segments.last().is_some_and(|s| s.ident == name)
}

/// `#[serde(rename = "value")]` -> `value`.
fn serde_rename(attr: &Attribute) -> Option<String> {
    if !attr.path().is_ident("serde") {
        return None;
    }
    let mut value = None;
    let _ = attr.parse_nested_meta(|meta| {
        if meta.path.is_ident("rename") {
            value = Some(meta.value()?.parse::<LitStr>()?.value());
        }
        Ok(())
    });
    value
}

/// Drops the derives the open form implements by hand (and `Copy`, which a
/// `String` variant cannot have), the serde attributes, and adds `Unknown`.
fn open_enum_definition(item: &mut ItemEnum) -> Result<(), String> {
    let kept: Vec<Path> = derive_paths(&item.attrs)
        .into_iter()
        .filter(|p| {
            !["Serialize", "Deserialize", "Copy", "JsonSchema"]
                .iter()
                .any(|name| path_ends_with(p, name))
        })
        .collect();
    item.attrs
        .retain(|a| !a.path().is_ident("derive") && !a.path().is_ident("serde"));
    item.attrs.push(syn::parse_quote!(#[derive(#(#kept),*)]));
    for variant in &mut item.variants {
        variant.attrs.retain(|a| !a.path().is_ident("serde"));
    }
    item.variants.push(syn::parse_quote! {
        /// A value these bindings did not know when they were generated,
        /// kept verbatim so it serializes back exactly as received.
        Unknown(::std::string::String)
    });
    Ok(())
}

/// typify's `Display` and `FromStr` for an opened enum: replaced below.
fn is_replaced_impl(item: &Item, opened: &[(Ident, Vec<(Ident, String)>)]) -> bool {
    let Item::Impl(imp) = item else {
        return false;
    };
    let Some((_, trait_path, _)) = &imp.trait_ else {
        return false;
    };
    let replaced_trait =
        path_ends_with(trait_path, "Display") || path_ends_with(trait_path, "FromStr");
    let self_ty = &imp.self_ty;
    let self_name = quote!(#self_ty).to_string();
    replaced_trait && opened.iter().any(|(ident, _)| *ident == self_name)
}

fn open_enum_impls(ident: &Ident, values: &[(Ident, String)]) -> TokenStream {
    let variants: Vec<&Ident> = values.iter().map(|(v, _)| v).collect();
    let wires: Vec<LitStr> = values
        .iter()
        .map(|(_, w)| LitStr::new(w, Span::call_site()))
        .collect();
    let name = LitStr::new(&ident.to_string(), Span::call_site());
    quote! {
        impl #ident {
            /// The value as it appears on the wire.
            pub fn as_str(&self) -> &str {
                match self {
                    #(Self::#variants => #wires,)*
                    Self::Unknown(value) => value.as_str(),
                }
            }
        }
        impl crate::open_enum::OpenEnum for #ident {
            fn as_str(&self) -> &str {
                #ident::as_str(self)
            }
            fn is_unknown(&self) -> bool {
                matches!(self, Self::Unknown(_))
            }
        }
        impl ::std::fmt::Display for #ident {
            fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                f.write_str(self.as_str())
            }
        }
        impl ::std::str::FromStr for #ident {
            type Err = self::error::ConversionError;
            fn from_str(value: &str) -> ::std::result::Result<Self, self::error::ConversionError> {
                Ok(match value {
                    #(#wires => Self::#variants,)*
                    other => Self::Unknown(other.to_owned()),
                })
            }
        }
        impl ::serde::Serialize for #ident {
            fn serialize<S: ::serde::Serializer>(&self, serializer: S) -> ::std::result::Result<S::Ok, S::Error> {
                serializer.serialize_str(self.as_str())
            }
        }
        impl<'de> ::serde::Deserialize<'de> for #ident {
            fn deserialize<D: ::serde::Deserializer<'de>>(deserializer: D) -> ::std::result::Result<Self, D::Error> {
                crate::open_enum::deserialize(deserializer)
            }
        }
        impl schemars::JsonSchema for #ident {
            fn schema_name() -> ::std::string::String {
                #name.to_owned()
            }
            fn json_schema(_: &mut schemars::r#gen::SchemaGenerator) -> schemars::schema::Schema {
                crate::open_enum::schema(&[#(#wires),*])
            }
        }
    }
}

/// Implements `crate::request::Request` for every operation builder, and
/// makes progenitor's own `send()` private to the crate.
///
/// progenitor gives each builder an inherent `send()` but no trait, so code
/// cannot be generic over "any operation" (to add typed errors, retries per
/// call, or pagination). The impl names the builder's success and error body
/// types and its operation name, read off the generated `send()` itself.
///
/// The inherent `send()` returns progenitor's error, which knows nothing of
/// Kalshi's error bodies, retries or whether a write may have executed. Left
/// public, a habitual `.send()` would silently bypass all of that; private,
/// `.send()` resolves to kalshi-client's `Execute::send` instead, and the
/// client's path is the only one a user meets. Returns how many builders
/// got an impl.
pub fn request_impls(file: &mut syn::File) -> Result<usize, String> {
    let builder = file
        .items
        .iter_mut()
        .find_map(|item| match item {
            Item::Mod(m) if m.ident == "builder" => m.content.as_mut().map(|(_, items)| items),
            _ => None,
        })
        .ok_or("progenitor output has no `builder` module")?;
    let mut impls = Vec::new();
    for item in builder.iter() {
        let Item::Impl(imp) = item else { continue };
        if imp.trait_.is_some() {
            continue;
        }
        if let Some(send) = imp.items.iter().find_map(|i| match i {
            syn::ImplItem::Fn(f) if f.sig.ident == "send" => Some(f),
            _ => None,
        }) {
            impls.push(request_impl(&imp.self_ty, send)?);
        }
    }
    let count = impls.len();
    let mut hidden = 0;
    for item in builder.iter_mut() {
        let Item::Impl(imp) = item else { continue };
        for inner in imp.items.iter_mut() {
            if let syn::ImplItem::Fn(f) = inner
                && f.sig.ident == "send"
                && imp.trait_.is_none()
            {
                f.vis = syn::parse_quote!(pub(crate));
                hidden += 1;
            }
        }
    }
    if hidden != count {
        return Err(format!(
            "made {hidden} of {count} inherent send() methods crate-private"
        ));
    }
    builder.extend(impls);
    Ok(count)
}

fn request_impl(self_ty: &syn::Type, send: &syn::ImplItemFn) -> Result<Item, String> {
    let name = quote!(#self_ty).to_string();
    let (response, error) = send_types(&send.sig.output)
        .ok_or_else(|| format!("{name}::send has an unexpected return type"))?;
    let operation =
        operation_id(&send.block).ok_or_else(|| format!("{name}::send names no operation_id"))?;
    syn::parse2(quote! {
        impl<'a> crate::request::Request for #self_ty {
            type Response = #response;
            type ErrorBody = #error;
            const OPERATION: &'static str = #operation;
            fn send_request(
                self,
            ) -> impl ::std::future::Future<Output = Result<ResponseValue<#response>, Error<#error>>> + Send {
                self.send()
            }
        }
    })
    .map_err(|e| format!("Request impl for {name} does not parse: {e}"))
}

/// `Result<ResponseValue<T>, Error<E>>` -> `(T, E)`.
fn send_types(output: &syn::ReturnType) -> Option<(syn::Type, syn::Type)> {
    let syn::ReturnType::Type(_, ty) = output else {
        return None;
    };
    let [ok, err] = generic_args(ty, "Result")?.try_into().ok()?;
    let [response] = generic_args(&ok, "ResponseValue")?.try_into().ok()?;
    let [error] = generic_args(&err, "Error")?.try_into().ok()?;
    Some((response, error))
}

fn generic_args(ty: &syn::Type, outer: &str) -> Option<Vec<syn::Type>> {
    let syn::Type::Path(path) = ty else {
        return None;
    };
    let last = path.path.segments.last()?;
    if last.ident != outer {
        return None;
    }
    let syn::PathArguments::AngleBracketed(args) = &last.arguments else {
        return None;
    };
    Some(
        args.args
            .iter()
            .filter_map(|a| match a {
                syn::GenericArgument::Type(t) => Some(t.clone()),
                _ => None,
            })
            .collect(),
    )
}

/// The string in `OperationInfo { operation_id: "..." }` inside `send`.
fn operation_id(block: &syn::Block) -> Option<LitStr> {
    struct Find(Option<LitStr>);
    impl syn::visit::Visit<'_> for Find {
        fn visit_field_value(&mut self, field: &syn::FieldValue) {
            if let (syn::Member::Named(name), Expr::Lit(lit)) = (&field.member, &field.expr)
                && name == "operation_id"
                && let syn::Lit::Str(text) = &lit.lit
            {
                self.0 = Some(text.clone());
            }
            syn::visit::visit_field_value(self, field);
        }
    }
    let mut find = Find(None);
    syn::visit::Visit::visit_block(&mut find, block);
    find.0
}

/// Fields that hold secrets: their value never appears in `Debug` output.
const SECRET_FIELDS: [&str; 1] = ["private_key"];

/// Gives every generated struct that holds a secret (the private key that
/// `GenerateApiKey` returns, and its builder) a `Debug` that prints
/// `<redacted>` for it, instead of the derived one that would print the key
/// into any log that formats the response. Returns how many structs changed.
pub fn redact_secrets(file: &mut syn::File) -> usize {
    let mut visitor = Redact { impls: Vec::new() };
    visitor.visit_file_mut(file);
    let count = visitor.impls.len();
    // The impls go next to their structs: into the modules that hold them.
    for (module_path, item) in visitor.impls {
        if let Some(items) = module_items(&mut file.items, &module_path) {
            items.push(item);
        }
    }
    count
}

struct Redact {
    /// (module path, impl item)
    impls: Vec<(Vec<String>, Item)>,
}

impl Redact {
    fn redact_struct(&mut self, path: &[String], item: &mut syn::ItemStruct) {
        let Fields::Named(fields) = &item.fields else {
            return;
        };
        let names: Vec<&Ident> = fields
            .named
            .iter()
            .filter_map(|f| f.ident.as_ref())
            .collect();
        if !names.iter().any(|n| SECRET_FIELDS.iter().any(|s| n == s)) {
            return;
        }
        let kept: Vec<Path> = derive_paths(&item.attrs)
            .into_iter()
            .filter(|p| !path_ends_with(p, "Debug"))
            .collect();
        let others: Vec<syn::Attribute> = item
            .attrs
            .iter()
            .filter(|a| !a.path().is_ident("derive"))
            .cloned()
            .collect();
        item.attrs = others;
        item.attrs
            .insert(0, syn::parse_quote!(#[derive(#(#kept),*)]));
        let ident = &item.ident;
        let name = LitStr::new(&ident.to_string(), Span::call_site());
        let entries = names.iter().map(|field| {
            let label = LitStr::new(&field.to_string(), Span::call_site());
            if SECRET_FIELDS.iter().any(|s| *field == s) {
                quote!(.field(#label, &"<redacted>"))
            } else {
                quote!(.field(#label, &self.#field))
            }
        });
        let imp: Item = syn::parse_quote! {
            impl ::std::fmt::Debug for #ident {
                fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                    f.debug_struct(#name) #(#entries)* .finish()
                }
            }
        };
        self.impls.push((path.to_vec(), imp));
    }

    fn walk(&mut self, path: &mut Vec<String>, items: &mut [Item]) {
        for item in items {
            match item {
                Item::Struct(s) => self.redact_struct(path, s),
                Item::Mod(m) => {
                    if let Some((_, inner)) = m.content.as_mut() {
                        path.push(m.ident.to_string());
                        self.walk(path, inner);
                        path.pop();
                    }
                }
                _ => {}
            }
        }
    }
}

impl VisitMut for Redact {
    fn visit_file_mut(&mut self, file: &mut syn::File) {
        self.walk(&mut Vec::new(), &mut file.items);
    }
}

/// The items of the module at `path` (empty path: the file's top level).
fn module_items<'a>(items: &'a mut Vec<Item>, path: &[String]) -> Option<&'a mut Vec<Item>> {
    let Some((first, rest)) = path.split_first() else {
        return Some(items);
    };
    items.iter_mut().find_map(|item| match item {
        Item::Mod(m) if m.ident == first => m
            .content
            .as_mut()
            .and_then(|(_, inner)| module_items(inner, rest)),
        _ => None,
    })
}

/// Lets operations whose request body the spec marks optional be sent
/// without one being set.
///
/// progenitor starts every builder's `body` as "not initialized", optional
/// or not, so `order_groups().reset(id).send()` would fail before
/// sending unless the caller set an empty body by hand. For the builders
/// named in `optional` (progenitor's struct names), `body` starts as the
/// type's default (an empty object); a body type that has no `Default` (the
/// spec's `EmptyResponse`, a newtype over a JSON map) gets one derived.
/// Returns how many of those builders now start with a default body.
pub fn optional_bodies(
    file: &mut syn::File,
    optional: &std::collections::BTreeSet<String>,
) -> Result<usize, String> {
    let builder = module_items(&mut file.items, &["builder".to_owned()])
        .ok_or("progenitor output has no `builder` module")?;
    let mut needs_default = Vec::new();
    for item in builder.iter() {
        if let Item::Struct(s) = item
            && optional.contains(&s.ident.to_string())
        {
            let body_ty = s
                .fields
                .iter()
                .find(|f| f.ident.as_ref().is_some_and(|i| i == "body"))
                .map(|f| quote!(#f).to_string())
                .ok_or_else(|| format!("builder {} has no body field", s.ident))?;
            if !body_ty.contains("types :: builder ::") {
                needs_default.push(body_ty);
            }
        }
    }
    let mut changed = 0;
    for item in builder.iter_mut() {
        let Item::Impl(imp) = item else { continue };
        let self_ty = &imp.self_ty;
        let name = quote!(#self_ty).to_string();
        let is_optional = optional
            .iter()
            .any(|o| name == format!("{o} < 'a >") || name == *o);
        if imp.trait_.is_some() || !is_optional {
            continue;
        }
        let mut init = DefaultBody { replaced: 0 };
        for f in imp.items.iter_mut() {
            if let syn::ImplItem::Fn(f) = f
                && f.sig.ident == "new"
            {
                init.visit_block_mut(&mut f.block);
            }
        }
        changed += init.replaced;
    }
    let types = types_module(file).ok_or("progenitor output has no `types` module")?;
    for body_ty in needs_default {
        let derived = types.iter_mut().any(|item| match item {
            Item::Struct(s) if body_ty.contains(&format!("types :: {} ,", s.ident)) => {
                if !derive_paths(&s.attrs)
                    .iter()
                    .any(|p| path_ends_with(p, "Default"))
                {
                    s.attrs.push(syn::parse_quote!(#[derive(Default)]));
                }
                true
            }
            _ => false,
        });
        if !derived {
            return Err(format!("no type in `types` for optional body `{body_ty}`"));
        }
    }
    Ok(changed)
}

/// `body: Err("body was not initialized"...)` -> `body: Ok(Default::default())`;
/// counts the `body` initializers that end up as the default (progenitor
/// already writes that for bodies typed by a generated builder).
struct DefaultBody {
    replaced: usize,
}

impl VisitMut for DefaultBody {
    fn visit_field_value_mut(&mut self, field: &mut syn::FieldValue) {
        let is_body = matches!(&field.member, syn::Member::Named(i) if i == "body");
        if is_body {
            let default: Expr = syn::parse_quote!(Ok(::std::default::Default::default()));
            if quote!(#field).to_string().contains("was not initialized") {
                field.expr = default.clone();
            }
            if field.expr == default {
                self.replaced += 1;
            }
        }
        visit_mut::visit_field_value_mut(self, field);
    }
}

/// Marks every generated struct with named fields, and every enum, of the
/// `types` module `#[non_exhaustive]`.
///
/// Kalshi adds optional fields and enum values in minor spec versions. In
/// Rust, a new public field breaks every struct literal of that type and a
/// new variant breaks every exhaustive `match`, so without this each
/// additive spec bump would be a breaking release. With it, callers build
/// values through the generated `builder()` (which also checks required
/// fields) and match enums with a wildcard arm, and the README's semver
/// policy (additive bump = minor release) holds. Newtypes (`ExchangeIndex(i64)`)
/// stay constructible: they cannot gain a field. Returns how many types
/// were marked.
pub fn non_exhaustive_types(file: &mut syn::File) -> Result<usize, String> {
    let types = types_module(file).ok_or("progenitor output has no `types` module")?;
    let mut marked = 0;
    let attr: Attribute = syn::parse_quote!(#[non_exhaustive]);
    for item in types.iter_mut() {
        let attrs = match item {
            Item::Struct(s) if matches!(s.fields, Fields::Named(_)) => &mut s.attrs,
            Item::Enum(e) => &mut e.attrs,
            _ => continue,
        };
        if !attrs.contains(&attr) {
            attrs.push(attr.clone());
            marked += 1;
        }
    }
    Ok(marked)
}

/// Puts everything `schemars` into the generated code behind the crate's
/// `schemars` feature.
///
/// The JSON Schemas of Kalshi's types serve users who store or validate
/// them; every other user would compile schemars, its derive macro and
/// 280 derive expansions for nothing. progenitor offers no optional derive,
/// so the `schemars::JsonSchema` derive becomes a `cfg_attr` and each
/// hand-written `JsonSchema` impl (typify's integer enums, the open enums)
/// gets a `cfg`. Returns how many places were changed.
pub fn schemars_behind_feature(file: &mut syn::File) -> usize {
    let mut visitor = OptionalSchemars { changed: 0 };
    visitor.visit_file_mut(file);
    visitor.changed
}

struct OptionalSchemars {
    changed: usize,
}

impl OptionalSchemars {
    fn attrs(&mut self, attrs: &mut Vec<Attribute>) {
        let mut moved = false;
        for attr in attrs.iter_mut() {
            if !attr.path().is_ident("derive") {
                continue;
            }
            let paths = derive_paths(std::slice::from_ref(attr));
            if !paths.iter().any(|p| path_ends_with(p, "JsonSchema")) {
                continue;
            }
            let kept: Vec<&Path> = paths
                .iter()
                .filter(|p| !path_ends_with(p, "JsonSchema"))
                .collect();
            *attr = syn::parse_quote!(#[derive(#(#kept),*)]);
            moved = true;
        }
        if moved {
            attrs.push(syn::parse_quote!(
                #[cfg_attr(feature = "schemars", derive(schemars::JsonSchema))]
            ));
            self.changed += 1;
        }
    }
}

impl VisitMut for OptionalSchemars {
    fn visit_item_struct_mut(&mut self, item: &mut syn::ItemStruct) {
        self.attrs(&mut item.attrs);
    }

    fn visit_item_enum_mut(&mut self, item: &mut ItemEnum) {
        self.attrs(&mut item.attrs);
    }

    fn visit_item_impl_mut(&mut self, item: &mut syn::ItemImpl) {
        let is_schema = item
            .trait_
            .as_ref()
            .is_some_and(|(_, path, _)| path_ends_with(path, "JsonSchema"));
        if is_schema {
            item.attrs
                .push(syn::parse_quote!(#[cfg(feature = "schemars")]));
            self.changed += 1;
        }
    }
}

/// Appends `visit_types`: one call of a `crate::visit::TypeVisitor` per
/// operation (its builder, whose `Request` impl names the success and error
/// body types) and per open string enum, both read off the code generated so
/// far.
///
/// Checks that must cover every response and every enum (the fuzz targets,
/// the tests) are then written once, generically, and a spec bump that adds
/// an operation or an enum extends them by regeneration alone. Returns how
/// many operations and enums are visited.
pub fn type_visitor(file: &mut syn::File) -> Result<(usize, usize), String> {
    let trait_self = |item: &Item, name: &str| match item {
        Item::Impl(imp)
            if imp
                .trait_
                .as_ref()
                .is_some_and(|(_, path, _)| quote!(#path).to_string().replace(' ', "") == name) =>
        {
            match &*imp.self_ty {
                syn::Type::Path(path) => path.path.segments.last().map(|s| s.ident.clone()),
                _ => None,
            }
        }
        _ => None,
    };
    let module = |file: &syn::File, name: &str| -> Vec<Ident> {
        let items = file.items.iter().find_map(|item| match item {
            Item::Mod(m) if m.ident == name => m.content.as_ref().map(|(_, items)| items),
            _ => None,
        });
        let wanted = match name {
            "builder" => "crate::request::Request",
            _ => "crate::open_enum::OpenEnum",
        };
        let mut found: Vec<Ident> = items
            .into_iter()
            .flatten()
            .filter_map(|item| trait_self(item, wanted))
            .collect();
        found.sort();
        found
    };
    let operations = module(file, "builder");
    let enums = module(file, "types");
    if enums.is_empty() {
        return Err("no open enum impl found: postprocess::open_enums changed shape".to_owned());
    }
    let counts = (operations.len(), enums.len());
    let visit = quote! {
        /// Calls `visitor` once per operation of these bindings (with its
        /// request builder, whose [`Request`](crate::request::Request) impl
        /// names its success and error bodies) and once per open string enum,
        /// so a check written once covers every type, those of the next spec
        /// bump included (the fuzz targets decode every response through it).
        pub fn visit_types<V: crate::visit::TypeVisitor>(visitor: &mut V) {
            #(visitor.operation::<builder::#operations<'static>>();)*
            #(visitor.open_enum::<types::#enums>();)*
        }
    };
    file.items.extend(
        syn::parse2::<syn::File>(visit)
            .map_err(|e| format!("visit_types does not parse: {e}"))?
            .items,
    );
    Ok(counts)
}

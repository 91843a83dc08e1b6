//! `cargo xtask regen [--check]`: the vendored spec in, `kalshi-gen/src/generated.rs` out.
//!
//! The pipeline: parse the spec, apply the named [`crate::patches`],
//! run progenitor as a library, rewrite what no setting covers
//! ([`crate::postprocess`]), append the operation table, and
//! format with prettyplease (a pinned library, so every machine writes the
//! same bytes; rustfmt versions differ between toolchains).

use std::fmt::Write as _;
use std::path::Path;

use proc_macro2::TokenStream;
use progenitor::{GenerationSettings, Generator, HooksMode, InterfaceStyle, TagStyle, TypeImpl};
use quote::quote;

use crate::inventory::{self, Placement, Row};
use crate::{patches, postprocess, spec};

/// Where the generated bindings are written, relative to the workspace root.
pub const GENERATED: &str = "kalshi-gen/src/generated.rs";

/// Where the generated WebSocket bindings are written, relative to the
/// workspace root (see [`crate::asyncapi`]).
pub const STREAM_GENERATED: &str = "kalshi-gen/src/stream_generated.rs";

/// Where the margin (perpetuals) REST bindings are written, relative to the
/// workspace root: `kalshi_gen::margin`, its own namespace, since the margin
/// document reuses the main one's schema names (`Order`, `Market`, ...).
pub const MARGIN_GENERATED: &str = "kalshi-gen/src/margin/generated.rs";

/// Where the margin WebSocket message bindings are written, relative to the
/// workspace root: `kalshi_gen::margin::stream`.
pub const MARGIN_STREAM_GENERATED: &str = "kalshi-gen/src/margin/stream.rs";

/// The command a maintainer runs to bring the bindings up to date.
pub const REGEN_COMMAND: &str = "cargo xtask regen";

/// What a regen run found.
#[derive(Debug, PartialEq, Eq)]
pub enum Outcome {
    /// The committed file already matches.
    UpToDate,
    /// The file was (re)written.
    Written,
}

/// Regenerates (or, with `check`, verifies) the REST and the WebSocket
/// bindings under `root`.
pub fn regen(root: &Path, check: bool) -> Result<Outcome, String> {
    use crate::fetch::Document;
    let progenitor = progenitor_version(root)?;
    let spec_text = read_document(root, Document::TradeApi)?;
    let rest = generate(&spec_text, &progenitor)?;
    let asyncapi_text = read_document(root, Document::WebSocketApi)?;
    let streams = crate::asyncapi::generate(&asyncapi_text)?;
    let margin_text = read_document(root, Document::MarginApi)?;
    let margin = generate_api(Api::Margin, &margin_text, &progenitor)?;
    let margin_asyncapi_text = read_document(root, Document::MarginWebSocketApi)?;
    let margin_streams =
        crate::asyncapi::generate_stream(crate::asyncapi::Stream::Margin, &margin_asyncapi_text)?;
    let outcomes = [
        write_or_check(root, GENERATED, &rest, check)?,
        write_or_check(root, STREAM_GENERATED, &streams, check)?,
        write_or_check(root, MARGIN_GENERATED, &margin, check)?,
        write_or_check(root, MARGIN_STREAM_GENERATED, &margin_streams, check)?,
    ];
    Ok(if outcomes.iter().all(|o| *o == Outcome::UpToDate) {
        Outcome::UpToDate
    } else {
        Outcome::Written
    })
}

/// A vendored document, after checking it against its recorded sha256.
fn read_document(root: &Path, document: crate::fetch::Document) -> Result<String, String> {
    let path = root.join(document.file());
    let text = std::fs::read_to_string(&path)
        .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    verify_metadata(root, document, &text)?;
    Ok(text)
}

fn write_or_check(root: &Path, file: &str, code: &str, check: bool) -> Result<Outcome, String> {
    let target = root.join(file);
    let committed = std::fs::read_to_string(&target).unwrap_or_default();
    if committed == code {
        return Ok(Outcome::UpToDate);
    }
    if check {
        return Err(stale_message(&target, &committed, code));
    }
    std::fs::write(&target, code).map_err(|e| format!("cannot write {}: {e}", target.display()))?;
    Ok(Outcome::Written)
}

/// The recorded sha256 must be the vendored file's: a spec edited by hand
/// (or fetched without `fetch-spec`) would otherwise go unnoticed.
fn verify_metadata(
    root: &Path,
    document: crate::fetch::Document,
    text: &str,
) -> Result<(), String> {
    let (_, recorded) =
        crate::fetch::read_document_metadata(document, root).map_err(|e| e.to_string())?;
    let actual = spec::sha256_hex(text.as_bytes());
    if recorded != actual {
        return Err(format!(
            "{} has sha256 {actual}, but {} records {recorded}. Vendor specs with \
             `cargo xtask fetch-spec`, never by hand.",
            document.file(),
            document.metadata_file()
        ));
    }
    Ok(())
}

/// The progenitor version the workspace is locked to, read from Cargo.lock so
/// the header can never disagree with what actually ran.
fn progenitor_version(root: &Path) -> Result<String, String> {
    let lock = std::fs::read_to_string(root.join("Cargo.lock"))
        .map_err(|e| format!("cannot read Cargo.lock: {e}"))?;
    let mut lines = lock.lines();
    while let Some(line) = lines.next() {
        if line == "name = \"progenitor-impl\""
            && let Some(version) = lines.next().and_then(|l| l.strip_prefix("version = "))
        {
            return Ok(version.trim_matches('"').to_owned());
        }
    }
    Err("Cargo.lock does not lock progenitor-impl".to_owned())
}

fn stale_message(target: &Path, committed: &str, fresh: &str) -> String {
    let diff = similar::TextDiff::from_lines(committed, fresh);
    let mut shown = String::new();
    let unified = diff
        .unified_diff()
        .context_radius(3)
        .header("committed", "generated")
        .to_string();
    for line in unified.lines().take(200) {
        let _ = writeln!(shown, "{line}");
    }
    format!(
        "{} is out of date with the vendored spec and the generator.\n{shown}\
         (diff cut to 200 lines)\nRun `{REGEN_COMMAND}` and commit the result.",
        target.display()
    )
}

/// A REST document the workspace generates bindings for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Api {
    /// The Trade API (event contracts): `kalshi_gen`'s root.
    Trade,
    /// The margin (perpetuals) API: `kalshi_gen::margin`.
    Margin,
}

impl Api {
    fn title(self) -> &'static str {
        match self {
            Api::Trade => "Kalshi Trade API",
            Api::Margin => "Kalshi margin (perpetuals) API",
        }
    }

    fn patches(self) -> &'static [patches::Patch] {
        match self {
            Api::Trade => patches::PATCHES,
            Api::Margin => patches::MARGIN_PATCHES,
        }
    }
}

/// Generates the Trade API bindings for `spec_text`; pure, so tests can run it.
pub fn generate(spec_text: &str, progenitor_version: &str) -> Result<String, String> {
    generate_api(Api::Trade, spec_text, progenitor_version)
}

/// Generates `api`'s bindings for `spec_text`; pure, so tests can run it.
pub fn generate_api(api: Api, spec_text: &str, progenitor_version: &str) -> Result<String, String> {
    let sha256 = spec::sha256_hex(spec_text.as_bytes());
    let mut doc = spec::parse(spec_text)?;
    let version = doc["info"]["version"]
        .as_str()
        .unwrap_or("unknown")
        .to_owned();
    let applied = patches::apply(&mut doc, api.patches())?;
    let rows = inventory::inventory(&doc);
    let optional = optional_body_builders(&doc);
    let openapi: openapiv3::OpenAPI = serde_json::from_value(doc)
        .map_err(|e| format!("the patched spec is not OpenAPI 3.0: {e}"))?;

    let mut generator = Generator::new(&settings());
    let tokens = generator
        .generate_tokens(&openapi)
        .map_err(|e| format!("progenitor failed: {e}"))?;
    let mut file: syn::File =
        syn::parse2(tokens).map_err(|e| format!("progenitor output does not parse: {e}"))?;

    let dropped = postprocess::drop_api_version_header(&mut file);
    if dropped != rows.len() {
        return Err(format!(
            "removed the api-version header from {dropped} of {} operations: progenitor's output changed shape",
            rows.len()
        ));
    }
    let requests = postprocess::request_impls(&mut file)?;
    if requests != rows.len() {
        return Err(format!(
            "made {requests} Request impls for {} operations: progenitor's builder output changed shape",
            rows.len()
        ));
    }
    let defaulted = postprocess::optional_bodies(&mut file, &optional)?;
    if defaulted != optional.len() {
        return Err(format!(
            "gave {defaulted} of {} optional request bodies a default: progenitor's builder output changed shape",
            optional.len()
        ));
    }
    // The margin document's ExitTriggerStatus has a value `unknown`.
    postprocess::rename_known_unknown(&mut file);
    let opened = postprocess::open_enums(&mut file)?;
    if postprocess::schemars_behind_feature(&mut file) == 0 {
        return Err(
            "no JsonSchema derive or impl was found: progenitor's derive output changed shape"
                .to_owned(),
        );
    }
    if postprocess::non_exhaustive_types(&mut file)? == 0 {
        return Err(
            "no generated type was marked non_exhaustive: progenitor's type output changed shape"
                .to_owned(),
        );
    }
    // Only the Trade API has a type holding a private key (API key creation).
    if postprocess::redact_secrets(&mut file) == 0 && api == Api::Trade {
        return Err(
            "no generated type holds a private_key any more: revisit postprocess::redact_secrets"
                .to_owned(),
        );
    }
    if opened == 0 {
        return Err("no string enum was opened: progenitor's enum output changed shape".to_owned());
    }
    file.items.extend(
        syn::parse2::<syn::File>(operation_table(&rows))
            .map_err(|e| e.to_string())?
            .items,
    );
    let (visited, _) = postprocess::type_visitor(&mut file)?;
    if visited != rows.len() {
        return Err(format!(
            "visit_types visits {visited} of {} operations: the Request impls changed shape",
            rows.len()
        ));
    }

    let header = header(api, &version, &sha256, progenitor_version, &applied, opened);
    Ok(format!("{header}{}", prettyplease::unparse(&file)))
}

/// progenitor's builder names of the operations whose request body is
/// optional (`requestBody.required` is not `true`).
fn optional_body_builders(doc: &serde_json::Value) -> std::collections::BTreeSet<String> {
    spec::operations(doc)
        .iter()
        .filter(|op| {
            op.request_body(doc)
                .is_some_and(|body| body.get("required") != Some(&serde_json::Value::Bool(true)))
        })
        .map(|op| {
            heck::ToUpperCamelCase::to_upper_camel_case(inventory::snake_case(&op.id()).as_str())
        })
        .collect()
}

/// Generator settings; each one says why it is set.
fn settings() -> GenerationSettings {
    let mut settings = GenerationSettings::new();
    settings
        // Builders: optional query parameters stay optional without a wall of
        // `None` arguments, and a builder can be cloned to retry.
        .with_interface(InterfaceStyle::Builder)
        // One extension trait per tag (`ClientOrdersExt`, ...), the way the
        // API documentation groups operations.
        .with_tag(TagStyle::Separate)
        // The client's inner value carries the hooks kalshi-client installs.
        .with_inner_type(quote!(crate::hooks::Hooks))
        // Every request goes through kalshi-gen's hooks impl; no silent default.
        .with_hooks(HooksMode::Expected)
        // Users can derive JSON schemas for anything they store or log;
        // postprocess::schemars_behind_feature makes it opt-in.
        .with_derive("schemars::JsonSchema")
        // Responses compare like the stream's messages do (a stream event
        // can carry REST fills).
        .with_derive("PartialEq")
        // Money and counts are decimals, never strings or floats.
        .with_replacement(
            "FixedPointDollars",
            "crate::num::Dollars",
            [TypeImpl::Display, TypeImpl::FromStr, TypeImpl::Default].into_iter(),
        )
        .with_replacement(
            "FixedPointCount",
            "crate::num::Count",
            [TypeImpl::Display, TypeImpl::FromStr, TypeImpl::Default].into_iter(),
        )
        // An order book level is a [price, count] pair of decimal strings;
        // typify would make it `[String; 2]`.
        // The margin document's rates and leverage (JSON numbers, named
        // `Ratio` by patches::margin_numbers_are_ratios) are decimals too.
        .with_replacement(
            patches::RATIO_SCHEMA,
            "crate::num::Ratio",
            [TypeImpl::Display, TypeImpl::FromStr, TypeImpl::Default].into_iter(),
        )
        .with_replacement(
            "PriceLevelDollarsCountFp",
            "crate::num::PriceLevel",
            [TypeImpl::Display, TypeImpl::Default].into_iter(),
        );
    settings
}

fn header(
    api: Api,
    version: &str,
    sha256: &str,
    progenitor: &str,
    applied: &[(&str, usize)],
    opened: usize,
) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "// @generated by `{REGEN_COMMAND}`. Do not edit by hand."
    );
    let _ = writeln!(out, "// Spec: {} {version}, sha256 {sha256}", api.title());
    let _ = writeln!(
        out,
        "// Generator: progenitor {progenitor}, formatted with prettyplease"
    );
    for (name, changed) in applied {
        let _ = writeln!(out, "// Spec patch: {name} ({changed} places)");
    }
    let _ = writeln!(out, "// Open string enums: {opened}");
    out
}

/// The inventory as a static table, sorted by progenitor's method name so
/// the client can look an operation up by `OperationInfo::operation_id`.
fn operation_table(rows: &[Row]) -> TokenStream {
    let mut rows: Vec<&Row> = rows.iter().collect();
    rows.sort_by(|a, b| a.method_name.cmp(&b.method_name));
    let entries = rows.iter().map(|r| {
        let (name, id, method, path, tag) =
            (&r.method_name, &r.operation_id, &r.method, &r.path, &r.tag);
        let (auth, paginated) = (r.authenticated, r.paginated);
        let [sub, xindex, ticker] = r.routing.map(placement_tokens);
        let (query, body) = (&r.query, &r.body);
        let items = r
            .body_items
            .iter()
            .map(|(name, fields)| quote!((#name, &[#(#fields),*])));
        quote! {
            crate::operation::Operation {
                name: #name,
                operation_id: #id,
                method: #method,
                path: #path,
                tag: #tag,
                authenticated: #auth,
                paginated: #paginated,
                subaccount: #sub,
                exchange_index: #xindex,
                market_ticker: #ticker,
                query: &[#(#query),*],
                body: &[#(#body),*],
                body_items: &[#(#items),*],
            }
        }
    });
    quote! {
        /// Every operation of the spec, sorted by method name.
        pub const OPERATIONS: &[crate::operation::Operation] = &[#(#entries),*];
    }
}

fn placement_tokens(placement: Placement) -> TokenStream {
    match placement {
        Placement::Absent => quote!(crate::operation::Placement::Absent),
        Placement::Query => quote!(crate::operation::Placement::Query),
        Placement::Body => quote!(crate::operation::Placement::Body),
        Placement::BodyPerItem => quote!(crate::operation::Placement::BodyPerItem),
    }
}

//! `#[derive(Trace)]` for weakling: reports every field's handles to the collector.
//!
//! * Structs (named, tuple, unit) and enums; unions are rejected.
//! * Each type parameter gets a `Trace` bound.
//! * `#[trace(skip)]` on a field leaves it out: its handles count as references from outside
//!   (safe; a cycle through them is never freed).
//! * `#[trace(finalize = path)]` on the type sets `FINALIZE` and makes `Trace::finalize`
//!   call `path(this)` with `this: &Gc<Self>` (so `fn(&Self)` works too, by deref): the
//!   object's finalizer for cyclic garbage.
//! * `LEAF` is true when every traced field's type is a leaf. A field that mentions the type
//!   itself (`Vec<Self>`, `Option<Box<Tree>>`, `Weak<Node>`) is judged with `()` in place of
//!   the type: asking the compiler for `<Vec<Tree> as Trace>::LEAF` while defining
//!   `Tree::LEAF` would be a const-evaluation cycle. Assuming the type is a leaf there is
//!   sound: a value is finite, so by induction it owns a handle only if some field outside
//!   the recursion can. Mutual recursion between two types still forms a cycle.

use proc_macro::TokenStream;
use proc_macro2::{Span, TokenStream as TokenStream2};
use quote::{format_ident, quote, quote_spanned};
use syn::spanned::Spanned;
use syn::{parse_macro_input, parse_quote, Data, DeriveInput, Error, Field, Fields, Result};

/// Derives `weakling::Trace`. See the crate docs.
#[proc_macro_derive(Trace, attributes(trace))]
pub fn derive_trace(input: TokenStream) -> TokenStream {
    let input = parse_macro_input!(input as DeriveInput);
    expand(input).unwrap_or_else(Error::into_compile_error).into()
}

/// Whether a field carries `#[trace(skip)]`; any other `trace` attribute is an error.
fn skipped(field: &Field) -> Result<bool> {
    let mut skip = false;
    for attr in field.attrs.iter().filter(|a| a.path().is_ident("trace")) {
        let mut empty = true;
        attr.parse_nested_meta(|meta| {
            empty = false;
            if !meta.path.is_ident("skip") {
                return Err(meta.error(
                    "unknown `trace` attribute; the only field attribute is `#[trace(skip)]`",
                ));
            }
            // Without this check `skip = 1` fails later with a bare "expected `,`".
            if !(meta.input.is_empty() || meta.input.peek(syn::Token![,])) {
                return Err(meta.error("`skip` takes no value: write `#[trace(skip)]`"));
            }
            if skip {
                return Err(meta.error("`skip` is given more than once for this field"));
            }
            skip = true;
            Ok(())
        })?;
        // An empty `#[trace()]` does nothing, which is unlikely to be what was meant.
        if empty {
            return Err(Error::new_spanned(
                attr,
                "empty `#[trace()]`; to leave the field out write `#[trace(skip)]`",
            ));
        }
    }
    Ok(skip)
}

/// The finalizer named by `#[trace(finalize = path)]` on the type, if any.
fn finalizer(attrs: &[syn::Attribute]) -> Result<Option<syn::Path>> {
    let mut found: Option<syn::Path> = None;
    for attr in attrs.iter().filter(|a| a.path().is_ident("trace")) {
        attr.parse_nested_meta(|meta| {
            if !meta.path.is_ident("finalize") {
                return Err(meta.error(
                    "unknown `trace` attribute on a type; the only one is \
                     `#[trace(finalize = path::to::function)]` (put `#[trace(skip)]` on fields)",
                ));
            }
            if found.is_some() {
                return Err(meta.error("`finalize` is given more than once"));
            }
            found = Some(meta.value()?.parse()?);
            Ok(())
        })?;
    }
    Ok(found)
}

/// Rejects `#[trace(...)]` on a variant, where it has no meaning.
fn reject_attrs(attrs: &[syn::Attribute], place: &str) -> Result<()> {
    match attrs.iter().find(|a| a.path().is_ident("trace")) {
        // `new_spanned` underlines the whole attribute, not just its `#`.
        Some(attr) => Err(Error::new_spanned(
            attr,
            format!(
                "`#[trace(...)]` is not allowed on {place}; put `#[trace(skip)]` on the \
                 fields to leave out"
            ),
        )),
        None => Ok(()),
    }
}

/// The traced fields of one variant or struct body: (binding pattern, trace calls, `LEAF`
/// terms). `name` is the deriving type's.
fn bind(
    fields: &Fields,
    name: &syn::Ident,
) -> Result<(TokenStream2, Vec<TokenStream2>, Vec<TokenStream2>)> {
    let mut calls = Vec::new();
    let mut leaves = Vec::new();
    let mut pats = Vec::new();
    let mut errors: Option<Error> = None;
    // The tracer keeps call-site hygiene; only the call's location moves to the field.
    let tracer = syn::Ident::new("__tracer", Span::call_site());
    for (i, field) in fields.iter().enumerate() {
        let skip = match skipped(field) {
            Ok(skip) => skip,
            Err(e) => {
                // Report every bad attribute of the type at once, not one per build.
                match &mut errors {
                    Some(all) => all.combine(e),
                    None => errors = Some(e),
                }
                continue;
            }
        };
        let binding = format_ident!("__field_{}", i);
        let member = match &field.ident {
            Some(ident) => quote!(#ident),
            None => {
                let index = syn::Index::from(i);
                quote!(#index)
            }
        };
        if skip {
            pats.push(quote!(#member: _));
        } else {
            pats.push(quote!(#member: #binding));
            // Naming the field's own type makes a missing impl fail here exactly as in
            // `LEAF` (same span, same message), so rustc reports it once, at the field.
            let ty = &field.ty;
            let span = Span::call_site().located_at(ty.span());
            calls
                .push(quote_spanned!(span=> <#ty as ::weakling::Trace>::trace(#binding, #tracer);));
            let mut leaf_ty = field.ty.clone();
            unself(&mut leaf_ty, name);
            leaves.push(quote_spanned!(span=> <#leaf_ty as ::weakling::Trace>::LEAF));
        }
    }
    match errors {
        Some(e) => Err(e),
        None => Ok((quote!({ #(#pats,)* .. }), calls, leaves)),
    }
}

/// Replaces every mention of the deriving type (`Self`, or its name as a one-segment path)
/// in `ty` by `()`, for the `LEAF` computation (see the crate docs). Paths with more than one
/// segment are left alone: `other::Tree` may be a different type.
fn unself(ty: &mut syn::Type, name: &syn::Ident) {
    use syn::{GenericArgument, PathArguments, Type};
    match ty {
        Type::Path(p) => {
            let is_self = p.qself.is_none()
                && p.path.leading_colon.is_none()
                && p.path.segments.len() == 1
                && (p.path.segments[0].ident == *name || p.path.segments[0].ident == "Self");
            if is_self {
                *ty = parse_quote!(());
                return;
            }
            if let Some(q) = &mut p.qself {
                unself(&mut q.ty, name);
            }
            for seg in &mut p.path.segments {
                match &mut seg.arguments {
                    PathArguments::AngleBracketed(args) => {
                        for arg in &mut args.args {
                            match arg {
                                GenericArgument::Type(t) => unself(t, name),
                                GenericArgument::AssocType(a) => unself(&mut a.ty, name),
                                _ => {}
                            }
                        }
                    }
                    PathArguments::Parenthesized(args) => {
                        args.inputs.iter_mut().for_each(|t| unself(t, name));
                        if let syn::ReturnType::Type(_, t) = &mut args.output {
                            unself(t, name);
                        }
                    }
                    PathArguments::None => {}
                }
            }
        }
        Type::Reference(r) => unself(&mut r.elem, name),
        Type::Slice(s) => unself(&mut s.elem, name),
        Type::Array(a) => unself(&mut a.elem, name),
        Type::Ptr(p) => unself(&mut p.elem, name),
        Type::Paren(p) => unself(&mut p.elem, name),
        Type::Group(g) => unself(&mut g.elem, name),
        Type::Tuple(t) => t.elems.iter_mut().for_each(|t| unself(t, name)),
        // Trait objects, fn pointers, macros: left as written.
        _ => {}
    }
}

fn expand(mut input: DeriveInput) -> Result<TokenStream2> {
    let finalizer = finalizer(&input.attrs)?;
    let name = input.ident.clone();
    let mut arms = Vec::new();
    let mut leaves = Vec::new();
    let mut bodies = Vec::new();
    match &input.data {
        Data::Struct(data) => bodies.push((quote!(Self), Ok(()), &data.fields)),
        Data::Enum(data) => {
            for variant in &data.variants {
                let v = &variant.ident;
                let attrs = reject_attrs(&variant.attrs, "an enum variant");
                bodies.push((quote!(Self::#v), attrs, &variant.fields));
            }
        }
        Data::Union(u) => {
            return Err(Error::new(
                u.union_token.span(),
                "`Trace` cannot be derived for a union: nothing says which field holds a \
                 value; implement `Trace` by hand",
            ))
        }
    }
    // Every misplaced or malformed attribute of the type is reported in one build.
    let mut errors: Option<Error> = None;
    for (path, attrs, fields) in bodies {
        match attrs.and_then(|()| bind(fields, &name)) {
            Ok((pat, calls, terms)) => {
                arms.push(quote!(#path #pat => { #(#calls)* }));
                leaves.extend(terms);
            }
            Err(e) => match &mut errors {
                Some(all) => all.combine(e),
                None => errors = Some(e),
            },
        }
    }
    if let Some(e) = errors {
        return Err(e);
    }
    for param in input.generics.type_params_mut() {
        param.bounds.push(parse_quote!(::weakling::Trace));
    }
    let (impl_generics, ty_generics, where_clause) = input.generics.split_for_impl();
    let leaf = if leaves.is_empty() { quote!(true) } else { quote!(#(#leaves)&&*) };
    let body = if arms.is_empty() {
        // An enum without variants has no value to trace.
        quote!(match *self {})
    } else {
        quote!(match self { #(#arms)* })
    };
    let finalize = finalizer.map(|path| {
        quote! {
            const FINALIZE: ::core::primitive::bool = true;
            fn finalize(this: &::weakling::Gc<Self>) {
                #path(this)
            }
        }
    });
    Ok(quote! {
        // SAFETY: generated: each traced field is owned by `self` and traced once; `LEAF` is
        // true only if every traced field's type is a leaf, mentions of the type itself
        // counting as leaves (sound by induction on the value; see the crate docs).
        unsafe impl #impl_generics ::weakling::Trace for #name #ty_generics #where_clause {
            const LEAF: ::core::primitive::bool = #leaf;
            #finalize
            #[inline]
            #[allow(unused_variables)]
            fn trace(&self, __tracer: &mut ::weakling::Tracer<'_>) {
                #body
            }
        }
    })
}

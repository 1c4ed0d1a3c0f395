//! `#[derive(Trace)]` for weakling: reports every field's handles to the collector.
//!
//! * Structs (named, tuple, unit) and enums; unions are rejected.
//! * Each type parameter gets a `Trace` bound.
//! * `#[trace(skip)]` on a field leaves it out: its handles count as references from outside
//!   (safe; a cycle through them is never freed).
//! * `LEAF` is true when every traced field's type is a leaf.

use proc_macro::TokenStream;
use proc_macro2::TokenStream as TokenStream2;
use quote::{format_ident, quote};
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
        attr.parse_nested_meta(|meta| {
            if meta.path.is_ident("skip") {
                if skip {
                    return Err(meta.error("duplicate `skip`"));
                }
                skip = true;
                Ok(())
            } else {
                Err(meta.error("unknown trace attribute; the only field attribute is `#[trace(skip)]`"))
            }
        })?;
    }
    Ok(skip)
}

fn reject_container_attrs(input: &DeriveInput) -> Result<()> {
    match input.attrs.iter().find(|a| a.path().is_ident("trace")) {
        Some(attr) => Err(Error::new(attr.span(), "`#[trace(...)]` belongs on fields; the only one is `#[trace(skip)]`")),
        None => Ok(()),
    }
}

/// The traced fields of one variant or struct body: (binding pattern, traced bindings, types).
fn bind(fields: &Fields) -> Result<(TokenStream2, Vec<syn::Ident>, Vec<syn::Type>)> {
    let mut traced = Vec::new();
    let mut types = Vec::new();
    let mut pats = Vec::new();
    for (i, field) in fields.iter().enumerate() {
        let skip = skipped(field)?;
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
            traced.push(binding);
            types.push(field.ty.clone());
        }
    }
    Ok((quote!({ #(#pats,)* .. }), traced, types))
}

fn expand(mut input: DeriveInput) -> Result<TokenStream2> {
    reject_container_attrs(&input)?;
    let name = input.ident.clone();
    let mut arms = Vec::new();
    let mut leaf_types = Vec::new();
    match &input.data {
        Data::Struct(data) => {
            let (pat, traced, types) = bind(&data.fields)?;
            arms.push(quote!(Self #pat => { #(::weakling::Trace::trace(#traced, __tracer);)* }));
            leaf_types.extend(types);
        }
        Data::Enum(data) => {
            for variant in &data.variants {
                if let Some(attr) = variant.attrs.iter().find(|a| a.path().is_ident("trace")) {
                    return Err(Error::new(attr.span(), "`#[trace(...)]` belongs on fields; the only one is `#[trace(skip)]`"));
                }
                let (pat, traced, types) = bind(&variant.fields)?;
                let v = &variant.ident;
                arms.push(quote!(Self::#v #pat => { #(::weakling::Trace::trace(#traced, __tracer);)* }));
                leaf_types.extend(types);
            }
        }
        Data::Union(u) => {
            return Err(Error::new(
                u.union_token.span(),
                "Trace cannot be derived for a union: the collector cannot know which field is live",
            ))
        }
    }
    for param in input.generics.type_params_mut() {
        param.bounds.push(parse_quote!(::weakling::Trace));
    }
    let (impl_generics, ty_generics, where_clause) = input.generics.split_for_impl();
    let leaf = if leaf_types.is_empty() {
        quote!(true)
    } else {
        quote!(#(<#leaf_types as ::weakling::Trace>::LEAF)&&*)
    };
    let body = if arms.is_empty() {
        // An enum without variants has no value to trace.
        quote!(match *self {})
    } else {
        quote!(match self { #(#arms)* })
    };
    Ok(quote! {
        // SAFETY: generated: each traced field is owned by `self` and traced once; `LEAF` is
        // true only if every traced field's type is a leaf.
        unsafe impl #impl_generics ::weakling::Trace for #name #ty_generics #where_clause {
            const LEAF: bool = #leaf;
            #[inline]
            #[allow(unused_variables)]
            fn trace(&self, __tracer: &mut ::weakling::Tracer<'_>) {
                #body
            }
        }
    })
}

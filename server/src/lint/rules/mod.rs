//! The rules. Each module holds one rule (or a small family that shares one check, such as the
//! role rules over a message list) with its [`RuleInfo`](super::RuleInfo) doc, its check (one of
//! the shapes in [`super::rule`]) and its tests. [`super::registry`] lists them all.

pub mod boilerplate;
pub mod dataset_size;
pub mod duplicates;
pub mod field_types;
pub mod html;
pub mod keys;
pub mod legacy;
pub mod markdown_links;
pub mod mixed_formats;
pub mod near_duplicates;
pub mod pii;
pub mod preference;
pub mod repetition;
pub mod roles;
pub mod shapes;
pub mod syntax;
pub mod templated;
pub mod tokens;
pub mod transcript;
pub mod urls;
pub mod weight;
pub mod whitespace;

pub use crate::hashkey::HashKeyMap;

#[cfg(test)]
pub(crate) mod test_support;

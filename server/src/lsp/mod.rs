//! The language server: a thin tower-lsp-server face over [`crate::lint`] and the services.

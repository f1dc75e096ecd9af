//! `voicetune lsp`: the language server over stdio.

pub(crate) fn run() -> anyhow::Result<()> {
    voicetune::lsp::run_stdio()
}

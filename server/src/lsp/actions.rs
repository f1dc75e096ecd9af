//! Code actions: each diagnostic's quick fix (read back from `Diagnostic.data`), "fix all
//! <rule> in this file", and `source.fixAll.voicetune` (for code-actions-on-save). Every edit is
//! a `WorkspaceEdit` carrying the document version it was computed for.

use super::diagnostics::{data_of, hash, Anchor};
use super::document::Document;
use super::edits::minimal_edits;
use super::position::{self, Encoding};
use crate::dataset::FileKind;
use crate::lint::{self, Applicability, Edit, Finding, Fix, FixMode, LintOptions};
use ropey::Rope;
use std::collections::BTreeSet;
use std::sync::atomic::{AtomicBool, Ordering};
use tower_lsp_server::ls_types::{
    CodeAction, CodeActionContext, CodeActionKind, CodeActionOrCommand, Diagnostic,
    DocumentChanges, OneOf, OptionalVersionedTextDocumentIdentifier, TextDocumentEdit, TextEdit,
    Uri, WorkspaceEdit,
};

pub const FIX_ALL_KIND: &str = "source.fixAll.voicetune";

/// What off-loop work needs of a document: cheap to take (a rope clone shares its nodes).
#[derive(Clone)]
pub struct Snapshot {
    pub uri: Uri,
    pub rope: Rope,
    pub version: i32,
    pub encoding: Encoding,
    pub kind: FileKind,
}

impl Snapshot {
    pub fn of(doc: &Document, uri: &Uri) -> Snapshot {
        Snapshot {
            uri: uri.clone(),
            rope: doc.rope().clone(),
            version: doc.version,
            encoding: doc.encoding,
            kind: doc.kind,
        }
    }

    /// A versioned `WorkspaceEdit` of byte-span edits of this snapshot's text.
    pub fn workspace_edit(&self, edits: &[Edit]) -> WorkspaceEdit {
        let edits = edits
            .iter()
            .map(|e| {
                OneOf::Left(TextEdit::new(
                    tower_lsp_server::ls_types::Range::new(
                        position::position_of(&self.rope, e.span.start, self.encoding),
                        position::position_of(&self.rope, e.span.end, self.encoding),
                    ),
                    e.new_text.to_string(),
                ))
            })
            .collect();
        WorkspaceEdit {
            document_changes: Some(DocumentChanges::Edits(vec![TextDocumentEdit {
                text_document: OptionalVersionedTextDocumentIdentifier {
                    uri: self.uri.clone(),
                    version: Some(self.version),
                },
                edits,
            }])),
            ..WorkspaceEdit::default()
        }
    }
}

/// Whether the client asked for actions of `kind` (`only` is hierarchical: `source` matches
/// `source.fixAll.voicetune`).
pub fn wanted(only: Option<&[CodeActionKind]>, kind: &str) -> bool {
    match only {
        None => true,
        Some(kinds) => kinds.iter().any(|k| {
            let k = k.as_str();
            kind == k || kind.starts_with(&format!("{k}."))
        }),
    }
}

/// The fix of one of our diagnostics, with file offsets valid for the current text.
pub fn fix_for(doc: &Document, d: &Diagnostic) -> Option<Fix> {
    let data = data_of(d)?;
    let code = match &d.code {
        Some(tower_lsp_server::ls_types::NumberOrString::String(c)) => c.as_str(),
        _ => "",
    };
    let valid = match &data.anchor {
        Anchor::Line(h) => {
            let line = d.range.start.line as usize;
            (line < doc.rope().len_lines() && *h == hash(&position::line_text(doc.rope(), line)))
                .then(|| data.fix.clone().map(|f| f.shifted(doc.line_start(line))))
        }
        Anchor::Version(v) => (*v == doc.version).then(|| data.fix.clone()),
    };
    // A large fix stayed here: the same finding, looked up where it is.
    let valid = match valid {
        Some(None) if data.fix_by_lookup => Some(doc.fix_at(&d.range, code)),
        other => other,
    };
    match valid {
        Some(fix) => fix,
        // Stale data (the text changed under the client's diagnostic): the same finding, now.
        None => {
            if code.is_empty() {
                return None;
            }
            // Same place, else the same problem (code and message) moved along its line.
            let findings = doc.findings();
            let same = |f: &&Finding| f.code == code && f.fix.is_some();
            let exact = findings
                .iter()
                .filter(same)
                .find(|f| doc.range_of(&f.span) == d.range);
            let moved = || {
                findings.iter().filter(same).find(|f| {
                    f.message == d.message && doc.range_of(&f.span).start.line == d.range.start.line
                })
            };
            exact.or_else(moved)?.fix.clone()
        }
    }
}

/// The quick fixes and per-rule fix-alls for a `textDocument/codeAction` request. The
/// file-wide `source.fixAll` is added by the caller, lazily (it re-lints to a fixed point).
pub fn quick_fixes(doc: &Document, uri: &Uri, context: &CodeActionContext) -> Vec<CodeAction> {
    let snap = Snapshot::of(doc, uri);
    let only = context.only.as_deref();
    let mut out = Vec::new();
    let mut rules = BTreeSet::new();
    if wanted(only, CodeActionKind::QUICKFIX.as_str()) {
        for d in &context.diagnostics {
            let Some(data) = data_of(d) else { continue };
            if let Some(fix) = fix_for(doc, d) {
                rules.insert(data.rule);
                out.push(CodeAction {
                    title: fix.title.clone(),
                    kind: Some(CodeActionKind::QUICKFIX),
                    diagnostics: Some(vec![d.clone()]),
                    edit: Some(snap.workspace_edit(&fix.edits)),
                    is_preferred: Some(fix.applicability == Applicability::Safe),
                    ..CodeAction::default()
                });
            }
        }
    }
    if rules.is_empty() {
        return out;
    }
    let findings = doc.findings();
    let text = doc.text();
    for rule in rules {
        let of_rule: Vec<_> = findings
            .iter()
            .filter(|f| f.rule == rule && f.fix.is_some())
            .cloned()
            .collect();
        if of_rule.len() < 2 {
            continue;
        }
        // The user picked this rule explicitly: its unsafe fixes apply too.
        let (fixed, n) = lint::apply_fixes(&text, &of_rule, FixMode::All);
        let edits = minimal_edits(&text, &fixed);
        if n == 0 || edits.is_empty() {
            continue;
        }
        out.push(CodeAction {
            title: format!("Fix all {n} `{rule}` problems in this file"),
            kind: Some(CodeActionKind::QUICKFIX),
            edit: Some(snap.workspace_edit(&edits)),
            ..CodeAction::default()
        });
    }
    out
}

/// The `source.fixAll.voicetune` action; with `edit` None it is resolved later.
pub fn fix_all_action(edit: Option<WorkspaceEdit>, data: serde_json::Value) -> CodeActionOrCommand {
    CodeActionOrCommand::CodeAction(CodeAction {
        title: "Fix all auto-fixable voicetune problems".into(),
        kind: Some(CodeActionKind::new(FIX_ALL_KIND)),
        edit,
        data: Some(data),
        ..CodeAction::default()
    })
}

/// Safe fixes applied repeatedly to a fixed point (as `voicetune lint --fix`), checking
/// `cancel` between rounds. Returns the minimal edits and how many fixes they hold, or None
/// when cancelled.
pub fn fix_all_edits(
    text: &str,
    kind: FileKind,
    opts: &LintOptions,
    cancel: &AtomicBool,
    mut on_round: impl FnMut(usize, usize),
) -> Option<(Vec<Edit>, usize)> {
    let (fixed, total) = lint::fix_until_clean(
        text,
        kind,
        opts,
        FixMode::Safe,
        || cancel.load(Ordering::Relaxed),
        &mut on_round,
    )?;
    Some((minimal_edits(text, &fixed), total))
}

//! Dataset builder: WordPress WXR/CSV exports, markdown folders and transcripts -> records,
//! filtered, cleaned with [`crate::clean`], written as training JSONL with a build report.

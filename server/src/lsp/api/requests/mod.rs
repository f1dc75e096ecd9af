//! Request handlers, one file per request family.

pub mod code_action;
pub mod code_lens;
pub mod completion;
pub mod execute_command;
pub mod hover;
pub mod initialize;
pub mod inline_completion;
pub mod shutdown;

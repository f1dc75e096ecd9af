//! The names of the server's `workspace/executeCommand` commands: what the client may call,
//! and what code lenses name. The commands themselves are in `api::commands`.

pub const FIX_ALL: &str = "voicetune.fixAll";
pub const STATS: &str = "voicetune.stats";
pub const BUILD_DATASET: &str = "voicetune.buildDataset";
pub const TRAIN_LOCAL: &str = "voicetune.trainLocal";
pub const TUNE_REMOTE: &str = "voicetune.tuneRemote";
pub const JOBS: &str = "voicetune.jobs";
pub const CANCEL_JOB: &str = "voicetune.cancelJob";
pub const SELECT_VOICE: &str = "voicetune.selectVoice";
pub const GHOST_STATS: &str = "voicetune.ghostStats";
pub const COMPARE: &str = "voicetune.compare";
/// Run by the client when the user accepts an inline suggestion (the item's `command`, sent
/// only with `[completion] learn = true`).
pub const ACCEPT_SUGGESTION: &str = "voicetune.acceptSuggestion";

/// Every command, in the order `initialize` announces them.
pub const ALL: &[&str] = &[
    FIX_ALL,
    STATS,
    BUILD_DATASET,
    TRAIN_LOCAL,
    TUNE_REMOTE,
    JOBS,
    CANCEL_JOB,
    SELECT_VOICE,
    GHOST_STATS,
    COMPARE,
    ACCEPT_SUGGESTION,
];

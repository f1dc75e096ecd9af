//! Data as it comes: other dataset shapes and `voicetune convert`, degenerate repetition, and
//! the cases of a peer checker's own tests.

mod peers;
mod repetition;
mod shapes;

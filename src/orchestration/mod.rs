//! The top layer: the worker pool every `bulwark serve` runs, and the handler that turns each
//! kind of queued job into the operation it stands for. Operations below this layer know only
//! the queue (`crate::platform::jobs`) they put work on; nothing below imports this module.

pub mod backup;
pub mod handlers;
pub mod pool;
pub mod restore_test;
mod test_hook;

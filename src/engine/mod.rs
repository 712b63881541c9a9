//! The data path: a source is read ([`source`]) into the repository format ([`repo`]) on a
//! storage backend ([`storage`]), and read back the same way.

pub mod repo;
pub mod source;
pub mod storage;

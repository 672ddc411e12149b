//! Argument value parsers shared by commands.

pub use coderlite::clock::parse_duration;

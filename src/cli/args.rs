//! Argument value parsers shared by commands.

pub use coderlite::clock::parse_duration;

/// A duration that must not be zero (an interval between runs).
pub fn parse_interval(text: &str) -> Result<std::time::Duration, String> {
    let d = parse_duration(text)?;
    if d.is_zero() { Err(format!("invalid interval {text:?}: must be greater than zero")) } else { Ok(d) }
}

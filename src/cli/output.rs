//! Printing: JSON for `-o json`, aligned plain-text tables otherwise.

use serde::Serialize;

use crate::cli::CliError;
use crate::cli::Context;

/// Prints `value` as one line of JSON.
pub fn print_json<T: Serialize>(value: &T) -> Result<(), CliError> {
    let text = serde_json::to_string(value).context(|| "encode output".to_owned())?;
    println!("{text}");
    Ok(())
}

/// Prints rows under headers, columns padded to their widest cell. Control characters and
/// bidirectional overrides in a cell are printed as escapes, so a stored value can neither
/// split a row nor drive the terminal.
pub fn print_table(headers: &[&str], rows: &[Vec<String>]) {
    let escaped: Vec<Vec<String>> = rows
        .iter()
        .map(|row| row.iter().map(|c| coderlite::names::escape_for_terminal(c).into_owned()).collect())
        .collect();
    let rows = &escaped;
    let mut widths: Vec<usize> = headers.iter().map(|h| h.len()).collect();
    for row in rows {
        for (width, cell) in widths.iter_mut().zip(row) {
            *width = (*width).max(cell.chars().count());
        }
    }
    let line = |cells: Vec<&str>| {
        let padded: Vec<String> = cells.iter().zip(&widths).map(|(c, w)| format!("{c:<w$}")).collect();
        println!("{}", padded.join("  ").trim_end());
    };
    line(headers.to_vec());
    for row in rows {
        line(row.iter().map(String::as_str).collect());
    }
}

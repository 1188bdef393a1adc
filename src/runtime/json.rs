//! Just enough JSON to write a dump: strings escaped as RFC 8259 asks.

use std::fmt::Write;

/// `s` as a JSON string, quotes included.
pub(crate) fn string(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if u32::from(c) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", u32::from(c));
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// `s` as a JSON string, or `null`.
pub(crate) fn opt_string(s: Option<&str>) -> String {
    s.map_or_else(|| "null".to_owned(), string)
}

/// `n` as a JSON number, or `null`.
pub(crate) fn opt_number(n: Option<u64>) -> String {
    n.map_or_else(|| "null".to_owned(), |n| n.to_string())
}

#[cfg(all(test, not(weft_loom)))]
mod tests {
    #[test]
    fn strings_are_escaped() {
        assert_eq!(
            super::string("a\"b\\c\n\u{1}é"),
            "\"a\\\"b\\\\c\\n\\u0001é\""
        );
        assert_eq!(super::opt_string(None), "null");
    }
}

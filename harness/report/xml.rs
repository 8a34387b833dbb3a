//! Just enough XML writing for JUnit: escaping of text and attributes.

/// Escapes text for an attribute value or element content, and drops the characters
/// XML 1.0 cannot carry at all (most control characters), which adapters can print.
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            '\n' => out.push_str("&#10;"),
            '\t' | '\r' => out.push_str(&format!("&#{};", c as u32)),
            c if (c as u32) < 0x20 || c == '\u{fffe}' || c == '\u{ffff}' => out.push('\u{fffd}'),
            c => out.push(c),
        }
    }
    out
}

/// Like [`escape`] but keeps newlines literal, for element content.
pub fn escape_text(s: &str) -> String {
    escape(s).replace("&#10;", "\n")
}

#[cfg(test)]
mod tests {
    #[test]
    fn escapes_markup_and_controls() {
        assert_eq!(
            super::escape("a<b>&\"'\n\u{1}"),
            "a&lt;b&gt;&amp;&quot;&apos;&#10;\u{fffd}"
        );
    }
}

//! The data literals that scenario steps and segment lines share: `"text"` with the
//! escapes `\n \r \t \0 \\ \" \xHH`, and the digits of `hex"00 ff"`. One decoder, so a
//! payload means the same bytes on a `send(...)` line and on a `w < P. ...` line.

/// Why a `"..."` literal does not decode. Offsets are bytes from the opening quote.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TextError {
    /// A backslash at the very end.
    UnfinishedEscape { at: usize },
    /// `\x` without two hex digits; `end` is after what was taken as digits.
    BadHexEscape { at: usize, end: usize },
    /// `\q`: an escape that does not exist.
    UnknownEscape { at: usize, end: usize, escape: char },
    /// No closing quote.
    Unterminated,
}

/// Decodes the literal that `s` starts with (at its opening `"`): its bytes, and its
/// length in `s` through the closing quote.
pub fn text(s: &str) -> Result<(Vec<u8>, usize), TextError> {
    let mut out = Vec::new();
    let mut chars = s.char_indices().skip(1);
    while let Some((i, c)) = chars.next() {
        match c {
            '"' => return Ok((out, i + 1)),
            '\\' => {
                let (j, e) = chars.next().ok_or(TextError::UnfinishedEscape { at: i })?;
                match e {
                    'n' => out.push(b'\n'),
                    'r' => out.push(b'\r'),
                    't' => out.push(b'\t'),
                    '0' => out.push(0),
                    '\\' => out.push(b'\\'),
                    '"' => out.push(b'"'),
                    'x' => {
                        let hex: String = s[j + 1..].chars().take(2).collect();
                        let byte = (hex.len() == 2)
                            .then(|| u8::from_str_radix(&hex, 16).ok())
                            .flatten()
                            .ok_or(TextError::BadHexEscape {
                                at: i,
                                end: j + 1 + hex.len(),
                            })?;
                        out.push(byte);
                        chars.next();
                        chars.next();
                    }
                    other => {
                        return Err(TextError::UnknownEscape {
                            at: i,
                            end: j + other.len_utf8(),
                            escape: other,
                        })
                    }
                }
            }
            c => {
                let mut buf = [0; 4];
                out.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
            }
        }
    }
    Err(TextError::Unterminated)
}

/// The bytes of hex digits (whitespace between them ignored), or `None` for an odd
/// count or a non-hex digit.
pub fn hex(digits: &str) -> Option<Vec<u8>> {
    let digits: String = digits.chars().filter(|c| !c.is_whitespace()).collect();
    if digits.len() % 2 != 0 || !digits.is_ascii() {
        return None;
    }
    (0..digits.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&digits[i..i + 2], 16).ok())
        .collect()
}

/// A duration: `200ms`, `1.5s`, `10s`, `2m`; a bare number is milliseconds. Options
/// and scenario lines (`w > nothing for 300ms`) read durations alike.
pub fn duration(s: &str) -> Result<std::time::Duration, String> {
    let s = s.trim();
    let err = || format!("invalid duration `{s}`: write e.g. 200ms, 1.5s or 2m");
    let (num, unit) = s
        .find(|c: char| c.is_ascii_alphabetic())
        .map_or((s, "ms"), |i| s.split_at(i));
    let n: f64 = num.parse().map_err(|_| err())?;
    let secs = match unit {
        "ms" => n / 1000.0,
        "s" => n,
        "m" => n * 60.0,
        _ => return Err(err()),
    };
    if !secs.is_finite() || secs < 0.0 {
        return Err(err());
    }
    // Deadlines are computed as now + duration: a run must be able to honour it.
    if secs > MAX_DURATION.as_secs_f64() {
        return Err(format!(
            "invalid duration `{s}`: at most {} minutes",
            MAX_DURATION.as_secs() / 60
        ));
    }
    Ok(std::time::Duration::from_secs_f64(secs))
}

/// The longest duration any option takes: a day.
const MAX_DURATION: std::time::Duration = std::time::Duration::from_secs(24 * 60 * 60);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_and_hex_decode() {
        assert_eq!(text(r#""a\n\x41\0" rest"#), Ok((b"a\nA\0".to_vec(), 11)));
        assert_eq!(
            text(r#""\q""#),
            Err(TextError::UnknownEscape {
                at: 1,
                end: 3,
                escape: 'q'
            })
        );
        assert_eq!(
            text(r#""\x4""#),
            Err(TextError::BadHexEscape { at: 1, end: 5 })
        );
        assert_eq!(text("\"abc"), Err(TextError::Unterminated));
        assert_eq!(text("\"ab\\"), Err(TextError::UnfinishedEscape { at: 3 }));
        assert_eq!(hex("00 ff\n10"), Some(vec![0, 0xff, 0x10]));
        assert_eq!(hex("0"), None);
        assert_eq!(hex("zz"), None);
    }
}

//! The wire lines' own words, after `w <` or `w >`: `handshake`, `fin`, `window N`,
//! `nothing for D`, data (`"text"`, `hex"..."`, `N bytes`), or a segment in packetdrill's notation
//! (read by [`crate::wire::notation`]) with an optional timing window `after A..B`.
//! Kept apart from the parser because the notation is not the language's lexer's.

use super::ast::{Payload, Span, TimeWindow, WireAction, WireDirection};
use super::diagnostic::Diagnostic;

/// What follows the arrow of a wire line: `handshake`, `fin`, `nothing for D`, data
/// (`"text"`, `hex"..."`, `N bytes`), or a segment in packetdrill's notation with an
/// optional `after A..B`. `text_start` is `text`'s offset in the file.
pub(super) fn action(
    direction: WireDirection,
    text: &str,
    text_start: usize,
) -> Result<WireAction, Diagnostic> {
    let text_start = text_start + (text.len() - text.trim_start().len());
    let text = text.trim_start();
    let at = |from: usize, to: usize| {
        Span::new(
            text_start + from.min(text.len()),
            text_start + to.min(text.len()).max(from.min(text.len())),
        )
    };
    let words: Vec<&str> = text.split_whitespace().collect();
    let only = |action: WireAction, word: &str| {
        if words.len() == 1 {
            Ok(action)
        } else {
            Err(Diagnostic::new(
                at(word.len(), text.len()),
                format!("`{word}` takes nothing after it"),
            ))
        }
    };
    match words.first().copied() {
        Some("handshake") => return only(WireAction::Handshake, "handshake"),
        Some("fin") => return only(WireAction::Fin, "fin"),
        Some("acks") => {
            if text.split_whitespace().collect::<Vec<_>>() != ["acks", "only", "data", "sent"] {
                return Err(Diagnostic::new(
                    at(0, text.len()),
                    "expected `acks only data sent`",
                ));
            }
            if direction == WireDirection::Inject {
                return Err(Diagnostic::new(
                    at(0, text.len()),
                    "`acks only data sent` is about what the target sends",
                )
                .with_hint("write `w > acks only data sent`"));
            }
            return Ok(WireAction::AcksOnlyDataSent);
        }
        Some(word @ ("fill" | "rst" | "resend")) => {
            if direction == WireDirection::Expect {
                return Err(Diagnostic::new(
                    at(0, word.len()),
                    format!("`{word}` is what the harness sends"),
                )
                .with_hint(format!("write `w < {word}`")));
            }
            let action = match word {
                "fill" => WireAction::Fill,
                "rst" => WireAction::Rst,
                _ => WireAction::Resend,
            };
            return only(action, word);
        }
        Some(first @ ("at" | "no")) => {
            let hint = "write `w > at most 11000 bytes for 500ms` or `w > no new data for 100ms`";
            if direction == WireDirection::Inject {
                return Err(Diagnostic::new(
                    at(0, text.len()),
                    "a bound on what the target sends belongs on a `>` line",
                )
                .with_hint(hint));
            }
            let (bytes, rest) = if first == "at" {
                let n = (words.get(1) == Some(&"most"))
                    .then(|| {
                        words
                            .get(2)
                            .and_then(|w| w.replace('_', "").parse::<u32>().ok())
                    })
                    .flatten()
                    .filter(|_| matches!(words.get(3), Some(&"bytes" | &"byte")));
                (n, 4)
            } else {
                let ok = words.get(1) == Some(&"new") && words.get(2) == Some(&"data");
                (ok.then_some(0), 3)
            };
            let window = (words.get(rest) == Some(&"for"))
                .then(|| words[rest + 1..].join(" "))
                .filter(|w| !w.is_empty())
                .map(|w| crate::literal::duration(&w));
            return match (bytes, window) {
                (Some(bytes), Some(Ok(window))) => Ok(WireAction::AtMost { bytes, window }),
                (_, Some(Err(why))) => Err(Diagnostic::new(at(0, text.len()), why).with_hint(hint)),
                _ => Err(Diagnostic::new(
                    at(0, text.len()),
                    "a bound needs a byte count and `for` a duration",
                )
                .with_hint(hint)),
            };
        }
        Some("window") => {
            if direction == WireDirection::Expect {
                return Err(Diagnostic::new(at(0, 6), "`window` is what the harness advertises")
                    .with_hint("write `w < window 0`; to check the target's window, expect a segment: `w > . 1:1(0) win 0`"));
            }
            let n = words
                .get(1)
                .and_then(|w| w.parse::<u16>().ok())
                .ok_or_else(|| {
                    Diagnostic::new(at(0, text.len()), "`window` needs a size from 0 to 65535")
                        .with_hint("write e.g. `w < window 0`")
                })?;
            return only_after(WireAction::Window(n), &words, 2, text, text_start);
        }
        Some("icmp") => {
            if direction == WireDirection::Expect {
                return Err(Diagnostic::new(at(0, 4), "`icmp` is what the harness sends")
                    .with_hint("write `w < icmp host-unreachable`: an error about the target's last segment"));
            }
            let names: Vec<&str> = crate::wire::icmp::IcmpError::ALL
                .iter()
                .map(|e| e.name())
                .collect();
            let error = words
                .get(1)
                .and_then(|w| crate::wire::icmp::IcmpError::from_name(w))
                .ok_or_else(|| {
                    Diagnostic::new(at(4, text.len()), "`icmp` needs the kind of error")
                        .with_hint(format!("one of {}", names.join(", ")))
                })?;
            return only_after(WireAction::Icmp(error), &words, 2, text, text_start);
        }
        Some("nothing") => {
            if direction == WireDirection::Inject {
                return Err(
                    Diagnostic::new(at(0, 7), "`nothing` is what the target sends")
                        .with_hint("write `w > nothing for 300ms`: the target must stay silent"),
                );
            }
            let how_long = text.find("for").map(|i| text[i + 3..].trim());
            let wait = how_long
                .filter(|_| words.get(1) == Some(&"for"))
                .ok_or("`nothing` needs `for` and a duration".to_string())
                .and_then(crate::literal::duration);
            return wait.map(WireAction::Nothing).map_err(|why| {
                Diagnostic::new(at(0, text.len()), why)
                    .with_hint("write e.g. `w > nothing for 300ms`")
            });
        }
        Some(first) if first.starts_with('"') || first.starts_with("hex\"") => {
            let (bytes, len) = crate::wire::notation::payload_literal(text)
                .map_err(|e| Diagnostic::new(at(e.at, e.at + 1), e.message))?;
            if !text[len..].trim().is_empty() {
                return Err(
                    Diagnostic::new(at(len, text.len()), "nothing may follow the data")
                        .with_hint("one payload a line: put all of it between the quotes"),
                );
            }
            return Ok(WireAction::Data(Payload::Bytes(bytes)));
        }
        Some(first) if first.bytes().all(|b| b.is_ascii_digit()) && words.len() >= 2 => {
            if matches!(words[1], "bytes" | "byte") {
                let n: usize = first.parse().map_err(|_| {
                    Diagnostic::new(at(0, first.len()), "too many bytes for one step")
                })?;
                return only_after(
                    WireAction::Data(Payload::Count(n)),
                    &words,
                    2,
                    text,
                    text_start,
                );
            }
        }
        _ => {}
    }
    let (segment, timing) = match text.rfind(" after ") {
        Some(i) if !text[i..].contains('"') => (&text[..i], Some((i + 7, &text[i + 7..]))),
        _ => (text, None),
    };
    let spec = crate::wire::notation::parse(segment).map_err(|e| {
        let d = Diagnostic::new(at(e.at, e.at + 1), e.message);
        match e.hint {
            Some(h) => d.with_hint(h),
            None => d,
        }
    })?;
    if direction == WireDirection::Expect {
        if let Some(why) = spec.unexpectable() {
            return Err(Diagnostic::new(
                at(0, text.len()),
                format!("the harness cannot expect this segment: {why}"),
            )
            .with_hint(
                "`checksum bad` and `raw` options are for segments the harness sends (`<`)",
            ));
        }
    }
    if direction == WireDirection::Inject {
        if let Some(why) = spec.unsendable() {
            return Err(Diagnostic::new(
                at(0, text.len()),
                format!("the harness cannot send this segment: {why}"),
            )
            .with_hint("`*` and `<...>` are for expected segments (`>`); give values to send"));
        }
    }
    let timing =
        match timing {
            None => None,
            Some(_) if direction == WireDirection::Inject => return Err(Diagnostic::new(
                at(segment.len() + 1, text.len()),
                "`after` times what the target sends",
            )
            .with_hint(
                "the harness sends at once; time an expected segment: `w > ... after 150ms..3s`",
            )),
            Some((from, window)) => Some(time_window(window).map_err(|why| {
                Diagnostic::new(at(from, text.len()), why)
                    .with_hint("write e.g. `after 150ms..3s`: the earliest and the latest arrival")
            })?),
        };
    Ok(WireAction::Segment { spec, timing })
}

/// `nothing after word N`: a diagnostic for the rest of a line that should have ended.
fn only_after(
    action: WireAction,
    words: &[&str],
    n: usize,
    text: &str,
    text_start: usize,
) -> Result<WireAction, Diagnostic> {
    if words.len() == n {
        return Ok(action);
    }
    let from = text.find(words[n]).unwrap_or(0);
    Err(Diagnostic::new(
        Span::new(text_start + from, text_start + text.len()),
        format!("unexpected `{}` after `{}`", words[n], words[..n].join(" ")),
    ))
}

/// `150ms..3s`, earliest before latest.
fn time_window(text: &str) -> Result<TimeWindow, String> {
    let (a, b) = text.split_once("..").ok_or_else(|| {
        format!(
            "`{}` is not a window: write `EARLIEST..LATEST`",
            text.trim()
        )
    })?;
    let earliest = crate::literal::duration(a)?;
    let latest = crate::literal::duration(b)?;
    if earliest > latest {
        return Err(format!(
            "the window ends before it starts: {} is after {}",
            a.trim(),
            b.trim()
        ));
    }
    Ok(TimeWindow { earliest, latest })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;
    use WireDirection::{Expect, Inject};

    fn ok(direction: WireDirection, text: &str) -> WireAction {
        action(direction, text, 0).unwrap_or_else(|d| panic!("{text}: {}", d.message))
    }

    fn err(direction: WireDirection, text: &str) -> String {
        match action(direction, text, 0) {
            Ok(a) => panic!("{text} parsed as {a:?}"),
            Err(d) => d.message,
        }
    }

    #[test]
    fn the_plain_tcp_words() {
        assert_eq!(ok(Inject, "handshake"), WireAction::Handshake);
        assert_eq!(ok(Expect, " handshake"), WireAction::Handshake);
        assert_eq!(ok(Expect, "fin"), WireAction::Fin);
        assert_eq!(
            ok(Inject, "\"hi\\n\""),
            WireAction::Data(Payload::Bytes(b"hi\n".to_vec()))
        );
        assert_eq!(
            ok(Expect, "hex\"00ff\""),
            WireAction::Data(Payload::Bytes(vec![0, 255]))
        );
        assert_eq!(
            ok(Inject, "1000 bytes"),
            WireAction::Data(Payload::Count(1000))
        );
        assert_eq!(
            ok(Expect, "nothing for 300ms"),
            WireAction::Nothing(Duration::from_millis(300))
        );
        assert_eq!(ok(Inject, "fill"), WireAction::Fill);
        assert_eq!(ok(Inject, "rst"), WireAction::Rst);
        assert_eq!(
            ok(Expect, "at most 11_000 bytes for 500ms"),
            WireAction::AtMost {
                bytes: 11000,
                window: Duration::from_millis(500)
            }
        );
        assert_eq!(
            ok(Expect, "no new data for 1s"),
            WireAction::AtMost {
                bytes: 0,
                window: Duration::from_secs(1)
            }
        );
    }

    #[test]
    fn bounds_and_plain_words_on_the_wrong_side_are_named() {
        assert_eq!(err(Expect, "fill"), "`fill` is what the harness sends");
        assert_eq!(err(Inject, "rst now"), "`rst` takes nothing after it");
        assert_eq!(
            err(Inject, "at most 10 bytes for 1s"),
            "a bound on what the target sends belongs on a `>` line"
        );
        assert_eq!(
            err(Expect, "at most ten bytes for 1s"),
            "a bound needs a byte count and `for` a duration"
        );
        assert_eq!(
            err(Expect, "no new data"),
            "a bound needs a byte count and `for` a duration"
        );
    }

    #[test]
    fn a_segment_line_with_a_timing_window() {
        let WireAction::Segment { timing, .. } = ok(Expect, "P. 1:6(5) ack 1 after 150ms..3s")
        else {
            panic!("not a segment");
        };
        assert_eq!(
            timing,
            Some(TimeWindow {
                earliest: Duration::from_millis(150),
                latest: Duration::from_secs(3)
            })
        );
        // `after` inside a payload is the payload's.
        let WireAction::Segment { timing, spec } = ok(Inject, "P. 1:10(9) ack 1 \"x after y\"")
        else {
            panic!("not a segment");
        };
        assert_eq!((timing, spec.payload), (None, Some(b"x after y".to_vec())));
    }

    #[test]
    fn mistakes_are_named() {
        assert_eq!(
            err(Inject, "handshake now"),
            "`handshake` takes nothing after it"
        );
        assert_eq!(
            err(Inject, "nothing for 1s"),
            "`nothing` is what the target sends"
        );
        assert_eq!(
            err(Expect, "nothing 1s"),
            "`nothing` needs `for` and a duration"
        );
        assert_eq!(err(Expect, "\"abc\" more"), "nothing may follow the data");
        assert_eq!(
            err(Expect, "window 0"),
            "`window` is what the harness advertises"
        );
        assert_eq!(
            err(Inject, "window 70000"),
            "`window` needs a size from 0 to 65535"
        );
        assert_eq!(
            err(Expect, "10 bytes please"),
            "unexpected `please` after `10 bytes`"
        );
        assert_eq!(
            err(Inject, "P. 1:6(5) ack 1 after 1s..2s"),
            "`after` times what the target sends"
        );
        assert!(err(Expect, ". 1:1(0) after 3s..1s").starts_with("the window ends before"));
        assert!(err(Expect, ". 1:1(0) after soon").contains("is not a window"));
        assert!(err(Expect, "handshak").starts_with("unknown flags"));
    }
}

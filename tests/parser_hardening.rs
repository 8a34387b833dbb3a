//! The scenario parser and the protocol decoders never panic, whatever they are fed,
//! and every parse error points inside the file. proptest drives them with arbitrary
//! bytes and with token soup (fragments of the language in random order), which
//! reaches far deeper into the parser than random bytes do.

use proptest::prelude::*;
use proptest::test_runner::{Config, FileFailurePersistence};
use sockspec::protocol::{Request, Response};
use sockspec::script::{parse, SourceFile, OPS};
use std::sync::LazyLock;

fn config() -> Config {
    Config {
        cases: 3000,
        failure_persistence: Some(Box::new(FileFailurePersistence::Off)),
        ..Config::default()
    }
}

/// Fragments of the language besides the calls, which come from the table of calls.
const FRAGMENTS: &[&str] = &[
    "a",
    "s",
    "l",
    "r",
    "x",
    " ",
    " ",
    "=",
    "(",
    ")",
    ",",
    "->",
    "|",
    "[",
    "]",
    "&",
    ".",
    "\"",
    "\\",
    "\\x",
    "\\x4",
    "hex\"",
    "0",
    "5",
    "64k",
    "1M",
    "99999999999999999999",
    "127.0.0.1:0",
    "[::1]:0",
    "[::1]",
    "1.2.3",
    "peer",
    "await",
    "blocks",
    "ok",
    "eof",
    "off",
    "on",
    "on",
    "EPIPE",
    "EAGIAN",
    "server",
    "SIGPIPE",
    "SIGFOO",
    "nonzero",
    "re\"",
    "re\"(",
    ".addr",
    "*",
    "+",
    "\"ab\" * 3",
    "\"a\" * 99999999999",
    "[linux]",
    "[posix",
    "local",
    "remote",
    "#",
    "\n",
    "\r\n",
    "\t",
    "SO_LINGER",
    "in",
    "out",
    "rd",
    "wr",
    "ipv6",
    "+++",
    "title = \"t\"",
    "tags = [",
    "é",
    "\u{0}",
    "\u{202e}",
];

/// Every fragment, with each call's name alone and with its opening parenthesis: a
/// call added to the table is in the soup without touching this file.
static SOUP: LazyLock<Vec<String>> = LazyLock::new(|| {
    let calls = OPS
        .iter()
        .flat_map(|o| [o.name.to_string(), format!("{}(", o.name)]);
    FRAGMENTS
        .iter()
        .map(|f| f.to_string())
        .chain(calls)
        .collect()
});

fn check(text: &str) {
    let src = SourceFile::new("fuzz.scn", text);
    if let Err(diags) = parse(&src, "fuzz") {
        assert!(!diags.is_empty());
        for d in diags {
            assert!(
                d.span.start <= d.span.end && d.span.end <= text.len() + 1,
                "span {:?} outside {} bytes",
                d.span,
                text.len()
            );
            let rendered = d.render(&src, false);
            assert!(rendered.contains("fuzz.scn:"), "{rendered}");
        }
    }
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn parser_survives_arbitrary_bytes(bytes in proptest::collection::vec(any::<u8>(), 0..400)) {
        check(&String::from_utf8_lossy(&bytes));
        check(&format!("+++\ntitle = \"t\"\n+++\n{}", String::from_utf8_lossy(&bytes)));
    }

    #[test]
    fn parser_survives_token_soup(picks in proptest::collection::vec(0..SOUP.len(), 0..60)) {
        let body: String = picks.iter().map(|&i| SOUP[i].as_str()).collect();
        check(&body);
        check(&format!("+++\ntitle = \"t\"\n+++\n{body}"));
    }

    #[test]
    fn protocol_decoders_survive_arbitrary_input(bytes in proptest::collection::vec(any::<u8>(), 0..300)) {
        let _ = serde_json::from_slice::<Request>(&bytes);
        let _ = serde_json::from_slice::<Response>(&bytes);
    }

    #[test]
    fn protocol_decoders_survive_json_soup(
        id in prop_oneof![Just("1".to_string()), Just("-1".to_string()), Just("1e99".to_string()), Just("\"x\"".to_string()), Just("null".to_string())],
        key in prop_oneof![Just("ok"), Just("err"), Just("op"), Just("data"), Just("value"), Just("sock")],
        val in prop_oneof![Just("{}".to_string()), Just("null".to_string()), Just("[1,2]".to_string()), Just("\"zz\"".to_string()), Just("{\"errno\":5}".to_string()), Just("18446744073709551616".to_string())],
    ) {
        let line = format!("{{\"id\":{id},\"{key}\":{val}}}");
        let _ = serde_json::from_str::<Request>(&line);
        let _ = serde_json::from_str::<Response>(&line);
    }
}

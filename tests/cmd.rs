//! Command-line cases as data: each `tests/cmd/*.md` file holds, in its `console` blocks, commands and the
//! exact output and exit status they must give (`[..]` stands for any text on a line,
//! `...` for any lines), and the README's `console` blocks are run the same way, so
//! the README cannot drift from the tool. `TRYCMD=overwrite cargo test --test cmd`
//! rewrites the expected output after a deliberate change; review the diff.

mod support;

fn cases() -> trycmd::TestCases {
    // What a user's environment may set must not change the expected output (trycmd
    // can only add variables, so these go from this process, which the cases inherit).
    for var in ["SOCKSPEC_ADAPTER", "SOCKSPEC_PROFILE"] {
        std::env::remove_var(var);
    }
    let cases = trycmd::TestCases::new();
    cases
        .register_bin("sockspec", trycmd::cargo::cargo_bin!("sockspec"))
        .env("NO_COLOR", "1")
        // A case that hangs fails instead of holding the suite.
        .timeout(std::time::Duration::from_secs(120));
    cases
}

#[test]
fn cli_cases() {
    cases().case("tests/cmd/*.md").run();
}

#[test]
fn readme_excerpts_are_what_the_tool_prints() {
    if !support::sandbox_available() {
        eprintln!(
            "skipped: the README shows sandboxed runs, and this machine cannot make the sandbox"
        );
        return;
    }
    cases().case("README.md").run();
}

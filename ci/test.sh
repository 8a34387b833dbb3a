#!/usr/bin/env bash
# The test command the README gives, with what the tests need installed first.
# Used by .ci/run and usable by anyone on Debian or Ubuntu: bash ci/test.sh
set -euo pipefail
cd "$(dirname "$0")/.."

# Real consumers of our report formats: Python's junitparser reads the JUnit XML,
# Perl's TAP::Parser (part of perl) reads the TAP.
if ! python3 -c 'import junitparser' 2>/dev/null; then
  python3 -m pip install --quiet --disable-pip-version-check junitparser \
    || python3 -m pip install --quiet --disable-pip-version-check --break-system-packages junitparser
fi
perl -MTAP::Parser -e 1

# gcc compiles the sample C programs and the C adapters; Chromium reads the grading
# HTML report; Wireshark's tshark reads the wire scenarios' pcap files; liblwip-dev is
# the lwIP stack tests/stacks.rs puts under test.
command -v gcc >/dev/null
missing=()
command -v chromium >/dev/null 2>&1 || missing+=(chromium)
command -v tshark >/dev/null 2>&1 || missing+=(tshark)
[ -f /usr/include/lwip/lwip/sockets.h ] || missing+=(liblwip-dev)
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
  else
    echo "note: no ${missing[*]}; the tests that need them skip (CI installs them)" >&2
  fi
fi

cargo fmt --all -- --check
cargo clippy --all-targets --quiet -- -D warnings
# The smoltcp adapter is a Cargo project of its own (tests/stacks.rs builds and runs it).
cargo fmt --manifest-path adapters/smoltcp/Cargo.toml -- --check
cargo clippy --quiet --manifest-path adapters/smoltcp/Cargo.toml --target-dir target/smoltcp-adapter -- -D warnings
cargo test

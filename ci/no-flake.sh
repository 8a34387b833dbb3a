#!/usr/bin/env bash
# Runs the corpus N times (default 20) while busy processes load every core, and fails
# if any scenario's verdict differs between runs. Usage: ci/no-flake.sh [N] [run args...]
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-20}
shift || true
cargo build --release --quiet
work=$(mktemp -d)
# Programs under test run as nobody when this runs as root: they must be reachable.
chmod 755 "$work"
# A copy, so a rebuild during a long run does not change what is being tested.
cp target/release/sockspec "$work/sockspec"
bin=$work/sockspec
load_pids=()
cleanup() {
  for p in "${load_pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT INT TERM

cores=$(nproc)
for _ in $(seq "$cores"); do
  # A busy loop per core, bounded in time so nothing outlives a killed script.
  timeout 3600 sh -c 'while :; do :; done' &
  load_pids+=($!)
done
echo "no-flake: $runs runs of the corpus with $cores busy processes loading $cores cores"

verdicts() {
  python3 -c '
import json, sys
report = json.load(sys.stdin)
for s in report["scenarios"]:
    print(s["name"], s["status"])
print("interrupted", report["interrupted"])
'
}

# The program suites too, against the correct sample programs, plus one buggy server
# whose catch depends on timing (SIGPIPE after a corked close).
gcc -O2 -pthread -o "$work/echo_server" tests/programs/echo_server.c
gcc -O2 -pthread -DBUG_NO_SIGPIPE -o "$work/echo_server_nosigpipe" tests/programs/echo_server.c
gcc -O2 -o "$work/echo_client" tests/programs/echo_client.c
gcc -O2 -o "$work/chat_server" tests/programs/chat_server.c
gcc -O2 -pthread -o "$work/upload_server" tests/programs/upload_server.c
program_runs() {
  "$bin" run --format json --no-progress scenarios/programs/echo-server --program "server=$work/echo_server {port}"
  "$bin" run --format json --no-progress scenarios/programs/echo-client --program "client=$work/echo_client {host} {port}"
  "$bin" run --format json --no-progress scenarios/programs/chat-server --program "server=$work/chat_server {port}"
  "$bin" run --format json --no-progress scenarios/programs/upload-server --program "server=$work/upload_server {port}"
}
buggy_runs() {
  "$bin" run --format json --no-progress scenarios/programs/echo-server -f client-closes --program "server=$work/echo_server_nosigpipe {port}"
}

started=$(date +%s)
for i in $(seq "$runs"); do
  "$bin" run --format json --no-progress "$@" > "$work/run.json" || true
  verdicts < "$work/run.json" > "$work/verdicts-$i"
  program_runs > "$work/programs.jsonl" 2>/dev/null || true
  buggy_runs > "$work/buggy.jsonl" 2>/dev/null || true
  for reports in programs buggy; do python3 -c '
import json, sys
dec = json.JSONDecoder()
text = open(sys.argv[1]).read()
pos = 0
while True:
    while pos < len(text) and text[pos].isspace():
        pos += 1
    if pos >= len(text):
        break
    report, pos = dec.raw_decode(text, pos)
    for s in report["scenarios"]:
        print(sys.argv[2] + s["name"], s["status"])
' "$work/$reports.jsonl" "$( [ $reports = buggy ] && echo 'buggy:' )" >> "$work/verdicts-$i"
  done
  # The corpus against Linux and the correct sample programs must pass, not only be
  # stable: a run where every program scenario fails the same way is no evidence.
  if [ "$i" = 1 ] && grep -v ' passed$' "$work/verdicts-1" | grep -v '^interrupted False$' | grep -v '^buggy:' > "$work/bad"; then
    echo "no-flake: these do not pass against Linux and the correct sample programs:"
    cat "$work/bad"
    exit 1
  fi
  if [ "$i" -gt 1 ] && ! diff -u "$work/verdicts-1" "$work/verdicts-$i" > "$work/diff"; then
    echo "no-flake: run $i differs from run 1:"
    cat "$work/diff"
    python3 -c '
import json, sys
for s in json.load(open(sys.argv[1]))["scenarios"]:
    if s["status"] not in ("passed", "skipped"):
        print(s["name"], json.dumps(s.get("failure")))' "$work/run.json"
    exit 1
  fi
done
total=$(wc -l < "$work/verdicts-1")
echo "no-flake: $runs runs, $((total - 1)) scenarios each, identical verdicts, in $(( $(date +%s) - started )) s"
grep -v ' passed$' "$work/verdicts-1" | grep -v '^interrupted False$' && echo "(the verdicts above are not 'passed' but are stable)" || true

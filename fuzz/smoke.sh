#!/usr/bin/env bash
# Runs every cargo-fuzz target of plog for a fixed time each.
#
#   fuzz/smoke.sh SECONDS [TARGET...]
#
# SECONDS (default 20) is the budget of each target; TARGET... restricts the
# run to some targets (default: all, as `cargo fuzz list` names them).
#
# Needs a nightly toolchain (`cargo +nightly`) and cargo-fuzz
# (`cargo install cargo-fuzz`); without them it prints why and exits 0, so
# that CI on a stable-only machine still passes (the committed corpus is
# replayed on stable by `cargo test -p plog-fuzz-checks` anyway).
#
# The targets are built once (release, debug assertions and overflow checks,
# AddressSanitizer: cargo-fuzz's defaults), then each runs on a scratch copy
# of its committed corpus plus its regression inputs, with the dictionary
# fuzz/plog.dict. The committed corpus is never modified; set
# PLOG_FUZZ_CORPUS_OUT=DIR to keep the inputs each run found in DIR/<target>/.
#
# Exit status: 0 when no target crashed (or fuzzing is unavailable), 1 when a
# target crashed, leaked, ran out of memory or timed out: the failing input is
# in fuzz/artifacts/<target>/ and the log tail is printed.
set -euo pipefail

seconds="${1:-20}"
shift || true
cd "$(dirname "$0")"
fuzz_dir=$(pwd)

if ! [[ "$seconds" =~ ^[0-9]+$ ]] || [ "$seconds" -lt 1 ]; then
  echo "usage: fuzz/smoke.sh SECONDS [TARGET...]  (SECONDS: a positive integer)" >&2
  exit 2
fi
if ! cargo +nightly --version >/dev/null 2>&1; then
  echo "fuzz smoke skipped: no nightly toolchain (rustup toolchain install nightly)"
  exit 0
fi
if ! cargo +nightly fuzz --version >/dev/null 2>&1; then
  echo "fuzz smoke skipped: cargo-fuzz is not installed (cargo install cargo-fuzz)"
  exit 0
fi

# libFuzzer options shared by every target (see fuzz/README.md).
fuzz_options=(
  -dict="$fuzz_dir/plog.dict"
  -max_len=65536
  -rss_limit_mb=2048
  -timeout=20
  -print_final_stats=1
)

started=$(date +%s)
echo "building the fuzz targets (cargo +nightly fuzz build)"
cargo +nightly fuzz build
built=$(date +%s)
echo "built in $((built - started)) s"

if [ "$#" -gt 0 ]; then
  targets=("$@")
else
  mapfile -t targets < <(cargo +nightly fuzz list)
fi

scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
failed=()
for target in "${targets[@]}"; do
  if [ -n "${PLOG_FUZZ_CORPUS_OUT:-}" ]; then
    work="$PLOG_FUZZ_CORPUS_OUT/$target"
  else
    work="$scratch/corpus/$target"
  fi
  mkdir -p "$work"
  inputs=("$work" "$fuzz_dir/corpus/$target")
  if [ -d "$fuzz_dir/regressions/$target" ]; then
    inputs+=("$fuzz_dir/regressions/$target")
  fi
  log="$scratch/$target.log"
  echo "==> fuzz $target for ${seconds} s"
  if cargo +nightly fuzz run "$target" "${inputs[@]}" -- \
    "${fuzz_options[@]}" -max_total_time="$seconds" >"$log" 2>&1; then
    # libFuzzer's last status line (cov, ft, corp, exec/s) and its final stats.
    grep -E '^#[0-9]+[[:space:]]+DONE' "$log" | tail -n 1 || true
    grep -E '^stat::(number_of_executed_units|average_exec_per_sec|peak_rss_mb)' "$log" || true
  else
    echo "FAILED: target $target (inputs in fuzz/artifacts/$target/); end of its log:"
    tail -n 60 "$log"
    failed+=("$target")
  fi
done

echo "fuzz smoke: ${#targets[@]} targets, $(($(date +%s) - started)) s in all"
if [ "${#failed[@]}" -gt 0 ]; then
  echo "fuzz smoke FAILED: ${failed[*]}"
  exit 1
fi
echo "fuzz smoke passed"

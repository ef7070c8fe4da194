#!/usr/bin/env bash
# Runs every fuzz target for a bounded time: fuzz/run.sh [SECONDS per target, default 60] [TARGET...].
# Installs cargo-fuzz when it is missing; the stable toolchain is used with RUSTC_BOOTSTRAP=1 for
# the sanitizer flags. Seeds come from corpus/<target>/seed_* (fuzz/seeds.sh writes them); what
# libFuzzer adds to the corpus stays local. Crashes land in fuzz/artifacts/<target>/ and make the
# script exit 1. Prints one summary line per target from libFuzzer's final statistics.
set -euo pipefail
cd "$(dirname "$0")"
seconds="${1:-60}"
shift || true
targets=("$@")
((${#targets[@]})) || targets=(payloads image_letterbox onnx_weights decode_nms schedule csv_line)
export RUSTC_BOOTSTRAP=1
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/footfall-fuzz-target}"
# Memory bound of every target: more than this (resident, or one allocation) is a crash.
rss_limit_mb="${FUZZ_RSS_LIMIT_MB:-2048}"

command -v cargo-fuzz >/dev/null || cargo install cargo-fuzz --locked
for target in "${targets[@]}"; do
  if ! compgen -G "corpus/$target/seed_*" >/dev/null; then ./seeds.sh; fi
done
cargo fuzz build

logs="$(mktemp -d)"
trap 'rm -rf "$logs"' EXIT
failed=0
summary=()
for target in "${targets[@]}"; do
  mkdir -p "corpus/$target"
  log="$logs/$target.log"
  start=$(date +%s)
  status=ok
  cargo fuzz run "$target" "corpus/$target" -- -max_total_time="$seconds" \
    -rss_limit_mb="$rss_limit_mb" -print_final_stats=1 >"$log" 2>&1 || status=crash
  elapsed=$(($(date +%s) - start))
  # The last status line ("#N DONE cov: C ft: F corp: ... exec/s: E rss: R") and final stats.
  last=$(grep -E '^#[0-9]+' "$log" | tail -n 1 || true)
  runs=$(grep -oE 'stat::number_of_executed_units: *[0-9]+' "$log" | grep -oE '[0-9]+$' || true)
  execs=$(grep -oE 'stat::average_exec_per_sec: *[0-9]+' "$log" | grep -oE '[0-9]+$' || true)
  rss=$(grep -oE 'stat::peak_rss_mb: *[0-9]+' "$log" | grep -oE '[0-9]+$' || true)
  cov=$(grep -oE 'cov: [0-9]+' <<<"$last" | grep -oE '[0-9]+' || true)
  ft=$(grep -oE 'ft: [0-9]+' <<<"$last" | grep -oE '[0-9]+' || true)
  corp=$(grep -oE 'corp: [0-9]+' <<<"$last" | grep -oE '[0-9]+' || true)
  if [ "$status" != ok ]; then
    failed=1
    echo "== $target: CRASH (see fuzz/artifacts/$target/); log tail:"
    tail -n 40 "$log"
  fi
  line="$target status=$status seconds=$elapsed runs=${runs:-?} exec/s=${execs:-?} cov=${cov:-?} ft=${ft:-?} corpus=${corp:-?} peak_rss_mb=${rss:-?}"
  echo "$line"
  summary+=("$line")
done
echo "== fuzz summary (${seconds}s per target, -rss_limit_mb=$rss_limit_mb)"
printf '%s\n' "${summary[@]}"
exit "$failed"

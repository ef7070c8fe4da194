#!/usr/bin/env bash
# Writes the seed corpora of every fuzz target into fuzz/corpus/<target>/seed_*. Text seeds are
# written here; binary ones (images, ONNX files, raw tensors) by detector-prepost's `fuzz_seeds`
# example. Nothing comes from ../shared.
set -euo pipefail
cd "$(dirname "$0")"
corpus="$PWD/corpus"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/footfall-fuzz-target}"
# A plain (uninstrumented) build of the small crate, in the fuzz target directory.
(cd .. && cargo run --quiet --release -p detector-prepost --example fuzz_seeds -- "$corpus")

# schedule: 8 bytes of start time (little-endian seconds) then the expression.
mkdir -p corpus/schedule
i=0
for expression in 'cron(0/5 * * * ? *)' '0 8 ? * MON-FRI *' 'cron(15,45 9-17 1,15 JAN-JUN ? 2026-2030)' \
  'rate(5 minutes)' 'rate(1 day)' 'cron(0 0 31 2 ? *)' 'cron(0 0 L * ? *)' 'cron(*/0 * * * ? *)'; do
  i=$((i + 1))
  { printf '\x00\x5e\xd0\xb2\x00\x00\x00\x00'; printf '%s' "$expression"; } > "corpus/schedule/seed_$i"
done
# Before 1970 (negative seconds).
{ printf '\x00\xa0\x2f\xe6\xff\xff\xff\xff'; printf 'cron(0 0 1 1 ? *)'; } > corpus/schedule/seed_before_1970

# csv_line: fields separated by 0x1F; run id, user id, DATE-TIME first (the S3 line's checks).
mkdir -p corpus/csv_line
printf '20261128T120000Z\x1falice\x1f2026-11-28T12:00:00Z\x1fok' > corpus/csv_line/seed_valid
printf 'r1\x1fbob\x1fnot a date\x1fhttp://x/a.m3u8?a=1,b="2"\x1f\x1f' > corpus/csv_line/seed_quotes
printf 'line\r\nbreak\x1f"\x1f""\x1f,\x1f\r\x1f\xc3\xbc\xc3\xb1\xc3\xad' > corpus/csv_line/seed_hostile
echo "seeds written under $corpus"

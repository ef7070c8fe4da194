#!/usr/bin/env bash
# The test command of README.md (and of CI, through .ci/run): installs what is missing
# (scripts/setup.sh), checks formatting and feature drift, builds everything, lints with clippy
# and rustdoc (warnings are errors), runs every Rust test (release profile only, so Burn is
# compiled once), lints the deployment template, runs the AWS end-to-end flow against servers started on loopback
# (with the host binaries, then with the tasks in the container image), then
# checks `footfall detect --json` against the reference golden outputs with the reference tool,
# on the CPU and on wgpu.
#
# Builds go where `cargo run` puts them (scripts/env.sh: CARGO_TARGET_DIR, else ./target), so
# the README's `cargo run --release --bin footfall` and this script reuse each other's build. CI
# (.ci/run) exports a persistent CARGO_TARGET_DIR outside the clone.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/env.sh

export XDG_RUNTIME_DIR="${XDG_RUNTIME_DIR:-/tmp}"
if [ ! -f "$FOOTFALL_SHARED/weights/yolox_nano.onnx" ]; then
  echo "test data missing: set FOOTFALL_SHARED to the shared data folder (weights/, images/, golden/ ...)" >&2
  exit 2
fi

scripts/setup.sh
CARGO_TARGET_DIR="$(footfall_target_dir)"
export CARGO_TARGET_DIR

cargo fmt --all --check
# One variant of each dependency for the README's `cargo run`, the tests, clippy and rustdoc.
scripts/check-feature-drift.sh

cargo build --release --workspace --all-targets

# Lints, warnings as errors. Release profile, like the build above: clippy and rustdoc then reuse
# its 287 build-script/proc-macro builds and 86 build-script runs (in the dev profile they would
# share nothing); the dependencies are still checked once (545 check-mode units, metadata only),
# and rustdoc reuses clippy's check units (docs/build-sharing.md). Measured 2026-11-30 on 2
# cores under load (load average ~6, nice 10), CARGO_TARGET_DIR=/tmp/ft-lintcold, this branch:
#   clippy on a fresh target dir:                           14 min 23 s
#   then doc (10 members re-checked, 17 documented):         1 min 13 s
#   clippy + doc again, nothing changed:                          2.4 s
#   clippy + doc after touching crates/footfall-domain:            36 s
# On a target dir that already has the release build, the first lint run pays for the check
# units but not for the build scripts and proc-macros.
cargo clippy --workspace --all-targets --release -- -D warnings
RUSTDOCFLAGS="${RUSTDOCFLAGS:-} -D warnings" cargo doc --workspace --no-deps --release

# The web pages' browser test must not skip here (setup.sh installed chromium).
FOOTFALL_REQUIRE_BROWSER=1 cargo test --release --workspace

# Deployment template (cfn-lint) and the AWS flow end to end on loopback (moto, MariaDB, HLS).
scripts/lint-deploy.sh
scripts/e2e-aws.sh
# The same flow with each task run in the task image (debootstrap base + podman, no Docker Hub;
# the base root is cached under ~/.cache/footfall-image after its first build, about 3.5 min).
scripts/build-task-image.sh
FOOTFALL_E2E_CONTAINER=1 scripts/e2e-aws.sh

out="$(mktemp -d)"
trap 'rm -rf "$out"' EXIT
for backend in cpu wgpu; do
  "$CARGO_TARGET_DIR/release/footfall" detect --json --backend "$backend" \
    --weights "$FOOTFALL_SHARED/weights/yolox_nano.onnx" "$FOOTFALL_SHARED"/images/*.jpg > "$out/$backend.json"
  echo "golden comparison, backend $backend:"
  python3 "$FOOTFALL_SHARED/tools/compare_golden.py" "$out/$backend.json"
done

# Sourced (not run) by the scripts in scripts/ and by .ci/run: one place that says where the
# test-only tools and the build live.
#
# - FOOTFALL_VENV: the virtualenv that scripts/setup.sh fills with the test-only Python tools
#   (numpy, onnxruntime, opencv, moto_server, aiosmtpd, cfn-lint, aws, cargo-lambda, ziglang).
#   Debian 12's Python refuses a system-wide `pip install` (PEP 668), hence a venv, kept outside
#   the clone. Its bin/ goes first on PATH, so `python3`, `moto_server`, `cfn-lint`, `aws` and
#   `cargo lambda` below (and in the Rust tests they spawn) are the venv's.
# - FOOTFALL_SHARED: the shared test data (default ../shared beside the clone).
# - footfall_target_dir: the folder cargo builds into, exactly as `cargo run` / `cargo build`
#   resolve it (CARGO_TARGET_DIR, else build.target-dir of any .cargo/config.toml, else
#   ./target), so the scripts and the README's `cargo run` share one build. CI exports a
#   persistent CARGO_TARGET_DIR in .ci/run.

FOOTFALL_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
FOOTFALL_VENV="${FOOTFALL_VENV:-${XDG_CACHE_HOME:-$HOME/.cache}/footfall-venv}"
FOOTFALL_SHARED="${FOOTFALL_SHARED:-$(cd "$FOOTFALL_ROOT/.." && pwd)/shared}"
export FOOTFALL_VENV FOOTFALL_SHARED
case ":$PATH:" in
  *":$FOOTFALL_VENV/bin:"*) ;;
  *) PATH="$FOOTFALL_VENV/bin:$PATH" ;;
esac
export PATH

footfall_target_dir() {
  if [ -n "${CARGO_TARGET_DIR:-}" ]; then
    echo "$CARGO_TARGET_DIR"
  else
    (cd "$FOOTFALL_ROOT" && cargo metadata --no-deps --format-version 1 \
      | sed -n 's/.*"target_directory":"\([^"]*\)".*/\1/p')
  fi
}

# Fails with a clear message when scripts/setup.sh has not filled the venv yet.
footfall_need_venv() {
  if [ ! -x "$FOOTFALL_VENV/bin/python3" ]; then
    echo "the test tools' virtualenv $FOOTFALL_VENV is missing: run scripts/setup.sh" >&2
    exit 2
  fi
}

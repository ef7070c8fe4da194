#!/usr/bin/env bash
# Fails when a dev-dependency turns on a feature of a crate that the workspace's normal build
# also uses. Such a feature gives that crate (and everything built on it, e.g. all of Burn) a
# second variant: `cargo run --release --bin footfall` (README) would no longer reuse what
# `cargo build --release --workspace --all-targets` (scripts/test.sh) compiled, and
# `cargo doc` would re-check the dependencies that clippy already checked. Fix by pinning the
# feature in crates/workspace-hack/Cargo.toml. Takes about a second; builds nothing.
set -euo pipefail
cd "$(dirname "$0")/.."

tree() { cargo tree --workspace -e "$1" -f '{p} [{f}]' --prefix none | sed 's/ (\*)$//' | sort -u; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
tree normal,build >"$tmp/normal"
tree normal,build,dev >"$tmp/all"
python3 - "$tmp/normal" "$tmp/all" <<'PY'
import collections, re, sys
def load(path):
    sets = collections.defaultdict(set)
    for line in open(path):
        m = re.match(r"(\S+ v\S+).*? \[(.*)\]$", line.strip())
        if m:
            sets[m.group(1)].add(m.group(2))
    return sets
normal, everything = load(sys.argv[1]), load(sys.argv[2])
if not normal:
    sys.exit("cargo tree listed nothing")
drift = {p: (normal[p], everything[p]) for p in normal if normal[p] != everything[p]}
for p, (n, a) in sorted(drift.items()):
    print(f"feature drift: {p}: normal build {sorted(n)}, with dev-dependencies {sorted(a)}")
if drift:
    print(f"{len(drift)} crate(s) built twice; pin their features in crates/workspace-hack/Cargo.toml", file=sys.stderr)
    sys.exit(1)
print(f"no feature drift ({len(normal)} crates in the normal build)")
PY

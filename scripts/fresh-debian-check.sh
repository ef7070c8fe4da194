#!/usr/bin/env bash
# Tries the README's two commands on a fresh Debian 12 (bookworm) root made with debootstrap,
# with only this machine's Rust toolchain copied in: what a newcomer's machine would do.
# Run as root on a Debian host; see docs/fresh-debian.md for what each step showed.
#
#   scripts/fresh-debian-check.sh prepare   # debootstrap, Rust, mounts, clone of this branch
#   scripts/fresh-debian-check.sh setup     # time scripts/setup.sh inside (apt + venv)
#   scripts/fresh-debian-check.sh commands  # time the README's two commands inside (cold build!)
#   scripts/fresh-debian-check.sh second    # time the test command alone on the build left
#   scripts/fresh-debian-check.sh shell     # a shell inside
#   scripts/fresh-debian-check.sh adopt     # move the build and crate cache it made to the host
#   scripts/fresh-debian-check.sh umount    # undo the mounts (before deleting the root)
#
# Settings (environment): ROOT (default /work/deb12, outside any clone), REPO (the clone to copy,
# default this one), BRANCH (default its current branch), SHARED (the shared test data, default
# ../shared beside REPO), NICE (default 5), LOG (default /tmp/fresh-debian-<step>.log).
#
# Inside, the clone sits at REPO's own path and the data, read-only, at SHARED's path beside it,
# so the build the check leaves in the clone's ./target is the build the host would make: after
# `adopt` it serves as the host's $CARGO_TARGET_DIR (CI's ~/.cache/footfall-target), instead of a
# second cold build of the same sources.
#
# The chroot shares the host's network: a MariaDB already listening on the host's 127.0.0.1:3306
# answers setup.sh's ping, so setup does not start the chroot's own server (its package is still
# installed). The host's CA certificates are copied in, and pip is pointed at them, only because
# this sandbox reaches the registries through an intercepting proxy; a real machine needs neither.
set -euo pipefail

here="$(cd "$(dirname "$0")/.." && pwd)"
ROOT="${ROOT:-/work/deb12}"
REPO="${REPO:-$here}"
BRANCH="${BRANCH:-$(git -C "$REPO" rev-parse --abbrev-ref HEAD)}"
SHARED="${SHARED:-$(cd "$REPO/.." && pwd)/shared}"
CLONE="$(cd "$REPO" && pwd)"           # the clone's path inside the root
DATA="$(dirname "$CLONE")/shared"        # where the README's ../shared resolves inside
NICE="${NICE:-5}"
step="${1:-}"
LOG="${LOG:-/tmp/fresh-debian-$step.log}"

inside() { # command... : run in the chroot with a clean, stock-like environment
  env -i HOME=/root LANG=C.UTF-8 TERM="${TERM:-dumb}" USER=root \
    PATH=/root/.cargo/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
    PIP_CERT=/etc/ssl/certs/ca-certificates.crt \
    chroot "$ROOT" "$@"
}

mount_all() {
  mountpoint -q "$ROOT/proc" || mount -t proc proc "$ROOT/proc"
  mountpoint -q "$ROOT/sys" || mount --bind /sys "$ROOT/sys"
  mountpoint -q "$ROOT/dev" || mount --bind /dev "$ROOT/dev"
  mountpoint -q "$ROOT/dev/pts" || mount --bind /dev/pts "$ROOT/dev/pts"
  mkdir -p "$ROOT$DATA"
  if ! mountpoint -q "$ROOT$DATA"; then
    mount --bind "$SHARED" "$ROOT$DATA"
    mount -o remount,bind,ro "$ROOT$DATA"
  fi
  cp /etc/resolv.conf "$ROOT/etc/resolv.conf"
}

case "$step" in
prepare)
  command -v debootstrap >/dev/null || apt-get install -y -qq debootstrap
  if [ ! -x "$ROOT/usr/bin/apt-get" ]; then
    mkdir -p "$ROOT"
    # minbase: not even python3; git and ca-certificates to clone, as a newcomer would have.
    nice -n "$NICE" debootstrap --variant=minbase --include=ca-certificates,git,curl,procps \
      bookworm "$ROOT" http://deb.debian.org/debian
  fi
  # An installed Debian has /etc/hosts; debootstrap's minbase root has none.
  [ -s "$ROOT/etc/hosts" ] || printf '127.0.0.1\tlocalhost\n::1\t\tlocalhost ip6-localhost ip6-loopback\n' > "$ROOT/etc/hosts"
  # Rust: the host's rustup home and cargo bin (proxies), nothing of its crate cache.
  rustup_home="$(rustup show home)"
  cargo_bin="$(dirname "$(command -v cargo)")"
  if [ ! -d "$ROOT/root/.rustup/toolchains" ]; then
    mkdir -p "$ROOT/root/.rustup" "$ROOT/root/.cargo"
    cp -a "$rustup_home/toolchains" "$rustup_home/settings.toml" "$ROOT/root/.rustup/"
    [ -d "$rustup_home/update-hashes" ] && cp -a "$rustup_home/update-hashes" "$ROOT/root/.rustup/"
    cp -a "$cargo_bin" "$ROOT/root/.cargo/bin"
  fi
  # This sandbox's egress CA (see above).
  if [ -d /usr/local/share/ca-certificates ] && ls /usr/local/share/ca-certificates/*.crt >/dev/null 2>&1; then
    mkdir -p "$ROOT/usr/local/share/ca-certificates"
    cp /usr/local/share/ca-certificates/*.crt "$ROOT/usr/local/share/ca-certificates/"
    inside update-ca-certificates >/dev/null
  fi
  mount_all
  rm -rf "$ROOT$CLONE"
  mkdir -p "$(dirname "$ROOT$CLONE")"
  git clone -q --branch "$BRANCH" "$REPO" "$ROOT$CLONE"
  inside bash -c "cd $CLONE && git log --oneline -1 && cargo --version && rustc --version &&
    ls ../shared/weights/yolox_nano.onnx && (command -v python3 || echo 'no python3 (stock minbase)')"
  ;;
setup)
  mount_all
  inside bash -c "cd $CLONE && time nice -n $NICE scripts/setup.sh" 2>&1 | tee "$LOG"
  ;;
commands)
  # The README's two commands, cold, each timed. Takes the better part of an hour on 2 cores.
  mount_all
  inside bash -c "set -o pipefail; cd $CLONE && rm -rf target out /root/.cargo/registry /root/.cargo/git
    echo '== 1: scripts/setup.sh && cargo run --release --bin footfall -- count ...'
    time (nice -n $NICE scripts/setup.sh && nice -n $NICE cargo run --release --bin footfall -- count ../shared/video/people_10s_640x480.mp4 --every 1s --weights ../shared/weights/yolox_nano.onnx --annotate out)
    echo \"== 1 exit \$?\"
    echo '== 2: scripts/test.sh'
    time nice -n $NICE scripts/test.sh
    echo \"== 2 exit \$?\"
    du -sh target" 2>&1 | tee "$LOG"
  ;;
second)
  # The README's test command alone, timed, on the build `commands` left (e.g. to measure it
  # again after an interrupted run).
  mount_all
  inside bash -c "set -o pipefail; cd $CLONE
    echo '== 2: scripts/test.sh'
    time nice -n $NICE scripts/test.sh
    echo \"== 2 exit \$?\"
    du -sh target" 2>&1 | tee "$LOG"
  ;;
shell)
  mount_all
  inside bash -l
  ;;
adopt)
  # The crate sources keep their times (build scripts compare them), the build moves whole.
  target="${CARGO_TARGET_DIR:-$HOME/.cache/footfall-target}"
  [ -d "$ROOT$CLONE/target/release" ] || { echo "no build in $ROOT$CLONE/target" >&2; exit 1; }
  mkdir -p "$HOME/.cargo" "$(dirname "$target")"
  # Overwrite: the same crate files, with the times the root's build saw.
  cp -a "$ROOT/root/.cargo/registry" "$HOME/.cargo/"
  rm -rf "$target"
  mv "$ROOT$CLONE/target" "$target"
  # The host's sources may be newer than the clone the root built, yet older than that build's
  # outputs: cargo would take them as built. Newer times make it rebuild what changed.
  git -C "$REPO" ls-files -z | (cd "$REPO" && xargs -0 touch)
  echo "the root's build is now $target"
  ;;
umount)
  for m in "${DATA#/}" dev/pts dev sys proc; do
    if mountpoint -q "$ROOT/$m"; then umount "$ROOT/$m"; fi
  done
  echo "unmounted; the root can now be deleted with: rm -rf $ROOT"
  ;;
*)
  sed -n '2,23p' "$0"
  exit 2
  ;;
esac

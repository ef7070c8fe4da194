#!/usr/bin/env bash
# Tries the README's two commands on a fresh Debian 12 (bookworm) root made with debootstrap,
# with only this machine's Rust toolchain copied in: what a newcomer's machine would do.
# Run as root on a Debian host; see docs/fresh-debian.md for what each step showed.
#
#   scripts/fresh-debian-check.sh prepare   # debootstrap, Rust, mounts, clone of this branch
#   scripts/fresh-debian-check.sh setup     # time scripts/setup.sh inside (apt + venv)
#   scripts/fresh-debian-check.sh commands  # time the README's two commands inside (cold build!)
#   scripts/fresh-debian-check.sh shell     # a shell inside
#   scripts/fresh-debian-check.sh umount    # undo the mounts (before deleting the root)
#
# Settings (environment): ROOT (default /work/deb12, outside any clone), REPO (the clone to copy,
# default this one), BRANCH (default its current branch), SHARED (the shared test data, default
# ../shared beside REPO; bind-mounted read-only at /root/shared, beside the clone /root/footfall),
# NICE (default 5), LOG (default /tmp/fresh-debian-<step>.log).
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
  mkdir -p "$ROOT/root/shared"
  if ! mountpoint -q "$ROOT/root/shared"; then
    mount --bind "$SHARED" "$ROOT/root/shared"
    mount -o remount,bind,ro "$ROOT/root/shared"
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
  rm -rf "$ROOT/root/footfall"
  git clone -q --branch "$BRANCH" "$REPO" "$ROOT/root/footfall"
  inside bash -c 'cd /root/footfall && git log --oneline -1 && cargo --version && rustc --version &&
    ls /root/shared/weights/yolox_nano.onnx && (command -v python3 || echo "no python3 (stock minbase)")'
  ;;
setup)
  mount_all
  inside bash -c "cd /root/footfall && time nice -n $NICE scripts/setup.sh" 2>&1 | tee "$LOG"
  ;;
commands)
  # The README's two commands, cold, each timed. Takes the better part of an hour on 2 cores.
  mount_all
  inside bash -c "set -o pipefail; cd /root/footfall && rm -rf target out /root/.cargo/registry /root/.cargo/git
    echo '== 1: scripts/setup.sh && cargo run --release --bin footfall -- count ...'
    time (nice -n $NICE scripts/setup.sh && nice -n $NICE cargo run --release --bin footfall -- count ../shared/video/people_10s_640x480.mp4 --every 1s --weights ../shared/weights/yolox_nano.onnx --annotate out)
    echo \"== 1 exit \$?\"
    echo '== 2: scripts/test.sh'
    time nice -n $NICE scripts/test.sh
    echo \"== 2 exit \$?\"
    du -sh target" 2>&1 | tee "$LOG"
  ;;
shell)
  mount_all
  inside bash -l
  ;;
umount)
  for m in root/shared dev/pts dev sys proc; do
    mountpoint -q "$ROOT/$m" && umount "$ROOT/$m"
  done
  echo "unmounted; the root can now be deleted with: rm -rf $ROOT"
  ;;
*)
  sed -n '2,17p' "$0"
  exit 2
  ;;
esac

#!/usr/bin/env bash
# Builds the ECS task image (footfall-task:dev) on this machine without Docker Hub: the runtime
# stage of deploy/Dockerfile.task, started from a Debian 12 root made with debootstrap and imported
# into podman, with the release binary built on this (Debian 12) host instead of the Dockerfile's
# compile stage. See docs/container-image.md.
#
#   scripts/build-task-image.sh [WEIGHTS]   # the base (cached), then footfall-task:dev
#   scripts/build-task-image.sh --base      # only the base image (no binary needed)
#
# Run as root on Debian 12 (installs debootstrap, podman and buildah with apt when missing).
# WEIGHTS: the ONNX export copied into the image (default $FOOTFALL_WEIGHTS, else
# ../shared/weights/yolox_nano.onnx); it never enters git (the build context is a folder in the
# cache). The binary is whatever $CARGO_TARGET_DIR/release/footfall-task is now (default
# ~/.cache/footfall-target): build it first (cargo build --release -p fargate-task).
#
# Settings (environment): FOOTFALL_IMAGE_CACHE (default ~/.cache/footfall-image: the base root's
# tarball, reused while the package list is unchanged, and the build context), BASE_IMAGE
# (default localhost/footfall-base:bookworm), IMAGE (default footfall-task:dev), MIRROR (default
# http://deb.debian.org/debian), YTDLP (auto: pip in the build reaches PyPI, else a wheel that
# the host's pip downloads or has in the cache folder, installed offline; pypi; wheel),
# PODMAN_BUILD_ARGS (extra `podman build` options, split on spaces, e.g. --no-cache).
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
start=$(date +%s)

CACHE="${FOOTFALL_IMAGE_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/footfall-image}"
BASE_IMAGE="${BASE_IMAGE:-localhost/footfall-base:bookworm}"
IMAGE="${IMAGE:-footfall-task:dev}"
MIRROR="${MIRROR:-http://deb.debian.org/debian}"
YTDLP="${YTDLP:-auto}"
DOCKERFILE="$root/deploy/Dockerfile.task"
log() { echo "[build-task-image] $*" >&2; }

base_only=0
weights_arg=""
for a in "$@"; do
  case "$a" in
    --base) base_only=1 ;;
    -h|--help) sed -n '2,20p' "$0"; exit 0 ;;
    *) weights_arg="$a" ;;
  esac
done

[ "$(id -u)" -eq 0 ] || { log "run as root (rootful podman; debootstrap needs root)"; exit 2; }

# ---------------------------------------------------------------- tools (Debian packages)
need=()
for p in debootstrap podman buildah runc; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || need+=("$p")
done
if ((${#need[@]})); then
  log "apt-get install ${need[*]}"
  env DEBIAN_FRONTEND=noninteractive apt-get update -qq
  env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}"
fi

# What this kind of host needs (the same lines are in scripts/run-task-image.sh):
# - crun refuses a cgroup v1/v2 hybrid host whose v2 hierarchy holds a controller ("cgroups in
#   hybrid mode not supported, drop all controllers from cgroupv2"): runc then;
# - rootful podman raises RLIMIT_NOFILE/NPROC to 1048576/4194304 by default, which fails
#   ("setrlimit `RLIMIT_NOFILE`: Operation not permitted") without CAP_SYS_RESOURCE, and
#   `--ulimit host` fails the same way in podman 4.3: the caller's own hard limits then, NPROC
#   at most kernel.pid_max (podman starts conmon with NPROC capped there; more fails the same).
podman_opts=()
if [ ! -f /sys/fs/cgroup/cgroup.controllers ] && grep -qs . /sys/fs/cgroup/unified/cgroup.controllers; then
  podman_opts+=(--runtime runc)
fi
nofile=$(ulimit -Hn); nproc=$(ulimit -Hu); pid_max=$(cat /proc/sys/kernel/pid_max)
[ "$nofile" != unlimited ] && [ "$nofile" -le 1048576 ] || nofile=1048576
[ "$nproc" != unlimited ] && [ "$nproc" -le "$pid_max" ] || nproc=$pid_max
limits=(--ulimit "nofile=$nofile:$nofile" --ulimit "nproc=$nproc:$nproc")
pm() { podman "${podman_opts[@]}" "$@"; }

# ---------------------------------------------------------------- the base (debootstrap root)
# The runtime packages are the ones the Dockerfile's runtime stage names (its pkgs="..." line),
# so the runtime stage finds them all installed and runs no apt.
pkgs=$(sed -n 's/^RUN pkgs="\([^"]*\)".*/\1/p' "$DOCKERFILE")
[ -n "$pkgs" ] || { log "no pkgs=\"...\" line in $DOCKERFILE"; exit 2; }
key=$(printf '%s\n' "bookworm" "$MIRROR" "$pkgs" "v2" | sha256sum | cut -c1-12)
tarball="$CACHE/base-bookworm-$key.tar"
mkdir -p "$CACHE"

if [ ! -s "$tarball" ]; then
  rootfs="$CACHE/rootfs-$key"
  rm -rf "$rootfs"
  t0=$(date +%s)
  log "debootstrap bookworm minbase + runtime packages into $rootfs"
  nice -n 10 debootstrap --variant=minbase --include="$(echo "$pkgs" | tr ' ' ',')" \
    bookworm "$rootfs" "$MIRROR" >"$CACHE/debootstrap.log" 2>&1 \
    || { log "debootstrap failed, see $CACHE/debootstrap.log"; tail -5 "$CACHE/debootstrap.log" >&2; exit 1; }
  # The sources of debian:bookworm-slim (updates and security too), then the security updates
  # debootstrap (bookworm main only) did not take.
  rm -f "$rootfs/etc/apt/sources.list"
  cat >"$rootfs/etc/apt/sources.list.d/debian.sources" <<EOF
Types: deb
URIs: $MIRROR
Suites: bookworm bookworm-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb
URIs: ${MIRROR%/debian}/debian-security
Suites: bookworm-security
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
EOF
  # debian:bookworm-slim's dpkg filter (no documentation, manuals or translations), applied to
  # what debootstrap installed too.
  printf '%s\n' 'path-exclude /usr/share/doc/*' 'path-include /usr/share/doc/*/copyright' \
    'path-exclude /usr/share/man/*' 'path-exclude /usr/share/groff/*' \
    'path-exclude /usr/share/info/*' 'path-exclude /usr/share/lintian/*' \
    'path-exclude /usr/share/linda/*' 'path-exclude /usr/share/locale/*' \
    >"${rootfs:?}/etc/dpkg/dpkg.cfg.d/docker"
  find "${rootfs:?}/usr/share/doc" -mindepth 1 ! -type d ! -name copyright -delete
  find "${rootfs:?}/usr/share/doc" -mindepth 1 -type d -empty -delete
  for d in man groff info lintian linda locale; do
    find "${rootfs:?}/usr/share/$d" -mindepth 1 -delete 2>/dev/null || true
  done
  cp /etc/resolv.conf "$rootfs/etc/resolv.conf"
  env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin DEBIAN_FRONTEND=noninteractive LANG=C.UTF-8 \
    chroot "$rootfs" sh -c 'apt-get update -qq && apt-get upgrade -y -qq && apt-get clean' \
    >>"$CACHE/debootstrap.log" 2>&1 \
    || { log "apt-get upgrade in the root failed, see $CACHE/debootstrap.log"; exit 1; }
  # What a container image does not carry: package lists and archives, the host's resolver and
  # name, device nodes (the runtime mounts /dev), logs.
  rm -rf "${rootfs:?}"/var/lib/apt/lists/* "$rootfs"/var/cache/apt/*.bin \
    "$rootfs"/var/cache/apt/archives/*.deb "$rootfs"/var/log/* "$rootfs"/dev/* \
    "$rootfs/etc/resolv.conf" "$rootfs/etc/hostname"
  tar --numeric-owner --xattrs -C "$rootfs" -cf "$tarball.part" .
  mv "$tarball.part" "$tarball"
  rm -rf "$rootfs"
  log "base root: $(du -h "$tarball" | cut -f1) in $(( $(date +%s) - t0 )) s ($tarball)"
fi

if [ "$(podman image inspect -f '{{index .Labels "org.footfall.base-key"}}' "$BASE_IMAGE" 2>/dev/null)" != "$key" ]; then
  log "podman import $tarball as $BASE_IMAGE"
  podman import \
    --change "LABEL org.footfall.base-key=$key" \
    --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
    --change 'CMD ["bash"]' \
    "$tarball" "$BASE_IMAGE" >/dev/null
fi
pm run --rm --network host "${limits[@]}" "$BASE_IMAGE" true \
  || { log "the base image does not run here: podman ${podman_opts[*]} run --rm --network host ${limits[*]} $BASE_IMAGE true failed"; exit 1; }
log "base image $BASE_IMAGE ready (runs here)"
[ "$base_only" -eq 0 ] || exit 0

# ---------------------------------------------------------------- the build context
target="${CARGO_TARGET_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/footfall-target}"
binary="$target/release/footfall-task"
weights="${weights_arg:-${FOOTFALL_WEIGHTS:-$root/../shared/weights/yolox_nano.onnx}}"
[ -x "$binary" ] || { log "no binary $binary: build it first (cargo build --release -p fargate-task)"; exit 2; }
[ -s "$weights" ] || { log "no weights file $weights (argument, FOOTFALL_WEIGHTS or ../shared/weights/yolox_nano.onnx)"; exit 2; }
ctx="$CACHE/context"
rm -rf "$ctx"
mkdir -p "$ctx/prebuilt" "$ctx/weights"
cp "$binary" "$ctx/prebuilt/footfall-task"
cp "$weights" "$ctx/weights/yolox_nano.onnx"
log "binary $binary ($(du -h "$binary" | cut -f1), built $(date -u -r "$binary" '+%F %T UTC')), weights $weights"

# ---------------------------------------------------------------- yt-dlp: PyPI or a local wheel
# pip in the build gets the host's CA bundle through a build-time mount (Debian's pip trusts the
# system bundle; the mount replaces the base's file during RUN only, the image keeps Debian's):
# this sandbox reaches PyPI through an intercepting proxy.
ytdlp_version=$(sed -n 's/^ARG YTDLP_VERSION=//p' "$DOCKERFILE")
mounts=()
if [ -s /etc/ssl/certs/ca-certificates.crt ]; then
  mounts+=(-v /etc/ssl/certs/ca-certificates.crt:/etc/ssl/certs/ca-certificates.crt:ro)
fi
if [ "$YTDLP" = auto ]; then
  if pm run --rm --network host "${limits[@]}" "${mounts[@]}" "$BASE_IMAGE" python3 -c \
      'import urllib.request; urllib.request.urlopen("https://pypi.org/simple/yt-dlp/", timeout=20)' \
      >/dev/null 2>&1; then
    YTDLP=pypi
  else
    log "pip in the build cannot reach https://pypi.org: installing yt-dlp $ytdlp_version from a wheel"
    YTDLP=wheel
  fi
fi
if [ "$YTDLP" = wheel ]; then
  wheels="$CACHE/wheels"
  mkdir -p "$wheels"
  if ! ls "$wheels"/yt_dlp-"$ytdlp_version"-*.whl >/dev/null 2>&1; then
    python3 -m pip download -q --no-deps --only-binary=:all: -d "$wheels" "yt-dlp==$ytdlp_version" \
      || { log "no yt-dlp $ytdlp_version wheel: the host's pip cannot download it either; put yt_dlp-$ytdlp_version-*.whl in $wheels"; exit 1; }
  fi
  # pip in the build reads the wheel folder through mounts; the image keeps the mount points (an
  # empty /etc/pip.conf and /wheels) in this case only.
  pipconf="$CACHE/pip.conf"
  printf '[global]\nno-index = true\nfind-links = /wheels\n' >"$pipconf"
  mounts+=(-v "$wheels:/wheels:ro" -v "$pipconf:/etc/pip.conf:ro")
fi
log "yt-dlp $ytdlp_version from: $YTDLP"

# ---------------------------------------------------------------- the image
t0=$(date +%s)
log "podman build -f deploy/Dockerfile.task (RUNTIME_BASE=$BASE_IMAGE TASK_BINARY=prebuilt) -t $IMAGE"
pm build --network host --pull=never "${limits[@]}" \
  --build-arg "RUNTIME_BASE=$BASE_IMAGE" --build-arg TASK_BINARY=prebuilt \
  --label "org.footfall.binary-sha256=$(sha256sum "$binary" | cut -c1-64)" \
  "${mounts[@]}" ${PODMAN_BUILD_ARGS:-} -f "$DOCKERFILE" -t "$IMAGE" "$ctx"
build_s=$(( $(date +%s) - t0 ))
rm -rf "$ctx"

size=$(podman image inspect -f '{{.Size}}' "$IMAGE")
base_size=$(podman image inspect -f '{{.Size}}' "$BASE_IMAGE")
echo "image $IMAGE: $(numfmt --to=iec "$size") ($size bytes; base $BASE_IMAGE $(numfmt --to=iec "$base_size")); podman build ${build_s} s, script $(( $(date +%s) - start )) s"

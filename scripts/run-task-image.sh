#!/usr/bin/env bash
# Runs the task image once, as ECS runs it: read-only root filesystem (plus a tmpfs /tmp), user
# 10001, the image's own weights (FOOTFALL_WEIGHTS_DIR=/opt/footfall/weights), the configuration
# from the environment. The host's network (--network host), so servers on the host's loopback
# (moto, MariaDB, the HLS server, the Lambda emulator, a callback receiver) answer as they do for
# the binary run directly. Exit status: the task's (0, 1, 2, 101, 137; 125-127: podman's own).
#
#   scripts/run-task-image.sh [NAME...] [-- TASK_ARGS...]
#
# Each NAME is a variable of this script's environment passed into the container (`-e NAME`);
# unset ones are skipped. FOOTFALL_WEIGHTS and FOOTFALL_WEIGHTS_DIR are never passed (the image
# carries its weights). E.g. in place of "$bin/footfall-task" in scripts/e2e-aws.sh:
#
#   env FOOTFALL_PAYLOAD=... AWS_ENDPOINT_URL=... scripts/run-task-image.sh FOOTFALL_PAYLOAD \
#     AWS_ENDPOINT_URL AWS_ENDPOINT_URL_LAMBDA NOTIFY_FUNCTION_NAME RESULTS_BUCKET DATABASE_URL ...
#
# The AWS credentials and region (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN,
# AWS_REGION, AWS_DEFAULT_REGION) are passed when set, as the task role's would be on ECS.
# Settings: IMAGE (default footfall-task:dev, see scripts/build-task-image.sh), TASK_TMP (1,
# default: a tmpfs on /tmp, nothing else writable; 0: no writable path at all, exactly the task
# definitions, which give the container no volume), PODMAN_ARGS (extra `podman run` options,
# split on spaces). Run as root (rootful podman).
set -euo pipefail
IMAGE="${IMAGE:-footfall-task:dev}"

names=(AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY AWS_SESSION_TOKEN AWS_REGION AWS_DEFAULT_REGION)
task_args=()
while (($#)); do
  case "$1" in
    --) shift; task_args=("$@"); break ;;
    -h|--help) sed -n '2,22p' "$0"; exit 0 ;;
    *) names+=("$1"); shift ;;
  esac
done
env_args=()
for n in "${names[@]}"; do
  case "$n" in
    FOOTFALL_WEIGHTS|FOOTFALL_WEIGHTS_DIR) continue ;;
  esac
  [ -n "${!n+x}" ] && env_args+=(-e "$n")
done

# The same host checks as scripts/build-task-image.sh: runc where crun refuses a cgroup v1/v2
# hybrid host with a controller in its v2 hierarchy; explicit limits (the caller's hard limits,
# NPROC at most kernel.pid_max) where podman's default RLIMIT_NOFILE/NPROC cannot be set.
podman_opts=()
if [ ! -f /sys/fs/cgroup/cgroup.controllers ] && grep -qs . /sys/fs/cgroup/unified/cgroup.controllers; then
  podman_opts+=(--runtime runc)
fi
nofile=$(ulimit -Hn); nproc=$(ulimit -Hu); pid_max=$(cat /proc/sys/kernel/pid_max)
[ "$nofile" != unlimited ] && [ "$nofile" -le 1048576 ] || nofile=1048576
[ "$nproc" != unlimited ] && [ "$nproc" -le "$pid_max" ] || nproc=$pid_max

# podman's --read-only alone would also mount tmpfs on /run and /var/tmp: ECS does not.
writable=(--read-only --read-only-tmpfs=false)
[ "${TASK_TMP:-1}" = 0 ] || writable+=(--tmpfs /tmp:rw,nosuid,nodev,mode=1777)
# shellcheck disable=SC2206
extra=(${PODMAN_ARGS:-})
exec podman "${podman_opts[@]}" run --rm --network host "${writable[@]}" \
  --ulimit "nofile=$nofile:$nofile" --ulimit "nproc=$nproc:$nproc" \
  "${env_args[@]}" "${extra[@]}" "$IMAGE" "${task_args[@]}"

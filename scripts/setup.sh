#!/usr/bin/env bash
# Installs what footfall needs on a fresh Debian 12 machine with Rust (idempotent, about a second
# when everything is there): a C toolchain, FFmpeg development libraries for video-rs, clang for
# bindgen, lavapipe for wgpu without a GPU, MariaDB for the MySQL tests, headless Chromium for
# the web pages' browser test, and, in a virtualenv
# outside the clone ($FOOTFALL_VENV, default ~/.cache/footfall-venv; see scripts/env.sh), the
# Python packages of the reference tools and of the AWS stand-ins used by the tests. Debian's own
# Python refuses a system-wide `pip install` (PEP 668), so nothing is installed with pip outside
# that venv.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/env.sh

DEBIAN_PACKAGES=(
  build-essential pkg-config clang libclang-dev curl
  libavcodec-dev libavformat-dev libavutil-dev libswscale-dev libswresample-dev
  libavdevice-dev libavfilter-dev ffmpeg
  mesa-vulkan-drivers libvulkan1 libturbojpeg0-dev
  libssl-dev
  mariadb-server
  python3 python3-venv
  chromium
)
# Test-only tools (PyPI), all into the venv. cargo-lambda (with ziglang) runs the Lambda binaries
# locally in the AWS end-to-end test; `cargo install cargo-lambda` takes far longer.
PYTHON_PACKAGES=(numpy onnxruntime opencv-python-headless pillow "moto[server]" aiosmtpd cfn-lint
  awscli ziglang cargo-lambda pyyaml fastapi uvicorn)
# What proves each one is there (module for find_spec, or a program in the venv's bin/).
PYTHON_PROBES=(numpy onnxruntime cv2 PIL moto aiosmtpd cfnlint awscli ziglang yaml
  fastapi uvicorn bin/moto_server bin/cfn-lint bin/aws bin/cargo-lambda)

missing=()
for p in "${DEBIAN_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  echo "setup: apt-get install ${missing[*]}" >&2
  $SUDO env DEBIAN_FRONTEND=noninteractive apt-get update -qq
  $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}"
fi

# The venv, made from Debian's python3 (python3-venv brings pip into it). Remade when its
# interpreter no longer runs (e.g. the system Python was upgraded).
base_python=/usr/bin/python3
[ -x "$base_python" ] || base_python=$(command -v python3)
if ! "$FOOTFALL_VENV/bin/python3" -c '' 2>/dev/null; then
  echo "setup: creating the virtualenv $FOOTFALL_VENV" >&2
  mkdir -p "$(dirname "$FOOTFALL_VENV")"
  "$base_python" -m venv --clear "$FOOTFALL_VENV"
fi
if ! "$FOOTFALL_VENV/bin/python3" - "$FOOTFALL_VENV" "${PYTHON_PROBES[@]}" <<'PY'
import importlib.util, os, sys
venv, probes = sys.argv[1], sys.argv[2:]
missing = [p for p in probes
           if (not os.access(os.path.join(venv, p), os.X_OK) if p.startswith("bin/")
               else importlib.util.find_spec(p) is None)]
sys.exit(1 if missing else 0)
PY
then
  echo "setup: pip install into $FOOTFALL_VENV: ${PYTHON_PACKAGES[*]}" >&2
  "$FOOTFALL_VENV/bin/python3" -m pip install -q --disable-pip-version-check "${PYTHON_PACKAGES[@]}"
fi

# MariaDB for the MySQL tests (root, empty password, on 127.0.0.1:3306).
if ! mysqladmin -uroot -h127.0.0.1 ping >/dev/null 2>&1; then
  start-stop-daemon --start --oknodo --background --exec /usr/sbin/mariadbd
  for _ in $(seq 50); do mysqladmin -uroot -h127.0.0.1 ping >/dev/null 2>&1 && break; sleep 0.2; done
fi
# Debian's MariaDB lets its root user in only through the Unix socket (as the system's root);
# the tests log in over TCP as root without a password, so allow that too on a fresh install.
if ! mysql -uroot -h127.0.0.1 -e 'SELECT 1' >/dev/null 2>&1; then
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  if $SUDO mysql -uroot -e 'SELECT 1' >/dev/null 2>&1; then
    echo "setup: letting MariaDB's root log in over TCP without a password (test machine)" >&2
    $SUDO mysql -uroot -e "ALTER USER 'root'@'localhost' IDENTIFIED VIA unix_socket OR mysql_native_password USING PASSWORD('')"
  else
    echo "setup: warning: cannot log in to MariaDB at 127.0.0.1:3306 as root without a password; the MySQL tests will fail" >&2
  fi
fi

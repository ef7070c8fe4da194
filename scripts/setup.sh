#!/usr/bin/env bash
# Installs what footfall needs on a fresh Debian 12 machine (idempotent): FFmpeg development
# libraries for video-rs, clang for bindgen, lavapipe for wgpu without a GPU, and the Python
# packages of the reference tools and of the AWS stand-ins used by the tests.
set -euo pipefail

DEBIAN_PACKAGES=(
  pkg-config clang libclang-dev
  libavcodec-dev libavformat-dev libavutil-dev libswscale-dev libswresample-dev
  libavdevice-dev libavfilter-dev ffmpeg
  mesa-vulkan-drivers libvulkan1 libturbojpeg0-dev
  mariadb-server
)
PYTHON_PACKAGES=(numpy onnxruntime opencv-python-headless pillow "moto[server]" aiosmtpd cfn-lint)

missing=()
for p in "${DEBIAN_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  $SUDO env DEBIAN_FRONTEND=noninteractive apt-get update -qq
  $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}"
fi

python3 - "${PYTHON_PACKAGES[@]}" <<'PY' || pip install -q "${PYTHON_PACKAGES[@]}"
import importlib.util, sys
mods = {"numpy": "numpy", "onnxruntime": "onnxruntime", "opencv-python-headless": "cv2",
        "pillow": "PIL", "moto[server]": "moto", "aiosmtpd": "aiosmtpd", "cfn-lint": "cfnlint"}
sys.exit(1 if any(importlib.util.find_spec(mods[p]) is None for p in sys.argv[1:]) else 0)
PY

# MariaDB for the MySQL tests (root, empty password, on 127.0.0.1:3306).
if ! mysqladmin -uroot -h127.0.0.1 ping >/dev/null 2>&1; then
  start-stop-daemon --start --oknodo --background --exec /usr/sbin/mariadbd
  for _ in $(seq 50); do mysqladmin -uroot -h127.0.0.1 ping >/dev/null 2>&1 && break; sleep 0.2; done
fi

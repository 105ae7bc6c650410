#!/usr/bin/env bash
# The virtual X server napari's tests need on a machine with no display (Debian/Ubuntu packages).
set -euo pipefail
if [ "$(uname -s)" != Linux ]; then  # macOS, Windows: Qt draws on the desktop itself
  exit 0
fi
if ! command -v dpkg >/dev/null; then  # another Linux: its own packages
  command -v Xvfb >/dev/null && exit 0
  echo "Install a virtual X server (Xvfb) and Qt's xcb libraries from your distribution's packages for napari's" \
       "tests, or run the others alone: .venv/bin/python -m pytest -m 'not gui'" >&2
  exit 1
fi
packages=(xvfb libxcb-icccm4 libxcb-keysyms1 libxcb-xinerama0 libxcb-randr0 libxcb-render-util0
          libxcb-image0 libxcb-shape0 libxcb-cursor0 libxkbcommon-x11-0 libgl1 libegl1 libfontconfig1 libdbus-1-3)
missing=()
for p in "${packages[@]}"; do
  dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0
if ! command -v apt-get >/dev/null; then
  echo "Install a virtual X server (Xvfb) and Qt's xcb libraries: ${missing[*]}; or run the tests that need no" \
       "display alone: .venv/bin/python -m pytest -m 'not gui'" >&2
  exit 1
fi
sudo=""
[ "$(id -u)" -ne 0 ] && sudo="sudo"
$sudo apt-get update -qq
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}" >/dev/null

#!/usr/bin/env bash
# Registers lrlab with the desktop for this user: menu entry, icon, and .lrlab files opening
# in lrlab. Needs `lrlab` on PATH (pip install lrlab, or the bundle's folder on PATH).
#   bash packaging/linux/install.sh            # install
#   bash packaging/linux/install.sh --remove   # undo
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
icons="$here/../../resources/icons"
data="${XDG_DATA_HOME:-$HOME/.local/share}"
id=io.github.lrlab.lrlab
if [ "${1:-}" = "--remove" ]; then
  rm -f "$data/applications/$id.desktop" "$data/metainfo/$id.metainfo.xml" "$data/mime/packages/$id-mime.xml"
  for s in 16 24 32 48 64 128 256 512; do rm -f "$data/icons/hicolor/${s}x${s}/apps/$id.png"; done
  rm -f "$data/icons/hicolor/scalable/apps/$id.svg"
else
  install -Dm644 "$here/$id.desktop" "$data/applications/$id.desktop"
  install -Dm644 "$here/$id.metainfo.xml" "$data/metainfo/$id.metainfo.xml"
  install -Dm644 "$here/$id-mime.xml" "$data/mime/packages/$id-mime.xml"
  for s in 16 24 32 48 64 128 256 512; do
    install -Dm644 "$icons/lrlab-$s.png" "$data/icons/hicolor/${s}x${s}/apps/$id.png"
  done
  install -Dm644 "$icons/lrlab.svg" "$data/icons/hicolor/scalable/apps/$id.svg"
fi
command -v update-mime-database >/dev/null && update-mime-database "$data/mime" || true
command -v update-desktop-database >/dev/null && update-desktop-database "$data/applications" || true
command -v gtk-update-icon-cache >/dev/null && gtk-update-icon-cache -q -t "$data/icons/hicolor" || true
echo "lrlab desktop integration ${1:+removed}${1:-installed} under $data"

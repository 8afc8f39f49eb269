#!/bin/sh
# Add Ponder to your applications menu (this user only): a .desktop entry that starts this
# folder's `ponder`, and its icons. Run it again after moving the folder; `--remove` undoes it.
set -eu
HERE="$(cd "$(dirname "$0")" && pwd)"
DATA="${XDG_DATA_HOME:-$HOME/.local/share}"
if [ "${1:-}" = "--remove" ]; then
    rm -f "$DATA/applications/ponder.desktop"
    find "$DATA/icons/hicolor" -name 'ponder.png' -o -name 'ponder.svg' 2>/dev/null | xargs rm -f
    echo "Removed Ponder's menu entry."
    exit 0
fi
mkdir -p "$DATA/applications"
sed "s|^Exec=ponder |Exec=\"$HERE/ponder\" |" "$HERE/share/applications/ponder.desktop" \
    > "$DATA/applications/ponder.desktop"
cp -r "$HERE/share/icons" "$DATA/"
command -v update-desktop-database >/dev/null 2>&1 && update-desktop-database "$DATA/applications" || true
echo "Ponder is in your applications menu. Start it there, or run $HERE/ponder"

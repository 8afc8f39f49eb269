"""`python -m model_runtime`: Ponder's engine from the command line, no GUI needed."""

from model_runtime.cli.main import main

if __name__ == "__main__":  # the engine process re-imports this module
    raise SystemExit(main())

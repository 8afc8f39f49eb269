"""`python -m desktop` starts the app."""

from desktop.app import main

if __name__ == "__main__":  # the engine process re-imports this module
    raise SystemExit(main())

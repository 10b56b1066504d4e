"""`python -m stream.cli`: the same commands as `tierwatch`."""

from stream.cli import main

if __name__ == "__main__":  # imported (not run) by tests that walk every module
    main()

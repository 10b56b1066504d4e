"""`python -m stream.cli`: the same commands as `tierwatch`."""

from stream.cli import main

if __name__ == "__main__":  # not when a test walks the package's modules
    main()

"""`python -m stream.cli`: the same commands as `tierwatch`."""

from stream.cli import main

if __name__ == "__main__":  # imported (as tests/test_errors.py imports every module): no run
    main()

"""`python -m stream.cli`: the same commands as `tierwatch`."""

from stream.cli import main

if __name__ == "__main__":  # imported (tests walk every module), it runs nothing
    main()

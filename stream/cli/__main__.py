"""`python -m stream.cli`: the same commands as `tierwatch`."""

from stream.cli import main

main()

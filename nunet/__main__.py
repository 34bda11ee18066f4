"""`python -m nunet` runs the CLI."""

from nunet.cli import main

main()

"""`python -m waitpoint`: the `waitpoint` command."""

from waitpoint.cli import main

main()

"""python -m feedsvc: the same as the feedsvc command."""

from .cli import main

main()

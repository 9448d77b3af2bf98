"""``python -m kgrec``: the same command line as the ``kgrec`` console script."""

from kgrec.cli import main

main()

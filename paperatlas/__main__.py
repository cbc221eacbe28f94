"""``python -m paperatlas``: the same as the ``paperatlas`` command."""

from paperatlas.cli import main

if __name__ == "__main__":
    main()

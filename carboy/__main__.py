"""``python -m carboy``: the ``carboy`` command, for when the script is not on PATH."""

from carboy.cli import main

if __name__ == "__main__":
    main()

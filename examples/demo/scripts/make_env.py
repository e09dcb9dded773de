"""Write the demo's ``.env`` from ``.env.example`` with a fresh random secret key.

Run by ``make demo``: ``python scripts/make_env.py [PATH]`` (default: ``.env``
beside this folder). An existing file is left as it is, so the key stays the
same from one run to the next (and sessions and signed cookies keep working).
"""

from __future__ import annotations

import secrets
import sys
from pathlib import Path

DEMO = Path(__file__).resolve().parents[1]


def make_env(target: Path) -> bool:
    """Write ``target`` unless it exists; True if it was written."""
    if target.exists():
        return False
    lines = (DEMO / ".env.example").read_text().splitlines()
    key = secrets.token_urlsafe(48)
    text = "\n".join(
        f"CARBOY_SECRET_KEY={key}" if line.startswith("CARBOY_SECRET_KEY=") else line
        for line in lines
    )
    target.write_text(text + "\n")
    target.chmod(0o600)
    return True


if __name__ == "__main__":
    path = Path(sys.argv[1]) if len(sys.argv) > 1 else DEMO / ".env"
    if make_env(path):
        print(f"wrote {path} with a new secret key")

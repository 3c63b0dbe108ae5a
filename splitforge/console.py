"""The ``splitforge`` console script, which loads the command line only when it runs.

Worker processes are spawned, and a spawned worker first runs the parent's main script again
(as ``__mp_main__``, the part under ``if __name__ == "__main__"`` left out). Were the script to
import ``splitforge.cli`` at its top, every worker would load the whole command line and what it
imports (pandas, pydantic, the pipeline) before its first batch.
"""

from __future__ import annotations


def main() -> None:
    """Run ``splitforge.cli.main``."""
    from splitforge.cli import main as run

    run()

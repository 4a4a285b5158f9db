"""Run a command and print the peak resident memory of it and its descendants.

    python -m bench.peak_memory <command …>

A fresh process per measurement, so RUSAGE_CHILDREN's maximum is this command's alone.
"""

import resource
import subprocess
import sys

PEAK_PREFIX = "peak_rss_bytes="


def main() -> int:
    code = subprocess.run(sys.argv[1:], check=False).returncode
    print(
        f"{PEAK_PREFIX}{resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss * 1024}", flush=True
    )
    return code


if __name__ == "__main__":
    sys.exit(main())

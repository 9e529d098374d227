"""The kill half of the crash tests (this suite's and tests_pyrogram's): a child that prints
``handled N`` and ``ack N`` lines, killed after a random number of handled updates."""

import os
import signal
import subprocess
import sys


def run_and_kill(child_script, kind, path, rng):
    """Starts ``child_script kind path`` (in the script's folder), lets it handle a random
    number of updates (1 to 120), SIGKILLs it; returns the last update it acknowledged and
    the last it handled."""
    here = os.path.dirname(os.path.abspath(child_script))
    child = subprocess.Popen([sys.executable, child_script, kind, path],
                             stdout=subprocess.PIPE, cwd=here, text=True)
    target = rng.randint(1, 120)
    acked = handled = 0
    try:
        for line in child.stdout:
            word, n = line.split()
            if word == "ack":
                acked = int(n)
            else:
                handled = int(n)
                target -= 1
                if target == 0:
                    break
    finally:
        child.send_signal(signal.SIGKILL)
        child.wait()
        child.stdout.close()
    assert handled, "the child handled nothing before the kill"
    return acked, handled

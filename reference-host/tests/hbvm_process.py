"""A running hbvm for the host's end-to-end tests: its stderr (hbvm's lines
and the guest's debug port) collected line by line as it comes, so that a test
can wait for what a guest announces while the machine runs."""

import subprocess
import threading
import time


class hbvm_process:
    """`console`: the guest's console (stdout) is collected too, merged with stderr."""

    def __init__(self, command, env=None, console=False):
        self.proc = subprocess.Popen([str(c) for c in command], stdin=subprocess.DEVNULL,
                                     stdout=subprocess.PIPE if console else subprocess.DEVNULL,
                                     stderr=subprocess.STDOUT if console else subprocess.PIPE, text=True, env=env)
        self.lines = []
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self):
        for line in self.proc.stdout if self.proc.stdout else self.proc.stderr:
            self.lines.append(line.rstrip("\n"))

    def wait_for(self, predicate, seconds=30):
        """True once predicate(lines) holds, False after `seconds`."""
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            if predicate(self.lines):
                return True
            time.sleep(0.02)
        return False

    def has(self, text, seconds=30):
        """True once a line is exactly `text`."""
        return self.wait_for(lambda ls: text in ls, seconds)

    def end(self, seconds=30):
        """The exit status, or None when hbvm had to be killed after `seconds`."""
        try:
            return self.proc.wait(timeout=seconds)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            return None

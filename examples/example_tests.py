"""What the examples' tests share (imported by examples/*/test_*.py)."""

import os


def kvm_problem():
    """Why /dev/kvm cannot be used by this user, or None (opening it read-write is what hbvm does)."""
    try:
        os.close(os.open("/dev/kvm", os.O_RDWR | os.O_CLOEXEC))
        return None
    except OSError as e:
        return f"/dev/kvm: {e.strerror}"

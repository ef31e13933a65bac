"""A stand-in measurement worker that dies the way a broken interpreter does (tests only)."""

import ctypes
import os
import signal
import sys
import time

if __name__ == "__main__":
    mode = os.environ.get("EDGE_PROFILER_TEST_CRASH", "segv")
    if mode == "segv":
        ctypes.string_at(0)  # a real segmentation fault
    elif mode == "abort":
        os.kill(os.getpid(), signal.SIGABRT)
    elif mode == "exit":
        sys.exit(3)
    elif mode == "oom":
        sys.stderr.write("terminate called after throwing an instance of 'std::bad_alloc'\n")
        os.abort()
    elif mode == "hang":
        time.sleep(3600)

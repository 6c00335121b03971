#!/usr/bin/env python3
"""Runs one command and prints `wall_seconds peak_rss_bytes exit_code` (its only child's RSS)."""
import resource
import subprocess
import sys
import time

start = time.perf_counter()
code = subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL).returncode
wall = time.perf_counter() - start
# ru_maxrss is in KiB on Linux; this process has exactly one child.
rss = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss * 1024
print(f"{wall:.4f} {rss} {code}")

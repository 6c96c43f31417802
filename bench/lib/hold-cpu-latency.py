"""Runs a command while holding the CPU wake-up latency at 0 (/dev/cpu_dma_latency), as
`shadowdiff replay` does by default, so that a peer tool is measured under the same host setting.
Without the device or the permission it runs the command as is and says so on stderr."""
import os
import struct
import subprocess
import sys

try:
    fd = os.open("/dev/cpu_dma_latency", os.O_WRONLY)
    os.write(fd, struct.pack("i", 0))
except OSError as error:
    print(f"note: CPU wake-up latency not held ({error})", file=sys.stderr)
    fd = None
code = subprocess.call(sys.argv[1:])
if fd is not None:
    os.close(fd)
sys.exit(code)

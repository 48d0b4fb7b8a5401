"""llama.cpp as a same-run peer for Keel's benchmarks (bench/engine_bench.py, bench/serve_bench.py).

The peer is node-llama-cpp's prebuilt CPU build, pinned in bench/peers/package.json and
package-lock.json. ensure_installed() runs `npm ci` there when node_modules is missing or older
than the lock file: only the linux-x64 CPU binaries (optional GPU and other-platform packages are
left out) and no install scripts (node-llama-cpp's postinstall could download or build llama.cpp;
the benchmarks measure the prebuilt binary or nothing). run() starts one of the .mjs scripts here
and returns the JSON it prints; ggml_build() reads ggml's version and commit from the binary
itself (ggml_version() and ggml_commit() of libggml-base.so).
"""
import ctypes
import glob
import json
import os
import shutil
import subprocess
import sys
import time

DIR = os.path.dirname(os.path.abspath(__file__))
NPM_CI = ["npm", "ci", "--omit=optional", "--ignore-scripts", "--no-audit", "--no-fund"]


class PeerUnavailable(Exception):
    """The peer cannot run on this machine; the message says why."""


def _pinned_version():
    with open(os.path.join(DIR, "package.json")) as f:
        return json.load(f)["dependencies"]["node-llama-cpp"]


def ensure_installed(log=lambda m: print(m, file=sys.stderr)):
    """Installs the pinned peer with `npm ci` when needed; returns node-llama-cpp's version."""
    if shutil.which("node") is None or shutil.which("npm") is None:
        raise PeerUnavailable("node and npm are needed for the llama.cpp peer (node-llama-cpp)")
    major = subprocess.run(["node", "-p", "process.versions.node.split('.')[0]"], capture_output=True,
                           text=True).stdout.strip()
    if not major.isdigit() or int(major) < 20:
        raise PeerUnavailable(f"node-llama-cpp needs node 20 or later, this is node {major or '?'}")
    installed = os.path.join(DIR, "node_modules", ".package-lock.json")
    lock = os.path.join(DIR, "package-lock.json")
    if not os.path.exists(installed) or os.path.getmtime(installed) < os.path.getmtime(lock):
        log(f"installing the llama.cpp peer: ({' '.join(NPM_CI)}) in {DIR}")
        r = subprocess.run(NPM_CI, cwd=DIR, stdout=sys.stderr, stderr=sys.stderr)
        if r.returncode != 0:
            raise PeerUnavailable(f"npm ci in {DIR} failed (exit {r.returncode})")
    with open(os.path.join(DIR, "node_modules", "node-llama-cpp", "package.json")) as f:
        version = json.load(f)["version"]
    if version != _pinned_version():
        raise PeerUnavailable(f"bench/peers holds node-llama-cpp {version}, not the pinned {_pinned_version()}; "
                              f"remove bench/peers/node_modules")
    return version


def run(script, args, timeout=3600):
    """Runs bench/peers/SCRIPT with ARGS; returns its JSON. Raises PeerUnavailable on failure."""
    r = subprocess.run(["node", os.path.join(DIR, script)] + [str(a) for a in args], capture_output=True,
                       text=True, timeout=timeout)
    if r.returncode != 0:
        raise PeerUnavailable(r.stderr.strip() or f"{script} exited with {r.returncode}")
    return json.loads(r.stdout)


def ggml_build():
    """{"ggml_version", "ggml_commit"} of the prebuilt binary, or {} where it cannot be read."""
    for path in sorted(glob.glob(os.path.join(DIR, "node_modules", "@node-llama-cpp", "*", "bins", "*",
                                              "libggml-base.so"))):
        try:
            lib = ctypes.CDLL(path)
            lib.ggml_version.restype = ctypes.c_char_p
            lib.ggml_commit.restype = ctypes.c_char_p
            return {"ggml_version": lib.ggml_version().decode(), "ggml_commit": lib.ggml_commit().decode()}
        except (OSError, AttributeError):
            continue
    return {}


def describe(build):
    """One line naming the peer build, e.g. for a table's caption."""
    parts = [f"{build.get('llama_cpp_repo', 'llama.cpp')} {build.get('llama_cpp_release', '?')}"]
    if build.get("ggml_version"):
        parts.append(f"ggml {build['ggml_version']} ({build.get('ggml_commit', '?')})")
    parts.append(f"{build.get('package', 'node-llama-cpp')} {build.get('build_type', '')}".strip())
    if build.get("cpu_backend"):
        parts.append(f"CPU variant {build['cpu_backend']}")
    return ", ".join(parts)


class OtherLoad:
    """CPU time that processes other than this benchmark used while it measured (from /proc/stat
    minus this process, its finished children and the live processes named by `pids`), as a share
    of all cores over the wall time. On a shared machine it tells how much the figures competed."""

    HZ = os.sysconf("SC_CLK_TCK")

    def __init__(self, pids=()):
        self.pids = list(pids)
        self.start = self._sample()

    def _sample(self):
        with open("/proc/stat") as f:
            v = [int(x) for x in f.readline().split()[1:9]]
        busy = (v[0] + v[1] + v[2] + v[5] + v[6] + v[7]) / self.HZ  # user nice system irq softirq steal
        ours = sum(os.times()[:4])  # this process and its finished children
        for pid in self.pids:
            try:
                with open(f"/proc/{pid}/stat") as f:
                    fields = f.read().rsplit(")", 1)[1].split()
                ours += (int(fields[11]) + int(fields[12])) / self.HZ  # utime stime
            except (OSError, IndexError, ValueError):
                pass
        return time.monotonic(), busy, ours

    def share(self):
        t1, busy1, ours1 = self._sample()
        t0, busy0, ours0 = self.start
        wall = t1 - t0
        if wall <= 0:
            return 0.0
        return max(0.0, ((busy1 - busy0) - (ours1 - ours0)) / (wall * (os.cpu_count() or 1)))

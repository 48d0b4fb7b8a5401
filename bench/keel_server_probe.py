"""What the serve benchmarks read from a running `keel serve`: its Prometheus samples and the
memory of its process (shared by serve_bench.py and serve_fairness_bench.py)."""
import urllib.request


def prometheus_samples(url):
    """{sample name with labels: value} from URL/metrics."""
    text = urllib.request.urlopen(url + "/metrics", timeout=5).read().decode()
    out = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            name, _, value = line.rpartition(" ")
            out[name] = float(value)
    return out


def process_memory_mb(pid, field="VmRSS"):
    """A /proc/PID/status memory field (VmRSS now, VmHWM peak) in MiB; 0 when absent."""
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024
    return 0.0

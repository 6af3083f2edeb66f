"""What bench/side-by-side and bench/startup-time share: a single-node server (ringd or etcd,
started with etcd's flags) in a directory of its own, /proc readings, the machine's description,
and writing a generated section into a markdown file between two markers."""
import os
import platform
import shlex
import signal
import socket
import subprocess
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
READY = "ready to serve client requests"


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def proc_status(pid, field):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1]) * 1024
    return 0


class Server:
    """One server process. A cluster's member gets its member name, its peer port and the
    --initial-cluster naming every member (see Cluster); alone it is "default"."""

    def __init__(self, name, binary, root, member="default", peer=None, initial=None):
        self.name, self.binary = name, binary
        self.dir = os.path.join(root, name)
        os.makedirs(self.dir)
        self.data_dir = os.path.join(self.dir, "data")
        self.client, peer = free_port(), peer or free_port()
        self.endpoint = f"127.0.0.1:{self.client}"
        url, peer_url = f"http://{self.endpoint}", f"http://127.0.0.1:{peer}"
        # The same flags for both: ringd takes etcd's.
        self.args = [binary, "--name", member, "--data-dir", self.data_dir,
                     "--listen-client-urls", url, "--advertise-client-urls", url,
                     "--listen-peer-urls", peer_url, "--initial-advertise-peer-urls", peer_url,
                     "--initial-cluster", initial or f"{member}={peer_url}"]
        self.log_path = None
        self.proc = None
        self.started = 0.0  # time.monotonic() just before the process was started

    def start(self, log_name="log"):
        """Starts the server, its output (both streams) into log_name in its directory."""
        print("$ " + " ".join(shlex.quote(a) for a in self.args), flush=True)
        self.log_path = os.path.join(self.dir, log_name)
        self.log = open(self.log_path, "w")
        self.started = time.monotonic()
        self.proc = subprocess.Popen(self.args, stdout=self.log, stderr=subprocess.STDOUT,
                                     cwd=self.dir)

    def wait_ready(self, seconds=30, poll_s=0.01):
        """Waits for READY in the log; returns time.monotonic() when it was seen."""
        end = time.monotonic() + seconds
        text = ""
        with open(self.log_path) as f:
            while time.monotonic() < end:
                # What was read before, in case the line was half written then.
                text = text[-len(READY):] + f.read()
                if READY in text:
                    return time.monotonic()
                if self.proc.poll() is not None:
                    break
                time.sleep(poll_s)
        raise SystemExit(f"{self.name} did not become ready in {seconds} s; see {self.log_path}")

    def rss(self):
        return proc_status(self.proc.pid, "VmRSS")

    def peak(self):
        return proc_status(self.proc.pid, "VmHWM")

    def cpu(self):
        """User plus system CPU seconds so far."""
        with open(f"/proc/{self.proc.pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def stop(self, sig=signal.SIGTERM, seconds=30):
        """Sends sig and waits for the exit (SIGKILL after seconds). Returns the seconds the
        server took to exit, or None if it had to be killed or was not running."""
        took = None
        if self.proc is not None and self.proc.poll() is None:
            sent = time.monotonic()
            self.proc.send_signal(sig)
            try:
                self.proc.wait(seconds)
                took = time.monotonic() - sent
            except subprocess.TimeoutExpired:
                print(f"{self.name} did not exit {seconds} s after signal {sig}: killed",
                      flush=True)
                self.proc.kill()
                self.proc.wait()
        if self.proc is not None:
            self.log.close()
        return took


class Cluster:
    """n members of one binary on loopback, started the same way for ringd and etcd; it reads
    as one Server: endpoint lists every member (the clients spread over them), RSS and CPU are
    the members' sums."""

    def __init__(self, name, binary, root, n):
        self.name = name
        peers = [free_port() for _ in range(n)]
        initial = ",".join(f"m{i}=http://127.0.0.1:{p}" for i, p in enumerate(peers))
        self.members = [Server(f"{name}-m{i}", binary, root, f"m{i}", peers[i], initial)
                        for i in range(n)]
        self.endpoint = ",".join(m.endpoint for m in self.members)

    def start(self, log_name="log"):
        for m in self.members:
            m.start(log_name)

    def wait_ready(self, seconds=30, poll_s=0.01):
        return max(m.wait_ready(seconds, poll_s) for m in self.members)

    def rss(self):
        return sum(m.rss() for m in self.members)

    def peak(self):
        return sum(m.peak() for m in self.members)

    def cpu(self):
        return sum(m.cpu() for m in self.members)

    def stop(self, sig=signal.SIGTERM, seconds=30):
        took = [m.stop(sig, seconds) for m in self.members]
        return None if None in took else max(took)


def run(cmd, capture=True):
    print("$ " + " ".join(shlex.quote(a) for a in cmd), flush=True)
    out = subprocess.run(cmd, stdout=subprocess.PIPE if capture else None, text=True)
    return out.returncode, out.stdout or ""


def git(*args):
    try:
        return subprocess.run(["git", "-C", ROOT] + list(args), stdout=subprocess.PIPE,
                              stderr=subprocess.DEVNULL, text=True).stdout.strip()
    except OSError:
        return ""


def commit_line():
    """The commit measured, and whether the code differed from it (docs/ aside: the reports'
    own files do not change what was measured)."""
    subject = git("log", "-1", "--format=%h \"%s\"")
    changed = git("status", "--porcelain", "--untracked-files=no", "--", ".", ":!docs")
    return subject + (" (with uncommitted changes)" if changed else "")


def machine():
    cpu = ""
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    mem = proc_meminfo_gib()
    return f"{os.cpu_count()} vCPUs ({cpu}), {mem:.0f} GiB, Linux {platform.release()}"


def proc_meminfo_gib():
    with open("/proc/meminfo") as f:
        for line in f:
            if line.startswith("MemTotal:"):
                return int(line.split()[1]) / (1 << 20)
    return 0


def filesystem(path):
    out = subprocess.run(["df", "-T", path], stdout=subprocess.PIPE, text=True).stdout.split("\n")
    fields = out[1].split() if len(out) > 1 else []
    return f"{fields[1]} on {fields[0]}" if len(fields) > 1 else "unknown"


def mb(b):
    return f"{b / 1e6:.1f} MB"


def write_doc(path, section, begin, end, title):
    """Replaces what lies between the markers begin and end in path with section (which holds
    both markers), or appends section under "## title" when the markers are missing."""
    text = open(path).read() if os.path.exists(path) else "# ringd performance\n"
    if begin in text and end in text:
        head, rest = text.split(begin, 1)
        tail = rest.split(end, 1)[1]
        text = head + section.rstrip("\n") + tail
    else:
        text = text.rstrip("\n") + f"\n\n## {title}\n\n" + section
    with open(path, "w") as f:
        f.write(text)

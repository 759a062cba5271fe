"""Log lines for the tests and benchmarks: real ones when a corpus is given,
generated ones otherwise.

The Loghub samples (https://github.com/logpai/loghub) are licensed for
research use only, so the project does not carry them and no test requires
them. A test or benchmark reads them when a corpus directory is given (its
`--corpus` option, or the FLAGTAP_CORPUS environment variable: a directory
holding loghub/*.log, or the loghub directory itself); otherwise it gets
the same number of generated lines in the styles of the six Loghub
samples (OpenSSH, Apache, Linux, HDFS, Windows, Spark), seeded, so that a
clone with nothing beside it runs every test.

    import ftcorpus
    lines = ftcorpus.log_lines(corpus_or_None)           # bytes, no EOL
    lines = ftcorpus.log_lines(None, keep_cr=True)       # CR kept (Loghub)
"""
import os
import random

GENERATED_LINES = 12000  # as many as the six Loghub samples


def corpus_dir(explicit=None):
    """The corpus directory to read, or None for generated lines."""
    d = explicit or os.environ.get("FLAGTAP_CORPUS") or None
    if not d:
        return None
    if os.path.isdir(os.path.join(d, "loghub")):
        return os.path.join(d, "loghub")
    if not os.path.isdir(d):
        raise SystemExit("ftcorpus: corpus directory %s does not exist" % d)
    return d


def describe(explicit=None):
    d = corpus_dir(explicit)
    return "Loghub samples in %s" % d if d else \
        "%d generated log lines (no corpus given)" % GENERATED_LINES


def log_lines(explicit=None, keep_cr=False, seed=20261207):
    """The corpus lines as bytes (empty lines dropped; CR kept only when
    keep_cr and the line had one), or generated lines."""
    d = corpus_dir(explicit)
    if d is None:
        return generated_lines(GENERATED_LINES, seed, crlf=keep_cr)
    lines = []
    for name in sorted(os.listdir(d)):
        if name.endswith(".log"):
            with open(os.path.join(d, name), "rb") as f:
                for line in f.read().split(b"\n"):
                    if not keep_cr:
                        line = line.rstrip(b"\r")
                    if line.strip():
                        lines.append(line)
    return lines


# ---- generated lines ----------------------------------------------------

MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep",
          "Oct", "Nov", "Dec"]
DAYS = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"]
USERS = ["root", "admin", "webmaster", "oracle", "test", "guest", "ftpuser",
         "postgres", "ubuntu", "git", "support", "user1", "pi", "nagios"]
HOSTS = ["LabSZ", "combo", "node-17", "gw01", "db-replica-2"]
WORDS = ["connection", "session", "request", "worker", "handler", "socket",
         "scheduler", "executor", "block", "buffer", "cache", "lease",
         "replica", "manifest", "package", "update", "servicing", "stack"]


def _ip(r):
    return "%d.%d.%d.%d" % (r.randrange(1, 224), r.randrange(256),
                            r.randrange(256), r.randrange(1, 255))


def _hms(r):
    return "%02d:%02d:%02d" % (r.randrange(24), r.randrange(60), r.randrange(60))


def _openssh(r):
    pid = r.randrange(1000, 30000)
    head = "%s %2d %s %s sshd[%d]: " % (r.choice(MONTHS), r.randrange(1, 29),
                                        _hms(r), r.choice(HOSTS), pid)
    ip, user = _ip(r), r.choice(USERS)
    return head + r.choice([
        "Invalid user %s from %s" % (user, ip),
        "input_userauth_request: invalid user %s [preauth]" % user,
        "Failed password for invalid user %s from %s port %d ssh2"
        % (user, ip, r.randrange(1024, 65535)),
        "pam_unix(sshd:auth): authentication failure; logname= uid=0 euid=0 "
        "tty=ssh ruser= rhost=%s  user=%s" % (ip, user),
        "Received disconnect from %s: 11: Bye Bye [preauth]" % ip,
        "reverse mapping checking getaddrinfo for host-%d.example.net [%s] "
        "failed - POSSIBLE BREAK-IN ATTEMPT!" % (r.randrange(10000), ip),
        "Connection closed by %s [preauth]" % ip,
        "Accepted password for %s from %s port %d ssh2"
        % (user, ip, r.randrange(1024, 65535)),
    ])


def _apache(r):
    head = "[%s %s %02d %s 2005] " % (r.choice(DAYS), r.choice(MONTHS),
                                      r.randrange(1, 29), _hms(r))
    return head + r.choice([
        "[notice] jk2_init() Found child %d in scoreboard slot %d"
        % (r.randrange(1000, 9999), r.randrange(12)),
        "[error] mod_jk child workerEnv in error state %d" % r.randrange(10),
        "[notice] workerEnv.init() ok /etc/httpd/conf/workers2.properties",
        "[error] [client %s] Directory index forbidden by rule: /var/www/html/"
        % _ip(r),
    ])


def _linux(r):
    head = "%s %2d %s combo " % (r.choice(MONTHS), r.randrange(1, 29), _hms(r))
    return head + r.choice([
        "sshd(pam_unix)[%d]: authentication failure; logname= uid=0 euid=0 "
        "tty=NODEVssh ruser= rhost=%s " % (r.randrange(1000, 30000), _ip(r)),
        "sshd(pam_unix)[%d]: check pass; user unknown" % r.randrange(1000, 30000),
        "ftpd[%d]: connection from %s () at %s" % (r.randrange(1000, 30000),
                                                   _ip(r), _hms(r)),
        "kernel: Memory: %dk/%dk available" % (r.randrange(100000, 200000),
                                               r.randrange(200000, 300000)),
        "su(pam_unix)[%d]: session opened for user %s by (uid=0)"
        % (r.randrange(1000, 30000), r.choice(USERS)),
    ])


def _hdfs(r):
    blk = "blk_%s%d" % (r.choice(["", "-"]), r.randrange(10 ** 17, 10 ** 19))
    head = "0811%02d %02d%02d%02d %d INFO " % (r.randrange(9, 12), r.randrange(24),
                                              r.randrange(60), r.randrange(60),
                                              r.randrange(1, 300))
    return head + r.choice([
        "dfs.DataNode$PacketResponder: PacketResponder %d for block %s "
        "terminating" % (r.randrange(3), blk),
        "dfs.FSNamesystem: BLOCK* NameSystem.addStoredBlock: blockMap updated: "
        "%s:50010 is added to %s size %d" % (_ip(r), blk, r.randrange(1, 67108865)),
        "dfs.DataNode$DataXceiver: Receiving block %s src: /%s:%d dest: /%s:50010"
        % (blk, _ip(r), r.randrange(30000, 60000), _ip(r)),
    ])


def _windows(r):
    head = "2016-09-28 %s, Info                  " % _hms(r)
    return head + r.choice([
        "CBS    Loaded Servicing Stack v6.1.7601.%d with Core: "
        "C:\\Windows\\winsxs\\amd64_microsoft-windows-servicingstack_"
        "31bf3856ad364e35_6.1.7601.%d_none_%016x\\cbscore.dll"
        % (r.randrange(23000, 24000), r.randrange(23000, 24000),
           r.getrandbits(64)),
        "CSI    %08x@2016/9/27:20:30:31.%03d WcpInitialize (wcp.dll version "
        "0.0.0.6) called (stack @0x%x @0x%x)" % (r.randrange(1 << 16),
                                                 r.randrange(1000),
                                                 r.getrandbits(44),
                                                 r.getrandbits(44)),
        "CBS    Session: %d_%d initialized by client WindowsUpdateAgent."
        % (r.randrange(10 ** 7, 10 ** 8), r.randrange(10 ** 9, 10 ** 10)),
    ])


def _spark(r):
    head = "17/06/09 %s INFO " % _hms(r)
    return head + r.choice([
        "executor.CoarseGrainedExecutorBackend: Registered signal handlers "
        "for [TERM, HUP, INT]",
        "spark.SecurityManager: Changing view acls to: yarn,curi",
        "storage.BlockManager: Found block rdd_%d_%d locally"
        % (r.randrange(50), r.randrange(100)),
        "executor.Executor: Finished task %d.0 in stage %d.0 (TID %d). %d bytes "
        "result sent to driver" % (r.randrange(100), r.randrange(50),
                                   r.randrange(5000), r.randrange(500, 5000)),
        "%s.%s: %s %s %d" % (r.choice(WORDS), r.choice(WORDS).capitalize(),
                             r.choice(WORDS), r.choice(WORDS), r.randrange(10 ** 6)),
    ])


STYLES = [_openssh, _apache, _linux, _hdfs, _windows, _spark]


def generated_lines(n, seed=20261207, crlf=False):
    """n log lines, the six styles in equal shares, file after file as in
    the corpus; with crlf, every line of four styles ends with CR."""
    r = random.Random(seed)
    out = []
    per = max(1, n // len(STYLES))
    for k, style in enumerate(STYLES):
        for _ in range(per if k < len(STYLES) - 1 else n - per * (len(STYLES) - 1)):
            line = style(r).encode()
            out.append(line + b"\r" if crlf and k < 4 else line)
    return out


if __name__ == "__main__":
    import sys
    for line in log_lines(sys.argv[1] if len(sys.argv) > 1 else None):
        sys.stdout.buffer.write(line + b"\n")

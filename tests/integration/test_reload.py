#!/usr/bin/python3
"""Live rule reload against a real Apache Kafka broker.

A running `flagtap run` is given, in turn: a rule file that does not
compile (SIGHUP), a valid new rule set (noticed by the file watch), and a
rule set whose own example fails.  After each step a batch of records is
produced and the envelopes read back with an independent client: the
daemon must keep flagging with the rules it had after a bad reload, and
flag with the new rules, under the new ruleset hash, after a good one.
"""
import hashlib
import os
import signal
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from test_pipeline import (AdminClient, NewTopic, produce, read_output,  # noqa: E402
                           start_flagtap, stop_flagtap, wait_committed)

RULES_V1 = """\
[rule T-AWS]
title    = AWS access key id
severity = high
pattern  = \\bAKIA[0-9A-Z]{16}\\b
example  = key AKIAABCDEFGHIJKLMNOP
"""

BROKEN = RULES_V1 + """
[rule T-BAD]
title    = does not compile
severity = low
pattern  = (unclosed
"""

RULES_V2 = RULES_V1 + """
[rule T-ROOT]
title    = Root login
severity = medium
pattern  = Accepted password for root
example  = sshd[1]: Accepted password for root from 10.0.0.1
counter  = sshd[1]: Accepted password for alice from 10.0.0.1
"""

FAILING_TEST = RULES_V2 + """
[rule T-DEPLOY]
title    = Deploy user
severity = low
pattern  = \\bdeploy\\b
example  = this example does not contain the word
"""

TIMEOUT = 60


def log(*a):
    print("reload:", *a, file=sys.stderr, flush=True)


def wait_log(path, text, proc, since):
    """Waits until the flagtap log has `text` after byte `since`."""
    deadline = time.monotonic() + TIMEOUT
    while time.monotonic() < deadline:
        with open(path, errors="replace") as f:
            f.seek(since)
            if text in f.read():
                return
        assert proc.poll() is None, "flagtap exited with %d" % proc.returncode
        try:
            proc.wait(timeout=0.2)
        except Exception:
            pass
    raise AssertionError("no '%s' in the flagtap log" % text)


def log_size(path):
    return os.path.getsize(path)


def batch(bootstrap, topic, tag):
    """Produces an AKIA record, a root login and a clean line."""
    recs = [(topic, None, b"%s key AKIA%sABCDEFGHIJKL" % (tag, b"%04d" % len(tag))),
            (topic, None, b"%s sshd[9]: Accepted password for root from 10.1.1.1" % tag),
            (topic, None, b"%s nothing to see" % tag)]
    return produce(bootstrap, recs)


def envelopes_for(bootstrap, group, out, coords, proc):
    """Envelopes of coords, once the group has committed past them all."""
    wait_committed(bootstrap, group, {(coords[-1][0], coords[-1][1]): coords[-1][2] + 1}, proc)
    got = {}
    for env, _, _ in read_output(bootstrap, out, 1):
        s = env["source"]
        c = (s["topic"], s["partition"], s["offset"])
        if c in coords:
            got[c] = env
    return got


def sha(text):
    return "sha256:" + hashlib.sha256(text.encode()).hexdigest()


def main():
    flagtap, bootstrap = sys.argv[1], sys.argv[2]
    if os.path.isfile(bootstrap):  # the broker fixture's state file
        bootstrap = open(bootstrap).read().strip()
    run = "%d-%d" % (os.getpid(), int(time.time()))
    t_in, t_out = "rl.in." + run, "rl.out." + run
    admin = AdminClient({"bootstrap.servers": bootstrap})
    for f in admin.create_topics([NewTopic(t_in, 1, 1), NewTopic(t_out, 1, 1)]).values():
        f.result(30)
    work = tempfile.mkdtemp(prefix="flagtap-reload-")
    rules = os.path.join(work, "rules")
    os.mkdir(rules)
    rule_file = os.path.join(rules, "t.rules")

    def write_rules(text):
        tmp = rule_file + ".tmp"
        with open(tmp, "w") as f:
            f.write(text)
        os.rename(tmp, rule_file)  # as editors and config managers do

    write_rules(RULES_V1)
    conf = os.path.join(work, "flagtap.conf")
    with open(conf, "w") as f:
        f.write("brokers = %s\ngroup.id = rl-%s\ninput.topics = %s\noutput.topic = %s\n"
                "rules = %s\nrules.watch.ms = 200\nconsumer.auto.commit.interval.ms = 200\n"
                % (bootstrap, run, t_in, t_out, rules))
    group = "rl-" + run
    logpath = os.path.join(work, "flagtap.log")
    logf = open(logpath, "w")

    class Args:
        pass
    args = Args()
    args.flagtap = flagtap
    proc = start_flagtap(args, conf, logf)
    checks = 0
    try:
        # 1: the rules it started with
        c = batch(bootstrap, t_in, b"b1")
        env = envelopes_for(bootstrap, group, t_out, c, proc)
        assert set(env) == {c[0]}, env
        assert env[c[0]]["ruleset"] == sha(RULES_V1)
        checks += 1

        # 2: a file that does not compile, then SIGHUP: the old rules stay
        pos = log_size(logpath)
        write_rules(BROKEN)
        proc.send_signal(signal.SIGHUP)
        wait_log(logpath, "reload failed", proc, pos)
        wait_log(logpath, "t.rules:10:", proc, pos)  # FILE:LINE of the bad pattern
        c = batch(bootstrap, t_in, b"b2")
        env = envelopes_for(bootstrap, group, t_out, c, proc)
        assert set(env) == {c[0]}, "after a failed reload: %s" % env
        assert env[c[0]]["ruleset"] == sha(RULES_V1)
        checks += 1

        # 3: a valid new set, noticed by the watch (no signal)
        pos = log_size(logpath)
        write_rules(RULES_V2)
        wait_log(logpath, "reloaded " + sha(RULES_V1), proc, pos)
        c = batch(bootstrap, t_in, b"b3")
        env = envelopes_for(bootstrap, group, t_out, c, proc)
        assert set(env) == {c[0], c[1]}, "after a good reload: %s" % env
        assert env[c[1]]["rules"][0]["id"] == "T-ROOT"
        assert env[c[1]]["ruleset"] == sha(RULES_V2)
        checks += 1

        # 4: compiles, but its own example fails: refused
        pos = log_size(logpath)
        write_rules(FAILING_TEST)
        wait_log(logpath, "rule tests failed", proc, pos)
        c = batch(bootstrap, t_in, b"b4")
        env = envelopes_for(bootstrap, group, t_out, c, proc)
        assert set(env) == {c[0], c[1]}
        assert all(e["ruleset"] == sha(RULES_V2) for e in env.values())
        checks += 1
        stop_flagtap(proc)
        checks += 1
    except BaseException:
        logf.flush()
        sys.stderr.write("---- flagtap log (tail) ----\n" + "".join(open(logpath).readlines()[-30:]))
        if proc.poll() is None:
            proc.kill()
        raise
    print("%d passed, 0 failed" % checks)


if __name__ == "__main__":
    main()

"""An independent oracle of flagtap's stateful rules, and streams for it.

The oracle computes, from the documented semantics alone (rules/README.md,
"Stateful rules"), which records of one partition's stream fire which
rule; it shares no code with flagtap. tests/cli/stateful_oracle.py checks
`flagtap scan` with it, tests/fault/stateful_*.py check `flagtap run`
against a real broker (one oracle run per input partition: state and
watermarks are per partition).

    import ftstateful as fs
    rules = fs.scan_rules()                 # fresh state, RULES
    want = fs.oracle(records, rules)        # {(rule id, line)}
    got = fs.crossings(records, fs.kafka_rules())
                                            # {(rule id, index): detail}

A record is a dict of its JSON fields plus "tms", its event time in epoch
milliseconds (what the oracle reads; not written to the record).
"""
import datetime
import heapq
import json
from decimal import Decimal

H = 3600 * 1000
M = 60 * 1000
DAY = 24 * H
BEIJING = 8 * H

RULES = """
[rule SUM-CN]
title = same +08:00 day cash sum
severity = high
when = kind == "cash"
aggregate = sum(amount) >= 50000
by = customer
window = day +08:00
time = ts
allowed-lateness = 2h

[rule SUM-UTC]
title = same UTC day cash sum, strictly above
severity = high
when = kind == "cash"
aggregate = sum(amount) > 50000
by = customer
window = day
time = ts

[rule COUNT-24H]
title = three near-threshold deposits in 24h
severity = high
when = kind == "cash" and amount >= 45000 and amount < 50000
aggregate = count >= 3
by = customer
window = sliding 24h
time = ts
allowed-lateness = 30m

[rule DISTINCT-1H]
title = four cards in an hour
severity = high
when = kind == "auth"
aggregate = distinct(card) >= 4
by = customer
window = sliding 1h
time = ts
allowed-lateness = 10m

[rule ATO]
title = three failures then a success
severity = high
sequence = 3 x (kind == "login" and ok == "no") within 10m, then (kind == "login" and ok == "yes") within 10m
by = customer
time = ts
allowed-lateness = 5m
"""

# The daemon's tests add a rule that flags late records.
KAFKA_RULES = RULES + """
[rule CASH-LATE]
title = five cash records in an hour, late ones flagged
severity = high
when = kind == "cash"
aggregate = count >= 5
by = customer
window = hour
time = ts
allowed-lateness = 1h
late = flag
"""


def _cash(r):
    return r.get("kind") == "cash"


def _near(r):
    a = Decimal(r["amount"]) if "amount" in r else None
    return _cash(r) and a is not None and 45000 <= a < 50000


def _auth(r):
    return r.get("kind") == "auth"


def _login(r):
    return r.get("kind") == "login" and r.get("ok") in ("no", "yes")


class Rule:
    """One rule's definition and its state over one stream (one partition)."""

    def __init__(self, rid, selects, window, lateness, kind, fn=None, thr=None,
                 strict=False, length=0, late_flag=False):
        self.id, self.selects, self.window = rid, selects, window
        self.lateness, self.kind, self.fn = lateness, kind, fn
        self.thr, self.strict, self.length = thr, strict, length
        self.late_flag = late_flag
        self.maxt = None
        self.state = {}

    def reached(self, v):
        return v > self.thr if self.strict else v >= self.thr


def scan_rules():
    """The rules of RULES, with empty state."""
    return [
        Rule("SUM-CN", _cash, BEIJING, 2 * H, "calendar", "sum", Decimal(50000)),
        Rule("SUM-UTC", _cash, 0, 0, "calendar", "sum", Decimal(50000), True),
        Rule("COUNT-24H", _near, 0, 30 * M, "sliding", "count", 3, length=DAY),
        Rule("DISTINCT-1H", _auth, 0, 10 * M, "sliding", "distinct", 4, length=H),
        Rule("ATO", _login, 0, 5 * M, "sequence"),
    ]


def kafka_rules():
    """The rules of KAFKA_RULES, with empty state."""
    return scan_rules() + [
        Rule("CASH-LATE", _cash, 0, H, "hour", "count", 5, late_flag=True)]


def calendar(t, off, length=DAY):
    start = (t + off) // length * length - off
    return start, start + length


def apply(rule, r):
    """None, or the crossing's detail when the record fires the rule:
    {"late": bool, "window": (start, end) of a calendar window or None,
    "value": the aggregate reached (None for sequences and late records)}."""
    if "customer" not in r or "ts" not in r:
        return None
    if rule.fn == "sum" and "amount" not in r:
        return None
    key, t = r["customer"], r["tms"]
    wm = None if rule.maxt is None else rule.maxt - rule.lateness
    fired = None
    if rule.kind in ("calendar", "hour"):
        start, end = calendar(t, rule.window, DAY if rule.kind == "calendar" else H)
        if wm is not None and end <= wm:
            return ({"late": True, "window": (start, end), "value": None}
                    if rule.late_flag else None)
        st = rule.state.setdefault((key, start), {"sum": Decimal(0), "fired": False})
        st["sum"] += Decimal(r["amount"]) if rule.fn == "sum" else 1
        if not st["fired"] and rule.reached(st["sum"]):
            st["fired"] = True
            fired = {"late": False, "window": (start, end), "value": st["sum"]}
    elif rule.kind == "sliding":
        if wm is not None and t < wm:
            return {"late": True, "window": None, "value": None} if rule.late_flag else None
        st = rule.state.setdefault(key, {"ev": [], "last": None})
        st["ev"].append((t, r.get("card")))
        # the record is in every window (s - W, s] with t <= s < t + W;
        # those ending at an event time hold the most (later events
        # exist when the record came late)
        v = None
        for s in sorted({e[0] for e in st["ev"] if t <= e[0] < t + rule.length}):
            inside = [e for e in st["ev"] if s - rule.length < e[0] <= s]
            n = len(inside) if rule.fn == "count" else len({e[1] for e in inside})
            if rule.reached(n):
                v = n
                break
        if v is not None and (st["last"] is None or abs(t - st["last"]) >= rule.length):
            st["last"] = t
            fired = {"late": False, "window": None, "value": v}
    else:
        if wm is not None and t < wm:
            return {"late": True, "window": None, "value": None} if rule.late_flag else None
        st = rule.state.setdefault(key, {"a": [], "armed": None})
        if r["ok"] == "yes":
            if st["armed"] is not None and 0 <= t - st["armed"] <= 10 * M:
                fired = {"late": False, "window": None, "value": None}
            st["a"], st["armed"] = [], None
        else:
            st["a"] = (st["a"] + [t])[-3:]
            if len(st["a"]) == 3 and max(st["a"]) - min(st["a"]) <= 10 * M:
                st["armed"] = max(st["a"])
    rule.maxt = t if rule.maxt is None else max(rule.maxt, t)
    return fired


def crossings(records, rules):
    """{(rule id, index in records): detail} over one partition's stream."""
    out = {}
    for i, r in enumerate(records):
        for rule in rules:
            if rule.selects(r):
                d = apply(rule, r)
                if d is not None:
                    d["key"] = r["customer"]
                    out[(rule.id, i)] = d
    return out


def oracle(records, rules=None):
    """{(rule id, line)}, lines counted from 1 (scan's source.line)."""
    return {(rid, i + 1) for rid, i in crossings(records, rules or scan_rules())}


def rfc3339(ms, offset_h):
    tz = datetime.timezone(datetime.timedelta(hours=offset_h))
    d = datetime.datetime.fromtimestamp(ms / 1000, tz)
    return d.isoformat(timespec="milliseconds")


def _time_field(rnd, r, tt):
    if rnd.random() < 0.5:
        r["ts"] = rfc3339(tt, rnd.choice([0, 8, -5]))
    else:
        r["ts"] = tt


def stream(rnd, n):
    """scan's stream: n records over four customers."""
    t = 1709251200000 + rnd.randrange(288) * 5 * M
    out = []
    burst, who, what = 0, None, None
    for _ in range(n):
        if not burst and rnd.random() < 0.04:
            # a burst of logins or card authorizations of one customer
            burst = rnd.randrange(4, 14)
            who, what = "c%d" % rnd.randrange(4), rnd.choice(["login", "auth"])
        step = (rnd.choice([M // 2, 2 * M, 5 * M]) if burst else
                rnd.choice([M // 2, M, 2 * M, 4 * M, 20 * M, H, 6 * H]))
        # whole 5 minutes: times meet window edges exactly
        t += rnd.randrange(step + 5 * M) // (5 * M) * (5 * M)
        tt = t
        if rnd.random() < 0.1:  # out of order: within or beyond lateness
            tt = t - rnd.choice([2 * M, 20 * M, 90 * M, 3 * H, 30 * H])
        r = {"customer": "c%d" % rnd.randrange(4), "tms": tt}
        kind = rnd.choice(["cash", "cash", "cash", "auth", "login"])
        if burst:
            burst -= 1
            r["customer"], kind = who, what
        r["kind"] = kind
        if kind == "cash":
            r["amount"] = rnd.choice([
                "49999.99", "0.01", "45000", "49000", "2500", "200.00",
                "5E+3", "3000", "0.02", "1", "12", "7000"])
        elif kind == "auth":
            r["card"] = "card%d" % rnd.randrange(6)
        else:
            r["ok"] = rnd.choice(["no", "no", "no", "yes"])
        if rnd.random() < 0.03:
            del r["customer"]
        _time_field(rnd, r, tt)
        if rnd.random() < 0.02:
            del r["ts"]
        out.append(r)
    return out


# Scripted episodes of the daemon's streams, each for a customer of its
# own: (offset from a UTC midnight, delay of arrival, fields). The traps of
# rules/README.md: sums that reach the threshold only in the +08:00 day or
# only in the UTC day, 49,999.99 then 0.01, near-threshold deposits within
# and spread over 25 hours, a success 5 and 15 minutes after the failures,
# four cards in an hour, and records arriving far behind their time.
EPISODES = [
    [(17 * H, 0, {"kind": "cash", "amount": "25000"}),
     (DAY + H, 0, {"kind": "cash", "amount": "25000"})],
    [(15 * H, 0, {"kind": "cash", "amount": "25000.01"}),
     (17 * H, 0, {"kind": "cash", "amount": "25000"})],
    [(2 * H, 0, {"kind": "cash", "amount": "49999.99"}),
     (3 * H, 0, {"kind": "cash", "amount": "0.01"}),
     (4 * H, 0, {"kind": "cash", "amount": "0.01"})],
    [(0, 0, {"kind": "cash", "amount": "45000"}),
     (12 * H + 30 * M, 0, {"kind": "cash", "amount": "49000"}),
     (DAY + H, 0, {"kind": "cash", "amount": "49999.99"})],
    [(9 * H, 0, {"kind": "cash", "amount": "45000"}),
     (18 * H, 0, {"kind": "cash", "amount": "48500"}),
     (DAY + 9 * H - 1000, 0, {"kind": "cash", "amount": "49999.99"})],
    [(10 * H, 0, {"kind": "login", "ok": "no"}),
     (10 * H + M, 0, {"kind": "login", "ok": "no"}),
     (10 * H + 2 * M, 0, {"kind": "login", "ok": "no"}),
     (10 * H + 17 * M, 0, {"kind": "login", "ok": "yes"})],
    [(10 * H, 0, {"kind": "login", "ok": "no"}),
     (10 * H + M, 0, {"kind": "login", "ok": "no"}),
     (10 * H + 2 * M, 0, {"kind": "login", "ok": "no"}),
     (10 * H + 7 * M, 0, {"kind": "login", "ok": "yes"})],
    [(10 * H + i * 10 * M, 0, {"kind": "auth", "card": "card%d" % i}) for i in range(4)],
    [(10 * H + i * 5 * M, 0, {"kind": "cash", "amount": "10000"}) for i in range(4)] +
    [(10 * H + 40 * M, 3 * H, {"kind": "cash", "amount": "10000"}),
     (10 * H + 50 * M, 30 * H, {"kind": "cash", "amount": "10000"})],
]


def kafka_stream(rnd, n, customers=300, episodes=0.002):
    """n records over `customers` customers (plus one per scripted
    episode), in arrival order: a clock moving by whole minutes, bursts of
    logins or authorizations, 10% of the records behind the clock (within
    and beyond the rules' lateness), and scripted episodes starting at a
    random moment (probability `episodes` per record)."""
    t = 1709251200000 + rnd.randrange(288) * 5 * M
    out, due, seq = [], [], 0
    burst, who, what, ep = 0, None, None, 0
    while len(out) < n:
        while due and due[0][0] <= t and len(out) < n:
            out.append(heapq.heappop(due)[2])
        if len(out) >= n:
            break
        if rnd.random() < episodes:
            midnight = (t // DAY + 1) * DAY
            name = "e%d" % ep
            ep += 1
            for off, delay, fields in rnd.choice(EPISODES):
                r = dict(fields, customer=name, tms=midnight + off)
                _time_field(rnd, r, r["tms"])
                seq += 1
                heapq.heappush(due, (r["tms"] + delay, seq, r))
        if not burst and rnd.random() < 0.04:
            burst = rnd.randrange(4, 14)
            who = "c%03d" % rnd.randrange(customers)
            what = rnd.choice(["login", "auth"])
        t += rnd.choice([0, 30 * 1000, M]) if burst else rnd.choice([0, 0, M, M, 2 * M])
        tt = t
        if rnd.random() < 0.1:
            tt = t - rnd.choice([2 * M, 20 * M, 90 * M, 3 * H, 30 * H])
        r = {"customer": "c%03d" % rnd.randrange(customers), "tms": tt}
        kind = rnd.choice(["cash", "cash", "cash", "auth", "login"])
        if burst:
            burst -= 1
            r["customer"], kind = who, what
        r["kind"] = kind
        if kind == "cash":
            r["amount"] = rnd.choice([
                "49999.99", "0.01", "45000", "49000", "2500", "200.00",
                "5E+3", "3000", "0.02", "1", "12", "7000"])
        elif kind == "auth":
            r["card"] = "card%d" % rnd.randrange(6)
        else:
            r["ok"] = rnd.choice(["no", "no", "no", "yes"])
        if rnd.random() < 0.03:
            del r["customer"]
        _time_field(rnd, r, tt)
        if rnd.random() < 0.02:
            del r["ts"]
        out.append(r)
    return out


def encode(r):
    """The record's JSON (without "tms"), as bytes."""
    return json.dumps({k: v for k, v in r.items() if k != "tms"}).encode()


def decode(value):
    """A record read back: its fields plus "tms" (None without a time)."""
    r = json.loads(value)
    ts = r.get("ts")
    if isinstance(ts, int):
        r["tms"] = ts
    elif isinstance(ts, str):
        r["tms"] = round(datetime.datetime.fromisoformat(ts).timestamp() * 1000)
    return r

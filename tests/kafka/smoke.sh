#!/usr/bin/env bash
# Smoke test of the test broker against the system librdkafka (kcat and
# /usr/bin/python3 confluent_kafka): start, topic, produce/consume, consumer
# group commit, idempotent producer, transactions, kill+restart, stop.
# Prints "N passed, N failed" at the end; exit status 0 only if all passed.
#   tests/kafka/smoke.sh            (FLAGTAP_KAFKA_VERSION etc. as for broker.sh)
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
B=$HERE/broker.sh
PY=${PYTHON:-/usr/bin/python3}
KCAT=${KCAT:-kcat}
SD=$(mktemp -d "${TMPDIR:-/tmp}/flagtap-kafka-smoke.XXXXXX")
WORK=$SD/work
mkdir -p "$WORK"
trap '"$B" stop "$SD" || true; rm -rf "$SD"' EXIT

pass=0 fail=0
check() { # check NAME CMD...
  local name=$1; shift
  if "$@"; then echo "ok   $name"; pass=$((pass + 1))
  else echo "FAIL $name"; fail=$((fail + 1)); fi
}
now() { date +%s.%N; }
secs() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.1fs", b - a }'; }

t0=$(now); "$B" fetch; t1=$(now)
echo "fetch: $(secs "$t0" "$t1")"
"$B" start "$SD"; t2=$(now)
echo "start: $(secs "$t1" "$t2")"
BS=$(cat "$SD/bootstrap")
echo "bootstrap: $BS"

check "topic t1 x3" "$B" topic "$SD" t1 3

seq 1 1000 | sed 's/^/msg-/' >"$WORK/sent"
awk '{print "k" NR ":" $0}' "$WORK/sent" >"$WORK/sent.kv"
check "kcat produce 1000" timeout 60 "$KCAT" -P -b "$BS" -t t1 -K: -l "$WORK/sent.kv"

kcat_group() {
  timeout 60 "$KCAT" -q -b "$BS" -G g-kcat -X auto.offset.reset=earliest \
    -X enable.auto.commit=true -X auto.commit.interval.ms=100 -c 1000 -f '%s\n' t1 \
    2>/dev/null | sort >"$WORK/got.kcat"
  sort "$WORK/sent" | cmp -s - "$WORK/got.kcat"
}
check "kcat -G consume 1000" kcat_group

py_group() {
  "$PY" - "$BS" <<'PY'
import sys, time
from confluent_kafka import Consumer, TopicPartition, KafkaException
bs = sys.argv[1]
parts = [TopicPartition("t1", p) for p in range(3)]
def consume(group, want, secs):
    c = Consumer({"bootstrap.servers": bs, "group.id": group,
                  "auto.offset.reset": "earliest", "enable.auto.commit": False})
    c.subscribe(["t1"])
    got, t0 = [], time.time()
    while len(got) < want and time.time() - t0 < secs:
        m = c.poll(0.5)
        if m is None:
            continue
        if m.error():
            sys.exit("consume error: %s" % m.error())
        got.append(m.value().decode())
        c.commit(message=m, asynchronous=False)
    committed = sum(tp.offset for tp in c.committed(parts, timeout=10))
    c.close()
    return got, committed
got, committed = consume("g-py", 1000, 60)
assert len(got) == 1000 and len(set(got)) == 1000, len(got)
assert committed == 1000, committed
again, _ = consume("g-py", 1, 6)          # same group: nothing left
assert again == [], again
c = Consumer({"bootstrap.servers": bs, "group.id": "g-kcat"})
k = sum(tp.offset for tp in c.committed(parts, timeout=10))
c.close()
assert k == 1000, "kcat group committed %d" % k
PY
}
check "python group consume+commit" py_group

idem() {
  seq 1 500 | timeout 60 "$KCAT" -P -b "$BS" -t tidem -X enable.idempotence=true -X acks=all \
    && [[ $(timeout 60 "$KCAT" -C -b "$BS" -t tidem -e -q | wc -l) -eq 500 ]]
}
check "topic tidem x3" "$B" topic "$SD" tidem 3
check "kcat idempotent produce" idem

txn() {
  "$PY" - "$BS" <<'PY'
import sys, time
from confluent_kafka import Producer, Consumer
bs = sys.argv[1]
p = Producer({"bootstrap.servers": bs, "transactional.id": "smoke-tx"})
p.init_transactions(60)
p.begin_transaction()
for i in range(100): p.produce("ttx", key=str(i), value="c-%d" % i)
p.commit_transaction(60)
p.begin_transaction()
for i in range(50): p.produce("ttx", key=str(i), value="a-%d" % i)
p.flush(30)
p.abort_transaction(60)
p.begin_transaction()
for i in range(10): p.produce("ttx", key=str(i), value="c2-%d" % i)
p.commit_transaction(60)
def read(iso):
    c = Consumer({"bootstrap.servers": bs, "group.id": "txc-" + iso,
                  "auto.offset.reset": "earliest", "isolation.level": iso,
                  "enable.partition.eof": True})
    c.subscribe(["ttx"])
    vals, eof, t0 = [], set(), time.time()
    while time.time() - t0 < 30:
        m = c.poll(0.5)
        if m is None:
            continue
        if m.error():
            if m.error().code() == -191:     # _PARTITION_EOF
                eof.add(m.partition())
                if len(eof) == 3:
                    break
                continue
            sys.exit("consume error: %s" % m.error())
        vals.append(m.value().decode())
    c.close()
    return vals
rc = read("read_committed")
ru = read("read_uncommitted")
assert len(rc) == 110 and not any(v.startswith("a-") for v in rc), len(rc)
assert len(ru) == 160, len(ru)
PY
}
check "topic ttx x3" "$B" topic "$SD" ttx 3
check "python transactions (commit, abort, read_committed)" txn

"$B" kill "$SD"
check "kill leaves it dead" bash -c "! '$B' status '$SD'"
t3=$(now)
check "restart same port" "$B" restart "$SD"
t4=$(now)
echo "restart after SIGKILL: $(secs "$t3" "$t4")"
check "bootstrap unchanged" test "$(cat "$SD/bootstrap")" = "$BS"
check "data survived restart" \
  bash -c "[[ \$(timeout 60 '$KCAT' -C -b '$BS' -t t1 -e -q | wc -l) -eq 1000 ]]"

"$B" stop "$SD"
check "stop: not running" bash -c "! '$B' status '$SD'"
check "stop: data removed" test ! -e "$SD/data"
check "stop again is a no-op" "$B" stop "$SD"

echo "$pass passed, $fail failed"
[[ $fail -eq 0 ]]

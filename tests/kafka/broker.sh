#!/usr/bin/env bash
# Real Apache Kafka broker (single-node KRaft) for flagtap's integration tests.
# No Docker: the broker jars come from Maven Central through tests/kafka/pom.xml.
#
#   broker.sh fetch                        fetch jars into the cache (idempotent, silent when cached)
#   broker.sh start   STATEDIR             fresh broker on 2 random loopback ports; waits until it serves metadata
#   broker.sh start-secure STATEDIR        as start, plus a SASL_SSL (SCRAM-SHA-512) client listener on a
#                                          third port, with a fresh CA, broker certificate and SCRAM user
#   broker.sh stop    STATEDIR             SIGTERM (SIGKILL after 30 s), remove data; ok if not running
#   broker.sh kill    STATEDIR             SIGKILL, keep data (fault tests)
#   broker.sh restart STATEDIR             (SIGTERM if running, then) start again on the same ports
#                                          and data; waits until ready
#   broker.sh topic   STATEDIR NAME PARTS  create a topic (replication 1) and wait until all partitions have a leader
#   broker.sh bootstrap STATEDIR           print host:port (same as cat STATEDIR/bootstrap)
#   broker.sh codecs  STATEDIR TOPIC       print the compression codecs of TOPIC's stored data
#                                          batches (not control batches), one per line, sorted
#   broker.sh status  STATEDIR             exit 0 if the broker process is alive
#
# Environment:
#   FLAGTAP_KAFKA_VERSION   Kafka release (default below)
#   FLAGTAP_LOG4J_VERSION   log4j2 version matching that release (default: table below)
#   FLAGTAP_KAFKA_CACHE     cache root (default $HOME/.cache/flagtap);
#                           jars go to $FLAGTAP_KAFKA_CACHE/kafka-<version>
#   FLAGTAP_KAFKA_START_TIMEOUT  seconds to wait for readiness (default 90)
#   FLAGTAP_KAFKA_HEAP      JVM heap (default 512m)
#   JAVA, MVN, KCAT, PYTHON tool overrides (PYTHON must have confluent_kafka; default /usr/bin/python3)
#
# STATEDIR layout: server.properties log4j2.properties data/ broker.log broker.out
#                  pid bootstrap controller
#   start-secure adds: bootstrap-secure (host:port of the SASL_SSL listener), ca.pem (the CA
#                  that signed the broker certificate), scram-user, scram-password (random),
#                  client-secure.properties (librdkafka properties for that listener: kcat -F),
#                  tls/ (CA key, broker key and certificate)
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
KAFKA_VERSION=${FLAGTAP_KAFKA_VERSION:-4.1.1}
CACHE_ROOT=${FLAGTAP_KAFKA_CACHE:-${HOME:-/root}/.cache/flagtap}
LIBDIR=$CACHE_ROOT/kafka-$KAFKA_VERSION
START_TIMEOUT=${FLAGTAP_KAFKA_START_TIMEOUT:-90}
STOP_TIMEOUT=30
HEAP=${FLAGTAP_KAFKA_HEAP:-512m}
JAVA=${JAVA:-java}
MVN=${MVN:-mvn}
KCAT=${KCAT:-kcat}
PYTHON=${PYTHON:-/usr/bin/python3}

default_log4j_version() {
  # log4j2 version each Kafka release depends on (kafka-server's pom).
  case $1 in
    4.0.*|4.1.*) echo 2.24.3 ;;
    4.2.*)       echo 2.25.3 ;;
    4.3.*)       echo 2.25.4 ;;
    4.4.*)       echo 2.25.5 ;;
    *)           echo 2.24.3 ;;
  esac
}
LOG4J_VERSION=${FLAGTAP_LOG4J_VERSION:-$(default_log4j_version "$KAFKA_VERSION")}

die() { echo "broker.sh: $*" >&2; exit 1; }
need() { command -v "$1" >/dev/null 2>&1 || die "required tool not found: $1 ($2)"; }

# ---------------------------------------------------------------- fetch
fetch_key() {
  # Anything that changes the jar set invalidates the cache.
  { echo "kafka=$KAFKA_VERSION log4j=$LOG4J_VERSION"; cat "$HERE/pom.xml"; } | sha256sum | cut -d' ' -f1
}

cmd_fetch() {
  local key; key=$(fetch_key)
  if [[ -f $LIBDIR/.complete && $(cat "$LIBDIR/.complete") == "$key" ]]; then
    return 0
  fi
  need "$MVN" "apt-get install maven"
  need "$JAVA" "apt-get install openjdk-17-jre-headless"
  mkdir -p "$CACHE_ROOT"
  # Serialise concurrent fetches of the same version.
  exec 9>"$CACHE_ROOT/.kafka-$KAFKA_VERSION.lock"
  flock 9
  if [[ -f $LIBDIR/.complete && $(cat "$LIBDIR/.complete") == "$key" ]]; then
    exec 9>&-; return 0
  fi
  local tmp; tmp=$(mktemp -d "$CACHE_ROOT/.fetch-$KAFKA_VERSION.XXXXXX")
  # Work on a copy of the pom so nothing (target/ etc.) lands in the source tree.
  cp "$HERE/pom.xml" "$tmp/pom.xml"
  echo "broker.sh: fetching Apache Kafka $KAFKA_VERSION jars into $LIBDIR" >&2
  if ! (cd "$tmp" && "$MVN" -B -q -Dstyle.color=never \
          -Dkafka.version="$KAFKA_VERSION" -Dlog4j.version="$LOG4J_VERSION" \
          dependency:copy-dependencies -DincludeScope=runtime \
          -DoutputDirectory="$tmp/lib" </dev/null >"$tmp/mvn.log" 2>&1); then
    cat "$tmp/mvn.log" >&2
    rm -rf "$tmp"
    die "maven could not fetch kafka_2.13:$KAFKA_VERSION"
  fi
  ls "$tmp/lib"/kafka_2.13-"$KAFKA_VERSION".jar >/dev/null 2>&1 \
    || { rm -rf "$tmp"; die "kafka_2.13-$KAFKA_VERSION.jar missing after fetch"; }
  rm -rf "$LIBDIR"
  mv "$tmp/lib" "$LIBDIR"
  rm -rf "$tmp"
  echo "$key" >"$LIBDIR/.complete"
  exec 9>&-
}

# ---------------------------------------------------------------- helpers
# Absolute path of STATEDIR (created when --create is given).
statedir_arg() {
  local create=
  if [[ ${1-} == --create ]]; then create=1; shift; fi
  [[ $# -ge 1 && -n $1 ]] || die "missing STATEDIR"
  if [[ -n $create ]]; then mkdir -p "$1"; fi
  [[ -d $1 ]] || return 1
  (cd "$1" && pwd)
}

# Prints the pid if STATEDIR's broker is alive (and really is that broker).
live_pid() {
  local sd=$1 pid
  [[ -f $sd/pid ]] || return 1
  pid=$(cat "$sd/pid")
  [[ $pid =~ ^[0-9]+$ ]] || return 1
  [[ -r /proc/$pid/cmdline ]] || return 1
  # Guard against pid reuse: the process must be kafka.Kafka on this statedir.
  local cmdline
  cmdline=$(tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null) || return 1
  [[ $cmdline == *"kafka.Kafka $sd/server.properties"* ]] || return 1
  # A zombie is not alive.
  [[ $(awk '{print $3}' "/proc/$pid/stat" 2>/dev/null) != Z ]] || return 1
  echo "$pid"
}

free_ports() {
  # N (default two) distinct free loopback ports (held open together while chosen).
  "$PYTHON" - "${1:-2}" <<'PY'
import socket, sys
ss = []
for _ in range(int(sys.argv[1])):
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    ss.append(s)
print(" ".join(str(s.getsockname()[1]) for s in ss))
for s in ss:
    s.close()
PY
}

cluster_id() {
  "$PYTHON" - <<'PY'
import base64, uuid
while True:
    s = base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")
    if not s.startswith("-"):
        print(s)
        break
PY
}

write_config() {
  local sd=$1 port=$2 cport=$3 sport=${4-}
  local listeners="PLAINTEXT://127.0.0.1:$port,CONTROLLER://127.0.0.1:$cport"
  local advertised="PLAINTEXT://127.0.0.1:$port"
  local protomap="PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT"
  if [[ -n $sport ]]; then
    listeners+=",SASL_SSL://127.0.0.1:$sport"
    advertised+=",SASL_SSL://127.0.0.1:$sport"
    protomap+=",SASL_SSL:SASL_SSL"
  fi
  cat >"$sd/server.properties" <<EOF
# generated by tests/kafka/broker.sh -- single-node KRaft test broker
process.roles=broker,controller
node.id=1
controller.quorum.bootstrap.servers=127.0.0.1:$cport
listeners=$listeners
advertised.listeners=$advertised
inter.broker.listener.name=PLAINTEXT
controller.listener.names=CONTROLLER
listener.security.protocol.map=$protomap
log.dirs=$sd/data
num.partitions=3
default.replication.factor=1
min.insync.replicas=1
auto.create.topics.enable=true
delete.topic.enable=true
offsets.topic.replication.factor=1
offsets.topic.num.partitions=5
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
transaction.state.log.num.partitions=5
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1
group.initial.rebalance.delay.ms=0
# After a SIGKILL the restarted broker waits for its old registration to
# expire (default 9 s); shorter keeps fault tests quick.
broker.heartbeat.interval.ms=1000
broker.session.timeout.ms=4000
EOF
  if [[ -n $sport ]]; then
    # Clients only: inter-broker and controller traffic stays on the
    # PLAINTEXT loopback listeners, so the broker needs no credentials of
    # its own. The SCRAM user lives in the metadata log (format --add-scram);
    # PLAIN, same user and password, is there for librdkafka < 2.6.1, whose
    # SCRAM client-final-message Kafka >= 4.0 rejects (librdkafka #4895).
    local user pw
    user=$(cat "$sd/scram-user")
    pw=$(cat "$sd/scram-password")
    cat >>"$sd/server.properties" <<EOF
# SASL_SSL client listener (start-secure)
sasl.enabled.mechanisms=SCRAM-SHA-512,PLAIN
listener.name.sasl_ssl.sasl.enabled.mechanisms=SCRAM-SHA-512,PLAIN
listener.name.sasl_ssl.scram-sha-512.sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required;
listener.name.sasl_ssl.plain.sasl.jaas.config=org.apache.kafka.common.security.plain.PlainLoginModule required user_$user="$pw";
listener.name.sasl_ssl.ssl.keystore.type=PEM
listener.name.sasl_ssl.ssl.keystore.location=$sd/tls/broker-keystore.pem
listener.name.sasl_ssl.ssl.client.auth=none
EOF
    chmod 600 "$sd/server.properties"
  fi
  cat >"$sd/log4j2.properties" <<EOF
status = error
name = flagtap-test-broker
appender.file.type = File
appender.file.name = FILE
appender.file.fileName = $sd/broker.log
appender.file.append = true
appender.file.layout.type = PatternLayout
appender.file.layout.pattern = [%d] %p %m (%c)%n
rootLogger.level = INFO
rootLogger.appenderRef.file.ref = FILE
logger.request.name = kafka.request.logger
logger.request.level = WARN
logger.statechange.name = state.change.logger
logger.statechange.level = WARN
logger.authorizer.name = kafka.authorizer.logger
logger.authorizer.level = WARN
EOF
}

classpath() { echo "$LIBDIR/*"; }

# ---------------------------------------------------------------- start-secure
# Files only start-secure writes; start and start-secure remove them first so
# that none is left over from an earlier broker in the same STATEDIR.
SECURE_FILES=(bootstrap-secure ca.pem scram-user scram-password client-secure.properties
              client-secure-java.properties kcat-secure.err java-secure.out tls)

# A fresh CA and a broker certificate it signs (subjectAltName
# IP:127.0.0.1,DNS:localhost, so clients keep hostname verification on),
# and the broker's PEM keystore: unencrypted PKCS#8 key + chain.
gen_tls() {
  local sd=$1 t=$1/tls
  mkdir -p "$t"
  chmod 700 "$t"
  cat >"$t/openssl.cnf" <<EOF
[req]
distinguished_name = dn
prompt = no
[dn]
CN = unused
[ca]
basicConstraints = critical,CA:TRUE
keyUsage = critical,keyCertSign,cRLSign
subjectKeyIdentifier = hash
[broker]
basicConstraints = critical,CA:FALSE
keyUsage = critical,digitalSignature,keyEncipherment
extendedKeyUsage = serverAuth
subjectAltName = IP:127.0.0.1,DNS:localhost
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
EOF
  if ! {
    openssl req -config "$t/openssl.cnf" -x509 -newkey rsa:2048 -nodes -sha256 -days 30 \
      -subj "/CN=flagtap test CA $(openssl rand -hex 4)" -extensions ca \
      -keyout "$t/ca.key" -out "$sd/ca.pem" &&
    openssl req -config "$t/openssl.cnf" -new -newkey rsa:2048 -nodes -sha256 \
      -subj "/CN=localhost" -keyout "$t/broker.key" -out "$t/broker.csr" &&
    openssl x509 -req -in "$t/broker.csr" -CA "$sd/ca.pem" -CAkey "$t/ca.key" \
      -set_serial "0x$(openssl rand -hex 12)" -days 30 -sha256 \
      -extfile "$t/openssl.cnf" -extensions broker -out "$t/broker.pem" &&
    openssl verify -CAfile "$sd/ca.pem" "$t/broker.pem"
  } </dev/null >"$t/openssl.log" 2>&1; then
    cat "$t/openssl.log" >&2
    die "could not generate the test certificates"
  fi
  grep -q 'BEGIN PRIVATE KEY' "$t/broker.key" || die "broker key is not unencrypted PKCS#8"
  cat "$t/broker.key" "$t/broker.pem" "$sd/ca.pem" >"$t/broker-keystore.pem"
  chmod 600 "$t"/*.key "$t/broker-keystore.pem"
}

# SCRAM user flagtap with a random password; prints the format
# --add-scram argument. It carries the salted password, never the password
# itself, so the password is on no command line.
gen_scram() {
  local sd=$1 sport=$2 user=flagtap
  ( umask 077
    openssl rand -hex 24 >"$sd/scram-password"
    echo "$user" >"$sd/scram-user"
    cat >"$sd/client-secure.properties" <<EOF
# librdkafka properties for the SASL_SSL listener (kcat -F FILE)
bootstrap.servers=127.0.0.1:$sport
security.protocol=SASL_SSL
sasl.mechanisms=SCRAM-SHA-512
sasl.username=$user
sasl.password=$(cat "$sd/scram-password")
ssl.ca.location=$sd/ca.pem
EOF
    cat >"$sd/client-secure-java.properties" <<EOF
# Java client properties for the SASL_SSL listener (kafka.admin.ConfigCommand --command-config)
security.protocol=SASL_SSL
sasl.mechanism=SCRAM-SHA-512
sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required username="$user" password="$(cat "$sd/scram-password")";
ssl.truststore.type=PEM
ssl.truststore.location=$sd/ca.pem
EOF
  )
  echo "127.0.0.1:$sport" >"$sd/bootstrap-secure"
  "$PYTHON" - "$user" "$sd/scram-password" <<'PY'
import base64, hashlib, os, sys
user, pwfile = sys.argv[1], sys.argv[2]
pw = open(pwfile).read().strip().encode()
salt, it = os.urandom(16), 4096
# SCRAM Hi() is PBKDF2 with the mechanism's HMAC (RFC 5802)
salted = hashlib.pbkdf2_hmac("sha512", pw, salt, it)
b64 = lambda b: base64.b64encode(b).decode()
print('SCRAM-SHA-512=[name=%s,iterations=%d,salt="%s",saltedpassword="%s"]'
      % (user, it, b64(salt), b64(salted)))
PY
}

# Ready when, over SASL_SSL with the certificate verified against ca.pem,
# (1) Kafka's own Java client logs in with SCRAM-SHA-512 and lists the SCRAM
# users (so the credential is really there), and (2) librdkafka (kcat, PLAIN,
# which every librdkafka version can do) gets metadata naming broker 1 on the
# secure listener.
secure_probe() {
  local sd=$1 bs=$2 md
  timeout 60 "$JAVA" -Xmx128m -Dlog4j2.configurationFile="$sd/log4j2.properties" \
      -cp "$(classpath)" kafka.admin.ConfigCommand --bootstrap-server "$bs" \
      --command-config "$sd/client-secure-java.properties" \
      --describe --entity-type users --entity-name "$(cat "$sd/scram-user")" \
      </dev/null >"$sd/java-secure.out" 2>&1 || return 1
  grep -q 'SCRAM-SHA-512=iterations=' "$sd/java-secure.out" || return 1
  md=$(timeout 10 "$KCAT" -F "$sd/client-secure.properties" -X sasl.mechanisms=PLAIN \
         -L -m 3 -q </dev/null 2>"$sd/kcat-secure.err") || return 1
  [[ $md == *"broker 1 at $bs"* ]]
}

wait_secure_ready() {
  local sd=$1 bs pid deadline
  bs=$(cat "$sd/bootstrap-secure")
  pid=$(cat "$sd/pid")
  deadline=$((SECONDS + START_TIMEOUT))
  while :; do
    if ! live_pid "$sd" >/dev/null; then
      echo "broker.sh: broker process exited during startup" >&2
      show_logs "$sd"
      return 1
    fi
    if secure_probe "$sd" "$bs"; then
      rm -f "$sd/kcat-secure.err" "$sd/java-secure.out"
      return 0
    fi
    if (( SECONDS >= deadline )); then
      kill -KILL "$pid" 2>/dev/null || true
      while [[ -d /proc/$pid && $(awk '{print $3}' "/proc/$pid/stat" 2>/dev/null) != Z ]]; do
        sleep 0.1
      done
      echo "broker.sh: SASL_SSL listener $bs not ready after ${START_TIMEOUT}s (killed)" >&2
      echo "---- Java client (SCRAM-SHA-512) ----" >&2
      grep -v '^\s*at ' "$sd/java-secure.out" 2>/dev/null | tail -n 10 >&2 || true
      echo "---- kcat (PLAIN) ----" >&2
      tail -n 10 "$sd/kcat-secure.err" >&2 2>/dev/null || true
      show_logs "$sd"
      return 1
    fi
    sleep 0.5
  done
}

launch() {
  local sd=$1
  need "$JAVA" "apt-get install openjdk-17-jre-headless"
  : >>"$sd/broker.out"
  # exec in a subshell so $! is the JVM itself; no stdin, fully detached output.
  ( exec "$JAVA" -Xmx"$HEAP" -Xms128m -XX:+UseG1GC -XX:+ExitOnOutOfMemoryError \
      -Djava.awt.headless=true \
      -Dlog4j2.configurationFile="$sd/log4j2.properties" \
      -Dkafka.logs.dir="$sd" \
      -cp "$(classpath)" kafka.Kafka "$sd/server.properties" \
      </dev/null >>"$sd/broker.out" 2>&1 ) &
  echo $! >"$sd/pid"
}

show_logs() {
  local sd=$1
  echo "---- tail $sd/broker.out ----" >&2
  tail -n 30 "$sd/broker.out" >&2 2>/dev/null || true
  echo "---- tail $sd/broker.log ----" >&2
  tail -n 60 "$sd/broker.log" >&2 2>/dev/null || true
}

wait_ready() {
  local sd=$1 bs pid deadline
  bs=$(cat "$sd/bootstrap")
  need "$KCAT" "apt-get install kcat"
  deadline=$((SECONDS + START_TIMEOUT))
  pid=$(cat "$sd/pid")
  while :; do
    # Raw pid check: right after launch the subshell may not have exec'd java yet.
    if [[ ! -d /proc/$pid || $(awk '{print $3}' "/proc/$pid/stat" 2>/dev/null) == Z ]]; then
      echo "broker.sh: broker process exited during startup" >&2
      show_logs "$sd"
      return 1
    fi
    # Ready when a real metadata request lists broker 1 on our listener.
    local md
    md=$(timeout 10 "$KCAT" -L -b "$bs" -m 3 -q </dev/null 2>/dev/null) || md=
    if [[ $md == *"broker 1 at $bs"* ]]; then
      return 0
    fi
    if (( SECONDS >= deadline )); then
      # Kill first, so nothing is left running even if printing fails.
      kill -KILL "$pid" 2>/dev/null || true
      while [[ -d /proc/$pid && $(awk '{print $3}' "/proc/$pid/stat" 2>/dev/null) != Z ]]; do
        sleep 0.1
      done
      echo "broker.sh: broker not ready after ${START_TIMEOUT}s (killed)" >&2
      show_logs "$sd"
      return 1
    fi
    sleep 0.5
  done
}

# ---------------------------------------------------------------- commands
cmd_start() { start_broker "" "$@"; }
cmd_start_secure() { start_broker secure "$@"; }

start_broker() {
  local secure=$1; shift
  local sd; sd=$(statedir_arg --create "$@")
  cmd_fetch
  if live_pid "$sd" >/dev/null; then
    die "a broker is already running for $sd (pid $(cat "$sd/pid"))"
  fi
  local port cport sport=
  if [[ -n $secure ]]; then
    need openssl "apt-get install openssl"
    need "$KCAT" "apt-get install kcat"
    read -r port cport sport < <(free_ports 3) || true
    [[ $sport =~ ^[0-9]+$ ]] || die "could not pick free ports (is $PYTHON there?)"
  else
    read -r port cport < <(free_ports) || true
  fi
  [[ $port =~ ^[0-9]+$ && $cport =~ ^[0-9]+$ ]] || die "could not pick free ports (is $PYTHON there?)"
  rm -rf "$sd/data" "$sd/broker.log" "$sd/broker.out" "$sd/pid"
  (cd "$sd" && rm -rf -- "${SECURE_FILES[@]}")
  mkdir -p "$sd/data"
  local format_args=(-t "$(cluster_id)" -c "$sd/server.properties" --standalone)
  if [[ -n $secure ]]; then
    gen_tls "$sd"
    local scram; scram=$(gen_scram "$sd" "$sport") || die "could not create the SCRAM user"
    format_args+=(--add-scram "$scram")
  fi
  write_config "$sd" "$port" "$cport" "$sport"
  echo "127.0.0.1:$port" >"$sd/bootstrap"
  echo "127.0.0.1:$cport" >"$sd/controller"
  if ! "$JAVA" -Xmx256m -Dlog4j2.configurationFile="$sd/log4j2.properties" \
        -cp "$(classpath)" kafka.tools.StorageTool format "${format_args[@]}" \
        </dev/null >"$sd/format.out" 2>&1; then
    cat "$sd/format.out" >&2
    die "kafka storage format failed"
  fi
  launch "$sd"
  wait_ready "$sd" || die "start failed"
  if [[ -n $secure ]]; then
    wait_secure_ready "$sd" || die "start-secure failed"
  fi
}

cmd_restart() {
  local sd; sd=$(statedir_arg "$@") || die "no such STATEDIR: $1"
  [[ -f $sd/server.properties && -d $sd/data ]] || die "nothing to restart in $sd (run start first)"
  cmd_fetch
  # Still running: graceful SIGTERM first, keeping the data.
  terminate "$sd"
  launch "$sd"
  wait_ready "$sd" || die "restart failed"
  if [[ -f $sd/bootstrap-secure ]]; then
    wait_secure_ready "$sd" || die "restart failed"
  fi
}

# SIGTERM, bounded wait, then SIGKILL. Data is kept.
terminate() {
  local sd=$1 pid
  if pid=$(live_pid "$sd"); then
    kill -TERM "$pid" 2>/dev/null || true
    local deadline=$((SECONDS + STOP_TIMEOUT))
    while live_pid "$sd" >/dev/null && (( SECONDS < deadline )); do sleep 0.2; done
    if live_pid "$sd" >/dev/null; then
      echo "broker.sh: broker $pid ignored SIGTERM for ${STOP_TIMEOUT}s, sending SIGKILL" >&2
      kill -KILL "$pid" 2>/dev/null || true
      while live_pid "$sd" >/dev/null; do sleep 0.1; done
    fi
  fi
  rm -f "$sd/pid"
}

cmd_stop() {
  local sd; sd=$(statedir_arg "$@") || return 0
  terminate "$sd"
  rm -rf "$sd/data"
}

cmd_kill() {
  local sd; sd=$(statedir_arg "$@") || return 0
  local pid
  if pid=$(live_pid "$sd"); then
    kill -KILL "$pid" 2>/dev/null || true
    while live_pid "$sd" >/dev/null; do sleep 0.1; done
  fi
}

cmd_topic() {
  [[ $# -eq 3 ]] || die "usage: broker.sh topic STATEDIR NAME PARTITIONS"
  local sd; sd=$(statedir_arg "$1") || die "no such STATEDIR: $1"
  local name=$2 parts=$3
  [[ $parts =~ ^[1-9][0-9]*$ ]] || die "PARTITIONS must be a positive integer"
  [[ -f $sd/bootstrap ]] || die "no broker in $sd"
  "$PYTHON" - "$(cat "$sd/bootstrap")" "$name" "$parts" <<'PY'
import sys, time
from confluent_kafka import KafkaException, KafkaError
from confluent_kafka.admin import AdminClient, NewTopic

bs, name, parts = sys.argv[1], sys.argv[2], int(sys.argv[3])
admin = AdminClient({"bootstrap.servers": bs})
fut = admin.create_topics([NewTopic(name, num_partitions=parts, replication_factor=1)],
                          operation_timeout=30, request_timeout=30)[name]
try:
    fut.result(timeout=60)
except KafkaException as e:
    err = e.args[0]
    if err.code() != KafkaError.TOPIC_ALREADY_EXISTS:
        sys.exit("broker.sh: create topic %s failed: %s" % (name, err))
deadline = time.time() + 60
while True:
    md = admin.list_topics(topic=name, timeout=10).topics.get(name)
    if md is not None and md.error is None and md.partitions and \
            all(p.leader >= 0 and p.error is None for p in md.partitions.values()):
        if len(md.partitions) != parts:
            sys.exit("broker.sh: topic %s exists with %d partitions, wanted %d"
                     % (name, len(md.partitions), parts))
        break
    if time.time() > deadline:
        sys.exit("broker.sh: topic %s not ready after 60s" % name)
    time.sleep(0.2)
PY
}

cmd_bootstrap() {
  local sd; sd=$(statedir_arg "$@") || die "no such STATEDIR: $1"
  cat "$sd/bootstrap"
}

# Reads the broker's own log segments with its DumpLogSegments tool: what a
# producer's batches were compressed with is not visible to a consumer.
cmd_codecs() {
  local sd; sd=$(statedir_arg "$@") || die "no such STATEDIR: $1"
  [[ $# -ge 2 && -n $2 ]] || die "usage: broker.sh codecs STATEDIR TOPIC"
  local files; files=$(find "$sd/data" -path "$sd/data/$2-[0-9]*/*.log" | paste -sd, -)
  [[ -n $files ]] || die "no log segments of topic $2 in $sd/data"
  "$JAVA" -cp "$(classpath)" kafka.tools.DumpLogSegments --files "$files" 2>/dev/null \
    | sed -n 's/.* isControl: false .* compresscodec: \([a-z0-9]*\) .*/\1/p' | sort -u
}

cmd_status() {
  local sd; sd=$(statedir_arg "$@") || return 1
  live_pid "$sd" >/dev/null
}

usage() {
  sed -n '2,17p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'
}

[[ $# -ge 1 ]] || { usage >&2; exit 2; }
cmd=$1; shift
case $cmd in
  start|start-secure|stop|kill|restart|topic|bootstrap|codecs|status)
    [[ $# -ge 1 && -n $1 ]] || die "usage: broker.sh $cmd STATEDIR$([[ $cmd == topic ]] && echo ' NAME PARTITIONS')" ;;
esac
case $cmd in
  fetch)     cmd_fetch ;;
  start)     cmd_start "$@" ;;
  start-secure) cmd_start_secure "$@" ;;
  stop)      cmd_stop "$@" ;;
  kill)      cmd_kill "$@" ;;
  restart)   cmd_restart "$@" ;;
  topic)     cmd_topic "$@" ;;
  bootstrap) cmd_bootstrap "$@" ;;
  codecs)    cmd_codecs "$@" ;;
  status)    cmd_status "$@" ;;
  -h|--help|help) usage ;;
  *) echo "broker.sh: unknown command: $cmd" >&2; usage >&2; exit 2 ;;
esac

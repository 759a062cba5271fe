#!/usr/bin/env bash
# Command-line behaviour: exit codes and messages for configuration and
# rule errors, secret masking in --dump-config, -X overrides.  No broker
# is needed: `run --check-config` and `run --dump-config` stop before
# connecting.
#   cli.sh FLAGTAP_BINARY TESTS_DATA_DIR
# Runs in TESTS_DATA_DIR, so the fixtures' relative paths (rules = rules/...)
# resolve and messages name them as config/x.conf, rules/x.rules.
set -u

if [[ $# -ne 2 ]]; then
	echo "usage: cli.sh FLAGTAP_BINARY TESTS_DATA_DIR" >&2
	exit 2
fi
bin=$(realpath "$1")
data=$2
shipped=$(realpath "$data/../../rules")

cd "$data" || exit 2
out=$(mktemp)
err=$(mktemp)
scratch=$(mktemp -d)
trap 'rm -rf "$out" "$err" "$scratch"' EXIT

pass=0
fail=0
name=
bad=0
rc=0

# begin NAME: starts a case.
begin() {
	name=$1
	bad=0
}

# run ARGS...: runs flagtap, keeping stdout, stderr and the exit code.
run() {
	"$bin" "$@" >"$out" 2>"$err"
	rc=$?
}

problem() {
	bad=1
	echo "cli: $name: $*" >&2
}

want_rc() {
	[[ $rc -eq $1 ]] || problem "exit code $rc, want $1"
}

# want_err TEXT / want_out TEXT: the text occurs in stderr / stdout.
want_err() {
	grep -qF -e "$1" "$err" || problem "stderr lacks '$1'"
}

want_out() {
	grep -qF -e "$1" "$out" || problem "stdout lacks '$1'"
}

# want_line TEXT: stdout has exactly this line.
want_line() {
	grep -qxF -e "$1" "$out" || problem "stdout lacks the line '$1'"
}

# never TEXT: the text occurs in neither stdout nor stderr.
never() {
	! grep -qF -e "$1" "$out" "$err" || problem "output shows '$1'"
}

end() {
	if [[ $bad -eq 0 ]]; then
		pass=$((pass + 1))
		return
	fi
	fail=$((fail + 1))
	echo "--- $name: stdout" >&2
	head -n 20 "$out" >&2
	echo "--- $name: stderr" >&2
	head -n 20 "$err" >&2
}

# ---- run: configuration ---------------------------------------------

begin "missing config file"
run run -c config/no-such.conf
want_rc 2
want_err "config/no-such.conf"
end

begin "run without -c"
run run --check-config
want_rc 2
want_err "usage: flagtap run"
end

begin "complete config checks ok"
run run --check-config -c config/good.conf
want_rc 0
want_out "configuration ok: 4 rules (sha256:"
end

begin "unknown key names FILE:LINE"
run run --check-config -c config/unknown-key.conf
want_rc 2
want_err "config/unknown-key.conf:2: unknown key 'brokerz'"
end

begin "unknown key also stops --dump-config"
run run --dump-config -c config/unknown-key.conf
want_rc 2
want_err "config/unknown-key.conf:2:"
end

begin "duplicate key names FILE:LINE"
run run --check-config -c config/dup.conf
want_rc 2
want_err "config/dup.conf:5: duplicate key 'brokers'"
end

begin "unknown Kafka property names FILE:LINE"
run run --check-config -c config/kafka-unknown.conf
want_rc 2
want_err "config/kafka-unknown.conf:7:"
want_err "no.such.property"
end

begin "unknown Kafka property from -X names the override"
run run --check-config -c config/good.conf -X consumer.no.such.thing=1
want_rc 2
want_err "-X consumer.no.such.thing"
end

begin "producer.acks = 1 refused"
run run --check-config -c config/acks.conf
want_rc 2
want_err "acks must stay all"
end

begin "producer.enable.idempotence = false refused"
run run --check-config -c config/good.conf \
	-X producer.enable.idempotence=false
want_rc 2
want_err "enable.idempotence must stay true"
end

begin "output topic that is also an input topic refused"
run run --check-config -c config/good.conf -X output.topic=payments
want_rc 2
want_err "output.topic 'payments' is also an input topic"
end

begin "missing required key"
run run --check-config -c config/parse.conf
want_rc 2
want_err "missing required key 'rules'"
end

begin "empty required value"
run run --check-config -c config/good.conf -X rules=
want_rc 2
want_err "-X rules: rules: empty value"
end

begin "rules that do not load: diagnostics and the config line"
run run --check-config -c config/broken-rules.conf
want_rc 2
want_err "rules/broken.rules:6:1: unknown key 'colour'"
want_err "config/broken-rules.conf:5: rules: cannot load rules/broken.rules"
end

begin "bad -X argument"
run run --check-config -c config/good.conf -X novalue
want_rc 2
want_err "-X novalue: expected key=value"
end

begin "-X unknown key"
run run --check-config -c config/good.conf -X nosuch.key=1
want_rc 2
want_err "-X nosuch.key: unknown key 'nosuch.key'"
end

begin "-X value out of range"
run run --check-config -c config/good.conf -X match.limit=5
want_rc 2
want_err "-X match.limit: match.limit: 5 is out of range"
end

# ---- run: --dump-config ------------------------------------------------

begin "--dump-config masks secrets"
run run --dump-config -c config/secret.conf
want_rc 0
never "s3cr3t-value"
never "u53r-name"
want_line "kafka.sasl.password = ********"
want_line "kafka.sasl.username = ********"
want_line "brokers = localhost:9092"
want_line "kafka.security.protocol = SASL_SSL"
want_line "group.id = flagtap"
end

begin "-X override shows in --dump-config"
run run --dump-config -c config/secret.conf -X match.limit=4321 \
	-X brokers=other:9093 -X kafka.sasl.password=x-override-x
want_rc 0
want_line "match.limit = 4321"
want_line "brokers = other:9093"
never "localhost:9092"
never "x-override-x"
never "s3cr3t-value"
want_line "kafka.sasl.password = ********"
end

begin "--dump-config needs no required keys"
run run --dump-config -c config/parse.conf
want_rc 0
want_line "output.topic = flagged#1"
want_line "kafka.client.rack = rack-1"
never "rules ="
end

begin "@file: and @env: secrets: read, never shown"
printf 'f1le-s3cret\n' >"$scratch/salt"
refs=(-X "redact.salt=@file:$scratch/salt" -X kafka.sasl.password=@env:FT_CLI_PW)
FT_CLI_PW=env-s3cret run run --dump-config -c config/secret.conf "${refs[@]}"
want_rc 0
want_line "redact.salt = @file:$scratch/salt"
want_line "kafka.sasl.password = @env:FT_CLI_PW"
never "f1le-s3cret"
never "env-s3cret"
FT_CLI_PW=env-s3cret run run --check-config -c config/good.conf "${refs[@]}"
want_rc 0
want_out "configuration ok"
never "f1le-s3cret"
never "env-s3cret"
end

begin "@file: of a missing file names the -X"
run run --check-config -c config/good.conf \
	-X "redact.salt=@file:$scratch/no-such-salt"
want_rc 2
want_err "-X redact.salt: redact.salt: "
want_err "$scratch/no-such-salt"
end

begin "@env: of an unset variable names FILE:LINE"
printf 'redact.salt = @env:FT_CLI_UNSET\n' >"$scratch/env.conf"
env -u FT_CLI_UNSET "$bin" run --dump-config -c "$scratch/env.conf" \
	>"$out" 2>"$err"
rc=$?
want_rc 2
want_err "$scratch/env.conf:1: redact.salt: environment variable 'FT_CLI_UNSET' is not set"
end

begin "config keys: every key, in each format"
run config keys --format=markdown
want_rc 0
want_out '| `match.limit` | `500000` | integer 1000..1000000 |'
want_out '| `kafka.<property>` |'
run config keys --format=yaml
want_rc 2
want_err "usage: flagtap config keys"
end

# ---- rules check -------------------------------------------------------

begin "rules check: every error as FILE:LINE:COL"
run rules check rules/broken.rules
want_rc 1
want_err "rules/broken.rules:6:1: unknown key 'colour'"
want_err "rules/broken.rules:10:12: unknown severity 'urgent'"
want_err "rules/broken.rules:16:15: pattern does not compile"
want_err "rules/broken.rules:19:2: duplicate rule id B-001 (first defined at rules/broken.rules:2)"
never "rules ok"
end

begin "rules check: a directory given with a trailing slash"
cp rules/broken.rules "$scratch/x.rules"
run rules check "$scratch/"
want_rc 1
want_err "$scratch/x.rules:6:1: unknown key 'colour'"
never "$scratch//"
end

begin "rules check: the shipped packs"
run rules check "$shipped/"
want_rc 0
want_out "rules ok"
end

begin "rules check: a good file"
run rules check rules/good.rules
want_rc 0
want_out "rules/good.rules: 4 rules ok (sha256:"
end

begin "rules check: several paths, one bad"
run rules check rules/good.rules rules/broken.rules rules/dir
want_rc 1
want_out "rules/good.rules: 4 rules ok"
want_out "rules/dir: 5 rules ok"
want_err "rules/broken.rules:6:1:"
end

begin "rules check: missing path"
run rules check rules/no-such.rules
want_rc 1
want_err "rules/no-such.rules"
end

begin "rules check: no path"
run rules check
want_rc 2
want_err "usage: flagtap rules check"
end

begin "rules: unknown subcommand"
run rules lint rules/good.rules
want_rc 2
end

# ---- other commands ------------------------------------------------------

begin "unknown command"
run frobnicate
want_rc 2
want_err "unknown command 'frobnicate'"
end

begin "no command"
run
want_rc 2
want_err "usage: flagtap"
end

begin "version"
run version
want_rc 0
grep -qE '^flagtap [0-9]+\.[0-9]+\.[0-9]+$' "$out" ||
	problem "version line: $(head -n 1 "$out")"
end

begin "help"
run help
want_rc 0
want_out "usage: flagtap [--no-jit] [--engine auto|pcre2] <command>"
want_out "input.format.<topic>"
end

# bench: the same records flagged as scan flags, by both engines; the
# per-rule table; usage errors.  Card numbers planted among 300 lines.
for i in $(seq 1 300); do
	if ((i % 43 == 0)); then
		echo "payment ok card=4539 1488 0343 6467 amount=$i.00"
	else
		echo "ordinary log line $i: worker started, queue depth $((i * 7))"
	fi
done >"$scratch/bench.txt"

json_num() { # json_num KEY: the number after "KEY": on stdout
	grep -o "\"$1\":[0-9.]*" "$out" | head -n 1 | cut -d: -f2
}

begin "bench json, both engines agree with scan"
"$bin" scan --rules "$shipped" "$scratch/bench.txt" 2>/dev/null |
	grep -c . >"$scratch/scan.count"
scanned=$(cat "$scratch/scan.count")
planted=$(grep -c card= "$scratch/bench.txt")
[[ $scanned -eq $planted ]] || problem "scan flagged $scanned, want $planted"
for engine in auto pcre2; do
	run bench --rules "$shipped" --engine "$engine" --seconds 0.2 --json \
		"$scratch/bench.txt"
	want_rc 0
	[[ "$(json_num flagged)" == "$scanned" ]] ||
		problem "$engine: flagged $(json_num flagged), scan $scanned"
	[[ "$(json_num distinct_records)" == 300 ]] ||
		problem "$engine: $(json_num distinct_records) records, want 300"
	(($(json_num records) >= 300)) || problem "$engine: records < 300"
	want_out "\"engine\":\"$engine\""
done
end

begin "bench table and scan-only"
run bench --rules "$shipped" --seconds 0.2 "$scratch/bench.txt"
want_rc 0
want_out "per-rule cost"
want_out "PCI-001"
want_out "flagged $planted of 300 records"
run bench --rules "$shipped" --engine scan-only --seconds 0.2 --json \
	"$scratch/bench.txt"
if grep -q "not built in" "$err"; then # the PCRE2-only build
	want_rc 2
else
	want_rc 0
	want_out "\"engine\":\"scan-only\""
	# rules check names the rules evaluated on every record
	run rules check "$shipped"
	want_rc 0
	want_out "on every record (term lists, or patterns hyperscan cannot decide): SAN-001, SAN-002"
fi
end

begin "bench usage"
run bench "$scratch/bench.txt"
want_rc 2
want_err "usage: flagtap bench"
run bench --rules "$shipped" --engine fast "$scratch/bench.txt"
want_rc 2
run bench --rules "$shipped" "$scratch/no-such.txt"
want_rc 1
want_err "no-such.txt"
run --engine fast version
want_rc 2
want_err "--engine"
end

# scan: numbers in exponent notation compare as numbers; values that are
# not numbers are counted per rule in the summary
begin "scan counts numbers a when cannot read"
cat >"$scratch/numbers.rules" <<'EOF'
[rule BIG]
title    = Transfer of 50,000 or more
severity = low
when     = amount >= 50000

[rule CASH]
title    = Cash of 10,000 or more
severity = low
when     = channel == "cash" and amount_cny >= 10000
EOF
printf '%s\n' '{"amount":5E+4}' '{"amount":"6.5E+4"}' \
	'{"amount":"50,000.00"}' '{"amount":"n/a"}' '{"amount":49999}' \
	'{"channel":"cash","amount_cny":"5 000"}' \
	'{"channel":"cash","amount_cny":1.0e4}' >"$scratch/numbers.json"
run scan --rules "$scratch/numbers.rules" --format json "$scratch/numbers.json"
want_rc 0
want_err "scan: 7 records (164 bytes), 3 flagged"
want_err "$(printf '  %-14s %8s  %s' BIG 2 'Transfer of 50,000 or more')"
want_err "scan: records whose numbers a rule's \`when\` could not read"
want_err "$(printf '  %-14s %8s  %s' BIG 2 'amount >= 50000')"
want_err "$(printf '  %-14s %8s  %s' CASH 1 \
	'channel == "cash" and amount_cny >= 10000')"
end

begin "replay --print reads every input format"
printf 'one\r\n\ntwo\n' >"$scratch/lines.txt"
run replay --print "$scratch/lines.txt"
want_rc 0
want_line '{"topic":null,"partition":-1,"offset":-1,"tstype":"none","ts":-1,"key":null,"payload":"one"}'
want_line '{"topic":null,"partition":-1,"offset":-1,"tstype":"none","ts":-1,"key":null,"payload":"two"}'
cp "$out" "$scratch/printed.jsonl"
# its own output is kcat -J input: the same records again
run replay --print "$scratch/printed.jsonl"
want_rc 0
cmp -s "$out" "$scratch/printed.jsonl" || problem "print of print differs"
printf '{"a":1}\n{"a":\n' >"$scratch/bad.json"
run replay --print --input json "$scratch/bad.json"
want_rc 1
want_err "bad.json:2: not JSON"
run replay --print "$scratch/no-such.ftrec"
want_rc 1
want_err "no-such.ftrec"
end

begin "record and replay usage"
run replay -t x "$scratch/lines.txt"
want_rc 2
want_err "usage: flagtap replay"
run replay -b 127.0.0.1:1 -t x --rate 10 --max "$scratch/lines.txt"
want_rc 2
want_err "choose one of --rate, --speed, --max"
run replay -b 127.0.0.1:1 -t x --rate fast "$scratch/lines.txt"
want_rc 2
want_err "expected a positive number"
run replay -b 127.0.0.1:1 -t x --input xml "$scratch/lines.txt"
want_rc 2
want_err "--input xml"
run record -b 127.0.0.1:1 -t x
want_rc 2
want_err "usage: flagtap record"
run record -b 127.0.0.1:1 -t x -o yesterday -w "$scratch/x.ftrec"
want_rc 2
want_err "-o yesterday"
end

begin "audit usage"
run audit -b 127.0.0.1:1 -t flagged
want_rc 2
want_err "usage: flagtap audit"
run audit -b 127.0.0.1:1 -t flagged --rules rules/broken.rules -e
want_rc 2
want_err "broken.rules"
end

begin "scan: redact = hash never uses an empty key"
tok=ghp_R8mXq2ZfL0aVt7Yw4KcN1pHs9UeDj3BgTo6I
echo "cloning with token $tok" >"$scratch/token.txt"
printf '[rule GH]\ntitle = t\nseverity = high\npattern = \\bghp_\\w{36}\nredact = hash\n' \
	>"$scratch/hash.rules"
# token KEY: the [h:...] token of $tok under HMAC key KEY
token() {
	python3 -c 'import hmac, hashlib, sys
print("[h:" + hmac.new(sys.argv[1].encode(), sys.argv[2].encode(),
                       hashlib.sha256).hexdigest()[:16] + "]")' "$1" "$tok"
}
# without a salt: a random key per run, and stderr says so
run_scan() {
	env -u FLAGTAP_REDACT_SALT "$bin" scan --rules "$scratch/hash.rules" "$@" \
		"$scratch/token.txt" >"$out" 2>"$err"
	rc=$?
}
run_scan
want_rc 0
want_err "random key"
grep -qF "$(token '')" "$out" && problem "token from an empty key"
grep -o '\[h:[0-9a-f]*\]' "$out" | head -1 >"$scratch/tok1"
run_scan
grep -o '\[h:[0-9a-f]*\]' "$out" | head -1 >"$scratch/tok2"
[[ -s "$scratch/tok1" ]] || problem "no token"
cmp -s "$scratch/tok1" "$scratch/tok2" && problem "two runs, one key"
# --salt-file: the file's bytes (less a final newline) are the key
printf 'k3y\n' >"$scratch/salt"
run_scan --salt-file "$scratch/salt"
want_rc 0
want_out "$(token k3y)"
grep -qF "random key" "$err" && problem "random key with --salt-file"
grep -qF "visible" "$err" && problem "--salt-file warned"
# --salt: the same key, with a warning that ps shows it
run_scan --salt k3y
want_rc 0
want_out "$(token k3y)"
want_err "visible"
FLAGTAP_REDACT_SALT=k3y run scan --rules "$scratch/hash.rules" "$scratch/token.txt"
want_rc 0
want_out "$(token k3y)"
# an empty key is refused, wherever it comes from
printf '\n' >"$scratch/empty"
run_scan --salt-file "$scratch/empty"
want_rc 2
want_err "--salt-file"
want_err "empty"
run_scan --salt ''
want_rc 2
want_err "empty"
FLAGTAP_REDACT_SALT= run scan --rules "$scratch/hash.rules" "$scratch/token.txt"
want_rc 2
want_err "FLAGTAP_REDACT_SALT"
run_scan --salt-file "$scratch/no-such-salt"
want_rc 2
want_err "no-such-salt"
run_scan --salt k3y --salt-file "$scratch/salt"
want_rc 2
want_err "usage: flagtap scan"
end

begin "run --check-config: hash rules without redact.salt are named"
run run -c config/good.conf -X rules="$scratch/hash.rules" --check-config
want_rc 0
want_err "redact.salt is not set"
run run -c config/good.conf -X rules="$scratch/hash.rules" -X redact.salt=k3y \
	--check-config
want_rc 0
grep -qF "redact.salt" "$err" && problem "warned with redact.salt set"
end

begin "stateful rules need redact.salt (their keys are keyed hashes), named"
run run --check-config -c config/good.conf -X rules=stateful
want_rc 2
want_err "need redact.salt"
want_err "PBOC-LV-01C (stateful/pboc-cumulative.rules:15)"
want_err "ACC-ATO-01"
run run --check-config -c config/good.conf -X rules=stateful \
	-X redact.salt=k3y
want_rc 0
want_out "configuration ok: 6 rules"
sed 's/^severity/enabled = false\nseverity/' stateful/aml-structuring.rules \
	>"$scratch/off.rules"
run run --check-config -c config/good.conf -X rules="$scratch/off.rules"
want_rc 0
want_out "configuration ok: 1 rules"
end

begin "rules check: a stateful key's error names FILE:LINE:COL"
printf '[rule S]\ntitle = t\nseverity = low\naggregate = count >= 3\nby = a\nwindow = sliding 25x\n' \
	>"$scratch/bad-state.rules"
run rules check "$scratch/bad-state.rules"
want_rc 1
want_err "bad-state.rules:6:18: a sliding window must be a duration"
end

echo "$pass passed, $fail failed"
[[ $fail -eq 0 ]]

#!/usr/bin/env bash
# Integration test against the real broker started by the CTest fixture.
#   run.sh FLAGTAP_BINARY BROKER_STATEDIR [--set key=value]...
# The text records are the Loghub samples of FLAGTAP_CORPUS when it is set,
# generated log lines otherwise (tests/lib/ftcorpus.py).
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
exec "${PYTHON:-/usr/bin/python3}" "$here/test_pipeline.py" \
	--flagtap "$1" --bootstrap "$(cat "$2/bootstrap")" "${@:3}"

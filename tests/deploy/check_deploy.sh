#!/usr/bin/env bash
# Checks deploy/ without Docker or Kubernetes:
#
#   tests/deploy/check_deploy.sh FLAGTAP_BINARY
#
#   - systemd-analyze verify (and an offline security score) of the unit,
#     with ExecStart pointed at FLAGTAP_BINARY (the only change)
#   - the unit, compose and Kubernetes stop timeouts exceed shutdown.timeout.ms
#   - every YAML file under deploy/ parses
#   - the Kubernetes manifests: namespace-agnostic, selectors, Secret keys
#   - no secret on a command line (Deployment args, ExecStart) or written in
#     a manifest or configuration: each is read with @file: (a mounted
#     Secret's file, a LoadCredential= file) or @env:
#   - deploy/k8s/configmap-rules.yaml is up to date with rules/
#   - the Grafana dashboard parses and queries only flagtap's metrics
#   - the metrics port agrees everywhere; compose/Dockerfile paths exist
#   - the runtime image installs every library FLAGTAP_BINARY links
#   - every flagtap configuration under deploy/ (and the one in the k8s
#     ConfigMap, with the Secret's files from secret.yaml) passes run
#     --check-config, with -X rules=<repo>/rules, and shows no secret
#
# Prints what each check did; exits 1 if any failed.  Needs python3 with
# PyYAML (Debian: python3-yaml), systemd-analyze, objdump, dpkg-query.
set -euo pipefail
if [ $# -ne 1 ]; then
	echo "usage: $0 FLAGTAP_BINARY" >&2
	exit 2
fi
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
python=${PYTHON:-/usr/bin/python3}
if ! "$python" -c 'import yaml' 2>/dev/null; then
	echo "check_deploy: $python has no PyYAML (Debian: apt-get install python3-yaml)" >&2
	exit 2
fi
exec "$python" "$here/check_deploy.py" "$1"

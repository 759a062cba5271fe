#!/usr/bin/python3
"""Checks the deployment files under deploy/ without Docker or Kubernetes.

    check_deploy.py FLAGTAP_BINARY

Run by check_deploy.sh.  Each check prints what it did, then "ok" or
"FAIL: why"; the last line is "deploy: N passed, M failed" and the exit
status is 1 when anything failed.
"""
import difflib
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile

import yaml

REPO = os.path.realpath(os.path.join(os.path.dirname(__file__), "..", ".."))
DEPLOY = os.path.join(REPO, "deploy")
RULES = os.path.join(REPO, "rules")

# The metrics flagtap exposes (Prometheus text format): the dashboard may
# query these and nothing else.
METRICS = {
    "flagtap_build_info",
    "flagtap_records_consumed_total",
    "flagtap_records_flagged_total",
    "flagtap_envelopes_delivered_total",
    "flagtap_envelopes_failed_total",
    "flagtap_records_dead_lettered_total",
    "flagtap_input_bytes_total",
    "flagtap_output_bytes_total",
    "flagtap_envelope_bytes_total",
    "flagtap_engine_errors_total",
    "flagtap_rule_hits_total",
    "flagtap_rule_evaluation_seconds_total",
    "flagtap_consumer_lag",
    "flagtap_partitions_assigned",
    "flagtap_producer_queue_messages",
    "flagtap_reloads_total",
    "flagtap_ruleset_info",
    "flagtap_ruleset_rules",
    "flagtap_ruleset_loaded_timestamp_seconds",
    "flagtap_ready",
    "flagtap_records_unusual_total",
    "flagtap_inflight_bytes",
    "flagtap_input_paused",
    "flagtap_transactions_total",
    "flagtap_state_keys",
    "flagtap_state_bytes",
    "flagtap_state_records_total",
    "flagtap_state_shed_windows_total",
    "flagtap_state_restore_seconds_total",
    "flagtap_state_restored_records_total",
    "flagtap_state_restore_skipped_total",
    "flagtap_state_shed_reported_total",
    "process_resident_memory_bytes",
    "process_cpu_seconds_total",
    "process_start_time_seconds",
}
METRICS_SOURCE = os.path.join(REPO, "processor", "daemon", "metrics.c")

# The ConfigMaps deploy/k8s/make-rules-configmap.sh writes.
RULES_CM, LISTS_CM = "flagtap-rules", "flagtap-rule-lists"
CONFIGMAP_MAX = 1 << 20  # the API server's limit on a ConfigMap


class Failed(Exception):
    pass


def rel(path):
    return os.path.relpath(path, REPO)


def say(msg):
    print("  " + msg, flush=True)


def run(cmd, **kw):
    return subprocess.run(cmd, capture_output=True, text=True, **kw)


def load_yaml_docs(path):
    with open(path, encoding="utf-8") as f:
        return [d for d in yaml.safe_load_all(f) if d is not None]


def k8s_objects():
    objs = {}
    for name in sorted(os.listdir(os.path.join(DEPLOY, "k8s"))):
        if not name.endswith(".yaml") or name == "kustomization.yaml":
            continue
        for d in load_yaml_docs(os.path.join(DEPLOY, "k8s", name)):
            objs[(d["kind"], d["metadata"]["name"])] = d
    return objs


def config_value(path, key):
    """The value of KEY in a flagtap properties file, or None."""
    with open(path, encoding="utf-8") as f:
        for line in f:
            line = line.strip()
            if not line or line.startswith("#"):
                continue
            m = re.match(r"([^=:\s]+)\s*[=:]\s*(.*)$", line)
            if m and m.group(1) == key:
                return m.group(2).strip()
    return None

# A key whose value is a credential: it must be read through @file: or
# @env: wherever deploy/ sets it, never written in a file or a manifest
# nor given with -X on a command line.
SECRET_KEY = re.compile(r"(password|secret|salt|sasl\.username|"
                        r"sasl\.oauthbearer\.config|ssl\.key\.pem)")
CONF_LINE = re.compile(r"^\s*#?\s*([A-Za-z0-9._-]+)\s*[=:]\s*(.*?)\s*$")


def is_reference(value):
    return value.startswith(("@file:", "@env:"))


def secret_settings(text):
    """(key, value) of every line of a properties text, commented out or
    not, that sets a secret key."""
    out = []
    for line in text.splitlines():
        m = CONF_LINE.match(line)
        if m and SECRET_KEY.search(m.group(1)):
            out.append((m.group(1), m.group(2)))
    return out


def check_no_secret_args(where, args):
    """No -X KEY=VALUE of a secret key in a command line."""
    for i, a in enumerate(args):
        kv = a[2:] if a.startswith("-X") and len(a) > 2 else (
            args[i + 1] if a == "-X" and i + 1 < len(args) else None)
        if kv and "=" in kv and SECRET_KEY.search(kv.split("=", 1)[0]):
            raise Failed(f"{where}: -X {kv.split('=', 1)[0]}=... puts a secret "
                         "on the command line (use @file: or @env: in the "
                         "configuration)")
        m = re.search(r"(?:^|\s)-X\s*([A-Za-z0-9._-]+)=", a)
        if m and SECRET_KEY.search(m.group(1)):
            raise Failed(f"{where}: -X {m.group(1)}=... puts a secret on the "
                         "command line")


def duration_s(text):
    """A systemd or compose duration: 45, 45s, 1min 30s, 1m30s."""
    units = {"": 1, "s": 1, "sec": 1, "m": 60, "min": 60, "h": 3600}
    total, pos = 0.0, 0
    for m in re.finditer(r"\s*(\d+(?:\.\d+)?)\s*([a-z]*)", text):
        if m.start() != pos or m.group(2) not in units:
            raise Failed(f"cannot read the duration {text!r}")
        total += float(m.group(1)) * units[m.group(2)]
        pos = m.end()
    if pos != len(text) or not text.strip():
        raise Failed(f"cannot read the duration {text!r}")
    return total


def unit_settings(path):
    out = {}
    with open(path, encoding="utf-8") as f:
        for line in f:
            m = re.match(r"([A-Za-z]+)=(.*)$", line.rstrip("\n"))
            if m:
                out.setdefault(m.group(1), []).append(m.group(2))
    return out


# ---------------------------------------------------------------- checks

def check_systemd(binary):
    """systemd-analyze verify of the unit, ExecStart pointed at the build."""
    unit = os.path.join(DEPLOY, "systemd", "flagtap.service")
    exe = shutil.which("systemd-analyze")
    if not exe:
        raise Failed("systemd-analyze not found (Debian: apt-get install systemd)")
    with open(unit, encoding="utf-8") as f:
        text = f.read()
    # The one honest change: /usr/bin/flagtap does not exist on a build
    # machine, and verify requires ExecStart's program to.  Everything
    # else is verified as shipped; the diff below proves it.
    copy = re.sub(r"^ExecStart=/usr/bin/flagtap ", f"ExecStart={binary} ", text,
                  flags=re.M)
    diff = [l for l in difflib.unified_diff(text.splitlines(), copy.splitlines(),
                                            lineterm="", n=0)
            if l[:1] in "+-" and not l.startswith(("+++", "---"))]
    if len(diff) != 2:
        raise Failed("expected exactly one ExecStart=/usr/bin/flagtap line to "
                     f"rewrite, diff: {diff}")
    say(f"verifying a copy of {rel(unit)} with only {diff[1][1:]!r}")
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "flagtap.service")
        with open(path, "w", encoding="utf-8") as f:
            f.write(copy)
        # --man=no: man:flagtap(1) is checked against man/ below instead
        r = run([exe, "verify", "--man=no", path], cwd=tmp)
        out = (r.stdout + r.stderr).strip()
        if r.returncode or out:
            # verify exits 0 on unknown keys and bad values: any output fails
            raise Failed(f"systemd-analyze verify (exit {r.returncode}):\n{out}")
        say("systemd-analyze verify: no output, exit 0")
        r = run([exe, "security", "--offline=true", path],
                cwd=tmp)
        m = re.search(r"Overall exposure level for flagtap.service: ([0-9.]+) (\w+)",
                      r.stdout + r.stderr)
        if r.returncode or not m:
            raise Failed(f"systemd-analyze security --offline:\n{r.stdout}{r.stderr}")
        # 1.4 as shipped; losing a few hardening directives pushes it past 2.0
        if float(m.group(1)) > 2.0:
            raise Failed(f"exposure level {m.group(1)} {m.group(2)} is above 2.0: "
                         "was a hardening directive removed?")
        say(f"systemd-analyze security --offline: exposure {m.group(1)} {m.group(2)}"
            " (at most 2.0)")
    settings = unit_settings(unit)
    for doc in " ".join(settings.get("Documentation", [])).split():
        m = re.match(r"man:([\w.-]+)\((\d)\)$", doc)
        if m and not os.path.exists(os.path.join(REPO, "man", f"{m.group(1)}.{m.group(2)}")):
            raise Failed(f"Documentation={doc}: no man/{m.group(1)}.{m.group(2)}")
    want = {"Type": "exec", "User": "flagtap", "Group": "flagtap",
            "Restart": "on-failure", "ExecReload": "/bin/kill -HUP $MAINPID",
            "NoNewPrivileges": "yes", "ProtectSystem": "strict",
            "CapabilityBoundingSet": "", "SystemCallFilter": "@system-service"}
    for key, value in want.items():
        if value not in settings.get(key, []):
            raise Failed(f"{key}={value} is missing")
    if ("yes" in settings.get("MemoryDenyWriteExecute", []) and
            config_value(os.path.join(DEPLOY, "flagtap.conf"), "match.jit") != "off"):
        raise Failed("MemoryDenyWriteExecute=yes without match.jit = off in "
                     "deploy/flagtap.conf (see the unit's comment)")
    say("Type=exec, User/Group=flagtap, Restart=on-failure, reload by SIGHUP, "
        "sandbox settings present")


def check_systemd_secrets():
    """No secret on the unit's command line; every credential that a
    configuration under deploy/ reads from /run/credentials/flagtap.service/
    is loaded by a LoadCredential= line of the unit."""
    unit = os.path.join(DEPLOY, "systemd", "flagtap.service")
    with open(unit, encoding="utf-8") as f:
        text = f.read()
    for line in unit_settings(unit).get("ExecStart", []):
        check_no_secret_args("flagtap.service ExecStart", line.split())
    loaded = set(re.findall(r"^#?LoadCredential=([^:\s]+):", text, re.M))
    wanted = set()
    for conf in (os.path.join(DEPLOY, "flagtap.conf"),
                 os.path.join(REPO, "packaging", "flagtap.conf.in")):
        with open(conf, encoding="utf-8") as f:
            for key, value in secret_settings(f.read()):
                if not is_reference(value):
                    raise Failed(f"{rel(conf)}: {key} = a literal secret (read "
                                 "it with @file: or @env:)")
                m = re.match(r"@file:/run/credentials/flagtap\.service/(.+)$", value)
                if m:
                    wanted.add(m.group(1))
    if wanted - loaded:
        raise Failed(f"credentials {sorted(wanted - loaded)} have no "
                     "LoadCredential= line in flagtap.service")
    say(f"ExecStart has no secret; credentials {sorted(wanted)} are "
        "LoadCredential= files")


def check_stop_timeouts():
    """Every supervisor waits longer than flagtap's shutdown.timeout.ms."""
    def shutdown_s(conf):
        v = config_value(conf, "shutdown.timeout.ms")
        return (int(v) if v is not None else 30000) / 1000

    pairs = []
    unit = unit_settings(os.path.join(DEPLOY, "systemd", "flagtap.service"))
    pairs.append(("systemd TimeoutStopSec", duration_s(unit["TimeoutStopSec"][-1]),
                  os.path.join(DEPLOY, "flagtap.conf")))
    compose = load_yaml_docs(os.path.join(DEPLOY, "compose", "compose.yaml"))[0]
    grace = compose["services"]["flagtap"].get("stop_grace_period", "10s")
    pairs.append(("compose stop_grace_period", duration_s(str(grace)),
                  os.path.join(DEPLOY, "compose", "flagtap.conf")))
    objs = k8s_objects()
    pod = objs[("Deployment", "flagtap")]["spec"]["template"]["spec"]
    with tempfile.TemporaryDirectory() as tmp:
        conf = os.path.join(tmp, "flagtap.conf")
        with open(conf, "w", encoding="utf-8") as f:
            f.write(objs[("ConfigMap", "flagtap-config")]["data"]["flagtap.conf"])
        pairs.append(("k8s terminationGracePeriodSeconds",
                      float(pod.get("terminationGracePeriodSeconds", 30)), conf))
        for what, seconds, conf_path in pairs:
            limit = shutdown_s(conf_path)
            shown = "the k8s ConfigMap" if conf_path == conf else rel(conf_path)
            if seconds <= limit + 5:
                raise Failed(f"{what} = {seconds:g} s is not above shutdown.timeout.ms "
                             f"({limit:g} s, {shown}) plus a margin")
            say(f"{what} {seconds:g} s > shutdown.timeout.ms {limit:g} s ({shown})")


def check_yaml():
    """Every YAML file under deploy/ parses (all documents)."""
    n = 0
    for root, _, files in os.walk(DEPLOY):
        for name in sorted(files):
            if not name.endswith((".yaml", ".yml")):
                continue
            path = os.path.join(root, name)
            try:
                docs = load_yaml_docs(path)
            except yaml.YAMLError as e:
                raise Failed(f"{rel(path)}: {e}")
            if not docs:
                raise Failed(f"{rel(path)}: no document")
            say(f"{rel(path)}: {len(docs)} document{'s' * (len(docs) != 1)}")
            n += 1
    if not n:
        raise Failed("no YAML file under deploy/")


def check_k8s():
    """Kubernetes objects: well formed, namespace-agnostic, consistent."""
    objs = k8s_objects()
    for (kind, name), d in objs.items():
        for key in ("apiVersion", "kind", "metadata"):
            if key not in d:
                raise Failed(f"{kind}/{name}: no {key}")
        if "namespace" in d["metadata"]:
            raise Failed(f"{kind}/{name}: sets metadata.namespace (the manifests "
                         "are namespace-agnostic)")
    kust = load_yaml_docs(os.path.join(DEPLOY, "k8s", "kustomization.yaml"))[0]
    listed = set(kust.get("resources", []))
    present = {n for n in os.listdir(os.path.join(DEPLOY, "k8s"))
               if n.endswith(".yaml") and n != "kustomization.yaml"}
    if listed != present:
        raise Failed(f"kustomization.yaml resources {sorted(listed)} != files "
                     f"{sorted(present)}")
    dep = objs[("Deployment", "flagtap")]
    pod = dep["spec"]["template"]["spec"]
    c = pod["containers"][0]
    sel = dep["spec"]["selector"]["matchLabels"]
    labels = dep["spec"]["template"]["metadata"]["labels"]
    if any(labels.get(k) != v for k, v in sel.items()):
        raise Failed("the Deployment's selector does not match its pod labels")
    for kind, name in (("Service", "flagtap-metrics"),
                       ("PodDisruptionBudget", "flagtap")):
        spec = objs[(kind, name)]["spec"]
        s = spec.get("selector", {})
        s = s.get("matchLabels", s)
        if any(labels.get(k) != v for k, v in s.items()):
            raise Failed(f"{kind}/{name}: selector {s} does not select the pods")
    sc = c.get("securityContext", {})
    if not (sc.get("readOnlyRootFilesystem") and sc.get("allowPrivilegeEscalation") is False
            and sc.get("capabilities", {}).get("drop") == ["ALL"]
            and (sc.get("runAsNonRoot") or pod.get("securityContext", {}).get("runAsNonRoot"))):
        raise Failed("the container must run as non-root, with a read-only root "
                     "filesystem, no privilege escalation, all capabilities dropped")
    # no secret on the command line, none written in the pod spec
    check_no_secret_args("the Deployment's args",
                         c.get("command", []) + c.get("args", []))
    for e in c.get("env", []):
        if "value" in e and SECRET_KEY.search(e["name"].lower()):
            raise Failed(f"env {e['name']}: a secret written in the manifest")
    # the configuration reads each secret from a file of a mounted Secret
    secret = {n: d for (k, n), d in objs.items() if k == "Secret"}
    vols = {v["name"]: v for v in pod.get("volumes", [])}
    mounted = {m["mountPath"]: vols[m["name"]]["secret"]["secretName"]
               for m in c.get("volumeMounts", [])
               if "secret" in vols.get(m["name"], {})}
    conf = objs[("ConfigMap", "flagtap-config")]["data"]["flagtap.conf"]
    refs = 0
    for key, value in secret_settings(conf):
        if not is_reference(value):
            raise Failed(f"ConfigMap flagtap-config: {key} = a literal secret "
                         "(read it with @file: from the Secret)")
        path = value[len("@file:"):] if value.startswith("@file:") else None
        if path is None:
            continue
        mount, _, name = path.rpartition("/")
        if mount not in mounted:
            raise Failed(f"{key} = {value}: {mount} is not a Secret's mount")
        if name not in secret.get(mounted[mount], {}).get("stringData", {}):
            raise Failed(f"{key} = {value}: Secret {mounted[mount]} has no "
                         f"key {name}")
        refs += 1
    if not refs:
        raise Failed("the ConfigMap's flagtap.conf reads no secret from the Secret")
    say(f"{len(objs)} objects, no namespace, selectors match, non-root read-only "
        f"container, no secret in args or env, {refs} secrets read from the "
        "mounted Secret's files")


def expected_rule_data():
    rules = {n: open(os.path.join(RULES, n), encoding="utf-8").read()
             for n in sorted(os.listdir(RULES)) if n.endswith(".rules")}
    lists_dir = os.path.join(RULES, "lists")
    lists = {}
    if os.path.isdir(lists_dir):
        lists = {n: open(os.path.join(lists_dir, n), encoding="utf-8").read()
                 for n in sorted(os.listdir(lists_dir))
                 if os.path.isfile(os.path.join(lists_dir, n))}
    return rules, lists


def check_rules_configmap():
    """deploy/k8s/configmap-rules.yaml is what the script makes of rules/."""
    path = os.path.join(DEPLOY, "k8s", "configmap-rules.yaml")
    committed = {d["metadata"]["name"]: d for d in load_yaml_docs(path)}
    script = os.path.join(DEPLOY, "k8s", "make-rules-configmap.sh")
    r = run([script, "-o", "-"])
    if r.returncode:
        raise Failed(f"{rel(script)} failed:\n{r.stderr}")
    fresh = {d["metadata"]["name"]: d for d in yaml.safe_load_all(r.stdout) if d}
    how = "kubectl" if shutil.which("kubectl") else "python"
    say(f"regenerated with {rel(script)} ({how}) and compared object by object")
    rules, lists = expected_rule_data()
    want = {RULES_CM: rules}
    if lists:
        want[LISTS_CM] = lists
    for name, data in want.items():
        for src, objs in (("the script's output", fresh), (rel(path), committed)):
            got = objs.get(name, {}).get("data", {})
            if got != data:
                missing = sorted(set(data) - set(got))
                extra = sorted(set(got) - set(data))
                changed = sorted(k for k in set(data) & set(got) if data[k] != got[k])
                raise Failed(f"ConfigMap {name} in {src} differs from rules/: "
                             f"missing {missing}, extra {extra}, changed {changed}; "
                             f"run {rel(script)}")
    if set(committed) != set(want):
        raise Failed(f"{rel(path)} holds {sorted(committed)}, expected {sorted(want)}")
    for name, d in committed.items():
        size = sum(len(k) + len(v.encode()) for k, v in d["data"].items())
        if size > CONFIGMAP_MAX * 9 // 10:
            raise Failed(f"ConfigMap {name} is {size} bytes, near the 1 MiB limit")
        say(f"ConfigMap {name}: {len(d['data'])} files, {size} bytes, up to date")
    # the Deployment mounts every key: rule files at the top, lists under lists/
    objs = k8s_objects()
    pod = objs[("Deployment", "flagtap")]["spec"]["template"]["spec"]
    c = pod["containers"][0]
    mount = next((m for m in c["volumeMounts"] if m["mountPath"] == "/etc/flagtap/rules"), None)
    if not mount:
        raise Failed("the Deployment mounts nothing at /etc/flagtap/rules")
    if "subPath" in mount:
        raise Failed("the rules are mounted with subPath: the kubelet would never "
                     "update them")
    vol = next(v for v in pod["volumes"] if v["name"] == mount["name"])
    sources = {s["configMap"]["name"]: s["configMap"]
               for s in vol.get("projected", {}).get("sources", []) if "configMap" in s}
    if RULES_CM not in sources or "items" in sources[RULES_CM]:
        raise Failed(f"the rules volume must project all of ConfigMap {RULES_CM}")
    if lists:
        items = {i["key"]: i["path"] for i in sources.get(LISTS_CM, {}).get("items", [])}
        want_items = {k: f"lists/{k}" for k in lists}
        if items != want_items:
            raise Failed(f"the rules volume projects {LISTS_CM} as {items}, expected "
                         f"{want_items} (add an item for each list file)")
    say("the Deployment projects every rule file, and every list file under lists/")


def dashboard_exprs(obj, out):
    if isinstance(obj, dict):
        for k, v in obj.items():
            if k == "expr" and isinstance(v, str):
                out.append(v)
            elif k == "query" and isinstance(v, dict) and isinstance(v.get("query"), str):
                out.append(v["query"])
            elif k == "definition" and isinstance(v, str):
                out.append(v)
            else:
                dashboard_exprs(v, out)
    elif isinstance(obj, list):
        for v in obj:
            dashboard_exprs(v, out)
    return out


def check_dashboard():
    """The Grafana dashboard parses and queries only flagtap's metrics."""
    path = os.path.join(DEPLOY, "grafana", "flagtap-dashboard.json")
    with open(path, encoding="utf-8") as f:
        try:
            d = json.load(f)
        except json.JSONDecodeError as e:
            raise Failed(f"{rel(path)}: {e}")
    variables = {v["name"]: v for v in d.get("templating", {}).get("list", [])}
    if variables.get("DS_PROMETHEUS", {}).get("type") != "datasource":
        raise Failed("no datasource variable DS_PROMETHEUS")
    if "instance" not in variables:
        raise Failed("no instance variable")
    panels = d.get("panels", [])
    for p in panels:
        if p.get("type") == "row":
            continue
        ds = [p.get("datasource")] + [t.get("datasource") for t in p.get("targets", [])]
        if any(x is None or x.get("uid") != "${DS_PROMETHEUS}" for x in ds):
            raise Failed(f"panel {p.get('title')!r}: datasource is not ${{DS_PROMETHEUS}}")
        if not p.get("targets"):
            raise Failed(f"panel {p.get('title')!r} has no query")
    exprs = dashboard_exprs(d, [])
    used = set()
    for e in exprs:
        names = set(re.findall(r"\b((?:flagtap|process)_[a-z0-9_]+)\b", e))
        if not names:
            raise Failed(f"query {e!r} names no flagtap metric")
        unknown = names - METRICS
        if unknown:
            raise Failed(f"query {e!r} uses {sorted(unknown)}: not a flagtap metric")
        used |= names
    say(f"schemaVersion {d.get('schemaVersion')}, {len(panels)} panels, "
        f"{len(exprs)} queries over {len(used)} metrics, all in the metric list")
    unused = sorted(METRICS - used)
    if unused:
        say(f"metrics the dashboard does not show: {', '.join(unused)}")
    # A metric renamed in the code must break this check too.
    if not os.path.exists(METRICS_SOURCE):
        raise Failed(f"{rel(METRICS_SOURCE)} not found: cannot tell whether flagtap "
                     "exposes these metrics")
    with open(METRICS_SOURCE, encoding="utf-8") as f:
        source = set(re.findall(r'"((?:flagtap|process)_[a-z0-9_]+)', f.read()))
    missing = sorted(used - source)
    if missing:
        raise Failed(f"{rel(METRICS_SOURCE)} does not expose {missing}")
    say(f"every metric the dashboard queries is rendered by {rel(METRICS_SOURCE)}")


def check_ports():
    """The metrics port agrees between configs, EXPOSE, probes and ports."""
    def port_of(conf):
        v = config_value(conf, "metrics.listen")
        if v is None:
            raise Failed(f"{rel(conf)}: no metrics.listen")
        return int(v.rsplit(":", 1)[1])

    dockerfile = open(os.path.join(DEPLOY, "container", "Dockerfile"), encoding="utf-8").read()
    image_port = port_of(os.path.join(DEPLOY, "container", "flagtap.conf"))
    if not re.search(rf"^EXPOSE {image_port}$", dockerfile, re.M):
        raise Failed(f"the Dockerfile does not EXPOSE {image_port}")
    if f"/dev/tcp/127.0.0.1/{image_port}" not in dockerfile:
        raise Failed(f"the Dockerfile's HEALTHCHECK does not ask port {image_port}")
    compose = load_yaml_docs(os.path.join(DEPLOY, "compose", "compose.yaml"))[0]
    svc = compose["services"]["flagtap"]
    cport = port_of(os.path.join(DEPLOY, "compose", "flagtap.conf"))
    if not any(str(p).split(":")[-1] == str(cport) for p in svc.get("ports", [])):
        raise Failed(f"compose publishes {svc.get('ports')}, not {cport}")
    objs = k8s_objects()
    c = objs[("Deployment", "flagtap")]["spec"]["template"]["spec"]["containers"][0]
    with tempfile.NamedTemporaryFile("w", suffix=".conf") as f:
        f.write(objs[("ConfigMap", "flagtap-config")]["data"]["flagtap.conf"])
        f.flush()
        kport = port_of(f.name)
    named = {p["name"]: p["containerPort"] for p in c.get("ports", [])}
    if named.get("metrics") != kport:
        raise Failed(f"containerPort metrics is {named.get('metrics')}, "
                     f"metrics.listen says {kport}")
    for probe in ("livenessProbe", "readinessProbe", "startupProbe"):
        port = c.get(probe, {}).get("httpGet", {}).get("port")
        if port not in ("metrics", kport):
            raise Failed(f"{probe} asks port {port}")
    svcp = objs[("Service", "flagtap-metrics")]["spec"]["ports"][0]
    if svcp.get("name") != "metrics" or svcp.get("targetPort") not in ("metrics", kport):
        raise Failed(f"Service port {svcp} is not the metrics port")
    say(f"image {image_port} (EXPOSE, HEALTHCHECK), compose {cport}, "
        f"k8s {kport} (containerPort, probes, Service port `metrics`)")


def check_compose_paths():
    """compose.yaml's build context, Dockerfile and bind mounts exist."""
    cdir = os.path.join(DEPLOY, "compose")
    compose = load_yaml_docs(os.path.join(cdir, "compose.yaml"))[0]
    n = 0
    for name, svc in compose["services"].items():
        b = svc.get("build")
        if b:
            ctx = os.path.normpath(os.path.join(cdir, b.get("context", ".")))
            df = os.path.join(ctx, b.get("dockerfile", "Dockerfile"))
            if not os.path.isfile(df):
                raise Failed(f"service {name}: no Dockerfile {df}")
            n += 1
        for v in svc.get("volumes", []):
            src = str(v).split(":")[0]
            if src.startswith((".", "/")):
                if not os.path.exists(os.path.normpath(os.path.join(cdir, src))):
                    raise Failed(f"service {name}: bind mount source {src} does not exist")
                n += 1
    dockerfile = os.path.join(DEPLOY, "container", "Dockerfile")
    for line in open(dockerfile, encoding="utf-8"):
        m = re.match(r"COPY\s+(?!--from)(.+)\s+\S+$", line.strip())
        if m:
            for src in m.group(1).split():
                if src != "." and not os.path.exists(os.path.join(REPO, src)):
                    raise Failed(f"{rel(dockerfile)}: COPY {src}: no such file")
                n += 1
    say(f"{n} build contexts, bind mounts and COPY sources exist")


def abi_free(pkg):
    """libicu76 -> libicu, libmicrohttpd12t64 -> libmicrohttpd12"""
    pkg = re.sub(r"t64$", "", pkg)
    return re.sub(r"^libicu\d+$", "libicu", pkg)


def check_runtime_libraries(binary):
    """The runtime image installs the package of every library flagtap links."""
    dockerfile = open(os.path.join(DEPLOY, "container", "Dockerfile"), encoding="utf-8").read()
    m = re.search(r"^FROM debian:(\d+)-slim\s*$", dockerfile, re.M)
    if not m:
        raise Failed("no FROM debian:N-slim stage in the Dockerfile")
    runtime = dockerfile.split(m.group(0), 1)
    image_release = m.group(1)
    # the binary is built against the builder's libraries: the runtime
    # must be the same release (sonames such as libicu76 differ)
    b = re.search(r"^FROM debian:(\d+) AS builder\s*$", dockerfile, re.M)
    if not b or b.group(1) != image_release:
        raise Failed("the builder stage is not FROM debian:%s AS builder, the "
                     "runtime's release" % image_release)
    host_release = run(["cat", "/etc/debian_version"]).stdout.split(".")[0].strip()
    m = re.search(r"apt-get install[^;]*?--no-install-recommends(.*?);", runtime[1], re.S)
    if not m:
        raise Failed("no apt-get install in the runtime stage")
    listed = set(m.group(1).replace("\\", " ").split())
    # "$hs" stands for the Hyperscan or Vectorscan runtime
    if '"$hs"' in listed:
        listed |= {"libhyperscan5", "libvectorscan5"}
    r = run(["objdump", "-p", binary])
    if r.returncode:
        raise Failed(f"objdump -p {binary}: {r.stderr.strip()}")
    needed = re.findall(r"^\s*NEEDED\s+(\S+)", r.stdout, re.M)
    cache = run(["/sbin/ldconfig", "-p"]).stdout
    packages = {}
    for lib in needed:
        path = next((l.split(" => ")[1].strip() for l in cache.splitlines()
                     if l.strip().startswith(lib + " ")), None)
        pkg = None
        for p in filter(None, [path, path and "/usr" + path,
                               path and path.replace("/usr/lib/", "/lib/", 1)]):
            q = run(["dpkg-query", "-S", p])
            if q.returncode == 0:
                pkg = q.stdout.split(":")[0].split(",")[0].strip()
                break
        if not pkg:
            raise Failed(f"no Debian package found for {lib} ({path})")
        packages[lib] = pkg
    # in every Debian image (apt needs them); sanitizer runtimes only in
    # test builds (the asan preset runs this check too)
    base = {"libc6", "libgcc-s1", "libstdc++6"}
    sanitizers = {p for p in packages.values()
                  if re.match(r"lib(asan|ubsan|tsan|lsan)\d+$", p)}
    if sanitizers:
        say(f"not expected in the image (sanitizer build): {', '.join(sorted(sanitizers))}")
    want = set(packages.values()) - base - sanitizers
    if host_release != image_release:
        # the host's package names are another release's: compare them
        # without their ABI versions (libicu72/libicu76) and the 64-bit
        # time_t rename (libmicrohttpd12/libmicrohttpd12t64); the exact
        # check runs on the image's release (scripts/test-release.sh)
        say(f"the host is Debian {host_release or '?'}, the image Debian "
            f"{image_release}: package names compared without ABI versions")
        want, listed = ({abi_free(p) for p in want}, {abi_free(p) for p in listed})
    missing = sorted(want - listed)
    if missing:
        raise Failed(f"the runtime stage does not install {missing} "
                     f"(the binary links {packages})")
    say("the binary links " + ", ".join(f"{l} ({p})" for l, p in packages.items())
        + ": all installed by the runtime stage")


def check_config(binary, label, conf, extra_args, secrets=()):
    """flagtap run --check-config on one configuration."""
    cmd = [binary, "run", "-c", conf] + list(extra_args) + [
        "-X", f"rules={RULES}", "--check-config"]
    shown = " ".join(a if a != conf else label for a in cmd[1:])
    for s in sorted(secrets, key=len, reverse=True):
        shown = shown.replace(s, "***")
    say(f"flagtap {shown}")
    r = run(cmd)
    out = (r.stdout + r.stderr).strip()
    if r.returncode:
        if "unknown key 'metrics.listen'" in out:
            raise Failed(f"{label}: this flagtap does not know metrics.listen yet "
                         f"(exit {r.returncode}): {out.splitlines()[-1]}")
        raise Failed(f"{label}: exit {r.returncode}:\n{out}")
    last = [l for l in out.splitlines() if l.startswith("configuration ok")]
    say(last[0] if last else out.splitlines()[-1])
    if secrets:
        d = run([binary, "run", "-c", conf] + list(extra_args) +
                ["-X", f"rules={RULES}", "--dump-config"])
        if d.returncode:
            raise Failed(f"{label}: --dump-config exit {d.returncode}: {d.stderr}")
        for s in secrets:
            if s in out or s in d.stdout or s in d.stderr:
                raise Failed(f"{label}: a secret value appears in flagtap's output")
        say(f"--dump-config and --check-config show none of the {len(secrets)} "
            "secret values")


def check_configs(binary):
    """Every flagtap configuration under deploy/ passes --check-config."""
    failures = []
    plain = [os.path.join(DEPLOY, "flagtap.conf")]
    for root, _, files in os.walk(DEPLOY):
        plain += [os.path.join(root, n) for n in sorted(files)
                  if n.endswith(".conf") and os.path.join(root, n) not in plain]
    for conf in plain:
        try:
            rules = config_value(conf, "rules")
            say(f"{rel(conf)} (rules = {rules}, checked against rules/)")
            check_config(binary, rel(conf), conf, [])
        except Failed as e:
            say(f"FAIL: {e}")
            failures.append(str(e))
    # The k8s one: the ConfigMap's file, with the Deployment's args, its
    # $(VAR)s expanded from the example Secret as the kubelet would.
    try:
        objs = k8s_objects()
        cm = objs[("ConfigMap", "flagtap-config")]
        c = objs[("Deployment", "flagtap")]["spec"]["template"]["spec"]["containers"][0]
        args = c["args"]
        mounts = {m["name"]: m["mountPath"] for m in c["volumeMounts"]}
        vols = {v["name"]: v for v in objs[("Deployment", "flagtap")]["spec"]["template"]["spec"]["volumes"]}
        cfg_mount = next(mounts[n] for n, v in vols.items()
                         if v.get("configMap", {}).get("name") == "flagtap-config")
        if args[:2] != ["run", "-c"] or args[2] != f"{cfg_mount}/flagtap.conf":
            raise Failed(f"the Deployment's args {args[:3]} do not run "
                         f"{cfg_mount}/flagtap.conf")
        secret_mounts = {m["mountPath"]: vols[m["name"]]["secret"]["secretName"]
                         for m in c["volumeMounts"] if "secret" in vols[m["name"]]}
        with tempfile.TemporaryDirectory() as tmp:
            # the Secret's files, as the kubelet would write them
            text, secrets = cm["data"]["flagtap.conf"], []
            for mount, name in secret_mounts.items():
                d = os.path.join(tmp, name)
                os.mkdir(d)
                for k, v in objs[("Secret", name)]["stringData"].items():
                    with open(os.path.join(d, k), "w", encoding="utf-8") as f:
                        f.write(v)
                    if re.search(r"password|secret|salt", k):
                        secrets.append(v)
                text = text.replace(f"@file:{mount}/", f"@file:{d}/")
            conf = os.path.join(tmp, "flagtap.conf")
            with open(conf, "w", encoding="utf-8") as f:
                f.write(text)
            say("deploy/k8s: ConfigMap flagtap-config's flagtap.conf with the "
                "Deployment's args, the Secret's files from secret.yaml")
            rules = config_value(conf, "rules")
            if rules not in mounts.values():
                raise Failed(f"k8s config: rules = {rules} is not a mount path")
            check_config(binary, "k8s flagtap.conf", conf, args[3:], secrets)
    except Failed as e:
        say(f"FAIL: {e}")
        failures.append(str(e))
    if failures:
        raise Failed(f"{len(failures)} configuration(s) failed")


def main():
    if len(sys.argv) != 2:
        print("usage: check_deploy.py FLAGTAP_BINARY", file=sys.stderr)
        return 2
    binary = os.path.abspath(sys.argv[1])
    if not os.access(binary, os.X_OK):
        print(f"check_deploy: {binary} is not executable", file=sys.stderr)
        return 2
    checks = [
        ("systemd unit", check_systemd, [binary]),
        ("systemd secrets", check_systemd_secrets, []),
        ("stop timeouts", check_stop_timeouts, []),
        ("YAML", check_yaml, []),
        ("Kubernetes manifests", check_k8s, []),
        ("rules ConfigMap", check_rules_configmap, []),
        ("Grafana dashboard", check_dashboard, []),
        ("metrics port", check_ports, []),
        ("compose and Dockerfile paths", check_compose_paths, []),
        ("runtime libraries", check_runtime_libraries, [binary]),
        ("flagtap configurations", check_configs, [binary]),
    ]
    passed = failed = 0
    for name, fn, args in checks:
        print(f"check: {name}: {fn.__doc__.strip()}", flush=True)
        try:
            fn(*args)
        except Failed as e:
            print(f"  FAIL: {e}", flush=True)
            failed += 1
        except Exception as e:  # a malformed file: report it, go on
            print(f"  FAIL: {type(e).__name__}: {e}", flush=True)
            failed += 1
        else:
            print("  ok", flush=True)
            passed += 1
    print(f"deploy: {passed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())

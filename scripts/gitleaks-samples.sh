#!/bin/sh
# Regenerates tests/data/gitleaks/samples.json: the true- and false-positive
# samples that gitleaks' config generator checks every rule against
# (cmd/generate/config/rules/*.go), as JSON, so flagtap's import of the
# same config can be tested on them.
#
# usage: scripts/gitleaks-samples.sh GITLEAKS_SOURCE_DIR [SEED] > samples.json
#
# GITLEAKS_SOURCE_DIR is a checkout of gitleaks at the commit the vendored
# gitleaks.toml was generated from (b58d3f1).  It is copied, not changed.
# Samples that gitleaks generates from a regex (secrets.NewSecret) are
# random; SEED (default 1) seeds them, call n of the run using SEED + n.
# Needs Go and gitleaks' Go modules (go mod download).
set -eu

src=${1:?usage: $0 GITLEAKS_SOURCE_DIR [SEED]}
seed=${2:-1}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

cp -R "$src/." "$work/"
cd "$work"

# Seeded generator: call n uses SEED + n.
cat > cmd/generate/secrets/regen.go <<'GO'
package secrets

import "github.com/lucasjones/reggen"

// Seed is the seed of the first generated secret; call n uses Seed + n.
var Seed int64 = 1
var calls int64

func NewSecret(regex string) string {
	g, err := reggen.NewGenerator(regex)
	if err != nil {
		panic(err)
	}
	g.SetSeed(Seed + calls)
	calls++
	return g.Generate(1)
}
GO

# Record every sample list the rules hand to the validators.
cat > cmd/generate/config/utils/samples.go <<'GO'
package utils

import "sort"

type Sample struct {
	ID      string            `json:"id"`
	TPs     []string          `json:"tps"`
	FPs     []string          `json:"fps"`
	PathTPs map[string]string `json:"path_tps,omitempty"`
	PathFPs map[string]string `json:"path_fps,omitempty"`
}

var Samples []Sample

func record(id string, tps, fps []string, ptps, pfps map[string]string) {
	if tps == nil {
		tps = []string{}
	}
	if fps == nil {
		fps = []string{}
	}
	Samples = append(Samples, Sample{id, tps, fps, ptps, pfps})
	sort.SliceStable(Samples, func(i, j int) bool { return Samples[i].ID < Samples[j].ID })
}
GO
sed -i \
  -e 's/^func Validate(rule config.Rule, truePositives \[\]string, falsePositives \[\]string) \*config.Rule {$/&\n\trecord(rule.RuleID, truePositives, falsePositives, nil, nil)/' \
  -e 's/^func ValidateWithPaths(rule config.Rule, truePositives map\[string\]string, falsePositives map\[string\]string) \*config.Rule {$/&\n\trecord(rule.RuleID, nil, nil, truePositives, falsePositives)/' \
  cmd/generate/config/utils/validate.go
grep -q 'record(rule.RuleID, truePositives' cmd/generate/config/utils/validate.go
grep -q 'record(rule.RuleID, nil' cmd/generate/config/utils/validate.go

# A main that builds every rule of the default config (the list in the
# generator's main.go) and prints the recorded samples.
mkdir -p cmd/generate/samples
{
	cat <<'GO'
package main

import (
	"encoding/json"
	"os"
	"strconv"

	"github.com/zricethezav/gitleaks/v8/cmd/generate/config/rules"
	"github.com/zricethezav/gitleaks/v8/cmd/generate/config/utils"
	"github.com/zricethezav/gitleaks/v8/cmd/generate/secrets"
	"github.com/zricethezav/gitleaks/v8/config"
)

func main() {
	seed, err := strconv.ParseInt(os.Args[1], 10, 64)
	if err != nil {
		panic(err)
	}
	secrets.Seed = seed
GO
	sed -n '/configRules := \[\]\*config.Rule{/,/^	}$/p' cmd/generate/config/main.go
	cat <<'GO'
	_ = configRules
	enc := json.NewEncoder(os.Stdout)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", " ")
	if err := enc.Encode(map[string]any{"seed": seed, "rules": utils.Samples}); err != nil {
		panic(err)
	}
}
GO
} > cmd/generate/samples/main.go

go run ./cmd/generate/samples "$seed"

package main

import (
	"os"
	"regexp"
	"strings"
	"testing"

	"github.com/centerloss-go/centerloss/train"
)

// TestREADMEFlags: README's table of flags lists every flag of -help, and
// gives each hyperparameter the default the trainer has.
func TestREADMEFlags(t *testing.T) {
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	// Rows such as "| `-lr` | 0.02 | ..." or "| `-train-limit`, `-test-limit` | 0 (all) | ...".
	row := regexp.MustCompile("(?m)^\\| (`-[^|]*) \\|([^|]*)\\|")
	defaults := map[string]string{}
	for _, m := range row.FindAllStringSubmatch(string(readme), -1) {
		for _, name := range regexp.MustCompile("`-([a-z0-9-]+)").FindAllStringSubmatch(m[1], -1) {
			defaults[name[1]] = strings.TrimSpace(m[2])
		}
	}
	code, _, help := runCmd("-help")
	if code != 0 {
		t.Fatalf("-help: exit %d", code)
	}
	flags := regexp.MustCompile(`(?m)^  -([a-z0-9-]+)`).FindAllStringSubmatch(help, -1)
	if len(flags) < 20 {
		t.Fatalf("-help lists %d flags:\n%s", len(flags), help)
	}
	for _, f := range flags {
		if _, ok := defaults[f[1]]; !ok {
			t.Errorf("README's table of flags lacks -%s", f[1])
		}
	}
	for _, p := range train.Params() {
		var h train.Hyper
		if err := p.Parse(&h, defaults[p.Name]); err != nil || p.Format(&h) != p.Default {
			t.Errorf("README gives -%s the default %q, the trainer %q", p.Name, defaults[p.Name], p.Default)
		}
	}
}

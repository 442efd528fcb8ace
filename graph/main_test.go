package graph

import (
	"fmt"
	"os"
	"testing"

	"github.com/centerloss-go/centerloss/internal/onednn"
)

// TestMain opens the oneDNN that CENTERLOSS_ONEDNN names, if any, before
// any test: a process uses one oneDNN, so every test of the run then
// builds its plans on that library (TestOneDNN3 runs the tests so on a
// 3.x library).
func TestMain(m *testing.M) {
	if path := os.Getenv("CENTERLOSS_ONEDNN"); path != "" {
		lib, err := onednn.Open(onednn.Options{Library: path})
		if err != nil {
			// Asked for by name, a library that does not load fails the run.
			fmt.Printf("oneDNN %s not available: %v\n", path, err)
			os.Exit(1)
		}
		fmt.Printf("oneDNN %s (%s)\n", lib.Version, lib.Path)
	}
	os.Exit(m.Run())
}

//go:build linux && amd64

package onednn

import (
	"fmt"
	"os"
	"strings"
	"testing"
)

// TestMain opens the library CENTERLOSS_ONEDNN names, if any, so that the
// tests check the primitives of that release (a process uses one oneDNN).
func TestMain(m *testing.M) {
	if path := os.Getenv("CENTERLOSS_ONEDNN"); path != "" {
		lib, err := Open(Options{Library: path})
		if err != nil {
			// Asked for by name, a library that does not load fails the run.
			fmt.Printf("oneDNN %s not available: %v\n", path, err)
			os.Exit(1)
		}
		fmt.Printf("oneDNN %s (%s), %s\n", lib.Version, lib.Path, lib.ISA)
	}
	os.Exit(m.Run())
}

// TestOpenOneLibrary: once a library is loaded, asking for another one
// fails and names both, and asking for none returns the loaded one.
func TestOpenOneLibrary(t *testing.T) {
	lib, err := Load()
	if err != nil {
		t.Skipf("oneDNN not available: %v", err)
	}
	if again, err := Open(Options{}); again != lib || err != nil {
		t.Errorf("Open(default) = %v, %v; want the loaded library", again, err)
	}
	if again, err := Open(Options{Library: lib.Path}); again != lib || err != nil {
		t.Errorf("Open(%s) = %v, %v; want the loaded library", lib.Path, again, err)
	}
	const other = "/nonexistent/libdnnl.so.3"
	if _, err := Open(Options{Library: other}); err == nil || !strings.Contains(err.Error(), other) || !strings.Contains(err.Error(), lib.Path) {
		t.Errorf("Open(%s) beside %s: %v", other, lib.Path, err)
	}
	if lib.Major() != 2 && lib.Major() != 3 {
		t.Errorf("major version %d", lib.Major())
	}
}

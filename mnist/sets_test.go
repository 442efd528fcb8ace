package mnist

import (
	"errors"
	"io/fs"
	"path/filepath"
	"strings"
	"testing"
)

// TestFashionDir finds Fashion-MNIST in the folder Debian installs it to,
// here a fixture, and names the package to install when it is missing.
func TestFashionDir(t *testing.T) {
	old := fashionDirs
	defer func() { fashionDirs = old }()

	fashionDirs = []string{filepath.Join(t.TempDir(), "fashion-mnist")}
	_, err := DirOf(Fashion)
	var de *DataError
	if !errors.As(err, &de) || !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("missing Fashion-MNIST: %v, want a *DataError wrapping fs.ErrNotExist", err)
	}
	for _, w := range []string{fashionDirs[0], "apt-get install dataset-fashion-mnist", "zalandoresearch/fashion-mnist"} {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("error %q should name %q", err, w)
		}
	}

	dir := t.TempDir()
	writeIDX(t, dir, "train-images-idx3-ubyte.gz", validImages(4))
	writeIDX(t, dir, "train-labels-idx1-ubyte.gz", idxLabels(0x801, 4, []byte{0, 9, 3, 5}))
	fashionDirs = []string{filepath.Join(t.TempDir(), "elsewhere"), dir}
	got, err := DirOf(Fashion)
	if err != nil || got != dir {
		t.Fatalf("DirOf(Fashion) = %q, %v; want %q", got, err, dir)
	}
	ds, err := Load(got, "train", 0)
	if err != nil || ds.N != 4 {
		t.Fatalf("Load: %v, %v", ds, err)
	}
}

func TestClasses(t *testing.T) {
	for _, c := range []struct {
		set         string
		first, last string
	}{{"", "0", "9"}, {Digits, "0", "9"}, {Fashion, "T-shirt/top", "Ankle boot"}} {
		names, err := Classes(c.set)
		if err != nil || len(names) != 10 || names[0] != c.first || names[9] != c.last {
			t.Errorf("Classes(%q) = %q, %v", c.set, names, err)
		}
	}
	if _, err := Classes("cifar"); err == nil || !strings.Contains(err.Error(), `"cifar"`) || !strings.Contains(err.Error(), "mnist or fashion") {
		t.Errorf("Classes(cifar): %v", err)
	}
	if _, err := DirOf("cifar"); err == nil {
		t.Error("DirOf(cifar): no error")
	}
}

package atomicfile

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// noTemporary fails if dir holds a temporary file of Write.
func noTemporary(t *testing.T, dir string) {
	t.Helper()
	if tmp, _ := filepath.Glob(filepath.Join(dir, ".*.tmp*")); len(tmp) > 0 {
		t.Fatalf("temporary files left behind: %q", tmp)
	}
}

func writeBytes(path string, b []byte) error {
	return Write(path, func(w *bufio.Writer) error {
		_, err := w.Write(b)
		return err
	})
}

func hasContent(t *testing.T, path string, want []byte) {
	t.Helper()
	got, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("%s holds %d bytes, not the %d expected", path, len(got), len(want))
	}
}

func TestWrite(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "run.bin")
	old, good := bytes.Repeat([]byte{1}, 5000), bytes.Repeat([]byte{2}, 3000)
	for _, b := range [][]byte{old, good} {
		if err := writeBytes(path, b); err != nil {
			t.Fatal(err)
		}
	}
	hasContent(t, path, good)
	noTemporary(t, dir)
	if info, err := os.Stat(path); err != nil || info.Mode().Perm() != 0o644 {
		t.Fatalf("mode %v, %v; want 0644", info.Mode(), err)
	}

	t.Run("write fails midway", func(t *testing.T) {
		boom := errors.New("disk full")
		err := Write(path, func(w *bufio.Writer) error {
			w.Write(old[:len(old)/2])
			w.Flush()
			return boom
		})
		if !errors.Is(err, boom) {
			t.Fatalf("error %v", err)
		}
		hasContent(t, path, good)
		noTemporary(t, dir)
	})

	t.Run("temp file cannot be created", func(t *testing.T) {
		// The name is valid, but the temporary name made from it is too
		// long for the file system.
		sub := t.TempDir()
		long := filepath.Join(sub, strings.Repeat("c", 245)+".bin")
		if err := os.WriteFile(long, good, 0o644); err != nil {
			t.Skipf("file system refuses a 249-byte name: %v", err)
		}
		if err := writeBytes(long, old); err == nil {
			t.Skip("file system accepts the long temporary name")
		}
		hasContent(t, long, good)
		noTemporary(t, sub)
	})

	t.Run("read-only folder", func(t *testing.T) {
		ro := t.TempDir()
		p := filepath.Join(ro, "run.bin")
		if err := os.WriteFile(p, good, 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(ro, 0o555); err != nil {
			t.Fatal(err)
		}
		defer os.Chmod(ro, 0o755)
		if f, err := os.CreateTemp(ro, "probe"); err == nil {
			f.Close()
			os.Remove(f.Name())
			t.Skip("the folder stays writable (running as root?)")
		}
		if err := writeBytes(p, old); err == nil {
			t.Fatal("no error")
		}
		hasContent(t, p, good)
		noTemporary(t, ro)
	})
}

// helperWriteEnv, when set, makes TestKilledWhileWriting act as the process
// that is killed: it starts an atomic write to the named file, writes part
// of it, says so on stdout and waits to be killed.
const helperWriteEnv = "CENTERLOSS_TEST_KILLED_WRITER"

// TestKilledWhileWriting kills a process in the middle of an atomic write
// (SIGKILL on Unix): the file it was replacing must be unchanged, and the
// next write must succeed.
func TestKilledWhileWriting(t *testing.T) {
	if path := os.Getenv(helperWriteEnv); path != "" {
		Write(path, func(w *bufio.Writer) error {
			w.Write(bytes.Repeat([]byte{0xAB}, 1<<20))
			w.Flush()
			fmt.Println("writing")
			time.Sleep(time.Hour)
			return nil
		})
		os.Exit(1) // not reached: the parent kills this process
	}
	dir := t.TempDir()
	path := filepath.Join(dir, "run.safetensors")
	good := bytes.Repeat([]byte("checkpoint"), 1000)
	if err := writeBytes(path, good); err != nil {
		t.Fatal(err)
	}

	cmd := exec.Command(os.Args[0], "-test.run=^TestKilledWhileWriting$")
	cmd.Env = append(os.Environ(), helperWriteEnv+"="+path)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	line, err := bufio.NewReader(out).ReadString('\n')
	if line != "writing\n" {
		cmd.Process.Kill()
		cmd.Wait()
		t.Fatalf("helper said %q (%v) instead of starting to write", line, err)
	}
	if err := cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	cmd.Wait()

	tmp, _ := filepath.Glob(filepath.Join(dir, ".run.safetensors.tmp*"))
	if len(tmp) != 1 {
		t.Fatalf("want the killed write's temporary file, found %q", tmp)
	}
	if fi, err := os.Stat(tmp[0]); err != nil || fi.Size() != 1<<20 {
		t.Fatalf("temporary file %v, %v: the write was not under way", fi, err)
	}
	hasContent(t, path, good)

	next := bytes.Repeat([]byte("next"), 100)
	if err := writeBytes(path, next); err != nil {
		t.Fatalf("write after the kill: %v", err)
	}
	hasContent(t, path, next)
}

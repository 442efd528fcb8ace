//go:build unix

package main

import (
	"encoding/csv"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/centerloss-go/centerloss/experiment"
)

// started runs bin with args in the background; the process is killed when
// the test ends. done is closed once it has exited.
func started(t *testing.T, bin string, args ...string) (cmd *exec.Cmd, stdout, stderr *syncBuffer, done chan struct{}) {
	t.Helper()
	cmd = exec.Command(bin, args...)
	stdout, stderr = new(syncBuffer), new(syncBuffer)
	cmd.Stdout, cmd.Stderr = stdout, stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done = make(chan struct{})
	go func() {
		cmd.Wait()
		close(done)
	}()
	t.Cleanup(func() {
		cmd.Process.Kill()
		<-done
	})
	return cmd, stdout, stderr, done
}

// TestKillLeavesLoadableCheckpoint kills the real binary with SIGKILL at
// random moments and checks each time that checkpoint.safetensors is a
// whole checkpoint no older than before; then -resume continues from it to
// the end. (A kill in the middle of a write, which polling here would catch
// only by luck, is atomicfile's TestKilledWhileWriting.)
func TestKillLeavesLoadableCheckpoint(t *testing.T) {
	if testing.Short() {
		t.Skip("trains")
	}
	bin := buildTrain(t)
	out := filepath.Join(t.TempDir(), "run")
	ckpt := filepath.Join(out, experiment.CheckpointFile)
	data := []string{"-train-limit", "128", "-test-limit", "100", "-out", out}
	seed := uint64(time.Now().UnixNano())
	t.Logf("seed %d", seed)
	rng := rand.New(rand.NewPCG(seed, 1))

	epoch := 0
	for round := range 3 {
		args := append([]string{"-batch", "32", "-epochs", "50", "-lr", "0.01", "-lr-steps", "45"}, data...)
		if round > 0 {
			args = append([]string{"-resume", ckpt, "-epochs", "50"}, data...)
		}
		before, _ := os.Stat(ckpt)
		cmd, _, stderr, done := started(t, bin, args...)
		replaced := waitFor(done, 2*time.Minute, 20*time.Millisecond, func() bool {
			fi, err := os.Stat(ckpt)
			return err == nil && (before == nil || !os.SameFile(before, fi))
		})
		if !replaced {
			t.Fatalf("round %d: no checkpoint written; stderr:\n%s", round, stderr)
		}
		time.Sleep(time.Duration(rng.Int64N(int64(3 * time.Second))))
		if err := cmd.Process.Kill(); err != nil {
			t.Fatal(err)
		}
		<-done
		if ws, ok := cmd.ProcessState.Sys().(syscall.WaitStatus); !ok || !ws.Signaled() || ws.Signal() != syscall.SIGKILL {
			t.Fatalf("round %d: the process ended by itself (%v) before it was killed; stderr:\n%s", round, cmd.ProcessState, stderr)
		}

		// loadCheckpoint reads the whole file and checks every tensor's
		// extent, so a torn file fails here.
		e, s := loadCheckpoint(t, ckpt)
		t.Logf("round %d: killed with the checkpoint at epoch %d, step %d", round, e, s)
		if e < max(epoch, 1) || s != e*(128/32) {
			t.Errorf("round %d: checkpoint at epoch %d step %d; the previous one was at epoch %d", round, e, s, epoch)
		}
		epoch = e
	}

	code, stdout, stderr := runBinary(t, bin, append([]string{"-resume", ckpt, "-epochs", strconv.Itoa(epoch + 1)}, data...)...)
	if code != 0 {
		t.Fatalf("resume: exit %d\n%s", code, stderr)
	}
	for _, w := range []string{fmt.Sprintf("resuming from %s at epoch %d", ckpt, epoch), fmt.Sprintf("epoch %d/%d", epoch+1, epoch+1)} {
		if !strings.Contains(stdout, w) {
			t.Errorf("resume output lacks %q:\n%s", w, stdout)
		}
	}
	if e, _ := loadCheckpoint(t, ckpt); e != epoch+1 {
		t.Errorf("after resume the checkpoint is at epoch %d, want %d", e, epoch+1)
	}
	// metrics.csv holds each epoch once, in order, however the runs ended.
	f, err := os.Open(filepath.Join(out, experiment.MetricsFile))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	rows, err := csv.NewReader(f).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != epoch+2 {
		t.Fatalf("metrics.csv has %d rows, want a header and %d epochs", len(rows), epoch+1)
	}
	for i, row := range rows[1:] {
		if row[0] != strconv.Itoa(i+1) {
			t.Errorf("metrics.csv row %d is epoch %s", i+1, row[0])
		}
	}
}

// TestInterruptSavesAndResumes sends SIGINT to the real binary between
// epochs and within an epoch: it must exit with status 130, print a resume
// command that includes the data flags, and leave a checkpoint that loads;
// the printed command then finishes the run.
func TestInterruptSavesAndResumes(t *testing.T) {
	if testing.Short() {
		t.Skip("trains")
	}
	bin := buildTrain(t)
	for _, c := range []struct {
		name  string
		after string        // interrupt once stdout holds this
		delay time.Duration // and this long after
	}{
		{"between epochs", "epoch 1/2", 0},
		{"within an epoch", "training LeNet++", 700 * time.Millisecond},
	} {
		t.Run(c.name, func(t *testing.T) {
			out := filepath.Join(t.TempDir(), "run")
			ckpt := filepath.Join(out, experiment.CheckpointFile)
			cmd, stdout, stderr, done := started(t, bin,
				"-batch", "32", "-epochs", "2", "-train-limit", "128", "-test-limit", "100", "-out", out)
			if !waitFor(done, 2*time.Minute, 20*time.Millisecond, func() bool { return strings.Contains(stdout.String(), c.after) }) {
				t.Fatalf("no %q line; stdout:\n%s\nstderr:\n%s", c.after, stdout, stderr)
			}
			time.Sleep(c.delay)
			if err := cmd.Process.Signal(os.Interrupt); err != nil {
				t.Fatal(err)
			}
			select {
			case <-done:
			case <-time.After(time.Minute):
				t.Fatal("still running a minute after SIGINT")
			}
			if code := cmd.ProcessState.ExitCode(); code != 130 {
				t.Fatalf("exit %d, want 130; stderr:\n%s", code, stderr)
			}
			msg := stderr.String()
			noPanic(t, msg)
			if !strings.Contains(msg, "training interrupted in epoch") || !strings.Contains(msg, "checkpoint saved to "+ckpt) {
				t.Errorf("message %q should say where the checkpoint is", msg)
			}
			const prefix = "resume with: go run ./cmd/train "
			i := strings.Index(msg, prefix)
			if i < 0 {
				t.Fatalf("no resume command in %q", msg)
			}
			line, _, _ := strings.Cut(msg[i+len(prefix):], "\n")
			args := strings.Fields(line)
			for i, a := range args {
				args[i] = strings.Trim(a, "'")
			}
			want := map[string]string{"-resume": ckpt, "-epochs": "2", "-out": out, "-train-limit": "128", "-test-limit": "100"}
			if len(args) != 2*len(want) {
				t.Errorf("resume command %q, want the flags %v", line, want)
			}
			for i := 0; i+1 < len(args); i += 2 {
				if v, ok := want[args[i]]; !ok || v != args[i+1] {
					t.Errorf("resume command %q: %s %s, want %v", line, args[i], args[i+1], want)
				}
			}
			epoch, step := loadCheckpoint(t, ckpt)
			t.Logf("interrupted at epoch %d, step %d", epoch, step)

			code, resumed, errs := runBinary(t, bin, args...)
			if code != 0 {
				t.Fatalf("%v: exit %d\n%s", args, code, errs)
			}
			for _, w := range []string{fmt.Sprintf("resuming from %s at epoch %d, step %d", ckpt, epoch, step), "epoch 2/2"} {
				if !strings.Contains(resumed, w) {
					t.Errorf("resumed run's output lacks %q:\n%s", w, resumed)
				}
			}
			if e, s := loadCheckpoint(t, ckpt); e != 2 || s != 2*128/32 {
				t.Errorf("after resume the checkpoint is at epoch %d step %d, want 2 and %d", e, s, 2*128/32)
			}
		})
	}
}

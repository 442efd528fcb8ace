package train

import (
	"errors"
	"maps"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/centerloss-go/centerloss/checkpoint"
)

// TestParamsDescribeHyper: every field of Hyper but those of how the network
// computes (Precision, Backend, OneDNN) has one entry,
// with names and keys of its own, and a default that reads and writes
// back as written.
func TestParamsDescribeHyper(t *testing.T) {
	var fields []string
	ht := reflect.TypeFor[Hyper]()
	for i := range ht.NumField() {
		if f := ht.Field(i); f.Name != "Precision" && f.Name != "Backend" && f.Name != "OneDNN" {
			fields = append(fields, f.Name)
		}
	}
	var got []string
	names, keys := map[string]bool{}, map[string]bool{}
	for _, p := range Params() {
		got = append(got, p.Field)
		if names[p.Name] || keys[p.Key] || p.Name == "" || p.Key == "" || p.Usage == "" {
			t.Errorf("%s: name %q and key %q must be given and unique, usage %q", p.Field, p.Name, p.Key, p.Usage)
		}
		names[p.Name], keys[p.Key] = true, true
		var h Hyper
		if err := p.Parse(&h, p.Default); err != nil || p.Format(&h) != p.Default {
			t.Errorf("%s: default %q reads back as %q (%v)", p.Field, p.Default, p.Format(&h), err)
		}
		if p.Absent != "" {
			if err := p.Parse(&h, p.Absent); err != nil {
				t.Errorf("%s: absent value %q: %v", p.Field, p.Absent, err)
			}
		}
		f, _ := ht.FieldByName(p.Field)
		if p.IsBool() != (f.Type.Kind() == reflect.Bool) {
			t.Errorf("%s: IsBool %v for a %v", p.Field, p.IsBool(), f.Type)
		}
		if q, ok := ParamOf(p.Field); !ok || q.Name != p.Name {
			t.Errorf("ParamOf(%q) = %v, %v", p.Field, q.Name, ok)
		}
	}
	if !slices.Equal(got, fields) {
		t.Errorf("Params describe %v, want Hyper's %v in order", got, fields)
	}
	if err := DefaultHyper().Validate(); err != nil {
		t.Errorf("the defaults are out of range: %v", err)
	}
}

// TestValidateNamesTheParam: each value out of range is a *HyperError
// naming its hyperparameter.
func TestValidateNamesTheParam(t *testing.T) {
	for _, c := range []struct{ field, value, want string }{
		{"Batch", "1", "batch size 1 must be in [2, 1048576]"},
		{"LR", "0", "learning rate 0 must be a positive number"},
		{"LR", "NaN", "learning rate NaN must be a positive number"},
		{"LRSteps", "4,0", "learning-rate step at epoch 0: epochs count from 1"},
		{"LRGamma", "-1", "learning-rate factor -1 must be a positive number"},
		{"Momentum", "1", "momentum 1 must be in [0, 1)"},
		{"WeightDecay", "+Inf", "weight decay +Inf must be a number at least 0"},
		{"Lambda", "-0.5", "lambda -0.5 must be a number at least 0"},
		{"Alpha", "1.5", "alpha 1.5 must be in [0, 1]"},
		{"Dim", "0", "feature dimension 0 must be at least 1"},
		{"Shift", "9", "shift 9 must be in [0, 8] pixels"},
	} {
		p, ok := ParamOf(c.field)
		if !ok {
			t.Fatalf("no Param for %s", c.field)
		}
		h := DefaultHyper()
		if err := p.Parse(&h, c.value); err != nil {
			t.Fatal(err)
		}
		err := h.Validate()
		var he *HyperError
		if !errors.As(err, &he) || he.Param.Field != c.field || err.Error() != c.want {
			t.Errorf("%s=%s: error %v, want %q naming %s", c.field, c.value, err, c.want, c.field)
		}
	}
}

// TestHyperMetadata: hyperparameters go to checkpoint metadata and back
// exactly, floats that do not print short included; the keys added after
// the first checkpoints are written only when they are not what their
// absence means, so that MNIST checkpoints stay as they were.
func TestHyperMetadata(t *testing.T) {
	third, tenth := 1.0, 0.1
	third /= 3 // at run time: the constants 1.0/3 and 0.1+0.2 are exact
	h := DefaultHyper()
	h.LR, h.LRGamma, h.Lambda, h.Seed, h.LRSteps, h.Shift = 0.0123, third, tenth+0.2, 0xdeadbeefcafef00d, []int{3, 5, 8}, 2
	m := map[string]string{"note": "kept"}
	h.metadata(m)
	if m["lr_gamma"] != "0.3333333333333333" || m["lambda"] != "0.30000000000000004" || m["seed"] != "16045690984503111693" ||
		m["lr_steps"] != "3,5,8" || m["note"] != "kept" {
		t.Errorf("metadata %v", m)
	}
	if _, ok := m["dataset"]; ok {
		t.Error("an MNIST checkpoint names its data set")
	}
	if _, ok := m["flip"]; ok {
		t.Error("a checkpoint without flips has a flip key")
	}
	back, err := hyperOf(m)
	if err != nil || !reflect.DeepEqual(back, h) {
		t.Fatalf("read back %+v (%v), want %+v", back, err, h)
	}

	h.Dataset, h.Flip, h.LRSteps = "fashion", true, nil
	h.metadata(m)
	if m["dataset"] != "fashion" || m["flip"] != "true" || m["lr_steps"] != "" {
		t.Errorf("metadata %v", m)
	}
	if back, err := hyperOf(m); err != nil || !reflect.DeepEqual(back, h) {
		t.Errorf("read back %+v (%v), want %+v", back, err, h)
	}
	h.Dataset, h.Flip = "mnist", false
	h.metadata(m)
	if _, ok := m["dataset"]; ok {
		t.Error("the dataset key outlived the data set")
	}

	// A checkpoint written before shift, dataset and flip existed.
	old := maps.Clone(m)
	delete(old, "shift")
	if back, err := hyperOf(old); err != nil || back.Shift != 0 || back.Dataset != "mnist" || back.Flip {
		t.Errorf("old checkpoint: %+v (%v)", back, err)
	}
	delete(old, "lambda")
	if _, err := hyperOf(old); err == nil || !strings.Contains(err.Error(), `key "lambda" is missing`) {
		t.Errorf("no lambda: %v", err)
	}
}

// TestFilesOfVersion1 reads the hyperparameters of checkpoints written by
// the first version of the format.
func TestFilesOfVersion1(t *testing.T) {
	c, err := checkpoint.ReadFile(filepath.Join("..", "checkpoint", "testdata", "v1_float32.safetensors"))
	if err != nil {
		t.Fatal(err)
	}
	h, err := hyperOf(c.Metadata)
	if err != nil {
		t.Fatal(err)
	}
	third, tenth := 1.0, 0.1
	third /= 3
	want := Hyper{Batch: 2, LR: 0.0123, LRSteps: []int{3, 5, 8}, LRGamma: third, Momentum: 0.9, WeightDecay: 5e-4,
		Lambda: tenth + 0.2, Alpha: 0.5, Dim: 2, Seed: 0xdeadbeefcafef00d, Shift: 2, Dataset: "mnist"}
	if !reflect.DeepEqual(h, want) {
		t.Errorf("read %+v, want %+v", h, want)
	}
}

package train

import (
	"errors"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"

	"github.com/centerloss-go/centerloss/graph"
)

// Hyper are the hyperparameters of a run. Params describes each of them
// but Precision, Backend and OneDNN, which say how the network computes.
type Hyper struct {
	Batch       int     // images per step
	LR          float64 // initial learning rate
	LRSteps     []int   // epochs (1-based) at whose start the rate is multiplied by LRGamma
	LRGamma     float64 // factor of each learning-rate step
	Momentum    float64
	WeightDecay float64
	Lambda      float64 // weight of the center loss; 0 trains with softmax only
	Alpha       float64 // center learning rate of the alpha rule, in [0, 1]
	Dim         int     // deep feature dimension
	Seed        uint64  // weight initialisation, shuffling and shifts
	Shift       int     // largest random translation of a training image, in pixels (0: none)
	Flip        bool    // mirror each training image left to right with probability 1/2, each time it is seen
	// Dataset names the images the run learns: "mnist" ("" too) or
	// "fashion" (package mnist's names). The trainer reads whatever data
	// it is given; package experiment loads this set, and checkpoints keep
	// the name.
	Dataset string
	// Precision of the convolutional trunk ("" or graph.F32, graph.BF16).
	// It says how the network computes, not what it learns, so it is not
	// among Params and not part of a checkpoint: a run may resume in
	// another one.
	Precision graph.Precision
	// Backend computes the convolutional trunk ("" is graph.Auto), with
	// the oneDNN library OneDNN names ("" for the default ones). Like the
	// precision, they are not among Params nor part of a checkpoint.
	Backend graph.Backend
	OneDNN  string
}

// Param describes one hyperparameter once: its field of Hyper, its names
// outside Go, its default, its help text and its check. Flags, checkpoint
// metadata, DefaultHyper and Validate all come from Params.
type Param struct {
	Field string // the field of Hyper, e.g. "LRSteps"
	Name  string // its name on a command line, e.g. "lr-steps" for the flag -lr-steps
	Key   string // its key in checkpoint metadata, e.g. "lr_steps"
	Usage string // one line of help; a word in back quotes names the value, as package flag reads it
	// Default is the value of DefaultHyper, in the text form of Format.
	Default string
	// Absent is the value of a checkpoint without Key (written before the
	// hyperparameter existed); "" when the key is required.
	Absent string
	// omit leaves Key out of a checkpoint whose value is Absent, so that
	// such checkpoints stay as they were before the key existed.
	omit  bool
	field func(*Hyper) any // a pointer to the field
	check func(Hyper) error
}

// maxBatch bounds Hyper.Batch, so that a checkpoint cannot ask for a graph
// that fills the memory.
const maxBatch = 1 << 20

// maxShift bounds Hyper.Shift: a larger translation would leave little of a
// 28×28 digit in the frame.
const maxShift = 8

// params lists the hyperparameters in the order of Hyper.
var params = []Param{
	{Field: "Batch", Name: "batch", Key: "batch", Default: "64", Usage: "images per training step",
		field: func(h *Hyper) any { return &h.Batch },
		check: func(h Hyper) error {
			if h.Batch < 2 || h.Batch > maxBatch {
				// gorgonia takes a one-element label vector for a scalar.
				return fmt.Errorf("batch size %d must be in [2, %d]", h.Batch, maxBatch)
			}
			return nil
		}},
	{Field: "LR", Name: "lr", Key: "lr", Default: "0.02", Usage: "initial learning rate",
		field: func(h *Hyper) any { return &h.LR },
		check: func(h Hyper) error {
			if !(h.LR > 0) || math.IsInf(h.LR, 0) {
				return fmt.Errorf("learning rate %v must be a positive number", h.LR)
			}
			return nil
		}},
	{Field: "LRSteps", Name: "lr-steps", Key: "lr_steps", Default: "4",
		Usage: "comma-separated `epochs` at whose start the learning rate is multiplied by -lr-gamma (empty: constant)",
		field: func(h *Hyper) any { return &h.LRSteps },
		check: func(h Hyper) error {
			for _, e := range h.LRSteps {
				if e < 1 {
					return fmt.Errorf("learning-rate step at epoch %d: epochs count from 1", e)
				}
			}
			return nil
		}},
	{Field: "LRGamma", Name: "lr-gamma", Key: "lr_gamma", Default: "0.1", Usage: "learning-rate factor at each of -lr-steps",
		field: func(h *Hyper) any { return &h.LRGamma },
		check: func(h Hyper) error {
			if !(h.LRGamma > 0) || math.IsInf(h.LRGamma, 0) {
				return fmt.Errorf("learning-rate factor %v must be a positive number", h.LRGamma)
			}
			return nil
		}},
	{Field: "Momentum", Name: "momentum", Key: "momentum", Default: "0.9", Usage: "SGD momentum",
		field: func(h *Hyper) any { return &h.Momentum },
		check: func(h Hyper) error {
			if !(h.Momentum >= 0 && h.Momentum < 1) {
				return fmt.Errorf("momentum %v must be in [0, 1)", h.Momentum)
			}
			return nil
		}},
	{Field: "WeightDecay", Name: "weight-decay", Key: "weight_decay", Default: "0.0005", Usage: "L2 weight decay on conv and linear weights",
		field: func(h *Hyper) any { return &h.WeightDecay },
		check: func(h Hyper) error {
			if !(h.WeightDecay >= 0) || math.IsInf(h.WeightDecay, 0) {
				return fmt.Errorf("weight decay %v must be a number at least 0", h.WeightDecay)
			}
			return nil
		}},
	{Field: "Lambda", Name: "lambda", Key: "lambda", Default: "0.1", Usage: "weight of the center loss (0: softmax only)",
		field: func(h *Hyper) any { return &h.Lambda },
		check: func(h Hyper) error {
			if !(h.Lambda >= 0) || math.IsInf(h.Lambda, 0) {
				return fmt.Errorf("lambda %v must be a number at least 0", h.Lambda)
			}
			return nil
		}},
	{Field: "Alpha", Name: "alpha", Key: "alpha", Default: "0.5", Usage: "center learning rate of the alpha rule, in [0, 1]",
		field: func(h *Hyper) any { return &h.Alpha },
		check: func(h Hyper) error {
			if !(h.Alpha >= 0 && h.Alpha <= 1) {
				return fmt.Errorf("alpha %v must be in [0, 1]", h.Alpha)
			}
			return nil
		}},
	{Field: "Dim", Name: "dim", Key: "dim", Default: "2", Usage: "deep feature dimension",
		field: func(h *Hyper) any { return &h.Dim },
		check: func(h Hyper) error {
			if h.Dim < 1 {
				return fmt.Errorf("feature dimension %d must be at least 1", h.Dim)
			}
			return nil
		}},
	{Field: "Seed", Name: "seed", Key: "seed", Default: "1", Usage: "seed of the weight initialisation, the shuffling and the shifts",
		field: func(h *Hyper) any { return &h.Seed }},
	{Field: "Shift", Name: "shift", Key: "shift", Default: "0", Absent: "0",
		Usage: "shift each training image by up to this many pixels at random, each step (0: no augmentation)",
		field: func(h *Hyper) any { return &h.Shift },
		check: func(h Hyper) error {
			if h.Shift < 0 || h.Shift > maxShift {
				return fmt.Errorf("shift %d must be in [0, %d] pixels", h.Shift, maxShift)
			}
			return nil
		}},
	{Field: "Flip", Name: "flip", Key: "flip", Default: "false", Absent: "false", omit: true,
		Usage: "mirror each training image left to right with probability 1/2, each step (for clothes, not digits)",
		field: func(h *Hyper) any { return &h.Flip }},
	{Field: "Dataset", Name: "dataset", Key: "dataset", Default: "mnist", Absent: "mnist", omit: true,
		Usage: "the images to learn: mnist (handwritten digits) or fashion (Fashion-MNIST, Debian package dataset-fashion-mnist)",
		field: func(h *Hyper) any { return &h.Dataset }},
}

// Params returns the description of every hyperparameter but Precision,
// Backend and OneDNN, in the order of Hyper's fields.
func Params() []Param { return slices.Clone(params) }

// ParamOf returns the description of Hyper's field, and whether there is one.
func ParamOf(field string) (Param, bool) {
	i := slices.IndexFunc(params, func(p Param) bool { return p.Field == field })
	if i < 0 {
		return Param{}, false
	}
	return params[i], true
}

// Value returns a pointer to p's field of h: an *int, *uint64, *float64,
// *bool, *string or *[]int.
func (p Param) Value(h *Hyper) any { return p.field(h) }

// Format returns p's value in h as text: numbers in the shortest form
// that reads back the same, LRSteps comma-separated.
func (p Param) Format(h *Hyper) string {
	switch v := p.field(h).(type) {
	case *int:
		return strconv.Itoa(*v)
	case *uint64:
		return strconv.FormatUint(*v, 10)
	case *float64:
		return strconv.FormatFloat(*v, 'g', -1, 64)
	case *bool:
		return strconv.FormatBool(*v)
	case *string:
		return *v
	case *[]int:
		s := make([]string, len(*v))
		for i, x := range *v {
			s[i] = strconv.Itoa(x)
		}
		return strings.Join(s, ",")
	}
	panic("train: Param " + p.Field + " of an unknown type") // params is fixed: a test covers every entry
}

// Parse sets p's field of h from text in the form of Format. It checks
// only the form: Validate checks the range.
func (p Param) Parse(h *Hyper, s string) error {
	var err error
	switch v := p.field(h).(type) {
	case *int:
		if *v, err = strconv.Atoi(strings.TrimSpace(s)); err != nil {
			return fmt.Errorf("%q is not a whole number", s)
		}
	case *uint64:
		if *v, err = strconv.ParseUint(strings.TrimSpace(s), 10, 64); err != nil {
			return fmt.Errorf("%q is not a whole number at least 0", s)
		}
	case *float64:
		if *v, err = strconv.ParseFloat(strings.TrimSpace(s), 64); err != nil {
			return fmt.Errorf("%q is not a number", s)
		}
	case *bool:
		if *v, err = strconv.ParseBool(strings.TrimSpace(s)); err != nil {
			return fmt.Errorf("%q is not true or false", s)
		}
	case *string:
		*v = s
	case *[]int:
		*v = nil
		if strings.TrimSpace(s) == "" {
			return nil
		}
		for _, f := range strings.Split(s, ",") {
			e, err := strconv.Atoi(strings.TrimSpace(f))
			if err != nil {
				return fmt.Errorf("%q is not a comma-separated list of whole numbers", s)
			}
			*v = append(*v, e)
		}
	}
	return nil
}

// IsBool reports whether p is a switch (Flip), which a command line may
// give without a value.
func (p Param) IsBool() bool {
	_, ok := p.field(&Hyper{}).(*bool)
	return ok
}

// HyperError is a hyperparameter out of range.
type HyperError struct {
	Param Param // the hyperparameter at fault
	Err   error // what is wrong with its value
}

func (e *HyperError) Error() string { return e.Err.Error() }

// Unwrap returns Err.
func (e *HyperError) Unwrap() error { return e.Err }

// DefaultHyper returns the defaults of the trainer (Params' Default),
// which reach 99% test accuracy on MNIST with compact 2-D clusters (see
// README).
func DefaultHyper() Hyper {
	var h Hyper
	for _, p := range params {
		if err := p.Parse(&h, p.Default); err != nil {
			panic("train: default of " + p.Field + ": " + err.Error()) // params is fixed: a test covers every entry
		}
	}
	return h
}

// Validate reports the first hyperparameter out of range as a *HyperError.
func (h Hyper) Validate() error {
	for _, p := range params {
		if p.check == nil {
			continue
		}
		if err := p.check(h); err != nil {
			return &HyperError{Param: p, Err: err}
		}
	}
	return nil
}

// metadata writes the hyperparameters of h into m under their keys.
func (h Hyper) metadata(m map[string]string) {
	for _, p := range params {
		v := p.Format(&h)
		delete(m, p.Key)
		if !(p.omit && (v == p.Absent || v == "")) {
			m[p.Key] = v
		}
	}
}

// hyperOf reads the hyperparameters from checkpoint metadata and checks
// them, with the default precision.
func hyperOf(m map[string]string) (Hyper, error) {
	var h Hyper
	var errs []error
	for _, p := range params {
		v, ok := m[p.Key]
		if !ok {
			if p.Absent == "" {
				errs = append(errs, fmt.Errorf("key %q is missing", p.Key))
				continue
			}
			v = p.Absent
		}
		if err := p.Parse(&h, v); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", p.Key, err))
		}
	}
	if err := errors.Join(errs...); err != nil {
		return h, err
	}
	return h, h.Validate()
}

// LRAt returns the learning rate during epoch (1-based).
func (h Hyper) LRAt(epoch int) float64 {
	lr := h.LR
	for _, e := range h.LRSteps {
		if epoch >= e {
			lr *= h.LRGamma
		}
	}
	return lr
}

//go:build !(linux && amd64)

package onednn

import "errors"

// Library is the loaded oneDNN; it is never loaded on this platform.
type Library struct{}

// Load reports that oneDNN's primitives are only used on linux/amd64.
func Load() (*Library, error) { return nil, errors.New("onednn: only used on linux/amd64") }

// String describes the library.
func (*Library) String() string { return "" }

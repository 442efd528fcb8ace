//go:build !(linux && amd64)

package onednn

import "errors"

// Library is the loaded oneDNN; it is never loaded on this platform.
type Library struct{}

// Options say which oneDNN to open; see the linux/amd64 version.
type Options struct {
	Library string // the file to open; "" for the default ones
}

// Open reports that oneDNN is only used on linux/amd64.
func Open(Options) (*Library, error) { return nil, errors.New("onednn: only used on linux/amd64") }

// Load reports that oneDNN is only used on linux/amd64.
func Load() (*Library, error) { return Open(Options{}) }

// String describes the library.
func (*Library) String() string { return "" }

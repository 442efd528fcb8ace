// Package onednn runs oneDNN's primitives (convolution, max pooling, PReLU
// and reorders) on Go memory. The library, libdnnl.so.2, is opened at run
// time with purego: no cgo, no build tag, and a binary that still starts
// where the library is missing.
//
// # Versions
//
// The 2.x C API is supported (Debian 12 and Ubuntu 22.04-24.04 ship 2.6 and
// 2.7 as libdnnl2; PyTorch 1.13 is built on 2.6). oneDNN 3.x replaced the
// operation descriptors with one primitive-descriptor constructor per kind
// and changed the soname to libdnnl.so.3, so it is reported as unsupported
// here; the callers then fall back to their own kernels.
//
// # Threads
//
// Debian's build runs its primitives on OpenMP (libgomp): each execution
// spreads over OMP_NUM_THREADS threads, one per core the process may run on
// when the variable is unset (libgomp reads it once, when the library is
// loaded; taskset limits it). Every primitive of the process executes on
// one locked OS thread, whatever goroutine asks: OpenMP keeps a team of
// workers per calling thread, and teams on several threads would together
// outnumber the cores and sleep between calls. Each primitive brings its
// own scratchpad (oneDNN's default one is bound to the thread that created
// the primitive). Callers run one primitive at a time and let oneDNN use
// every core, instead of splitting a batch over goroutines of their own.
//
// # Layouts
//
// Memory descriptors may use blocked layouts such as nChw16c (dnnl_aBcd16b:
// channels in blocks of 16 innermost), which the convolution kernels prefer.
// A buffer in such a layout has the size of the plain tensor when the
// channel count is a multiple of the block, so a Go slice of that length
// holds it.
package onednn

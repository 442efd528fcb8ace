// Package onednn runs oneDNN's primitives (convolution, max pooling, PReLU
// and reorders) on Go memory. The library is opened at run time with
// purego: no cgo, no build tag, and a binary that still starts where the
// library is missing.
//
// # Versions
//
// Both C APIs are supported, chosen by the library found at run time: 2.x
// from 2.2 on (libdnnl.so.2: Debian 12 and Ubuntu 22.04; PReLU came in
// 2.2) and 3.x (libdnnl.so.3, or libdnnl.so.3.6 as Debian 13 names it).
// 3.0 replaced the operation descriptors (dnnl_*_desc_init, then
// dnnl_primitive_desc_create) with one dnnl_<kind>_primitive_desc_create
// per primitive, made memory descriptors opaque handles, gave PReLU and
// the convolutions and poolings a destination or dilation argument more,
// and renumbered the permuted and blocked layout tags. One Go description
// of each primitive (op) serves both: the Engine's constructors and Desc,
// Tag and the Arg helpers read the same way on either release. A process
// opens one oneDNN (Open); Options.Library picks it where several are
// installed, else DefaultLibraries gives the order.
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

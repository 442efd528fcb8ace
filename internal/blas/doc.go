// Package blas provides the BLAS used by the trainer: OpenBLAS when the
// shared library is present on the machine, gonum's pure-Go BLAS otherwise.
//
// # Why run-time loading
//
// OpenBLAS is opened at run time with dlopen through
// github.com/ebitengine/purego instead of being linked with cgo behind a
// build tag. That way:
//
//   - a plain `go build`, `go test` or `go run` uses OpenBLAS with no flags,
//     no build tag and no C toolchain or headers (CGO_ENABLED=0 works too);
//   - the same binary still starts and trains on a machine without OpenBLAS,
//     falling back to gonum.org/v1/gonum/blas/gonum, and [Hint] tells the
//     user how to get the faster path;
//   - nothing is needed at link time, so cross-compiling stays trivial.
//
// The routines are reached through OpenBLAS's Fortran entry points
// (sgemm_, dgemm_, sgemv_, ...), whose arguments are all pointers. Every
// argument then travels in an integer register or stack slot, which
// purego.SyscallN passes without reflection (one small allocation a call); the
// row-major layout is obtained with the usual transposition identity
// (C^T = B^T A^T).
//
// # Threads
//
// The trainer parallelises over the images of a batch itself, one goroutine
// per core, so OpenBLAS is switched to one thread when it is loaded
// (openblas_set_num_threads(1)): several goroutines then each run a
// single-threaded product at the same time, instead of OpenBLAS's own threads
// competing with the trainer's for the same cores. [SetThreads] changes this
// for programs that call BLAS from one goroutine only. Calls from several
// goroutines at once are safe.
//
// # Choosing the implementation
//
// [Default] returns the process-wide implementation, chosen once. The
// environment variable CENTERLOSS_BLAS selects it:
//
//	(unset), auto   OpenBLAS if it loads, else gonum
//	gonum           always gonum's pure-Go BLAS
//	/path/lib.so    try this OpenBLAS library first, then the usual names
//
// OpenBLAS's own environment variables apply as usual; in particular
// OPENBLAS_CORETYPE, when set, overrides OpenBLAS's choice of kernels for the
// processor ([Implementation.Name] shows the kernels in use).
//
// [Implementation] satisfies gonum's blas.Float32, blas.Float64,
// blas.Complex64 and blas.Complex128, so it can be given to gorgonia.Use and
// tensor.Use. Only the routines that matter for training (Sgemm, Dgemm,
// Sgemv, Dgemv, Sger, Dger) go to OpenBLAS; the others are gonum's.
package blas

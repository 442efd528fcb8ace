// Package blas provides the BLAS used by the trainer: oneDNN's sgemm for
// single-precision products and OpenBLAS for the rest when the shared
// libraries are present on the machine, gonum's pure-Go BLAS otherwise.
//
// # Why oneDNN for sgemm
//
// Training is nearly all single-precision products (the convolutions).
// oneDNN (libdnnl, the library PyTorch's CPU convolutions use) generates its
// product kernels at run time for the processor it finds, AVX-512 included.
// OpenBLAS picks precompiled kernels, and OPENBLAS_CORETYPE, which some
// machines set to a safe older type such as Haswell, pins them to AVX2: on
// an AVX-512 machine oneDNN's sgemm then runs about twice as fast, and
// still somewhat faster than OpenBLAS's own AVX-512 kernels. oneDNN has no
// double-precision or level-2 routines, so those stay in OpenBLAS (or gonum).
// dnnl_sgemm takes alpha and beta by value in vector registers, which
// purego.SyscallN cannot pass, so it is called through a small assembly
// trampoline (dnnl_amd64.s) on linux/amd64; other platforms use OpenBLAS.
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
//     falling back to gonum.org/v1/gonum/blas/gonum;
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
// The im2col kernels of package graph parallelise over the images of a batch
// themselves, one goroutine per core, so OpenBLAS is switched to one thread when it is loaded
// (openblas_set_num_threads(1)): several goroutines then each run a
// single-threaded product at the same time, instead of OpenBLAS's own threads
// competing with the trainer's for the same cores. [SetThreads] changes this
// for programs that call BLAS from one goroutine only. oneDNN's sgemm comes
// from the library package onednn opened for its primitives, and runs each
// product of the im2col kernels on one thread too (see openFast). Calls
// from several goroutines at once are safe.
//
// # Choosing the implementation
//
// Package graph chooses the implementation of each network from its
// backend: [Gonum], [OpenBLAS], or either with oneDNN's sgemm
// ([Implementation.WithOneDNN]). [Default] is OpenBLAS where it loads and
// gonum otherwise. This package reads no environment variable.
//
// OpenBLAS's own environment variables apply as usual; in particular
// OPENBLAS_CORETYPE, when set, overrides OpenBLAS's choice of kernels for the
// processor ([Implementation.Name] shows the kernels in use). It does not
// affect oneDNN.
//
// [Implementation] satisfies gonum's blas.Float32, blas.Float64,
// blas.Complex64 and blas.Complex128, so it can be given to gorgonia.Use and
// tensor.Use. Only the routines that matter for training (Sgemm, Dgemm,
// Sgemv, Dgemv, Sger, Dger) go to OpenBLAS, and Sgemm to oneDNN when it is
// loaded; the others are gonum's.
package blas

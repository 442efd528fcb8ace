//go:build linux && amd64

#include "textflag.h"
#include "go_asm.h"

// dnnlSgemm<> calls dnnl_sgemm with the System V calling convention, on the
// system stack (it is entered through runtime.cgocall, which passes the
// *sgemmCall in DI). purego.SyscallN cannot make this call: it puts the
// integer arguments in the vector registers too, and dnnl_sgemm takes alpha
// and beta by value in X0 and X1.
GLOBL ·dnnlSgemmABI0(SB), NOPTR|RODATA, $8
DATA ·dnnlSgemmABI0(SB)/8, $dnnlSgemm<>(SB)

// The frame is 64 bytes: five stack arguments, the thread's OpenMP setting
// to restore (0: none), then the saved pointer. With the frame pointer the
// assembler adds, SP stays 16-byte aligned at the call.
TEXT dnnlSgemm<>(SB), NOSPLIT, $64
	MOVQ DI, 56(SP)
	MOVQ $0, 48(SP)

	// When OpenMP runs oneDNN: keep omp_get_max_threads() of this thread,
	// then omp_set_num_threads(1).
	MOVQ sgemmCall_oneThread(DI), R10
	TESTQ R10, R10
	JZ   args
	MOVQ sgemmCall_maxThreads(DI), R10
	CALL R10
	MOVL AX, 48(SP)
	MOVQ 56(SP), R11
	MOVQ sgemmCall_oneThread(R11), R10
	MOVQ $1, DI
	CALL R10

args:
	MOVQ 56(SP), R11

	// Arguments 7 to 11 go on the stack: lda, B, ldb, C, ldc.
	MOVQ sgemmCall_lda(R11), AX
	MOVQ AX, 0(SP)
	MOVQ sgemmCall_b(R11), AX
	MOVQ AX, 8(SP)
	MOVQ sgemmCall_ldb(R11), AX
	MOVQ AX, 16(SP)
	MOVQ sgemmCall_c(R11), AX
	MOVQ AX, 24(SP)
	MOVQ sgemmCall_ldc(R11), AX
	MOVQ AX, 32(SP)

	MOVSS sgemmCall_alpha(R11), X0
	MOVSS sgemmCall_beta(R11), X1
	MOVQ  sgemmCall_ta(R11), DI
	MOVQ  sgemmCall_tb(R11), SI
	MOVQ  sgemmCall_m(R11), DX
	MOVQ  sgemmCall_n(R11), CX
	MOVQ  sgemmCall_k(R11), R8
	MOVQ  sgemmCall_a(R11), R9
	MOVQ  sgemmCall_fn(R11), R10
	CALL  R10

	MOVQ 56(SP), R11
	MOVQ AX, sgemmCall_status(R11)

	// omp_set_num_threads(the kept setting), so that the thread's later
	// parallel regions run as before the product.
	MOVQ 48(SP), DI
	TESTQ DI, DI
	JZ   done
	MOVQ sgemmCall_oneThread(R11), R10
	CALL R10

done:
	RET

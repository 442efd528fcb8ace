#!/usr/bin/env bash
# Compares the Go trainer's step with PyTorch's on the same machine.
#
# Each round runs, back to back,
#   go test ./train -run '^$' -bench 'TrainStep$' -benchtime 20x
# (its images/s metric) and bench/pytorch_step.py (PyTorch, same LeNet++,
# loss and solver, batch 64, one thread per core used), and prints both rates
# and their ratio go/pytorch; the median ratio closes the run. First it prints
# the CPU and what oneDNN dispatches to on each side (DNNL_VERBOSE).
#
# PyTorch runs with OPENBLAS_CORETYPE and OPENBLAS_L2_SIZE unset, as on a
# user's machine (some machines set them to an older CPU type, which slows
# PyTorch's OpenBLAS parts); the Go side keeps the environment as it is.
#
# With -bf16 each round runs our step in bfloat16 (BenchmarkTrainStepBF16)
# against PyTorch in float32 and PyTorch under
# torch.autocast("cpu", dtype=torch.bfloat16), and prints both ratios.
#
# Usage: bench/compare.sh [-n ROUNDS] [-cores N] [-bf16] [-benchtime 20x] [-bench 'TrainStep$'] [-- PYTORCH_ARGS...]
#        bench/compare.sh --parse FILE   # print the images/s of saved go test output ("-" = stdin)
# -cores N pins both sides to the first N cores (taskset) and gives PyTorch
# N threads; by default both use every core.
# Environment: ROUNDS (default 3), BENCHTIME, BENCH, PKG (default ./train),
# PYTHON (default /usr/bin/python3).
# Needs Debian's python3-torch (apt-get install -y python3-torch).
set -euo pipefail

die() { echo "compare.sh: $*" >&2; exit 1; }

# go_images_per_sec reads go test -bench output and prints the images/s
# value of the first benchmark line that reports it, e.g. 456.7 from
#   BenchmarkTrainStep-2   20   123456789 ns/op   456.7 images/s   1234 B/op   12 allocs/op
go_images_per_sec() {
	awk '
		/^Benchmark/ && !found {
			for (i = 3; i <= NF; i++) if ($i == "images/s") { print $(i - 1); found = 1; exit }
		}
		END { if (!found) exit 1 }
	'
}

rounds=${ROUNDS:-3}
benchtime=${BENCHTIME:-20x}
bench=${BENCH:-'TrainStep$'}
bf16=
pkg=${PKG:-./train}
python=${PYTHON:-/usr/bin/python3}
cores=
py_args=()

while [[ $# -gt 0 ]]; do
	case $1 in
	--parse)
		[[ $# -ge 2 ]] || die "--parse needs a file (or - for stdin)"
		if [[ $2 == - ]]; then go_images_per_sec; else go_images_per_sec <"$2"; fi ||
			die "no 'images/s' metric on a Benchmark line"
		exit 0
		;;
	-n | -rounds | --rounds) rounds=${2:?}; shift 2 ;;
	-cores | --cores) cores=${2:?}; shift 2 ;;
	-bf16 | --bf16) bf16=1; bench='TrainStepBF16$'; shift ;;
	-benchtime | --benchtime) benchtime=${2:?}; shift 2 ;;
	-bench | --bench) bench=${2:?}; shift 2 ;;
	-h | --help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
	--) shift; py_args=("$@"); break ;;
	*) die "unknown argument $1 (see --help)" ;;
	esac
done
[[ $rounds =~ ^[1-9][0-9]*$ ]] || die "rounds must be a positive integer, not '$rounds'"
ncpu=$(nproc)
pin=()
threads=$ncpu
if [[ -n $cores ]]; then
	[[ $cores =~ ^[1-9][0-9]*$ && $cores -le $ncpu ]] || die "-cores must be 1 to $ncpu, not '$cores'"
	command -v taskset >/dev/null || die "-cores needs taskset (util-linux)"
	pin=(taskset -c "0-$((cores - 1))")
	threads=$cores
fi

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
cd "$here/.."

command -v go >/dev/null || die "go not found in PATH"
[[ -x $python ]] || die "$python not found; PyTorch is expected from Debian's python3-torch"
"$python" -c 'import torch' 2>/dev/null ||
	die "PyTorch is not importable by $python: install it with 'apt-get install -y python3-torch'"

# Build once up front so that a compile error stops the run early.
gobin=$(mktemp -d)/bench.test
trap 'rm -rf "$(dirname "$gobin")"' EXIT
go test -c -o "$gobin" "$pkg" || die "go test $pkg does not build"
pkgdir=$(go list -f '{{.Dir}}' "$pkg")

run_go() { (cd "$pkgdir" && ${pin[@]+"${pin[@]}"} "$gobin" -test.run '^$' -test.bench "$bench" "$@"); }
run_py() {
	env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE ${pin[@]+"${pin[@]}"} \
		"$python" bench/pytorch_step.py --threads "$threads" ${py_args[@]+"${py_args[@]}"} "$@"
}

# dispatch summarises a verbose log of oneDNN 2.x (DNNL_VERBOSE, lines
# "dnnl_verbose,exec,cpu,...") or 3.x (ONEDNN_VERBOSE, lines
# "onednn_verbose,v1,primitive,exec,cpu,..."): the ISA line and the
# distinct convolution implementations.
dispatch() {
	awk -F, '
		$2 == "v1" { $0 = $1 substr($0, length($1 $2) + 2); sub(/,primitive,/, ",") }
		$2 == "info" && $3 == "cpu" && $4 ~ /^isa:/ { isa = substr($4, 5) }
		$2 == "info" && $3 == "cpu" && $4 ~ /^runtime:/ { rt = substr($4, 9) " " $5 }
		$2 == "exec" && $4 == "convolution" && !seen[$5]++ { impl = impl (impl ? ", " : "") $5 }
		END { printf "%s; %s; convolutions: %s\n", isa ? isa : "no oneDNN", rt, impl ? impl : "none through oneDNN" }
	'
}

echo "CPU: $(lscpu | sed -n 's/^Model name: *//p' | head -1), $ncpu cores${cores:+, using $cores}"
echo "Go oneDNN:      $(DNNL_VERBOSE=1 ONEDNN_VERBOSE=1 run_go -test.benchtime 1x 2>&1 | dispatch)"
echo "PyTorch oneDNN: $(DNNL_VERBOSE=1 run_py --warmup 0 --steps 1 2>/dev/null | dispatch)"
if [[ -n $bf16 ]]; then
	echo "PyTorch autocast oneDNN: $(DNNL_VERBOSE=1 run_py --autocast --warmup 0 --steps 1 2>/dev/null | dispatch)"
fi

ratios=()
bf16_ratios=()
for ((r = 1; r <= rounds; r++)); do
	if ! go_out=$(run_go -test.benchtime "$benchtime" 2>&1); then
		printf '%s\n' "$go_out" >&2
		die "go test -bench $bench failed"
	fi
	go_ips=$(printf '%s\n' "$go_out" | go_images_per_sec) || {
		printf '%s\n' "$go_out" >&2
		die "no 'images/s' metric in the go test output above"
	}

	py_out=$(run_py) || die "pytorch_step.py failed"
	py_ips=$(printf '%s\n' "$py_out" | awk -F': ' '$1 == "pytorch images/s" { print $2 }')
	[[ -n $py_ips ]] || die "no 'pytorch images/s' line in: $py_out"
	py_rss=$(printf '%s\n' "$py_out" | awk -F': ' '$1 == "pytorch peak RSS MB" { print $2 }')

	ratio=$(awk -v g="$go_ips" -v p="$py_ips" 'BEGIN { printf "%.3f", g / p }')
	ratios+=("$ratio")
	if [[ -n $bf16 ]]; then
		auto_out=$(run_py --autocast) || die "pytorch_step.py --autocast failed"
		auto_ips=$(printf '%s\n' "$auto_out" | awk -F': ' '$1 == "pytorch images/s" { print $2 }')
		[[ -n $auto_ips ]] || die "no 'pytorch images/s' line in: $auto_out"
		auto_ratio=$(awk -v g="$go_ips" -v p="$auto_ips" 'BEGIN { printf "%.3f", g / p }')
		bf16_ratios+=("$auto_ratio")
		printf 'round %d/%d: go bf16 %s images/s, pytorch float32 %s, pytorch autocast bf16 %s; go/pytorch %s, go/autocast %s\n' \
			"$r" "$rounds" "$go_ips" "$py_ips" "$auto_ips" "$ratio" "$auto_ratio"
		continue
	fi
	printf 'round %d/%d: go %s images/s, pytorch %s images/s (peak RSS %s MB), go/pytorch %s\n' \
		"$r" "$rounds" "$go_ips" "$py_ips" "${py_rss:-?}" "$ratio"
done

median() {
	printf '%s\n' "$@" | sort -g | awk '
		{ v[NR] = $1 }
		END { if (NR % 2) printf "%.3f", v[(NR + 1) / 2]; else printf "%.3f", (v[NR / 2] + v[NR / 2 + 1]) / 2 }
	'
}
echo "median go/pytorch ratio over $rounds rounds: $(median "${ratios[@]}")"
if [[ -n $bf16 ]]; then
	echo "median go/autocast ratio over $rounds rounds: $(median "${bf16_ratios[@]}")"
fi

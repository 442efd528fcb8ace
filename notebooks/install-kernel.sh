#!/usr/bin/env bash
# install-kernel.sh builds the Go kernel gophernotes for this checkout and
# installs it as the Jupyter kernelspec "gophernotes", the one the notebooks
# ask for. See notebooks/README.md.
#
# Why not `go install github.com/gopherdata/gophernotes@latest`: the newest
# release (v0.7.5) dies at start-up on current Go, and the kernel can load the
# notebooks' package only if every module the two share is linked at the same
# version. So this script builds gophernotes at a known commit with a newer
# gomacro, patched so that skipping a generic function of the standard
# library prints no warning into a notebook, requires this module in the
# build so that the shared modules are raised to this module's versions,
# checks that they match, runs one cell in the new kernel, and only then
# installs the binary and a kernelspec with the environment the kernel needs.
#
# Exit status: 0 installed and checked, 1 a step failed, 2 bad usage or a
# missing prerequisite.
set -euo pipefail

# The commits known to work: gophernotes "all: update github.com/cosmos72/gomacro"
# (November 2023) and gomacro's newest (May 2024), which handles Go 1.26.
readonly GOPHERNOTES=github.com/gopherdata/gophernotes
readonly GOPHERNOTES_COMMIT=55142043d19696ba037e3e93f9ec6c7f8436e82d
readonly GOMACRO=github.com/cosmos72/gomacro
readonly GOMACRO_VERSION=v0.0.0-20240506194242-2ff796e3da10
readonly MODULE=github.com/centerloss-go/centerloss
readonly KERNEL_NAME=gophernotes

usage() {
	cat <<EOF
Usage: notebooks/install-kernel.sh [options]

Builds gophernotes for this checkout and installs the Jupyter kernel
"$KERNEL_NAME". Run it again after changing go.mod.

Options:
  --gophernotes DIR  build from this gophernotes source folder (a clone of
                     https://$GOPHERNOTES, commit ${GOPHERNOTES_COMMIT:0:7} or later)
                     instead of fetching it through the Go module proxy
  --gomacro DIR      likewise for gomacro (a clone of https://$GOMACRO)
  --offline          the kernel builds the notebooks' package from the Go
                     module cache only (for machines without the public
                     module proxy; run 'go mod download all' here first)
  --no-check         skip the final check that runs one cell in the kernel
  -h, --help         this text

Needs Go (the version go.mod names) and Jupyter ('jupyter kernelspec').
EOF
}

die() { # status, message...
	local status=$1
	shift
	echo "install-kernel: $*" >&2
	exit "$status"
}

gophernotes_dir="" gomacro_dir="" offline=0 check=1
while [[ $# -gt 0 ]]; do
	case $1 in
	--gophernotes | --gomacro)
		[[ $# -ge 2 ]] || die 2 "$1 needs a folder"
		[[ -d $2 ]] || die 2 "$1 $2: no such folder"
		dir=$(cd "$2" && pwd)
		if [[ $1 == --gophernotes ]]; then gophernotes_dir=$dir; else gomacro_dir=$dir; fi
		shift 2
		;;
	--offline) offline=1 && shift ;;
	--no-check) check=0 && shift ;;
	-h | --help) usage && exit 0 ;;
	*) usage >&2 && die 2 "unknown argument $1" ;;
	esac
done

# module_of prints the module path a go.mod declares.
module_of() { sed -n 's/^module[[:space:]]*\([^[:space:]]*\).*/\1/p' "$1/go.mod" 2>/dev/null | head -n 1; }

for pair in "$gophernotes_dir:$GOPHERNOTES:--gophernotes" "$gomacro_dir:$GOMACRO:--gomacro"; do
	IFS=: read -r dir want flag <<<"$pair"
	if [[ -n $dir && $(module_of "$dir") != "$want" ]]; then
		die 2 "$flag $dir: not a source folder of $want (its go.mod does not declare that module)"
	fi
done

command -v go >/dev/null || die 2 "no 'go' command on PATH; install Go (https://go.dev/dl/) first"
command -v jupyter >/dev/null || die 2 "no 'jupyter' command on PATH; install Jupyter first (pip install notebook, or apt-get install jupyter-notebook)"
jupyter kernelspec list >/dev/null 2>&1 || die 2 "'jupyter kernelspec' does not run; install jupyter_client (pip install jupyter_client, or apt-get install jupyter-client)"

checkout=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
[[ $(module_of "$checkout") == "$MODULE" ]] || die 1 "$checkout is not a checkout of $MODULE"

build=$(mktemp -d)
trap 'rm -rf "$build"' EXIT

# source_into copies the source of module $1 at commit $2 (version $3) into
# the folder $4: from the folder $5 if one was given with the flag $6, else
# through the Go module proxy.
source_into() {
	local module=$1 commit=$2 version=$3 dest=$4 dir=$5 flag=$6 info
	echo "install-kernel: $module source"
	if [[ -z $dir ]]; then
		info=$(cd "$build" && go mod download -json "$module@$version") ||
			die 1 "could not download $module at ${commit:0:7} through the module proxy ($(go env GOPROXY)):
$(sed -n 's/^[[:space:]]*"Error": "\(.*\)",\{0,1\}$/\1/p' <<<"$info" | sed 's/\\n\\t/ /g')
Clone it (git clone https://$module; git -C ${module##*/} checkout ${commit:0:7}) and pass $flag DIR."
		dir=$(sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p' <<<"$info")
		[[ -n $dir ]] || die 1 "go mod download gave no folder for $module"
	fi
	cp -R "$dir/." "$dest"
	rm -rf "$dest/.git"
	chmod -R u+w "$dest" # the module cache is read-only
}

# patch_gomacro makes gomacro's type converter skip a generic function
# without a word. gomacro cannot import generic functions; its converter
# tries, fails and prints a warning on the kernel's standard output, which
# is the output of the cell running at the time: every notebook's import of
# lab makes gomacro read the standard package iter, and its first cell showed
# two warnings about iter.Pull and iter.Pull2.
patch_gomacro() {
	local file=$1/go/types/converter.go
	[[ $(grep -c '^	case \*types\.Func:$' "$file") == 1 ]] ||
		die 1 "${gomacro_dir:-$GOMACRO@$GOMACRO_VERSION}: go/types/converter.go is not the one this script patches (no single 'case *types.Func:' in it); use gomacro at ${GOMACRO_VERSION##*-}"
	awk '{ print } /^\tcase \*types\.Func:$/ {
		print "\t\tif g.Type().(*types.Signature).TypeParams().Len() > 0 {"
		print "\t\t\treturn nil // generic: not importable, skipped without a warning"
		print "\t\t}"
	}' "$file" >"$file.new" && mv "$file.new" "$file"
}

source_into "$GOPHERNOTES" "$GOPHERNOTES_COMMIT" "$GOPHERNOTES_COMMIT" "$build/src" "$gophernotes_dir" --gophernotes
source_into "$GOMACRO" "${GOMACRO_VERSION##*-}" "$GOMACRO_VERSION" "$build/gomacro" "$gomacro_dir" --gomacro
patch_gomacro "$build/gomacro"

cd "$build/src"
go mod edit -replace="$GOMACRO=$build/gomacro"
# Requiring this module (never imported) puts its requirements in the build's
# module graph, so every module both use is built at the higher of the two
# versions, which is this module's unless gophernotes needs a newer one.
go mod edit -require="$MODULE@v0.0.0-00010101000000-000000000000" -replace="$MODULE=$checkout"

echo "install-kernel: building gophernotes"
built=$build/gophernotes
GOFLAGS=-mod=mod go build -o "$built" . || die 1 "building gophernotes failed (see above)"

# The plugin that the kernel builds for ./lab links this module's versions;
# a shared package at another version makes the plugin fail to load.
echo "install-kernel: checking the versions shared with $MODULE/notebooks/lab"
declare -A kernel_version
while read -r kind path version _; do
	[[ $kind == dep ]] && kernel_version[$path]=$version
done < <(go version -m "$built")
mismatch=""
while read -r path version; do
	if [[ -n ${kernel_version[$path]:-} && ${kernel_version[$path]} != "$version" ]]; then
		mismatch+=" $path (kernel ${kernel_version[$path]}, notebooks $version)"
	fi
done < <(cd "$checkout" && go list -deps -f '{{with .Module}}{{if not .Main}}{{.Path}} {{.Version}}{{end}}{{end}}' ./notebooks/lab | sort -u)
[[ -z $mismatch ]] || die 1 "the kernel and the notebooks' package link different versions of:$mismatch; raise them in $checkout/go.mod"

# write_spec writes the kernelspec for the gophernotes binary $1 into the
# folder $2.
write_spec() {
	mkdir -p "$2"
	cp kernel/logo-32x32.png kernel/logo-64x64.png "$2/"
	# GODEBUG: gomacro does not know the types.Alias nodes that go/types makes
	# by default since Go 1.23, and panics at start-up without this.
	local env_json='"GODEBUG": "gotypesalias=0"'
	if [[ $offline == 1 ]]; then
		env_json+=", \"GOPROXY\": \"file://$(go env GOMODCACHE)/cache/download\", \"GOFLAGS\": \"-mod=mod\", \"GOSUMDB\": \"off\""
	fi
	cat >"$2/kernel.json" <<EOF
{
  "argv": ["$1", "{connection_file}"],
  "display_name": "Go",
  "language": "go",
  "env": {$env_json}
}
EOF
}

# The new kernel runs one cell before it replaces anything installed: from
# the build folder, under a Jupyter path searched before the user's.
if [[ $check == 1 ]]; then
	if jupyter nbconvert --version >/dev/null 2>&1; then
		echo "install-kernel: checking that the kernel starts and runs a cell"
		write_spec "$built" "$build/jupyter/kernels/$KERNEL_NAME"
		cat >"$build/check.ipynb" <<EOF
{"cells": [{"cell_type": "code", "execution_count": null, "id": "check", "metadata": {}, "outputs": [],
  "source": ["import \"strings\"\n", "strings.Repeat(\"go\", 3)"]}],
 "metadata": {"kernelspec": {"display_name": "Go", "language": "go", "name": "$KERNEL_NAME"}},
 "nbformat": 4, "nbformat_minor": 5}
EOF
		if ! JUPYTER_PATH="$build/jupyter${JUPYTER_PATH:+:$JUPYTER_PATH}" jupyter nbconvert --to notebook --execute \
			--ExecutePreprocessor.timeout=300 --output-dir "$build" --output checked "$build/check.ipynb" >"$build/check.log" 2>&1 ||
			! grep -q gogogo "$build/checked.ipynb"; then
			cat "$build/check.log" >&2
			die 1 "the new kernel did not run a cell (log above); nothing was installed"
		fi
	else
		echo "install-kernel: no jupyter nbconvert, so the kernel is installed without starting it once"
	fi
fi

bindir=$(go env GOBIN)
[[ -n $bindir ]] || bindir=$(go env GOPATH)/bin
mkdir -p "$bindir"
binary=$bindir/gophernotes
# Copy, then rename: a kernel running the old binary is not disturbed.
{ cp "$built" "$binary.tmp" && mv -f "$binary.tmp" "$binary"; } || die 1 "could not install $binary"
write_spec "$binary" "$build/kernelspec"
jupyter kernelspec install --user --replace --name "$KERNEL_NAME" "$build/kernelspec" >/dev/null 2>"$build/install.log" ||
	{ cat "$build/install.log" >&2; die 1 "jupyter kernelspec install failed (log above)"; }
echo "install-kernel: installed $binary and the kernel \"$KERNEL_NAME\" in $(jupyter kernelspec list 2>/dev/null | awk -v k="$KERNEL_NAME" '$1 == k {print $2}')"

cat <<EOF
install-kernel: done. Run the notebooks in it:
  cd $checkout/notebooks && jupyter notebook
or check all three from the command line (a few minutes):
  cd $checkout && go test ./notebooks -run TestKernel -v
EOF

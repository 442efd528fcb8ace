// Package install says what a system needs for the trainer's fast path,
// and reads the backend the commands are asked for. It reads no file and
// no environment variable itself: the commands hand it the contents of
// /etc/os-release and the variables' values.
package install

import (
	"bufio"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/centerloss-go/centerloss/graph"
)

// Environment variables the commands read.
const (
	// BLASVar names the backend when -backend is not given (its old
	// name is kept: it chose the BLAS before there were backends).
	BLASVar = "CENTERLOSS_BLAS"
	// OneDNNVar names the oneDNN library to open, a soname or a path.
	OneDNNVar = "CENTERLOSS_ONEDNN"
)

// Backend reads the backend from the -backend flag when it was given,
// else from the value of BLASVar, and returns it with the source to name
// in messages ("-backend onednn", "CENTERLOSS_BLAS=gonum").
func Backend(flag string, given bool, env string) (graph.Backend, string, error) {
	src, s := "-backend "+flag, flag
	if !given && strings.TrimSpace(env) != "" {
		src, s = BLASVar+"="+env, env
	}
	b, err := graph.ParseBackend(s)
	if err != nil {
		return "", src, fmt.Errorf("%s: %w", src, err)
	}
	return b, src, nil
}

// OSRelease is what Advice reads from /etc/os-release.
type OSRelease struct {
	ID, VersionID, PrettyName string
	IDLike                    []string
}

// ParseOSRelease reads the KEY=value lines of an os-release file.
func ParseOSRelease(text string) OSRelease {
	var r OSRelease
	sc := bufio.NewScanner(strings.NewReader(text))
	for sc.Scan() {
		k, v, ok := strings.Cut(strings.TrimSpace(sc.Text()), "=")
		if !ok {
			continue
		}
		if u, err := strconv.Unquote(v); err == nil {
			v = u
		} else {
			v = strings.Trim(v, `"'`)
		}
		switch k {
		case "ID":
			r.ID = strings.ToLower(v)
		case "ID_LIKE":
			r.IDLike = strings.Fields(strings.ToLower(v))
		case "VERSION_ID":
			r.VersionID = v
		case "PRETTY_NAME":
			r.PrettyName = v
		}
	}
	return r
}

// is reports whether the system is id or like it (ID_LIKE).
func (r OSRelease) is(id string) bool { return r.ID == id || slices.Contains(r.IDLike, id) }

// version reads VERSION_ID as major and minor numbers (24.04 is 24, 4);
// 0, 0 when it has none (a testing or rolling release).
func (r OSRelease) version() (major, minor int) {
	a, b, _ := strings.Cut(r.VersionID, ".")
	major, _ = strconv.Atoi(a)
	minor, _ = strconv.Atoi(b)
	return major, minor
}

// Advice says, in one line, what to install for the fast path on the
// system whose /etc/os-release holds osRelease ("" where there is none),
// running goos/goarch. oneDNN's primitives run on linux/amd64 only; other
// systems get OpenBLAS.
func Advice(osRelease, goos, goarch string) string {
	const more = " (README, \"Install\", lists every system and what it gains)"
	if goos == "darwin" {
		return "For the fast path on macOS, install OpenBLAS with Homebrew: brew install openblas" + more
	}
	if goos != "linux" {
		return fmt.Sprintf("The fast path (oneDNN's primitives) runs on linux/amd64 only; on %s/%s the trainer uses OpenBLAS where it finds one%s", goos, goarch, more)
	}
	r := ParseOSRelease(osRelease)
	name := r.PrettyName
	if name == "" {
		name = "this system"
	}
	cmd := command(r, goarch == "amd64")
	if goarch != "amd64" {
		return fmt.Sprintf("oneDNN's primitives run on amd64 only; on %s (%s) install OpenBLAS: %s%s", name, goarch, cmd, more)
	}
	return fmt.Sprintf("For the fast path on %s: %s%s", name, cmd, more)
}

// command is the install command for OpenBLAS and, with oneDNN set, the
// oneDNN package of the release (2.2 or later, or 3.x).
func command(r OSRelease, oneDNN bool) string {
	major, minor := r.version()
	switch {
	case r.ID == "debian" || r.ID == "ubuntu":
		dnnl := debianDNNL(r.ID, major, minor)
		if !oneDNN {
			return "apt-get install libopenblas0"
		}
		if dnnl == "" {
			return "apt-get install libopenblas0; this release's oneDNN is older than 2.2, so build oneDNN 3.x from source (README, \"Install\")"
		}
		return "apt-get install " + dnnl + " libopenblas0"
	case r.is("fedora") || r.is("rhel"):
		if oneDNN {
			return "dnf install onednn openblas"
		}
		return "dnf install openblas"
	case r.is("arch"):
		if oneDNN {
			return "pacman -S onednn openblas"
		}
		return "pacman -S openblas"
	case r.is("debian") || r.is("ubuntu"):
		if oneDNN {
			return "apt-get install libopenblas0 and the release's oneDNN package (libdnnl2, libdnnl3 or libdnnl3.6)"
		}
		return "apt-get install libopenblas0"
	}
	if oneDNN {
		return "install oneDNN (2.2 or later, or 3.x) and OpenBLAS with the system's package manager, or build oneDNN from source (README, \"Install\")"
	}
	return "install OpenBLAS with the system's package manager"
}

// debianDNNL names the oneDNN package of a Debian or Ubuntu release, ""
// where it is older than 2.2. A release without a number (Debian testing
// or unstable) is taken to be current.
func debianDNNL(id string, major, minor int) string {
	v := major*100 + minor
	switch {
	case id == "debian" && major == 0, id == "debian" && major >= 13:
		return "libdnnl3.6" // Debian 13 ships oneDNN 3.7 as libdnnl.so.3.6
	case id == "debian" && major == 12:
		return "libdnnl2" // 2.6
	case id == "ubuntu" && v >= 2510, id == "ubuntu" && major == 0:
		return "libdnnl3.6"
	case id == "ubuntu" && v >= 2404:
		return "libdnnl3" // 3.1
	case id == "ubuntu" && v >= 2204:
		return "libdnnl2" // 2.2
	}
	return ""
}

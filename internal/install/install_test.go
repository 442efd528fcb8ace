package install

import (
	"fmt"
	"strings"
	"testing"

	"github.com/centerloss-go/centerloss/graph"
)

// Samples of /etc/os-release, as the releases ship them (shortened).
const (
	debian12 = `PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"
NAME="Debian GNU/Linux"
VERSION_ID="12"
VERSION_CODENAME=bookworm
ID=debian`
	debian13 = `PRETTY_NAME="Debian GNU/Linux 13 (trixie)"
VERSION_ID="13"
ID=debian`
	debianSid = `PRETTY_NAME="Debian GNU/Linux trixie/sid"
ID=debian`
	debian11 = `PRETTY_NAME="Debian GNU/Linux 11 (bullseye)"
VERSION_ID="11"
ID=debian`
	ubuntu2204 = `PRETTY_NAME="Ubuntu 22.04.4 LTS"
NAME="Ubuntu"
VERSION_ID="22.04"
ID=ubuntu
ID_LIKE=debian`
	ubuntu2404 = `PRETTY_NAME="Ubuntu 24.04.1 LTS"
VERSION_ID="24.04"
ID=ubuntu
ID_LIKE=debian`
	ubuntu2510 = `PRETTY_NAME="Ubuntu 25.10"
VERSION_ID="25.10"
ID=ubuntu
ID_LIKE=debian`
	mint = `PRETTY_NAME="Linux Mint 22"
VERSION_ID="22"
ID=linuxmint
ID_LIKE="ubuntu debian"`
	fedora = `NAME="Fedora Linux"
VERSION_ID=42
ID=fedora
PRETTY_NAME="Fedora Linux 42 (Workstation Edition)"`
	rocky = `NAME="Rocky Linux"
ID="rocky"
ID_LIKE="rhel centos fedora"
VERSION_ID="9.4"
PRETTY_NAME="Rocky Linux 9.4 (Blue Onyx)"`
	arch = `NAME="Arch Linux"
PRETTY_NAME="Arch Linux"
ID=arch
BUILD_ID=rolling`
	manjaro = `NAME="Manjaro Linux"
ID=manjaro
ID_LIKE=arch
PRETTY_NAME="Manjaro Linux"`
	alpine = `NAME="Alpine Linux"
ID=alpine
VERSION_ID=3.20.0
PRETTY_NAME="Alpine Linux v3.20"`
)

func TestParseOSRelease(t *testing.T) {
	r := ParseOSRelease(mint + "\n# a comment\nNOT A PAIR\n")
	if r.ID != "linuxmint" || r.VersionID != "22" || r.PrettyName != "Linux Mint 22" ||
		len(r.IDLike) != 2 || r.IDLike[0] != "ubuntu" || r.IDLike[1] != "debian" {
		t.Errorf("ParseOSRelease(mint) = %+v", r)
	}
	if r := ParseOSRelease(fedora); r.VersionID != "42" || r.ID != "fedora" {
		t.Errorf("unquoted values: %+v", r)
	}
}

// TestAdvice: each family of systems gets its own install command, and
// Debian and Ubuntu the oneDNN package their release ships.
func TestAdvice(t *testing.T) {
	for _, c := range []struct {
		name, osRelease, goos, goarch string
		want                          []string
		not                           []string
	}{
		{"debian 12", debian12, "linux", "amd64", []string{"Debian GNU/Linux 12 (bookworm)", "apt-get install libdnnl2 libopenblas0"}, nil},
		{"debian 13", debian13, "linux", "amd64", []string{"apt-get install libdnnl3.6 libopenblas0"}, nil},
		{"debian sid", debianSid, "linux", "amd64", []string{"apt-get install libdnnl3.6 libopenblas0"}, nil},
		{"debian 11", debian11, "linux", "amd64", []string{"apt-get install libopenblas0", "older than 2.2", "from source"}, []string{"libdnnl2"}},
		{"ubuntu 22.04", ubuntu2204, "linux", "amd64", []string{"apt-get install libdnnl2 libopenblas0"}, nil},
		{"ubuntu 24.04", ubuntu2404, "linux", "amd64", []string{"apt-get install libdnnl3 libopenblas0"}, []string{"libdnnl3.6"}},
		{"ubuntu 25.10", ubuntu2510, "linux", "amd64", []string{"apt-get install libdnnl3.6 libopenblas0"}, nil},
		{"ubuntu 24.04 arm64", ubuntu2404, "linux", "arm64", []string{"amd64 only", "apt-get install libopenblas0"}, []string{"libdnnl"}},
		{"mint", mint, "linux", "amd64", []string{"Linux Mint 22", "libdnnl2, libdnnl3 or libdnnl3.6"}, nil},
		{"fedora", fedora, "linux", "amd64", []string{"dnf install onednn openblas"}, nil},
		{"rocky", rocky, "linux", "amd64", []string{"dnf install onednn openblas"}, nil},
		{"arch", arch, "linux", "amd64", []string{"pacman -S onednn openblas"}, nil},
		{"manjaro", manjaro, "linux", "amd64", []string{"Manjaro Linux", "pacman -S onednn openblas"}, nil},
		{"alpine", alpine, "linux", "amd64", []string{"Alpine Linux v3.20", "system's package manager", "from source"}, nil},
		{"no os-release", "", "linux", "amd64", []string{"this system", "system's package manager"}, nil},
		{"macos", "", "darwin", "arm64", []string{"brew install openblas"}, []string{"onednn"}},
		{"windows", "", "windows", "amd64", []string{"linux/amd64 only", "windows/amd64"}, nil},
	} {
		got := Advice(c.osRelease, c.goos, c.goarch)
		for _, w := range c.want {
			if !strings.Contains(got, w) {
				t.Errorf("%s: %q lacks %q", c.name, got, w)
			}
		}
		for _, n := range c.not {
			if strings.Contains(got, n) {
				t.Errorf("%s: %q names %q", c.name, got, n)
			}
		}
		if !strings.Contains(got, "README") {
			t.Errorf("%s: %q does not point to the README", c.name, got)
		}
	}
}

func TestBackend(t *testing.T) {
	for _, c := range []struct {
		flag     string
		given    bool
		env      string
		want     graph.Backend
		src, err string
	}{
		{"auto", false, "", graph.Auto, "-backend auto", ""},
		{"auto", false, "openblas", graph.OpenBLAS, "CENTERLOSS_BLAS=openblas", ""},
		{"onednn", true, "gonum", graph.OneDNN, "-backend onednn", ""},
		{"auto", false, "pure-go", graph.Gonum, "CENTERLOSS_BLAS=pure-go", ""},
		{"mkl", true, "", "", "-backend mkl", "-backend mkl: backend \"mkl\": want one of"},
		{"auto", false, "/usr/lib/libopenblas.so", "", "CENTERLOSS_BLAS=/usr/lib/libopenblas.so", "CENTERLOSS_BLAS=/usr/lib/libopenblas.so: backend"},
	} {
		b, src, err := Backend(c.flag, c.given, c.env)
		if b != c.want || src != c.src || (err == nil) != (c.err == "") || err != nil && !strings.Contains(err.Error(), c.err) {
			t.Errorf("Backend(%q, %v, %q) = %q, %q, %v; want %q, %q, %q", c.flag, c.given, c.env, b, src, err, c.want, c.src, c.err)
		}
	}
}

func ExampleAdvice() {
	fmt.Println(Advice("ID=debian\nVERSION_ID=\"12\"\nPRETTY_NAME=\"Debian GNU/Linux 12 (bookworm)\"\n", "linux", "amd64"))
	// Output: For the fast path on Debian GNU/Linux 12 (bookworm): apt-get install libdnnl2 libopenblas0 (README, "Install", lists every system and what it gains)
}

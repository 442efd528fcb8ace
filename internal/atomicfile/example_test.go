package atomicfile_test

import (
	"bufio"
	"fmt"
	"log"
	"os"
	"path/filepath"

	"github.com/centerloss-go/centerloss/internal/atomicfile"
)

// A file replaced whole: readers see the old content or the new, and a
// write that fails leaves the old.
func ExampleWrite() {
	dir, err := os.MkdirTemp("", "atomicfile")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "metrics.csv")
	write := func(text string, fail error) error {
		return atomicfile.Write(path, func(w *bufio.Writer) error {
			w.WriteString(text)
			return fail
		})
	}
	if err := write("epoch,loss\n1,0.5\n", nil); err != nil {
		log.Fatal(err)
	}
	fmt.Println(write("epoch,lo", fmt.Errorf("disk full")))
	b, err := os.ReadFile(path)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Print(string(b))
	// Output:
	// disk full
	// epoch,loss
	// 1,0.5
}

package nbrun

import (
	"context"
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// moduleDir is the root of the module holding this package.
func moduleDir(t *testing.T) string {
	t.Helper()
	dir, err := filepath.Abs(filepath.Join("..", "..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	return dir
}

// notebook makes a notebook of code cells (a cell starting with "md:" is a
// Markdown cell), as if it were the file t.ipynb in the notebooks folder.
func notebook(t *testing.T, cells ...string) *Notebook {
	t.Helper()
	var raw []map[string]any
	for _, c := range cells {
		kind := "code"
		if s, ok := strings.CutPrefix(c, "md:"); ok {
			kind, c = "markdown", s
		}
		// Store the source as a list of lines, as Jupyter does.
		lines := strings.SplitAfter(c, "\n")
		raw = append(raw, map[string]any{"cell_type": kind, "source": lines, "metadata": map[string]any{}})
	}
	data, err := json.Marshal(map[string]any{
		"nbformat": 4, "nbformat_minor": 5, "cells": raw,
		"metadata": map[string]any{"kernelspec": map[string]any{"name": "gophernotes", "language": "go"}},
	})
	if err != nil {
		t.Fatal(err)
	}
	nb, err := Parse(data, "t.ipynb", filepath.Join(moduleDir(t), "notebooks"))
	if err != nil {
		t.Fatal(err)
	}
	return nb
}

func ctx(t *testing.T) context.Context {
	c, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	t.Cleanup(cancel)
	return c
}

func TestParse(t *testing.T) {
	nb := notebook(t, "md:# title", "x := 1\nx")
	if len(nb.Cells) != 2 || nb.Metadata.Kernelspec.Name != "gophernotes" || nb.NBFormat != 4 {
		t.Fatalf("parsed %+v", nb)
	}
	if nb.Cells[1].Number != 2 || nb.Cells[1].Source != "x := 1\nx" {
		t.Errorf("cell 2: %+v", nb.Cells[1])
	}
	one, err := Parse([]byte(`{"nbformat":4,"cells":[{"cell_type":"code","source":"a := 1\n"}]}`), "s.ipynb", "/")
	if err != nil || one.Cells[0].Source != "a := 1\n" {
		t.Errorf("a source stored as one string: %+v, %v", one, err)
	}
	for _, bad := range []string{`{"cells": 3}`, `{"cells": [{"cell_type": "code", "source": 7}]}`} {
		if _, err := Parse([]byte(bad), "bad.ipynb", "/"); err == nil || !strings.Contains(err.Error(), "bad.ipynb: not a notebook") {
			t.Errorf("%s: error %v", bad, err)
		}
	}

	// The outputs of an executed notebook, as nbconvert writes them.
	ran, err := Parse([]byte(`{"nbformat":4,"cells":[{"cell_type":"markdown","source":"# x"},
		{"cell_type":"code","source":"f()","outputs":[
			{"output_type":"stream","name":"stdout","text":["line 1\n","line 2\n"]},
			{"output_type":"execute_result","data":{"image/png":"iVBORw0KGgo=\n","text/plain":["PNG 3x2"],
				"application/json":{"a":1}}},
			{"output_type":"error","ename":"ERROR","evalue":"repl.go:1:1: undefined: f","traceback":[]}]}]}`), "ran.ipynb", "/")
	if err != nil {
		t.Fatal(err)
	}
	out := ran.Cells[1].Outputs
	if len(out) != 3 || out[0].Type != "stream" || out[0].Text != "line 1\nline 2\n" ||
		out[1].Type != "execute_result" || out[1].DataText("image/png") != "iVBORw0KGgo=\n" || out[1].DataText("text/plain") != "PNG 3x2" ||
		out[1].DataText("application/json") != "" || out[1].DataText("text/html") != "" ||
		out[2].Type != "error" || out[2].Name != "ERROR" || out[2].Value != "repl.go:1:1: undefined: f" {
		t.Errorf("outputs of cell 2: %+v", out)
	}
	if ran.Cells[0].Outputs != nil {
		t.Errorf("a Markdown cell has outputs %+v", ran.Cells[0].Outputs)
	}
}

func TestImportPath(t *testing.T) {
	mod := moduleDir(t)
	dir := filepath.Join(mod, "notebooks")
	for _, tc := range []struct{ path, want string }{
		{"fmt", "fmt"},
		{"gorgonia.org/tensor", "gorgonia.org/tensor"},
		{"./lab", "example.com/m/notebooks/lab"},
		{"../train", "example.com/m/train"},
		{"..", "example.com/m"},
		{filepath.Join(mod, "notebooks", "lab"), "example.com/m/notebooks/lab"},
	} {
		got, err := importPath(dir, tc.path, mod, "example.com/m")
		if err != nil || got != tc.want {
			t.Errorf("importPath(%q) = %q, %v; want %q", tc.path, got, err, tc.want)
		}
	}
	if _, err := importPath(dir, "../../elsewhere", mod, "example.com/m"); err == nil {
		t.Error("an import outside the module resolved")
	}
}

// TestSemantics runs a notebook and checks what each cell shows.
func TestSemantics(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a program")
	}
	nb := notebook(t,
		"md:# semantics",
		`import "fmt"`,
		"x := 1\nx",                // a trailing value is shown
		"x = x + 1 // assigned\nx", // a variable of an earlier cell
		"import \"strings\"\ndouble := func(v int) int { return 2 * v }\ny := double(x)\ny", // imports, then statements
		"import \"fmt\"\nfmt.Sprint(\"v=\", y)",                                             // imported again; a trailing call with a value
		`fmt.Printf("printed\n")`,                                                           // multiple values, as gophernotes shows them
		"func() {}()",                                                                       // a trailing call without a value
		"type pair struct{ a, b int }\nconst base = 40\npair{base, 2}.a + 2",
		"import (\"bytes\"; \"image\"; \"image/png\")\nvar buf bytes.Buffer\npng.Encode(&buf, image.NewGray(image.Rect(0, 0, 3, 2)))\nbuf.Len()",
		// a value with a SimpleRender method is a picture with its text form, in the middle of a cell or at its end
		"import \"./lab\"\npic := lab.Picture(buf.Bytes())\nDisplay(display.Auto(pic))\npic",
		"Display(display.Markdown(\"| a |\"))\nlen(strings.Repeat(\"ab\", 3))",
	)
	out, err := Run(ctx(t), nb, Options{ModuleDir: moduleDir(t)})
	if err != nil {
		t.Fatal(err)
	}
	want := strings.Join([]string{
		"--- t.ipynb cell #2",
		"--- t.ipynb cell #3", "1",
		"--- t.ipynb cell #4", "2",
		"--- t.ipynb cell #5", "4",
		"--- t.ipynb cell #6", "v=4",
		"--- t.ipynb cell #7", "printed", "8", "<nil>",
		"--- t.ipynb cell #8",
		"--- t.ipynb cell #9", "42",
		"--- t.ipynb cell #10", "75",
		"--- t.ipynb cell #11", `[image/png] 3x2 image, 75 bytes, text "PNG 3x2"`, `[image/png] 3x2 image, 75 bytes, text "PNG 3x2"`,
		"--- t.ipynb cell #12", "[text/markdown] | a |", "6",
	}, "\n") + "\n"
	if string(out) != want {
		t.Errorf("output\n%s\nwant\n%s", out, want)
	}
}

// TestRunFailures checks that a failing cell fails the run and is named.
func TestRunFailures(t *testing.T) {
	if testing.Short() {
		t.Skip("builds programs")
	}
	for _, tc := range []struct {
		name  string
		cells []string
		want  string
	}{
		{"panic", []string{"x := []int{1}", "i := 3\nx[i]"}, "panic in t.ipynb cell #2: runtime error: index out of range"},
		{"not a PNG", []string{"import \"./lab\"\nlab.Picture(\"GIF89a\")"}, "panic in t.ipynb cell #1: display: 6 bytes that are not image/png"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out, err := Run(ctx(t), notebook(t, tc.cells...), Options{ModuleDir: moduleDir(t)})
			if err == nil {
				t.Fatalf("ran without error:\n%s", out)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %q lacks %q", err, tc.want)
			}
		})
	}
}

// TestCheckErrors checks that Check rejects notebooks that gophernotes or
// Go would not run, naming the cell.
func TestCheckErrors(t *testing.T) {
	for _, tc := range []struct {
		name  string
		cells []string
		want  []string
	}{
		{"typo", []string{`import "fmt"`, "x := 1\nfmt.Printn(x)"}, []string{"t.ipynb#2:2:5", "Printn"}},
		{"undefined variable", []string{"total := 1", "1 + totl"}, []string{"t.ipynb#2:1:5", "undefined: totl"}},
		{"syntax", []string{"x := (1 +"}, []string{"t.ipynb#1:"}},
		{"shell command", []string{"$ ls"}, []string{"t.ipynb#1:1:1"}},
		{"unknown package", []string{`import "no/such/pkg"`}, []string{"t.ipynb#1:1:8", "no/such/pkg"}},
		{"var again", []string{"var n = 1", "var n = 2"}, []string{"t.ipynb#2:1:5", "n redeclared"}},
		{":= again", []string{"k := 1\n_ = k", "k := 2"}, []string{"t.ipynb#2:1:3", "no new variables"}},
		{"func declared", []string{"x := 2", "func times(v int) int { return v }"}, []string{"t.ipynb#2:1:6", "func times", "func literal"}},
		{"unused variable", []string{"z := 3"}, []string{"t.ipynb#1:1:1", "declared and not used: z"}},
		{"unused in a block", []string{"for i := 0; i < 2; i++ {\n\tv := i\n}"}, []string{"t.ipynb#1:2:2", "declared and not used: v"}},
		{"unused import", []string{"import (\n\t\"fmt\"\n\t\"os\"\n)\nfmt.Sprint(1)"}, []string{"t.ipynb#1:3:2", `"os" imported and not used`}},
		{"range over int", []string{"s := 0\nfor i := range 3 {\n\ts += i\n}\ns"}, []string{"t.ipynb#1:2:1", "range over an integer"}},
		{"range over func", []string{"f := func(yield func(int) bool) {}\nfor v := range f {\n\t_ = v\n}"}, []string{"t.ipynb#1:2:1", "range over a function"}},
		{"range over a func type", []string{"import \"strings\"\nfor part := range strings.SplitSeq(\"a,b\", \",\") {\n\t_ = part\n}"}, []string{"t.ipynb#1:2:1", "range over a function"}},
		{"display.PNG", []string{"display.PNG(nil)"}, []string{"t.ipynb#1:1:9", "display.PNG undefined"}},
		{"min", []string{"m := min(1, 2)\nm"}, []string{"t.ipynb#1:1:6", "builtin min"}},
		{"clear", []string{"m := map[int]int{}\nclear(m)"}, []string{"t.ipynb#1:2:1", "builtin clear"}},
		{"generic func", []string{"func first[T any](s []T) T { return s[0] }"}, []string{"t.ipynb#1:1:6", "func first"}},
		{"generic type", []string{"type box[T any] struct{ v T }\nbox[int]{1}.v"}, []string{"t.ipynb#1:1:6", "generic type box", "t.ipynb#1:2:1", "box is generic"}},
		{"generic call", []string{`import "reflect"`, "reflect.TypeFor[int]()"}, []string{"t.ipynb#2:1:9", "TypeFor is generic"}},
		{"generic-only package", []string{"import (\n\t\"fmt\"\n\t\"slices\"\n)"}, []string{"t.ipynb#1:3:2", `import "slices"`, "generic functions and types only"}},
		{"import clash", []string{`import r "math/rand"`, `import r "crypto/rand"`, "r.Int()"}, []string{"t.ipynb#2:1:8", "r redeclared"}},
		{"import outside", []string{`import "../../outside"`}, []string{"t.ipynb#1:1:8", "outside the module"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Check(ctx(t), notebook(t, tc.cells...), Options{ModuleDir: moduleDir(t)})
			if err == nil {
				t.Fatal("no error")
			}
			t.Log(err)
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q lacks %q", err, w)
				}
			}
		})
	}
}

// TestCheckProgram looks at the program Check assembles.
func TestCheckProgram(t *testing.T) {
	p, err := Check(ctx(t), notebook(t,
		"import \"fmt\"\nn := 1",
		"n = 2\nfunc() {}()",
		`fmt.Sprint(n)`,
		"import \"./lab\"\nlab.Check(nil)",
	), Options{ModuleDir: moduleDir(t)})
	if err != nil {
		t.Fatal(err)
	}
	src := string(p)
	for _, want := range []string{
		"//line t.ipynb#1:1:8\n\"fmt\"\n",                                               // an import, hoisted, with its position
		"//line t.ipynb#4:1:8\n\"github.com/centerloss-go/centerloss/notebooks/lab\"\n", // a local import, resolved
		"nbCell(1)\n/*line t.ipynb#1:1:13*/\nn := 1\n",                                  // the cell in main, after its import
		"n = 2\nfunc() {}()\n",                                                          // no value: not shown
		"nbShow(/*line t.ipynb#3:1:1*/fmt.Sprint(n))",                                   // a value: shown
		"\nlab.Check(nil)\n",                                                            // no value
	} {
		if !strings.Contains(src, want) {
			t.Errorf("program lacks %q:\n%s", want, src)
		}
	}
}

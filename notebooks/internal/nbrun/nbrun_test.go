package nbrun

import (
	"context"
	"encoding/json"
	"path/filepath"
	"reflect"
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
	if len(nb.Cells) != 2 || nb.CodeCellCount != 1 || nb.KernelName != "gophernotes" || nb.NBFormat != 4 {
		t.Fatalf("parsed %+v", nb)
	}
	if nb.Cells[1].Number != 2 || nb.Cells[1].Source != "x := 1\nx" {
		t.Errorf("cell 2: %+v", nb.Cells[1])
	}
	one, err := Parse([]byte(`{"nbformat":4,"cells":[{"cell_type":"code","source":"a := 1\n"}]}`), "s.ipynb", "/")
	if err != nil || one.Cells[0].Source != "a := 1\n" {
		t.Errorf("a source stored as one string: %+v, %v", one, err)
	}
	if _, err := Parse([]byte(`{"cells": 3}`), "bad.ipynb", "/"); err == nil {
		t.Error("a malformed notebook parsed")
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
	want := []Output{
		{Type: "stream", Text: "line 1\nline 2\n"},
		{Type: "execute_result", Data: map[string]string{"image/png": "iVBORw0KGgo=\n", "text/plain": "PNG 3x2", "application/json": `{"a":1}`}},
		{Type: "error", Name: "ERROR", Value: "repl.go:1:1: undefined: f"},
	}
	if got := ran.Cells[1].Outputs; !reflect.DeepEqual(got, want) {
		t.Errorf("outputs of cell 2:\n%+v\nwant\n%+v", got, want)
	}
	if ran.Cells[0].Outputs != nil {
		t.Errorf("a Markdown cell has outputs %+v", ran.Cells[0].Outputs)
	}
}

func TestSplitCell(t *testing.T) {
	for _, tc := range []struct {
		src  string
		want []string // "d:" or "s:" and the chunk text
	}{
		{"import \"fmt\"", []string{"d:import \"fmt\""}},
		{"x := 1\ny := 2\n", []string{"s:x := 1\ny := 2"}},
		{"import (\n\t\"fmt\"\n)\nfunc f() int {\n\treturn 1\n}\nx := f()\nfmt.Println(x)",
			[]string{"d:import (\n\t\"fmt\"\n)", "d:func f() int {\n\treturn 1\n}", "s:x := f()\nfmt.Println(x)"}},
		{"type T struct{ a int }\nfunc (t T) A() int { return t.a }\nv := T{1}.A(); v",
			[]string{"d:type T struct{ a int }", "d:func (t T) A() int { return t.a }", "s:v := T{1}.A(); v"}},
		{"func() { println(1) }()\nfunc(x int) int { return x }(2)",
			[]string{"s:func() { println(1) }()\nfunc(x int) int { return x }(2)"}},
		{"const c = 3\nvar v = c\n// a comment\nv", []string{"d:const c = 3", "s:var v = c\n// a comment\nv"}},
		{"   \n// only a comment\n", nil},
	} {
		chunks, err := splitCell(tc.src)
		if err != nil {
			t.Errorf("%q: %v", tc.src, err)
			continue
		}
		var got []string
		for _, c := range chunks {
			k := "s:"
			if c.decl {
				k = "d:"
			}
			got = append(got, k+tc.src[c.start:c.end])
		}
		if strings.Join(got, "|") != strings.Join(tc.want, "|") {
			t.Errorf("%q: chunks\n%q\nwant\n%q", tc.src, got, tc.want)
		}
	}
	if _, err := splitCell("x := \"unterminated"); err == nil {
		t.Error("an unterminated string split without error")
	}
}

func TestResolveImport(t *testing.T) {
	mod := moduleDir(t)
	nb := &Notebook{Dir: filepath.Join(mod, "notebooks")}
	for _, tc := range []struct{ path, want string }{
		{"fmt", "fmt"},
		{"gorgonia.org/tensor", "gorgonia.org/tensor"},
		{"./lab", "example.com/m/notebooks/lab"},
		{"../train", "example.com/m/train"},
		{"..", "example.com/m"},
		{filepath.Join(mod, "notebooks", "lab"), "example.com/m/notebooks/lab"},
	} {
		got, err := resolveImport(nb, tc.path, mod, "example.com/m")
		if err != nil || got != tc.want {
			t.Errorf("resolveImport(%q) = %q, %v; want %q", tc.path, got, err, tc.want)
		}
	}
	if _, err := resolveImport(nb, "../../elsewhere", mod, "example.com/m"); err == nil {
		t.Error("an import outside the module resolved")
	}
}

// TestSemantics runs a notebook that uses what gomacro allows and Go does
// not, and checks what each cell shows.
func TestSemantics(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a program")
	}
	nb := notebook(t,
		"md:# semantics",
		`import "fmt"`,
		"x := 1\nx",                       // a trailing value is shown
		"x := x + 1 // declared again\nx", // := of an existing variable assigns it
		"import \"strings\"\nfunc double(v int) int { return 2 * v }\ny := double(x)\ny",
		`import "os"`,                           // unused: allowed
		"import \"fmt\"\nfmt.Sprint(\"v=\", y)", // imported again; a trailing call with a value
		"unused := 3",                           // unused variable: allowed
		`fmt.Printf("printed\n")`,               // multiple values, as gophernotes shows them
		"func() {}()",                           // a trailing call without a value
		"type pair struct{ a, b int }\nfunc (p pair) sum() int { return p.a + p.b }\nconst base = 40\npair{base, 2}.sum()",
		"import (\"bytes\"; \"image\"; \"image/png\")\nvar buf bytes.Buffer\npng.Encode(&buf, image.NewGray(image.Rect(0, 0, 3, 2)))\ndisplay.PNG(buf.Bytes())",
		// a value with a PNG method is shown as a picture, in the middle of a cell or at its end
		"type pic []byte\nfunc (p pic) PNG() []byte { return p }\nfunc (p pic) SimpleRender() map[string]interface{} { return map[string]interface{}{\"image/png\": []byte(p), \"text/plain\": \"a picture\"} }\nimg := pic(buf.Bytes())\nDisplay(display.Auto(img))\nimg",
		// with only a PNG method, gophernotes shows no text
		"type bare []byte\nfunc (p bare) PNG() []byte { return p }\nfunc (p bare) String() string { return \"unused\" }\nbare(buf.Bytes())",
		"Display(display.Markdown(\"| a |\"))\nlen(strings.Repeat(\"ab\", 3))",
		"%cd ..\nwd, err := os.Getwd()\nfmt.Sprint(err == nil && !strings.HasSuffix(wd, \"notebooks\"))",
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
		"--- t.ipynb cell #6",
		"--- t.ipynb cell #7", "v=4",
		"--- t.ipynb cell #8",
		"--- t.ipynb cell #9", "printed", "8", "<nil>",
		"--- t.ipynb cell #10",
		"--- t.ipynb cell #11", "42",
		"--- t.ipynb cell #12", "[image/png] 3x2 image, 75 bytes",
		"--- t.ipynb cell #13", `[image/png] 3x2 image, 75 bytes, text "a picture"`, `[image/png] 3x2 image, 75 bytes, text "a picture"`,
		"--- t.ipynb cell #14", `[image/png] 3x2 image, 75 bytes, text ""`,
		"--- t.ipynb cell #15", "[text/markdown] | a |", "6",
		"--- t.ipynb cell #16", "true",
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
		{"not a PNG", []string{"display.PNG([]byte(\"GIF89a\"))"}, "display: 6 bytes that are not image/png"},
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

// TestCheckErrors checks that Check rejects notebooks that gophernotes
// would not run, or that the runner cannot run, naming the cell.
func TestCheckErrors(t *testing.T) {
	for _, tc := range []struct {
		name  string
		cells []string
		want  []string
	}{
		{"typo", []string{`import "fmt"`, "x := 1\nfmt.Printn(x)"}, []string{"t.ipynb#2:2:5", "Printn"}},
		{"undefined variable", []string{"total := 1", "1 + totl"}, []string{"t.ipynb#2:1:5", "undefined: totl"}},
		{"syntax", []string{"x := (1 +"}, []string{"t.ipynb#1:"}},
		{"unknown package", []string{`import "no/such/pkg"`}, []string{"no/such/pkg"}},
		{"var again", []string{"var n = 1", "var n = 2"}, []string{"t.ipynb#2:1:5", "var declares n again (cell #1 declared it)"}},
		{"func uses a cell variable", []string{"k := 2", "func times(v int) int { return k * v }"},
			[]string{"t.ipynb#2:1:32", "undefined: k", "k is a variable of cell #1", "pass the variable as an argument"}},
		{"unused in a block", []string{"for i := 0; i < 2; i++ {\n\tv := i\n}"}, []string{"t.ipynb#1:2:2", "declared and not used", "gomacro accepts"}},
		{"range over int", []string{"s := 0\nfor i := range 3 {\n\ts += i\n}"}, []string{"t.ipynb#1:2:1", "range over an integer"}},
		{"min", []string{"m := min(1, 2)"}, []string{"t.ipynb#1:1:6", "builtin min"}},
		{"generic func", []string{"func first[T any](s []T) T { return s[0] }"}, []string{"t.ipynb#1:1:1", "generic function first"}},
		{"generic call", []string{`import "reflect"`, "t := reflect.TypeFor[int]()"}, []string{"t.ipynb#2:1:14", "TypeFor is generic"}},
		{"generic-only package", []string{"import (\n\t\"fmt\"\n\t\"slices\"\n)"}, []string{"t.ipynb#1:", `import "slices"`, "generic functions and types only"}},
		{"shell command", []string{"$ ls"}, []string{"t.ipynb#1:1:1", "shell command"}},
		{"unknown magic", []string{"%timeit x := 1"}, []string{"unknown special command"}},
		{"import clash", []string{`import r "math/rand"`, `import r "crypto/rand"`}, []string{"t.ipynb#2:1:1", "r imported again"}},
		{"import outside", []string{`import "../../outside"`}, []string{"outside the module"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Check(ctx(t), notebook(t, tc.cells...), Options{ModuleDir: moduleDir(t)})
			if err == nil {
				t.Fatal("no error")
			}
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
		"import (\"fmt\"; \"os\")\nfunc f() {}\nn := 1",
		"n := 2\nf()",
		`fmt.Sprint(n)`,
		`import "./lab"`,
	), Options{ModuleDir: moduleDir(t)})
	if err != nil {
		t.Fatal(err)
	}
	src := string(p.Source)
	for _, want := range []string{
		"\t_ \"os\"\n", // unused: imported for side effects only
		"\t\"fmt\"\n",  // used
		"\t_ \"github.com/centerloss-go/centerloss/notebooks/lab\"\n", // a local import, resolved
		"//line t.ipynb#1:2:1\nfunc f() {}\n",                         // package level, with its position
		"n =  2\n",                                                    // declared again: assigned
		"\nf()\n",                                                     // no value: not shown
		"nbShow(/*line t.ipynb#3:1:1*/fmt.Sprint(n))",                 // a value: shown
		"\t_ = n\n",                                                   // unused variables are allowed
	} {
		if !strings.Contains(src, want) {
			t.Errorf("program lacks %q:\n%s", want, src)
		}
	}
}

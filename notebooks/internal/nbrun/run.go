package nbrun

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"go/ast"
	"go/importer"
	"go/parser"
	"go/token"
	"go/types"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// Options says where and how a notebook program is built and run.
type Options struct {
	// ModuleDir is the root of the Go module (the folder of its go.mod) the
	// notebooks belong to; the program is built inside it, so that it uses
	// the module's go.mod and go.sum.
	ModuleDir string
	// Env is added to the environment of the program (not of the build).
	Env []string
	// Output, if not nil, receives the program's output as it runs.
	Output io.Writer
	// ImageDir, if not empty, is a folder where the program writes every
	// image it shows with display.PNG or display.JPEG, named after the
	// notebook, the cell and a counter.
	ImageDir string
}

// Program is a notebook assembled and type-checked.
type Program struct {
	Source []byte // the Go program
	a      *assembly
}

// Check assembles nb into a program and type-checks it, fixing what
// gomacro accepts and Go does not (unused imports, trailing calls with or
// without a value). It returns every error in the notebook's cells.
func Check(ctx context.Context, nb *Notebook, opt Options) (*Program, error) {
	modulePath, err := readModulePath(opt.ModuleDir)
	if err != nil {
		return nil, err
	}
	a, err := assemble(nb, opt.ModuleDir, modulePath)
	if err != nil {
		return nil, err
	}
	paths := []string{}
	for _, p := range supportImports {
		paths = append(paths, p[1])
	}
	for _, im := range a.imports {
		paths = append(paths, im.path)
	}
	exports, err := exportData(ctx, opt.ModuleDir, paths)
	if err != nil {
		return nil, err
	}

	// First pass: find the unused imports and which trailing calls have a
	// value.
	src := a.render()
	fset, f, info, errs := typeCheck(src, exports)
	var hard []error
	for _, e := range errs {
		te, ok := e.(types.Error)
		if !ok {
			hard = append(hard, e)
			continue
		}
		pos := fset.PositionFor(te.Pos, false)
		if strings.Contains(te.Msg, "imported and not used") {
			if im := importAt(a, fset, f, pos); im != nil {
				im.blank = true
				continue
			}
		}
		if strings.Contains(te.Msg, "is not used") && isTrailingCall(a, fset.Position(te.Pos)) {
			continue
		}
		hard = append(hard, e)
	}
	if len(hard) > 0 {
		return nil, explain(hard, a.declared)
	}
	for _, cc := range a.cells {
		t := cc.trail
		if t == nil || !t.call {
			continue
		}
		if call := callAt(f, fset, cc.file, t.line, t.col); call != nil {
			tv, ok := info.Types[call]
			t.show = ok && !tv.IsVoid()
		}
	}

	// Second pass: the program as it will run.
	src = a.render()
	fset, f, info, errs = typeCheck(src, exports)
	if len(errs) > 0 {
		return nil, explain(errs, a.declared)
	}
	if err := lintGomacro(fset, f, info, nb.Name+"#"); err != nil {
		return nil, err
	}
	return &Program{Source: src, a: a}, nil
}

// Run checks nb, builds it inside the module and runs it in the notebook's
// folder (where Jupyter starts the kernel). It returns the program's output;
// the error of a failed run holds the end of that output.
func Run(ctx context.Context, nb *Notebook, opt Options) ([]byte, error) {
	p, err := Check(ctx, nb, opt)
	if err != nil {
		return nil, err
	}
	// The program is built in a folder inside the module (so that the
	// module's go.mod applies), next to the notebook when it lies in the
	// module. The leading dot keeps the folder out of ./... patterns.
	parent := opt.ModuleDir
	if rel, err := filepath.Rel(opt.ModuleDir, nb.Dir); err == nil && !strings.HasPrefix(rel, "..") {
		parent = nb.Dir
	}
	dir, err := os.MkdirTemp(parent, ".nbrun-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	mainGo := filepath.Join(dir, "main.go")
	if err := os.WriteFile(mainGo, p.Source, 0o644); err != nil {
		return nil, err
	}
	bin := filepath.Join(dir, "notebook")
	build := exec.CommandContext(ctx, "go", "build", "-o", bin, mainGo)
	build.Dir = opt.ModuleDir
	if out, err := build.CombinedOutput(); err != nil {
		return nil, fmt.Errorf("%s: build: %v\n%s", nb.Name, err, out)
	}
	var out bytes.Buffer
	var w io.Writer = &out
	if opt.Output != nil {
		w = io.MultiWriter(&out, opt.Output)
	}
	cmd := exec.CommandContext(ctx, bin)
	cmd.Dir = nb.Dir
	cmd.Env = append(os.Environ(), opt.Env...)
	if opt.ImageDir != "" {
		abs, err := filepath.Abs(opt.ImageDir)
		if err != nil {
			return nil, err
		}
		cmd.Env = append(cmd.Env, "NBRUN_IMAGE_DIR="+abs)
	}
	cmd.Stdout, cmd.Stderr = w, w
	if err := cmd.Run(); err != nil {
		return out.Bytes(), fmt.Errorf("%s: run: %v\n%s", nb.Name, err, tail(out.Bytes(), 6000))
	}
	return out.Bytes(), nil
}

// tail returns the end of b, at most n bytes.
func tail(b []byte, n int) string {
	if len(b) <= n {
		return string(b)
	}
	return "...\n" + string(b[len(b)-n:])
}

// readModulePath returns the module path declared in dir/go.mod.
func readModulePath(dir string) (string, error) {
	f, err := os.Open(filepath.Join(dir, "go.mod"))
	if err != nil {
		return "", err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if fields := strings.Fields(sc.Text()); len(fields) == 2 && fields[0] == "module" {
			return strings.Trim(fields[1], `"`), nil
		}
	}
	return "", fmt.Errorf("%s/go.mod declares no module", dir)
}

// exportData builds the packages and returns the export data file of each
// of them and of their dependencies, by import path.
func exportData(ctx context.Context, moduleDir string, paths []string) (map[string]string, error) {
	args := append([]string{"list", "-export", "-deps", "-f", "{{.ImportPath}}\t{{.Export}}"}, paths...)
	cmd := exec.CommandContext(ctx, "go", args...)
	cmd.Dir = moduleDir
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("go list: %v\n%s", err, stderr.Bytes())
	}
	m := map[string]string{}
	for _, line := range strings.Split(string(out), "\n") {
		if path, file, ok := strings.Cut(line, "\t"); ok {
			m[path] = file
		}
	}
	return m, nil
}

// typeCheck parses and type-checks a program, returning every error.
func typeCheck(src []byte, exports map[string]string) (*token.FileSet, *ast.File, *types.Info, []error) {
	fset := token.NewFileSet()
	f, err := parser.ParseFile(fset, "main.go", src, parser.SkipObjectResolution)
	if err != nil {
		return fset, nil, nil, []error{err}
	}
	var errs []error
	conf := types.Config{
		Importer: importer.ForCompiler(fset, "gc", func(path string) (io.ReadCloser, error) {
			file := exports[path]
			if file == "" {
				return nil, fmt.Errorf("no export data for %q", path)
			}
			return os.Open(file)
		}),
		Error: func(err error) { errs = append(errs, err) },
	}
	info := &types.Info{
		Types:     map[ast.Expr]types.TypeAndValue{},
		Uses:      map[*ast.Ident]types.Object{},
		Instances: map[*ast.Ident]types.Instance{},
	}
	_, _ = conf.Check("main", fset, []*ast.File{f}, info)
	return fset, f, info, errs
}

// importAt returns the import of the program at raw position pos.
func importAt(a *assembly, fset *token.FileSet, f *ast.File, pos token.Position) *importSpec {
	for _, s := range f.Imports {
		p := fset.PositionFor(s.Pos(), false)
		if p.Line != pos.Line {
			continue
		}
		path := strings.Trim(s.Path.Value, `"`)
		name := ""
		if s.Name != nil {
			name = s.Name.Name
		}
		for _, im := range a.imports {
			if im.path == path && im.name == name && !im.blank {
				return im
			}
		}
	}
	return nil
}

// isTrailingCall reports whether pos (in cell coordinates) is where a
// cell's trailing call starts.
func isTrailingCall(a *assembly, pos token.Position) bool {
	for _, cc := range a.cells {
		if t := cc.trail; t != nil && t.call && pos.Filename == cc.file && pos.Line == t.line && pos.Column == t.col {
			return true
		}
	}
	return false
}

// callAt finds the call expression starting at line:col of the cell file.
func callAt(f *ast.File, fset *token.FileSet, file string, line, col int) *ast.CallExpr {
	var found *ast.CallExpr
	ast.Inspect(f, func(n ast.Node) bool {
		if found != nil {
			return false
		}
		if es, ok := n.(*ast.ExprStmt); ok {
			p := fset.Position(es.X.Pos())
			if p.Filename == file && p.Line == line && p.Column == col {
				if c, ok := ast.Unparen(es.X).(*ast.CallExpr); ok {
					found = c
				}
			}
		}
		return true
	})
	return found
}

// explain joins type errors, adding a hint to those the differences between
// gomacro and Go explain. vars are the top-level variables of the cells.
func explain(errs []error, vars map[string]int) error {
	out := make([]error, len(errs))
	for i, e := range errs {
		msg := e.Error()
		_, name, undefined := strings.Cut(msg, "undefined: ")
		switch {
		case strings.Contains(msg, "declared and not used"):
			msg += " (gomacro accepts unused variables inside blocks, Go does not: use it or remove it)"
		case undefined && vars[strings.TrimSpace(name)] > 0:
			msg += fmt.Sprintf(" (%s is a variable of cell #%d: functions declared in a cell see package-level names only; pass the variable as an argument, or use a func literal)",
				strings.TrimSpace(name), vars[strings.TrimSpace(name)])
		}
		out[i] = errors.New(msg)
	}
	return errors.Join(out...)
}

// lintGomacro rejects, in the code that comes from cells (positions whose
// file starts with prefix), what Go accepts and gomacro does not run: range
// over an integer or a function, the builtins min, max and clear, and
// instances of generic functions or types.
func lintGomacro(fset *token.FileSet, f *ast.File, info *types.Info, prefix string) error {
	var errs []error
	fromCell := func(n ast.Node) (token.Position, bool) {
		p := fset.Position(n.Pos())
		return p, strings.HasPrefix(p.Filename, prefix)
	}
	ast.Inspect(f, func(n ast.Node) bool {
		switch n := n.(type) {
		case *ast.RangeStmt:
			p, ok := fromCell(n)
			if !ok {
				break
			}
			if t := info.TypeOf(n.X); t != nil {
				switch u := t.Underlying().(type) {
				case *types.Basic:
					if u.Info()&types.IsInteger != 0 {
						errs = append(errs, fmt.Errorf("%s: range over an integer: gomacro (gophernotes) does not run it; use a three-clause for loop", p))
					}
				case *types.Signature:
					errs = append(errs, fmt.Errorf("%s: range over a function: gomacro (gophernotes) does not run it", p))
				}
			}
		case *ast.Ident:
			p, ok := fromCell(n)
			if !ok {
				break
			}
			if b, isBuiltin := info.Uses[n].(*types.Builtin); isBuiltin {
				switch b.Name() {
				case "min", "max", "clear":
					errs = append(errs, fmt.Errorf("%s: builtin %s: gomacro (gophernotes) predates it", p, b.Name()))
				}
			}
			if _, generic := info.Instances[n]; generic {
				errs = append(errs, fmt.Errorf("%s: %s is generic: gomacro (gophernotes) cannot instantiate generic functions or types", p, n.Name))
			}
		}
		return true
	})
	return errors.Join(errs...)
}

package nbrun

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"go/ast"
	"go/build"
	"go/importer"
	"go/parser"
	"go/scanner"
	"go/token"
	"go/types"
	"io"
	"os"
	"os/exec"
	pathpkg "path"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
)

// Options says where a notebook program is built and how it runs.
type Options struct {
	// ModuleDir is the root of the Go module (the folder of its go.mod) the
	// notebooks belong to; the program is built inside it, so that it uses
	// the module's go.mod and go.sum.
	ModuleDir string
	// Env is added to the environment of the program (not of the build).
	Env []string
}

// supportFile names, in positions, the code the runner adds.
const supportFile = "nbrun-support"

// genericOnly are the standard packages that export nothing but generic
// functions and types. gomacro builds a plugin for a standard package newer
// than its tables; for these the plugin imports the package without using it
// and does not compile.
var genericOnly = map[string]bool{"cmp": true, "iter": true, "maps": true, "slices": true, "unique": true, "weak": true}

// assemble writes the program of nb: the cells' imports, hoisted and
// de-duplicated, then the support code, then main running the cells in
// order. Every piece of a cell keeps its position through line directives.
func assemble(nb *Notebook, moduleDir, modulePath string) ([]byte, error) {
	var b, cells strings.Builder
	fmt.Fprintf(&b, "// Program assembled from the notebook %s.\n\npackage main\n\nimport (\n", nb.Name)
	seen := map[string]bool{}
	var errs []error
	for _, c := range nb.Cells {
		if c.Type != "code" {
			continue
		}
		file := fmt.Sprintf("%s#%d", nb.Name, c.Number)
		src := strings.ReplaceAll(string(c.Source), "\r\n", "\n")
		head := "package p\n//line " + file + ":1:1\n"
		fset := token.NewFileSet()
		f, err := parser.ParseFile(fset, file, head+src, parser.ImportsOnly)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		at := token.Position{Line: 1, Column: 1, Offset: len(head)} // where the statements start
		if n := len(f.Decls); n > 0 {
			at = fset.Position(f.Decls[n-1].End())
		}
		for _, s := range f.Imports {
			pos := fset.Position(s.Pos())
			path, _ := strconv.Unquote(s.Path.Value)
			if path, err = importPath(nb.Dir, path, moduleDir, modulePath); err != nil {
				errs = append(errs, fmt.Errorf("%s: %w", pos, err))
				continue
			}
			spec := strconv.Quote(path)
			if s.Name != nil {
				spec = s.Name.Name + " " + spec
			}
			if !seen[spec] {
				seen[spec] = true
				fmt.Fprintf(&b, "//line %s:%d:%d\n%s\n", file, pos.Line, pos.Column, spec)
			}
		}
		if err := noFuncDecl(file, src); err != nil {
			errs = append(errs, err)
		}
		fmt.Fprintf(&cells, "//line %s:1:1\nnbCell(%d)\n/*line %s:%d:%d*/%s\n", supportFile, c.Number, file, at.Line, at.Column, (head + src)[at.Offset:])
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	fmt.Fprintf(&b, ")\n\n//line %s:1:1\n%s\nconst nbName = %q\n\nfunc main() {\ndefer nbRecover()\n%s}\n",
		supportFile, supportCode, nb.Name, cells.String())
	return []byte(b.String()), nil
}

// noFuncDecl rejects a function declared in the source of a cell, which the
// program could not put inside main. In gomacro such a function sees the
// variables of the cells; moved to package level it would not.
func noFuncDecl(file, src string) error {
	fset := token.NewFileSet()
	var s scanner.Scanner
	s.Init(fset.AddFile(file, -1, len(src)), []byte(src), nil, 0)
	prev := token.ILLEGAL
	for {
		pos, tok, lit := s.Scan()
		if tok == token.EOF {
			return nil
		}
		if prev == token.FUNC && tok == token.IDENT {
			return fmt.Errorf("%s: func %s: a cell declares no functions, as its code runs inside one; declare it in lab, or assign a func literal (%s := func(...) {...})",
				fset.Position(pos), lit, lit)
		}
		prev = tok
	}
}

// importPath checks an import of a cell and maps a local import path (as
// gomacro takes it: absolute, or relative to the kernel's folder, which is
// the notebook's folder dir) to the import path of that package in the
// module at the absolute moduleDir; other paths are returned unchanged.
func importPath(dir, path, moduleDir, modulePath string) (string, error) {
	if genericOnly[path] {
		return "", fmt.Errorf("import %q: a package of generic functions and types only, which gomacro (gophernotes) cannot import: the plugin it builds for it does not compile", path)
	}
	abs := path
	if build.IsLocalImport(path) {
		abs = filepath.Join(dir, path)
	} else if !filepath.IsAbs(path) {
		return path, nil
	}
	rel, err := filepath.Rel(moduleDir, abs)
	if err != nil || !filepath.IsLocal(rel) {
		return "", fmt.Errorf("import %q: %s is outside the module in %s", path, abs, moduleDir)
	}
	return pathpkg.Join(modulePath, filepath.ToSlash(rel)), nil
}

// Check assembles nb into a Go program and type-checks it. The last
// expression of a cell, if it has a value, is shown as gophernotes shows it.
// Check returns the program, or every error of the notebook's cells,
// including code Go accepts and gomacro does not run.
func Check(ctx context.Context, nb *Notebook, opt Options) ([]byte, error) {
	moduleDir, err := filepath.Abs(opt.ModuleDir)
	if err != nil {
		return nil, err
	}
	modulePath, err := goCmd(ctx, moduleDir, "list", "-m", "-f", "{{.Path}}")
	if err != nil {
		return nil, fmt.Errorf("%s: %w", nb.Name, err)
	}
	src, err := assemble(nb, moduleDir, strings.TrimSpace(string(modulePath)))
	if err != nil {
		return nil, err
	}
	fset := token.NewFileSet()
	f, err := parser.ParseFile(fset, "main.go", src, parser.SkipObjectResolution)
	if err != nil {
		return nil, err
	}
	imports, err := exportImporter(ctx, fset, moduleDir, f.Imports)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", nb.Name, err)
	}
	var errs []error
	conf := types.Config{Importer: imports, Error: func(err error) { errs = append(errs, err) }}
	info := &types.Info{
		Types:     map[ast.Expr]types.TypeAndValue{},
		Uses:      map[*ast.Ident]types.Object{},
		Instances: map[*ast.Ident]types.Instance{},
	}
	_, _ = conf.Check("main", fset, []*ast.File{f}, info)

	// Show the last statement of every cell, a statement of main whose
	// successor lies in another file, if it is an expression with a value
	// (nbCell, in a file of its own, has none).
	body := f.Decls[len(f.Decls)-1].(*ast.FuncDecl).Body
	shown := map[token.Pos]bool{} // the values shown, which Go reports as not used
	var prog bytes.Buffer
	at := 0
	for i, s := range body.List {
		p := fset.Position(s.Pos())
		es, ok := s.(*ast.ExprStmt)
		if !ok || info.Types[es.X].IsVoid() || i+1 < len(body.List) && fset.Position(body.List[i+1].Pos()).Filename == p.Filename {
			continue
		}
		shown[es.X.Pos()] = true
		start, end := fset.PositionFor(es.X.Pos(), false).Offset, fset.PositionFor(es.X.End(), false).Offset
		fmt.Fprintf(&prog, "%snbShow(/*line %s:%d:%d*/%s)", src[at:start], p.Filename, p.Line, p.Column, src[start:end])
		at = end
	}
	prog.Write(src[at:])
	errs = slices.DeleteFunc(errs, func(err error) bool { // a value now shown is used
		te, ok := err.(types.Error)
		return ok && strings.Contains(te.Msg, "is not used") && shown[te.Pos]
	})
	if errs = append(errs, lintGomacro(fset, body, info)...); len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return prog.Bytes(), nil
}

// lintGomacro rejects, in the cells (main's body), what Go accepts and
// gomacro does not run: range over an integer or a function, the builtins
// min, max and clear, generic types, and instances of generic functions or
// types.
func lintGomacro(fset *token.FileSet, body *ast.BlockStmt, info *types.Info) []error {
	var errs []error
	reject := func(n ast.Node, what string) {
		errs = append(errs, fmt.Errorf("%s: %s: gomacro (gophernotes) does not run it", fset.Position(n.Pos()), what))
	}
	ast.Inspect(body, func(n ast.Node) bool {
		switch n := n.(type) {
		case *ast.RangeStmt:
			if t := info.TypeOf(n.X); t != nil { // nil where Go has reported an error
				if b, ok := t.Underlying().(*types.Basic); ok && b.Info()&types.IsInteger != 0 {
					reject(n, "range over an integer (use a three-clause for loop)")
				}
				if _, ok := t.Underlying().(*types.Signature); ok {
					reject(n, "range over a function")
				}
			}
		case *ast.TypeSpec:
			if n.TypeParams != nil {
				reject(n, "generic type "+n.Name.Name)
			}
		case *ast.Ident:
			if b, ok := info.Uses[n].(*types.Builtin); ok && (b.Name() == "min" || b.Name() == "max" || b.Name() == "clear") {
				reject(n, "builtin "+b.Name())
			}
			if _, ok := info.Instances[n]; ok {
				reject(n, n.Name+" is generic")
			}
		}
		return true
	})
	return errs
}

// Run checks nb, builds it inside the module and runs it in the notebook's
// folder (where Jupyter starts the kernel). It returns the program's output;
// the error of a failed run holds the end of that output.
func Run(ctx context.Context, nb *Notebook, opt Options) ([]byte, error) {
	prog, err := Check(ctx, nb, opt)
	if err != nil {
		return nil, err
	}
	// Built inside the module, so that its go.mod applies; the dot keeps the
	// folder out of ./... patterns.
	dir, err := os.MkdirTemp(opt.ModuleDir, ".nbrun-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	mainGo, bin := filepath.Join(dir, "main.go"), filepath.Join(dir, "notebook")
	if err := os.WriteFile(mainGo, prog, 0o644); err != nil {
		return nil, err
	}
	if _, err := goCmd(ctx, opt.ModuleDir, "build", "-o", bin, mainGo); err != nil {
		return nil, fmt.Errorf("%s: %w", nb.Name, err)
	}
	cmd := exec.CommandContext(ctx, bin)
	cmd.Dir = nb.Dir
	cmd.Env = append(os.Environ(), opt.Env...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		return out, fmt.Errorf("%s: run: %v\n%s", nb.Name, err, out[max(0, len(out)-6000):])
	}
	return out, nil
}

// goCmd runs the go command in dir and returns its standard output; its
// error holds what the command printed on its standard error.
func goCmd(ctx context.Context, dir string, args ...string) ([]byte, error) {
	cmd := exec.CommandContext(ctx, "go", args...)
	cmd.Dir = dir
	out, err := cmd.Output()
	if ee, ok := err.(*exec.ExitError); ok {
		return nil, fmt.Errorf("go %s: %v\n%s", args[0], err, ee.Stderr)
	}
	return out, err
}

// exportImporter builds the packages that imports name, and their
// dependencies, and returns an importer that reads their export data. A
// package that cannot be built is reported by the type checker at the
// import that names it.
func exportImporter(ctx context.Context, fset *token.FileSet, moduleDir string, imports []*ast.ImportSpec) (types.Importer, error) {
	args := []string{"list", "-e", "-export", "-deps", "-json=ImportPath,Export,Error"}
	for _, s := range imports {
		path, _ := strconv.Unquote(s.Path.Value)
		args = append(args, path)
	}
	out, err := goCmd(ctx, moduleDir, args...)
	if err != nil {
		return nil, err
	}
	type listed struct {
		ImportPath, Export string
		Error              *struct{ Err string }
	}
	pkgs := map[string]listed{}
	for dec := json.NewDecoder(bytes.NewReader(out)); dec.More(); {
		var p listed
		if err := dec.Decode(&p); err != nil {
			return nil, fmt.Errorf("go list: %w", err)
		}
		pkgs[p.ImportPath] = p
	}
	return importer.ForCompiler(fset, "gc", func(path string) (io.ReadCloser, error) {
		if p := pkgs[path]; p.Error != nil {
			return nil, errors.New(p.Error.Err)
		}
		return os.Open(pkgs[path].Export)
	}), nil
}

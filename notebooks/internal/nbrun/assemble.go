package nbrun

import (
	"errors"
	"fmt"
	"go/ast"
	"go/token"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
)

// generatedFile names, in positions, the code the runner adds.
const generatedFile = "nbrun-generated"

// importSpec is one import of a cell.
type importSpec struct {
	name  string // explicit name, or ""
	path  string // resolved import path
	where string // position in the notebook, for errors
	blank bool   // unused in the program: imported for its side effects only
}

// trailing is the last expression statement of a cell, whose value
// gophernotes shows.
type trailing struct {
	chunk      int  // index in cellCode.stmts
	start, end int  // offsets of the expression in the chunk text
	call       bool // a call, which may have no value
	line, col  int  // position of the expression in the cell
	show       bool // wrap it in nbShow
}

// edit replaces text[off:off+del] by ins.
type edit struct {
	off, del int
	ins      string
}

// cellCode is a code cell cut into pieces of the program.
type cellCode struct {
	cell     Cell
	file     string   // position file name of the cell: "name#N"
	prelude  []string // statements for special lines (%cd)
	imports  []*importSpec
	decls    []*parsedDecl
	stmts    []*parsedStmts
	edits    [][]edit // per statement chunk
	trail    *trailing
	declared []string // variables the cell declares at top level
}

// assembly is a notebook turned into the pieces of one program.
type assembly struct {
	nb       *Notebook
	imports  []*importSpec
	cells    []*cellCode
	declared map[string]int // top-level variables of the cells -> the cell declaring them
}

// assemble cuts the code cells of nb into imports, package-level
// declarations and statements, and returns the source of the Go program that
// runs them (before the checks of Check, which decide which trailing calls
// are shown and which imports are unused).
//
// Local imports (paths that start with "/", "./" or "../", as gomacro
// accepts them, relative to the notebook's folder) must lie inside the module
// whose root is moduleDir and whose path is modulePath; they are rewritten to
// that module's import paths.
//
// Two gomacro features are not reproduced, and are reported as errors or
// fail to compile: functions declared in a cell cannot use variables of the
// cells (they live in main, the functions at package level), and var cannot
// declare again a variable of an earlier cell.
func assemble(nb *Notebook, moduleDir, modulePath string) (*assembly, error) {
	declared := map[string]int{} // variable -> cell that declared it
	a := &assembly{nb: nb, declared: declared}
	fset := token.NewFileSet()
	byKey := map[string]*importSpec{}
	byName := map[string]*importSpec{}
	var errs []error
	for _, cell := range nb.Cells {
		if cell.Type != "code" {
			continue
		}
		cc, err := a.cutCell(fset, cell, declared)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		for _, spec := range cc.imports {
			if genericOnly[spec.path] {
				errs = append(errs, fmt.Errorf("%s: import %q: a package of generic functions and types only, which gomacro (gophernotes) cannot import: the plugin it builds for it does not compile", spec.where, spec.path))
				continue
			}
			spec.path, err = resolveImport(nb, spec.path, moduleDir, modulePath)
			if err != nil {
				errs = append(errs, fmt.Errorf("%s: %w", spec.where, err))
				continue
			}
			key := spec.name + " " + spec.path
			if byKey[key] != nil {
				continue
			}
			if spec.name != "" && spec.name != "_" && spec.name != "." {
				if prev := byName[spec.name]; prev != nil && prev.path != spec.path {
					errs = append(errs, fmt.Errorf("%s: %s imported again as %q (first as %q at %s)", spec.where, spec.name, spec.path, prev.path, prev.where))
					continue
				}
				byName[spec.name] = spec
			}
			byKey[key] = spec
			a.imports = append(a.imports, spec)
		}
		a.cells = append(a.cells, cc)
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return a, nil
}

// importsOf returns the import specs of a parsed declaration chunk, with
// paths as written.
func importsOf(f *ast.File) []*importSpec {
	var out []*importSpec
	for _, d := range f.Decls {
		g, ok := d.(*ast.GenDecl)
		if !ok || g.Tok != token.IMPORT {
			continue
		}
		for _, s := range g.Specs {
			is := s.(*ast.ImportSpec)
			path, _ := strconv.Unquote(is.Path.Value)
			spec := &importSpec{path: path}
			if is.Name != nil {
				spec.name = is.Name.Name
			}
			out = append(out, spec)
		}
	}
	return out
}

// genericOnly are the standard packages that export nothing but generic
// functions and types. gomacro knows the standard library of Go 1.18 and
// builds a plugin for any other package; for these its generated code
// imports the package without using it and does not compile.
var genericOnly = map[string]bool{"cmp": true, "iter": true, "maps": true, "slices": true, "unique": true, "weak": true}

// resolveImport maps a local import path (as gomacro takes it: absolute, or
// relative to the kernel's folder, which is the notebook's) to the import
// path of the package in this module; other paths are returned unchanged.
func resolveImport(nb *Notebook, path, moduleDir, modulePath string) (string, error) {
	if !(path == "." || path == ".." || strings.HasPrefix(path, "/") || strings.HasPrefix(path, "./") || strings.HasPrefix(path, "../")) {
		return path, nil
	}
	abs := path
	if !filepath.IsAbs(abs) {
		abs = filepath.Join(nb.Dir, filepath.FromSlash(path))
	}
	mod, err := filepath.Abs(moduleDir)
	if err != nil {
		return "", err
	}
	rel, err := filepath.Rel(mod, filepath.Clean(abs))
	if err != nil || rel == ".." || strings.HasPrefix(rel, ".."+string(filepath.Separator)) {
		return "", fmt.Errorf("import %q: %s is outside the module in %s", path, abs, mod)
	}
	if rel == "." {
		return modulePath, nil
	}
	return modulePath + "/" + filepath.ToSlash(rel), nil
}

// cutCell splits one code cell and analyses its statements.
func (a *assembly) cutCell(fset *token.FileSet, cell Cell, declared map[string]int) (*cellCode, error) {
	cc := &cellCode{cell: cell, file: fmt.Sprintf("%s#%d", a.nb.Name, cell.Number)}
	src := strings.ReplaceAll(cell.Source, "\r\n", "\n")
	src, err := cc.specialLines(src)
	if err != nil {
		return nil, err
	}
	chunks, err := splitCell(src)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", cc.file, err)
	}
	var errs []error
	for ci, ch := range chunks {
		text := src[ch.start:ch.end]
		line, col := position(src, ch.start)
		if ch.decl {
			d, err := parseDecl(fset, cc.file, text, line, col)
			if err != nil {
				errs = append(errs, err)
				continue
			}
			if err := lintDecl(fset, d.file); err != nil {
				errs = append(errs, err)
			}
			for _, spec := range importsOf(d.file) {
				spec.where = fmt.Sprintf("%s:%d:%d", cc.file, line, col)
				cc.imports = append(cc.imports, spec)
			}
			cc.decls = append(cc.decls, d)
			continue
		}
		p, err := parseStmts(fset, cc.file, text, line, col)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		var eds []edit
		for _, st := range p.body {
			switch st := st.(type) {
			case *ast.AssignStmt:
				if st.Tok != token.DEFINE {
					continue
				}
				var names []string
				fresh := false
				for _, l := range st.Lhs {
					id, ok := l.(*ast.Ident)
					if !ok || id.Name == "_" {
						continue
					}
					names = append(names, id.Name)
					if _, seen := declared[id.Name]; !seen {
						fresh = true
					}
				}
				if !fresh && len(names) > 0 {
					// gomacro lets a later cell declare a variable again; here it
					// is the same variable, assigned.
					eds = append(eds, edit{off: p.offset(fset, st.TokPos), del: 2, ins: "= "})
					continue
				}
				for _, n := range names {
					if _, seen := declared[n]; !seen {
						declared[n] = cell.Number
						cc.declared = append(cc.declared, n)
					}
				}
			case *ast.DeclStmt:
				g, ok := st.Decl.(*ast.GenDecl)
				if !ok || g.Tok != token.VAR {
					continue
				}
				for _, s := range g.Specs {
					for _, id := range s.(*ast.ValueSpec).Names {
						if id.Name == "_" {
							continue
						}
						if prev, seen := declared[id.Name]; seen {
							errs = append(errs, fmt.Errorf("%s: var declares %s again (cell #%d declared it): gomacro allows this, the test runner does not; assign it with = instead",
								fset.Position(id.Pos()), id.Name, prev))
							continue
						}
						declared[id.Name] = cell.Number
						cc.declared = append(cc.declared, id.Name)
					}
				}
			}
		}
		if ci == len(chunks)-1 && len(p.body) > 0 {
			if es, ok := p.body[len(p.body)-1].(*ast.ExprStmt); ok {
				x := ast.Unparen(es.X)
				_, isCall := x.(*ast.CallExpr)
				pos := fset.Position(es.X.Pos())
				cc.trail = &trailing{
					chunk: len(cc.stmts), start: p.offset(fset, es.X.Pos()), end: p.offset(fset, es.X.End()),
					call: isCall, line: pos.Line, col: pos.Column, show: !isCall,
				}
			}
		}
		cc.stmts = append(cc.stmts, p)
		cc.edits = append(cc.edits, eds)
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return cc, nil
}

// specialLines handles the gophernotes commands that may open a cell: lines
// starting with % (%cd is run, %go111module and %help are ignored) and $
// (shell commands, which the runner refuses). They are blanked out of the
// source so that line numbers stay.
func (cc *cellCode) specialLines(src string) (string, error) {
	lines := strings.Split(src, "\n")
	for i, l := range lines {
		t := strings.TrimSpace(l)
		if t == "" {
			continue
		}
		if t[0] != '%' && t[0] != '$' {
			break
		}
		where := fmt.Sprintf("%s:%d:1", cc.file, i+1)
		if t[0] == '$' {
			return "", fmt.Errorf("%s: shell command %q: the test runner does not run shell commands", where, t)
		}
		cmd, arg, _ := strings.Cut(t, " ")
		arg = strings.TrimSpace(arg)
		switch cmd {
		case "%cd":
			if arg == "" {
				return "", fmt.Errorf("%s: %%cd without a folder: the test runner does not go to the home folder", where)
			}
			cc.prelude = append(cc.prelude, fmt.Sprintf("nbChdir(%q)", arg))
		case "%go111module", "%help":
		default:
			return "", fmt.Errorf("%s: unknown special command %q", where, t)
		}
		lines[i] = ""
	}
	return strings.Join(lines, "\n"), nil
}

// lintDecl rejects declarations gomacro cannot run: generic functions,
// methods of generic types and generic types.
func lintDecl(fset *token.FileSet, f *ast.File) error {
	var errs []error
	for _, d := range f.Decls {
		switch d := d.(type) {
		case *ast.FuncDecl:
			if d.Type.TypeParams != nil && len(d.Type.TypeParams.List) > 0 {
				errs = append(errs, fmt.Errorf("%s: generic function %s: gomacro (gophernotes) does not run type parameters", fset.Position(d.Pos()), d.Name.Name))
			}
			if d.Recv != nil && len(d.Recv.List) == 1 {
				t := d.Recv.List[0].Type
				if s, ok := t.(*ast.StarExpr); ok {
					t = s.X
				}
				switch t.(type) {
				case *ast.IndexExpr, *ast.IndexListExpr:
					errs = append(errs, fmt.Errorf("%s: method %s of a generic type: gomacro (gophernotes) does not run type parameters", fset.Position(d.Pos()), d.Name.Name))
				}
			}
		case *ast.GenDecl:
			for _, s := range d.Specs {
				if ts, ok := s.(*ast.TypeSpec); ok && ts.TypeParams != nil && len(ts.TypeParams.List) > 0 {
					errs = append(errs, fmt.Errorf("%s: generic type %s: gomacro (gophernotes) does not run type parameters", fset.Position(ts.Pos()), ts.Name.Name))
				}
			}
		}
	}
	return errors.Join(errs...)
}

// render writes the program.
func (a *assembly) render() []byte {
	var b strings.Builder
	b.WriteString("// Program assembled from the notebook " + a.nb.Name + " by the notebook test runner.\n\npackage main\n\nimport (\n")
	for _, p := range supportImports {
		fmt.Fprintf(&b, "\t%s %q\n", p[0], p[1])
	}
	imps := append([]*importSpec(nil), a.imports...)
	sort.SliceStable(imps, func(i, j int) bool { return imps[i].path < imps[j].path })
	for _, im := range imps {
		name := im.name
		if im.blank {
			name = "_"
		}
		if name != "" {
			fmt.Fprintf(&b, "\t%s %q\n", name, im.path)
		} else {
			fmt.Fprintf(&b, "\t%q\n", im.path)
		}
	}
	b.WriteString(")\n\n")
	for _, cc := range a.cells {
		for _, d := range cc.decls {
			if isImportOnly(d.file) {
				continue
			}
			b.WriteString(d.text)
			b.WriteString("\n\n")
		}
	}
	b.WriteString(lineDirective(generatedFile, 1, 1))
	b.WriteString(strings.Replace(supportCode, "NOTEBOOK", strconv.Quote(a.nb.Name), 1))
	b.WriteString("\nfunc main() {\n\tdefer nbRecover()\n")
	for _, cc := range a.cells {
		fmt.Fprintf(&b, "\tnbCell(%d)\n", cc.cell.Number)
		for _, p := range cc.prelude {
			b.WriteString("\t" + p + "\n")
		}
		for i, p := range cc.stmts {
			eds := append([]edit(nil), cc.edits[i]...)
			if t := cc.trail; t != nil && t.chunk == i && t.show {
				// The /*line*/ comment keeps the positions of the expression.
				eds = append(eds,
					edit{off: t.start, ins: fmt.Sprintf("nbShow(/*line %s:%d:%d*/", cc.file, t.line, t.col)},
					edit{off: t.end, ins: ")"})
			}
			b.WriteString(lineDirective(cc.file, p.line, p.col))
			b.WriteString(applyEdits(p.text, eds))
			b.WriteString("\n")
		}
		b.WriteString(lineDirective(generatedFile, 1, 1))
		for _, n := range cc.declared {
			fmt.Fprintf(&b, "\t_ = %s\n", n)
		}
	}
	b.WriteString("}\n")
	return []byte(b.String())
}

// isImportOnly reports whether a parsed declaration chunk holds imports only.
func isImportOnly(f *ast.File) bool {
	for _, d := range f.Decls {
		if g, ok := d.(*ast.GenDecl); !ok || g.Tok != token.IMPORT {
			return false
		}
	}
	return true
}

// applyEdits applies edits to text; edits at one offset apply in order.
func applyEdits(text string, eds []edit) string {
	sort.SliceStable(eds, func(i, j int) bool { return eds[i].off < eds[j].off })
	var b strings.Builder
	at := 0
	for _, e := range eds {
		b.WriteString(text[at:e.off])
		b.WriteString(e.ins)
		at = e.off + e.del
	}
	b.WriteString(text[at:])
	return b.String()
}

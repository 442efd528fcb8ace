package nbrun

import (
	"fmt"
	"go/ast"
	"go/parser"
	"go/scanner"
	"go/token"
	"strings"
)

// chunk is a run of top-level code of a cell: one declaration (import, func,
// method, type or const), or consecutive statements.
type chunk struct {
	decl       bool
	start, end int // byte offsets in the cell source
}

// scanned is one token of a cell.
type scanned struct {
	off int
	tok token.Token
	lit string
}

// splitCell cuts the source of a cell into chunks, at the semicolons (written
// or implied by a line break) that end a top-level statement or declaration.
func splitCell(src string) ([]chunk, error) {
	fset := token.NewFileSet()
	file := fset.AddFile("", fset.Base(), len(src))
	var errs scanner.ErrorList
	var s scanner.Scanner
	s.Init(file, []byte(src), func(pos token.Position, msg string) { errs.Add(pos, msg) }, 0)
	var toks []scanned
	for {
		pos, tok, lit := s.Scan()
		if tok == token.EOF {
			break
		}
		toks = append(toks, scanned{off: file.Offset(pos), tok: tok, lit: lit})
	}
	if errs.Len() > 0 {
		return nil, errs.Err()
	}

	var chunks []chunk
	depth := 0
	atStart := true
	for i, t := range toks {
		if atStart && depth == 0 {
			if t.tok == token.SEMICOLON {
				continue // an empty statement
			}
			decl := isDeclStart(toks, i)
			if n := len(chunks); n > 0 && !decl && !chunks[n-1].decl {
				// Consecutive statements form one chunk.
			} else {
				chunks = append(chunks, chunk{decl: decl, start: t.off})
			}
			atStart = false
		}
		switch t.tok {
		case token.LPAREN, token.LBRACE, token.LBRACK:
			depth++
		case token.RPAREN, token.RBRACE, token.RBRACK:
			depth--
		}
		end := t.off + tokenLen(t)
		if t.tok == token.SEMICOLON && depth == 0 {
			atStart = true
		}
		chunks[len(chunks)-1].end = end
	}
	return chunks, nil
}

// tokenLen is the length of a token in the source (0 for a semicolon implied
// by a line break or the end of the cell).
func tokenLen(t scanned) int {
	switch {
	case t.tok == token.SEMICOLON:
		if t.lit == ";" {
			return 1
		}
		return 0
	case t.lit != "":
		return len(t.lit)
	}
	return len(t.tok.String())
}

// isDeclStart reports whether the top-level item starting at toks[i] is a
// declaration that belongs at package level: import, type, const, a function
// or a method. A func literal (func() {...}()) is a statement.
func isDeclStart(toks []scanned, i int) bool {
	switch toks[i].tok {
	case token.IMPORT, token.TYPE, token.CONST:
		return true
	case token.FUNC:
	default:
		return false
	}
	if i+1 >= len(toks) {
		return false
	}
	switch toks[i+1].tok {
	case token.IDENT:
		return true
	case token.LPAREN:
		// func (r T) Name(...) is a method; func (x T) T2 {...}(...) is not.
		depth := 0
		for j := i + 1; j < len(toks); j++ {
			switch toks[j].tok {
			case token.LPAREN:
				depth++
			case token.RPAREN:
				depth--
			}
			if depth == 0 {
				return j+2 < len(toks) && toks[j+1].tok == token.IDENT &&
					(toks[j+2].tok == token.LPAREN || toks[j+2].tok == token.LBRACK)
			}
		}
	}
	return false
}

// position returns the 1-based line and byte column of offset off in src.
func position(src string, off int) (line, col int) {
	line = 1 + strings.Count(src[:off], "\n")
	col = off - strings.LastIndex(src[:off], "\n")
	return line, col
}

// lineDirective returns a //line comment that gives the next line the
// position file:line:col.
func lineDirective(file string, line, col int) string {
	return fmt.Sprintf("//line %s:%d:%d\n", file, line, col)
}

// parsedDecl is a declaration chunk, parsed.
type parsedDecl struct {
	text string // the chunk, preceded by a //line directive
	file *ast.File
}

// parseDecl parses a declaration chunk whose text starts at line:col of the
// cell named cellFile.
func parseDecl(fset *token.FileSet, cellFile, text string, line, col int) (*parsedDecl, error) {
	src := "package p\n" + lineDirective(cellFile, line, col) + text + "\n"
	f, err := parser.ParseFile(fset, cellFile, src, parser.SkipObjectResolution)
	if err != nil {
		return nil, err
	}
	return &parsedDecl{text: lineDirective(cellFile, line, col) + text, file: f}, nil
}

// parsedStmts is a statement chunk, parsed inside a function body.
type parsedStmts struct {
	text   string // the chunk itself
	line   int    // where it starts in the cell
	col    int
	prefix int // length of the source before the chunk
	body   []ast.Stmt
}

// parseStmts parses a statement chunk whose text starts at line:col of the
// cell named cellFile.
func parseStmts(fset *token.FileSet, cellFile, text string, line, col int) (*parsedStmts, error) {
	head := "package p\nfunc _() {\n" + lineDirective(cellFile, line, col)
	src := head + text + "\n}\n"
	f, err := parser.ParseFile(fset, cellFile, src, parser.SkipObjectResolution)
	if err != nil {
		return nil, err
	}
	fn := f.Decls[0].(*ast.FuncDecl)
	return &parsedStmts{text: text, line: line, col: col, prefix: len(head), body: fn.Body.List}, nil
}

// offset returns the offset in the chunk text of pos, a position in the
// chunk's parse.
func (p *parsedStmts) offset(fset *token.FileSet, pos token.Pos) int {
	return fset.PositionFor(pos, false).Offset - p.prefix
}

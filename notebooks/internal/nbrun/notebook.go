// Package nbrun runs the Go code of a Jupyter notebook written for the
// gophernotes kernel as one compiled Go program, so that a test can check
// that every notebook runs from top to bottom.
//
// gophernotes interprets cells with gomacro. The runner reproduces the parts
// of its semantics the notebooks rely on:
//
//   - cells run in order in one session; a variable declared at the top
//     level of a cell is visible in every later cell;
//   - a cell may mix imports, declarations (func, type, const) and
//     statements; imports are hoisted and de-duplicated, declarations go to
//     package level and statements run in order inside main;
//   - a cell's last statement, if it is an expression with a value, is shown
//     (printed to standard output);
//   - unused variables and imports are allowed;
//   - a later cell may declare again, with :=, a variable of an earlier cell
//     (it becomes an assignment, so the type must stay the same);
//   - the display package gophernotes injects (display.PNG, display.Markdown,
//     ...) and the Display function exist; display.PNG and display.JPEG check
//     that their bytes decode as such an image;
//   - a line "%cd dir" at the start of a cell changes the working directory.
//
// It also rejects code gomacro cannot run although Go accepts it: range over
// an integer or a function, the builtins min, max and clear, type parameters
// in cell declarations and calls of generic functions.
//
// Two things it cannot reproduce: functions declared in a cell see
// package-level names only, not the variables of the cells (which live in
// main); and declaring a variable of an earlier cell again with var is an
// error.
//
// Every position in an error names the notebook and the cell, counting all
// cells (Markdown too) from 1: "01-the-op.ipynb#7:3:5" is line 3, column 5
// of the seventh cell.
package nbrun

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// Notebook is the part of a .ipynb file the runner uses.
type Notebook struct {
	Name          string // file name, used in positions
	Dir           string // folder of the file; relative imports start there
	NBFormat      int
	KernelName    string // metadata.kernelspec.name
	KernelLang    string // metadata.kernelspec.language
	LanguageName  string // metadata.language_info.name
	Cells         []Cell
	CodeCellCount int
}

// Cell is one cell of a notebook.
type Cell struct {
	Number  int    // position in the notebook, from 1, counting every cell
	Type    string // "code", "markdown" or "raw"
	Source  string
	Outputs []Output // what a code cell showed when the notebook was last run
}

// Output is one output of a code cell.
type Output struct {
	Type  string            // "stream", "execute_result", "display_data" or "error"
	Name  string            // an error's name
	Value string            // an error's message
	Text  string            // a stream's text
	Data  map[string]string // a result's representations by MIME type: text as one string, other JSON as it is
}

// rawNotebook is the JSON layout of nbformat 4.
type rawNotebook struct {
	NBFormat int `json:"nbformat"`
	Metadata struct {
		Kernelspec struct {
			Name     string `json:"name"`
			Language string `json:"language"`
		} `json:"kernelspec"`
		LanguageInfo struct {
			Name string `json:"name"`
		} `json:"language_info"`
	} `json:"metadata"`
	Cells []struct {
		CellType string          `json:"cell_type"`
		Source   json.RawMessage `json:"source"`
		Outputs  []rawOutput     `json:"outputs"`
	} `json:"cells"`
}

// rawOutput is the JSON layout of a cell output.
type rawOutput struct {
	OutputType string                     `json:"output_type"`
	Ename      string                     `json:"ename"`
	Evalue     string                     `json:"evalue"`
	Text       json.RawMessage            `json:"text"`
	Data       map[string]json.RawMessage `json:"data"`
}

// Load reads a notebook file.
func Load(path string) (*Notebook, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, err
	}
	return Parse(data, filepath.Base(path), filepath.Dir(abs))
}

// Parse decodes the JSON of a notebook named name that lives in folder dir.
func Parse(data []byte, name, dir string) (*Notebook, error) {
	var raw rawNotebook
	if err := json.Unmarshal(data, &raw); err != nil {
		return nil, fmt.Errorf("%s: not a notebook: %w", name, err)
	}
	nb := &Notebook{
		Name: name, Dir: dir, NBFormat: raw.NBFormat,
		KernelName: raw.Metadata.Kernelspec.Name, KernelLang: raw.Metadata.Kernelspec.Language,
		LanguageName: raw.Metadata.LanguageInfo.Name,
	}
	for i, c := range raw.Cells {
		src, err := joinSource(c.Source)
		if err != nil {
			return nil, fmt.Errorf("%s#%d: source: %w", name, i+1, err)
		}
		cell := Cell{Number: i + 1, Type: c.CellType, Source: src}
		for _, o := range c.Outputs {
			out := Output{Type: o.OutputType, Name: o.Ename, Value: o.Evalue}
			if out.Text, err = joinSource(o.Text); err != nil {
				return nil, fmt.Errorf("%s#%d: output text: %w", name, i+1, err)
			}
			if len(o.Data) > 0 {
				out.Data = make(map[string]string, len(o.Data))
			}
			for mime, raw := range o.Data {
				if out.Data[mime], err = joinSource(raw); err != nil {
					out.Data[mime] = string(raw) // JSON data, not text
				}
			}
			cell.Outputs = append(cell.Outputs, out)
		}
		nb.Cells = append(nb.Cells, cell)
		if c.CellType == "code" {
			nb.CodeCellCount++
		}
	}
	return nb, nil
}

// joinSource decodes a cell source or any other multi-line text, which
// nbformat stores as a string or a list of strings (lines that keep their
// newlines).
func joinSource(raw json.RawMessage) (string, error) {
	if len(raw) == 0 {
		return "", nil
	}
	var s string
	if err := json.Unmarshal(raw, &s); err == nil {
		return s, nil
	}
	var lines []string
	if err := json.Unmarshal(raw, &lines); err != nil {
		return "", err
	}
	return strings.Join(lines, ""), nil
}

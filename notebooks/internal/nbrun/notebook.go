// Package nbrun runs the Go code of a Jupyter notebook written for the
// gophernotes kernel as one compiled Go program, so that a test can check
// that every notebook runs from top to bottom.
//
// The notebooks are written in the Go that both gomacro (the interpreter
// inside gophernotes) and the compiler accept: a cell is imports, then
// statements. With the imports hoisted and the cells run in order inside
// main, a notebook is a Go program, and Go's rules hold for its cells. The
// program adds what gophernotes adds: a cell's last value is shown, and the
// display package and Display exist. Check also rejects what Go accepts and
// gomacro does not run. A position in an error names the notebook and the
// cell, counting all cells from 1: "01-the-op.ipynb#7:3:5".
package nbrun

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// Notebook is the part of a .ipynb file (nbformat 4) the runner and the
// tests use.
type Notebook struct {
	Name     string `json:"-"` // file name, used in positions
	Dir      string `json:"-"` // folder of the file; relative imports start there
	NBFormat int    `json:"nbformat"`
	Metadata struct {
		Kernelspec   struct{ Name, Language string } `json:"kernelspec"`
		LanguageInfo struct{ Name string }           `json:"language_info"`
	} `json:"metadata"`
	Cells []Cell `json:"cells"`
}

// Cell is one cell of a notebook.
type Cell struct {
	Number  int      `json:"-"`         // position in the notebook, from 1, counting every cell
	Type    string   `json:"cell_type"` // "code", "markdown" or "raw"
	Source  Text     `json:"source"`
	Outputs []Output `json:"outputs"` // what a code cell showed when the notebook was last run
}

// Output is one output of a code cell.
type Output struct {
	Type  string                     `json:"output_type"` // "stream", "execute_result", "display_data" or "error"
	Name  string                     `json:"ename"`       // an error's name
	Value string                     `json:"evalue"`      // an error's message
	Text  Text                       `json:"text"`        // a stream's text
	Data  map[string]json.RawMessage `json:"data"`        // a result by MIME type; see DataText
}

// DataText returns the representation of a result for a MIME type whose
// data is text, such as text/plain or image/png (base64), or "".
func (o Output) DataText(mime string) string {
	var t Text
	if json.Unmarshal(o.Data[mime], &t) != nil {
		return ""
	}
	return string(t)
}

// Text is multi-line text, which nbformat stores as a string or a list of
// strings (lines that keep their newlines).
type Text string

// UnmarshalJSON decodes either form.
func (t *Text) UnmarshalJSON(b []byte) error {
	var lines []string
	if err := json.Unmarshal(b, &lines); err != nil {
		return json.Unmarshal(b, (*string)(t))
	}
	*t = Text(strings.Join(lines, ""))
	return nil
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
	nb := &Notebook{Name: name, Dir: dir}
	if err := json.Unmarshal(data, nb); err != nil {
		return nil, fmt.Errorf("%s: not a notebook: %w", name, err)
	}
	for i := range nb.Cells {
		nb.Cells[i].Number = i + 1
	}
	return nb, nil
}

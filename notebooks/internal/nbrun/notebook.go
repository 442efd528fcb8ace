// Package nbrun runs the Go code of a Jupyter notebook written for the
// gophernotes kernel as one compiled Go program, so that a test can check
// that every notebook runs from top to bottom.
//
// The notebooks are written in the part of Go that both gomacro (the
// interpreter inside gophernotes) and the Go compiler accept: a code cell is
// imports followed by statements, and no cell declares a function. Such a
// notebook is one Go program once its imports are hoisted and its cells run
// in order inside main, so that a variable of one cell is one of main seen
// by the later cells. Go's own rules then hold for every cell: a variable is
// declared once and used, an import is used. What the program adds to Go is
// what gophernotes adds: the last expression of a cell, if it has a value,
// is shown (printed), and the display package and the Display function
// exist. Check also rejects what Go accepts and gomacro does not run (see
// lintGomacro and genericOnly).
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

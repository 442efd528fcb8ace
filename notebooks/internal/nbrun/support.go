package nbrun

// supportCode is added to every program after the cells' imports: what
// gophernotes provides (the display package, here with the Markdown and Auto
// the notebooks call, and the Display function) and the functions of main.
// Its imports have names no notebook is expected to use; nbName, the
// notebook's name, is declared after it.
const supportCode = `
import (
	nbbytes "bytes"
	nbfmt "fmt"
	nbpng "image/png"
	nbos "os"
	nbdebug "runtime/debug"
)

var nbCurrent int

// nbCell marks the start of a cell in the output.
func nbCell(n int) {
	nbCurrent = n
	nbfmt.Printf("--- %s cell #%d\n", nbName, n)
}

// nbRecover reports a panic with the cell it happened in.
func nbRecover() {
	if r := recover(); r != nil {
		nbfmt.Fprintf(nbos.Stderr, "panic in %s cell #%d: %v\n\n%s", nbName, nbCurrent, r, nbdebug.Stack())
		nbos.Exit(2)
	}
}

// nbShow prints the value(s) of a cell's last expression, a picture as
// display.Auto shows it.
func nbShow(vs ...interface{}) {
	if d := display.Auto(vs[0]); d.mime == "image/png" && len(vs) == 1 {
		vs[0] = d
	}
	for _, v := range vs {
		nbfmt.Println(v)
	}
}

// nbData stands for gophernotes' display.Data: its MIME type and what this
// runner prints of it.
type nbData struct{ mime, text string }

func (d nbData) String() string { return "[" + d.mime + "] " + d.text }

// display stands for the package gophernotes injects.
var display nbDisplay

type nbDisplay struct{}

func (nbDisplay) Markdown(s string) nbData { return nbData{"text/markdown", s} }

// Auto shows a value with a SimpleRender method (lab.Picture) as
// gophernotes does: as a picture, here checked to be a PNG, with the
// text/plain it gives, which is all a frontend without PNG support shows
// (gophernotes adds no text of its own). Any other value is shown as text.
func (nbDisplay) Auto(v interface{}) nbData {
	if r, ok := v.(interface{ SimpleRender() map[string]interface{} }); ok {
		m := r.SimpleRender()
		if png, ok := m["image/png"].([]byte); ok {
			cfg, err := nbpng.DecodeConfig(nbbytes.NewReader(png))
			if err != nil {
				panic(nbfmt.Sprintf("display: %d bytes that are not image/png: %v", len(png), err))
			}
			text, _ := m["text/plain"].(string)
			return nbData{"image/png", nbfmt.Sprintf("%dx%d image, %d bytes, text %q", cfg.Width, cfg.Height, len(png), text)}
		}
	}
	return nbData{"auto", nbfmt.Sprint(v)}
}

// Display shows data in the middle of a cell.
func Display(d nbData) error {
	nbfmt.Println(d)
	return nil
}
`

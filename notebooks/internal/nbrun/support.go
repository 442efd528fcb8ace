package nbrun

// supportImports are the packages the support code uses, under names no
// notebook is expected to use.
var supportImports = [][2]string{
	{"nbbytes", "bytes"}, {"nbfmt", "fmt"}, {"nbpng", "image/png"}, {"nbos", "os"}, {"nbdebug", "runtime/debug"},
}

// supportCode is added to every program: what gophernotes provides (the
// display package, here with PNG, Markdown and Auto, and the Display
// function) and the helpers of main. NOTEBOOK is replaced by the quoted
// notebook name.
const supportCode = `
const nbName = NOTEBOOK

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

// nbRender is gophernotes' rendering of a value with a PNG or SimpleRender
// method as a picture. A frontend without PNG support shows the text/plain
// of SimpleRender only: gophernotes adds no text of its own.
func nbRender(v interface{}) (nbData, bool) {
	var png []byte
	var text string
	if p, ok := v.(interface{ PNG() []byte }); ok {
		png = p.PNG()
	}
	if r, ok := v.(interface{ SimpleRender() map[string]interface{} }); ok {
		m := r.SimpleRender()
		if b, ok := m["image/png"].([]byte); ok {
			png = b
		}
		text, _ = m["text/plain"].(string)
	}
	if png == nil {
		return nbData{}, false
	}
	d := display.PNG(png)
	d.text += nbfmt.Sprintf(", text %q", text)
	return d, true
}

// nbShow prints the value(s) of a cell's last expression.
func nbShow(vs ...interface{}) {
	if d, ok := nbRender(vs[0]); ok && len(vs) == 1 {
		nbfmt.Println(d)
		return
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

// PNG checks that b is a PNG.
func (nbDisplay) PNG(b []byte) nbData {
	cfg, err := nbpng.DecodeConfig(nbbytes.NewReader(b))
	if err != nil {
		panic(nbfmt.Sprintf("display: %d bytes that are not image/png: %v", len(b), err))
	}
	return nbData{"image/png", nbfmt.Sprintf("%dx%d image, %d bytes", cfg.Width, cfg.Height, len(b))}
}

func (nbDisplay) Markdown(s string) nbData { return nbData{"text/markdown", s} }
func (nbDisplay) Auto(v interface{}) nbData {
	if d, ok := nbRender(v); ok {
		return d
	}
	return nbData{"auto", nbfmt.Sprint(v)}
}

// Display shows data in the middle of a cell.
func Display(d nbData) error {
	nbfmt.Println(d)
	return nil
}
`

package nbrun

// supportImports are the packages the support code uses, under names no
// notebook is expected to use.
var supportImports = [][2]string{
	{"nbbytes", "bytes"},
	{"nbfmt", "fmt"},
	{"nbimage", "image"},
	{"nbjpeg", "image/jpeg"},
	{"nbpng", "image/png"},
	{"nbio", "io"},
	{"nbos", "os"},
	{"nbdebug", "runtime/debug"},
	{"nbstrings", "strings"},
}

// supportCode is added to every program: the stand-ins for what gophernotes
// provides (the display package and the Display function) and the helpers
// of the generated main. NOTEBOOK is replaced by the quoted notebook name.
const supportCode = `
// nbName is the notebook being run.
const nbName = NOTEBOOK

// nbCurrent is the number of the cell being run.
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

// nbChdir is the special command %cd.
func nbChdir(dir string) {
	if err := nbos.Chdir(dir); err != nil {
		panic(err)
	}
}

// nbMaxShow is how much of a shown value is printed.
const nbMaxShow = 4000

// nbPNGer and nbSimpleRenderer are the methods by which gophernotes renders
// a cell's last value, or display.Auto's argument, as a picture.
type nbPNGer interface{ PNG() []byte }
type nbSimpleRenderer interface {
	SimpleRender() map[string]interface{}
}

// nbRender is gophernotes' rendering of a value as a picture, with the text
// a frontend without PNG support shows: only what SimpleRender gives as
// text/plain, since gophernotes adds none of its own to a rendered value.
func nbRender(v interface{}) (nbData, bool) {
	var png []byte
	var text string
	if p, ok := v.(nbPNGer); ok {
		png = p.PNG()
	}
	if r, ok := v.(nbSimpleRenderer); ok {
		m := r.SimpleRender()
		if b, ok := m["image/png"].([]byte); ok {
			png = b
		}
		text, _ = m["text/plain"].(string)
	}
	if png == nil {
		return nbData{}, false
	}
	d := nbImageData("image/png", png, nbpng.DecodeConfig)
	d.text += ", text " + nbfmt.Sprintf("%q", text)
	return d, true
}

// nbShow prints the value(s) of a cell's last expression, as gophernotes
// shows them.
func nbShow(vs ...interface{}) {
	if len(vs) == 1 {
		if d, ok := nbRender(vs[0]); ok {
			nbfmt.Println(d)
			return
		}
	}
	for _, v := range vs {
		s := nbfmt.Sprint(v)
		if len(s) > nbMaxShow {
			s = s[:nbMaxShow] + " ..."
		}
		nbfmt.Println(s)
	}
}

// nbData stands for gophernotes' display.Data.
type nbData struct {
	mime string
	text string // what it shows in this runner's output
}

func (d nbData) String() string { return "[" + d.mime + "] " + d.text }

// nbDisplay stands for the package gophernotes injects as display.
type nbDisplay struct{}

// display has the functions of gophernotes' display package.
var display nbDisplay

// nbImages counts the images shown, to name the files written to
// $NBRUN_IMAGE_DIR.
var nbImages int

func nbImageData(mime string, b []byte, decode func(nbio.Reader) (nbimage.Config, error)) nbData {
	cfg, err := decode(nbbytes.NewReader(b))
	if err != nil {
		panic(nbfmt.Sprintf("display: %d bytes that are not %s: %v", len(b), mime, err))
	}
	info := nbfmt.Sprintf("%dx%d image, %d bytes", cfg.Width, cfg.Height, len(b))
	if dir := nbos.Getenv("NBRUN_IMAGE_DIR"); dir != "" {
		nbImages++
		ext := nbstrings.TrimPrefix(mime, "image/")
		name := nbfmt.Sprintf("%s/%s-cell%02d-%d.%s", dir, nbstrings.TrimSuffix(nbName, ".ipynb"), nbCurrent, nbImages, ext)
		if err := nbos.WriteFile(name, b, 0o644); err != nil {
			panic(err)
		}
		info += ", saved as " + name
	}
	return nbData{mime, info}
}

func nbTextData(mime, s string) nbData { return nbData{mime, s} }

func (nbDisplay) PNG(b []byte) nbData  { return nbImageData("image/png", b, nbpng.DecodeConfig) }
func (nbDisplay) JPEG(b []byte) nbData { return nbImageData("image/jpeg", b, nbjpeg.DecodeConfig) }
func (nbDisplay) Image(img nbimage.Image) nbData {
	if img == nil {
		panic("display.Image: nil image")
	}
	r := img.Bounds()
	return nbData{"image/png", nbfmt.Sprintf("%dx%d image", r.Dx(), r.Dy())}
}
func (nbDisplay) SVG(s string) nbData {
	if !nbstrings.Contains(s, "<svg") {
		panic("display.SVG: no <svg> element")
	}
	return nbData{"image/svg+xml", nbfmt.Sprintf("%d bytes", len(s))}
}
func (nbDisplay) PDF(b []byte) nbData {
	if !nbbytes.HasPrefix(b, []byte("%PDF-")) {
		panic("display.PDF: not a PDF")
	}
	return nbData{"application/pdf", nbfmt.Sprintf("%d bytes", len(b))}
}
func (nbDisplay) HTML(s string) nbData       { return nbTextData("text/html", s) }
func (nbDisplay) Markdown(s string) nbData   { return nbTextData("text/markdown", s) }
func (nbDisplay) Latex(s string) nbData      { return nbTextData("text/latex", s) }
func (nbDisplay) Math(s string) nbData       { return nbTextData("text/latex", s) }
func (nbDisplay) JavaScript(s string) nbData { return nbTextData("application/javascript", s) }
func (nbDisplay) JSON(m map[string]interface{}) nbData {
	return nbData{"application/json", nbfmt.Sprint(m)}
}
func (nbDisplay) Any(mime string, v interface{}) nbData      { return nbData{mime, nbfmt.Sprint(v)} }
func (nbDisplay) MakeData(mime string, v interface{}) nbData { return nbData{mime, nbfmt.Sprint(v)} }
func (nbDisplay) Auto(v interface{}) nbData {
	if d, ok := nbRender(v); ok {
		return d
	}
	return nbData{"auto", nbfmt.Sprint(v)}
}
func (nbDisplay) File(mime, path string) nbData {
	b, err := nbos.ReadFile(path)
	if err != nil {
		panic(err)
	}
	return nbData{mime, nbfmt.Sprintf("%s, %d bytes", path, len(b))}
}

// Display shows data in the middle of a cell, as gophernotes' Display does.
func Display(d nbData) error {
	nbfmt.Println(d)
	return nil
}
`

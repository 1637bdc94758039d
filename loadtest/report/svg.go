package report

import (
	"fmt"
	"html"
	"math"
	"strings"
)

// Palette is the colors charts give their series, in order.
var Palette = []string{"#2563eb", "#dc2626", "#16a34a", "#d97706", "#7c3aed", "#0891b2", "#db2777"}

// Series is one line (or set of dots) of a LineChart.
type Series struct {
	// Name is the legend; Color a CSS color, "" for the palette's next.
	Name  string
	Color string
	// X and Y are the points, of equal length.
	X, Y []float64
	// Dots draws points instead of a line (a scatter plot).
	Dots bool
}

// LineChart is an x/y chart of one or more series, drawn as inline SVG.
type LineChart struct {
	// Title heads the chart; XLabel and YLabel name the axes.
	Title, XLabel, YLabel string
	// Series are drawn in order, the legend lists them.
	Series []Series
	// YFormat formats the y axis ticks; nil uses SI.
	YFormat func(float64) string
	// Width and Height in pixels; 0 means 880 by 280.
	Width, Height int
}

const (
	padLeft, padRight, padTop, padBottom = 72.0, 16.0, 40.0, 40.0
)

// SVG renders the chart.
func (c LineChart) SVG() string {
	w, h := float64(c.Width), float64(c.Height)
	if w == 0 {
		w = 880
	}
	if h == 0 {
		h = 280
	}
	yf := c.YFormat
	if yf == nil {
		yf = SI
	}
	minX, maxX := math.Inf(1), math.Inf(-1)
	maxY := 0.0
	for _, s := range c.Series {
		for i := range s.X {
			minX, maxX = math.Min(minX, s.X[i]), math.Max(maxX, s.X[i])
			maxY = math.Max(maxY, s.Y[i])
		}
	}
	if math.IsInf(minX, 0) {
		minX, maxX = 0, 1
	}
	if maxX <= minX {
		maxX = minX + 1
	}
	yStep := niceStep(maxY / 4)
	yTop := math.Max(yStep, math.Ceil(maxY/yStep)*yStep)
	xStep := niceStep((maxX - minX) / 8)
	pw, ph := w-padLeft-padRight, h-padTop-padBottom
	px := func(x float64) float64 { return padLeft + (x-minX)/(maxX-minX)*pw }
	py := func(y float64) float64 { return padTop + ph - y/yTop*ph }

	var b strings.Builder
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" width="%.0f" height="%.0f" viewBox="0 0 %.0f %.0f" role="img" aria-label="%s">`, w, h, w, h, html.EscapeString(c.Title))
	fmt.Fprintf(&b, `<rect width="100%%" height="100%%" fill="#fff"/>`)
	fmt.Fprintf(&b, `<text x="%.0f" y="18" class="title">%s</text>`, padLeft, html.EscapeString(c.Title))
	// Grid and y ticks.
	for y := 0.0; y <= yTop+yStep/2; y += yStep {
		fmt.Fprintf(&b, `<line x1="%.1f" x2="%.1f" y1="%.1f" y2="%.1f" class="grid"/>`, padLeft, padLeft+pw, py(y), py(y))
		fmt.Fprintf(&b, `<text x="%.1f" y="%.1f" class="tick" text-anchor="end">%s</text>`, padLeft-6, py(y)+4, html.EscapeString(yf(y)))
	}
	// x ticks.
	for x := math.Ceil(minX/xStep) * xStep; x <= maxX+xStep/1000; x += xStep {
		fmt.Fprintf(&b, `<line x1="%.1f" x2="%.1f" y1="%.1f" y2="%.1f" class="axis"/>`, px(x), px(x), padTop+ph, padTop+ph+4)
		fmt.Fprintf(&b, `<text x="%.1f" y="%.1f" class="tick" text-anchor="middle">%s</text>`, px(x), padTop+ph+16, SI(x))
	}
	fmt.Fprintf(&b, `<line x1="%.1f" x2="%.1f" y1="%.1f" y2="%.1f" class="axis"/>`, padLeft, padLeft+pw, padTop+ph, padTop+ph)
	fmt.Fprintf(&b, `<text x="%.1f" y="%.1f" class="label" text-anchor="middle">%s</text>`, padLeft+pw/2, h-6, html.EscapeString(c.XLabel))
	fmt.Fprintf(&b, `<text x="14" y="%.1f" class="label" text-anchor="middle" transform="rotate(-90 14 %.1f)">%s</text>`, padTop+ph/2, padTop+ph/2, html.EscapeString(c.YLabel))
	// Series.
	for i, s := range c.Series {
		color := s.Color
		if color == "" {
			color = Palette[i%len(Palette)]
		}
		if s.Dots {
			for j := range s.X {
				fmt.Fprintf(&b, `<circle cx="%.1f" cy="%.1f" r="2.2" fill="%s" fill-opacity="0.7"/>`, px(s.X[j]), py(s.Y[j]), color)
			}
		} else if len(s.X) > 0 {
			b.WriteString(`<polyline fill="none" stroke-width="1.8" stroke="` + color + `" points="`)
			for j := range s.X {
				fmt.Fprintf(&b, "%.1f,%.1f ", px(s.X[j]), py(s.Y[j]))
			}
			b.WriteString(`"/>`)
		}
	}
	// Legend, right-aligned in the title row.
	x := w - padRight
	for i := len(c.Series) - 1; i >= 0; i-- {
		s := c.Series[i]
		color := s.Color
		if color == "" {
			color = Palette[i%len(Palette)]
		}
		x -= float64(7*len(s.Name) + 26)
		fmt.Fprintf(&b, `<rect x="%.1f" y="10" width="12" height="10" fill="%s"/><text x="%.1f" y="19" class="legend">%s</text>`, x, color, x+16, html.EscapeString(s.Name))
	}
	b.WriteString(`</svg>`)
	return b.String()
}

// Bar is one bar of a BarChart.
type Bar struct {
	// Label is written left of the bar, Value sets its length (and is
	// written after it), Color fills it ("" for the palette).
	Label string
	Value float64
	Color string
	// Note is written after the value ("0.31× of the broker").
	Note string
}

// BarChart is a horizontal bar chart, one labelled bar per row.
type BarChart struct {
	// Title heads the chart; Bars are its rows, top to bottom, scaled to
	// the largest value.
	Title string
	Bars  []Bar
	// Format formats values; nil uses SI.
	Format func(float64) string
	// Width in pixels; 0 means 880.
	Width int
}

// SVG renders the chart.
func (c BarChart) SVG() string {
	w := float64(c.Width)
	if w == 0 {
		w = 880
	}
	f := c.Format
	if f == nil {
		f = SI
	}
	const rowH, labelW, top = 30.0, 330.0, 34.0
	h := top + rowH*float64(len(c.Bars)) + 10
	maxV := 0.0
	for _, bar := range c.Bars {
		maxV = math.Max(maxV, bar.Value)
	}
	if maxV == 0 {
		maxV = 1
	}
	barW := w - labelW - 230
	var b strings.Builder
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" width="%.0f" height="%.0f" viewBox="0 0 %.0f %.0f" role="img" aria-label="%s">`, w, h, w, h, html.EscapeString(c.Title))
	fmt.Fprintf(&b, `<rect width="100%%" height="100%%" fill="#fff"/><text x="8" y="18" class="title">%s</text>`, html.EscapeString(c.Title))
	for i, bar := range c.Bars {
		y := top + rowH*float64(i)
		color := bar.Color
		if color == "" {
			color = Palette[i%len(Palette)]
		}
		bw := math.Max(1, bar.Value/maxV*barW)
		fmt.Fprintf(&b, `<text x="%.1f" y="%.1f" class="tick" text-anchor="end">%s</text>`, labelW-8, y+15, html.EscapeString(bar.Label))
		fmt.Fprintf(&b, `<rect x="%.1f" y="%.1f" width="%.1f" height="20" fill="%s"/>`, labelW, y+2, bw, color)
		fmt.Fprintf(&b, `<text x="%.1f" y="%.1f" class="tick">%s %s</text>`, labelW+bw+6, y+16, html.EscapeString(f(bar.Value)), html.EscapeString(bar.Note))
	}
	b.WriteString(`</svg>`)
	return b.String()
}

// niceStep rounds a raw step up to 1, 2 or 5 times a power of ten.
func niceStep(raw float64) float64 {
	if raw <= 0 || math.IsNaN(raw) || math.IsInf(raw, 0) {
		return 1
	}
	p := math.Pow(10, math.Floor(math.Log10(raw)))
	for _, m := range []float64{1, 2, 5, 10} {
		if raw <= m*p {
			return m * p
		}
	}
	return 10 * p
}

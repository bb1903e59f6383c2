package bench

import (
	"fmt"
	"io"
	"math"
	"path/filepath"
	"strconv"
	"strings"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/plotutil"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"
	"gonum.org/v1/plot/vg/vgsvg"
)

// ErrPlotFormat is returned for a plot file name that ends in neither
// .png nor .svg.
var ErrPlotFormat = fmt.Errorf("bench: plot file must end in .png or .svg")

// WritePlot draws two panels side by side: throughput (MB/s) against
// message size per system variant, and the ping-pong round-trip
// percentiles per variant at the smallest ping-pong size. format is "png"
// or "svg".
func (r *Report) WritePlot(w io.Writer, format string) error {
	if format != "png" && format != "svg" {
		return ErrPlotFormat
	}
	colors := r.variantIndex()
	tp, err := r.throughputPlot(colors)
	if err != nil {
		return err
	}
	lat, err := r.latencyPlot(colors)
	if err != nil {
		return err
	}
	width, height := 34*vg.Centimeter, 13*vg.Centimeter
	var c interface {
		vg.CanvasSizer
		io.WriterTo
	}
	if format == "svg" {
		c = vgsvg.New(width, height)
	} else {
		c = &vgimg.PngCanvas{Canvas: vgimg.NewWith(vgimg.UseWH(width, height), vgimg.UseDPI(150))}
	}
	dc := draw.New(c)
	legendWidth := 5 * vg.Centimeter
	tiles := draw.Tiles{Rows: 1, Cols: 2, PadX: vg.Centimeter, PadTop: vg.Millimeter * 3, PadBottom: vg.Millimeter * 3,
		PadLeft: vg.Millimeter * 3, PadRight: vg.Millimeter * 3}
	plots := draw.Crop(dc, 0, -legendWidth, 0, 0)
	tp.Draw(tiles.At(plots, 0, 0))
	lat.Draw(tiles.At(plots, 1, 0))
	leg := r.legend(colors)
	leg.Draw(draw.Crop(dc, width-legendWidth, -vg.Millimeter*3, 0, -vg.Centimeter))
	_, err = c.WriteTo(w)
	return err
}

// legend names every variant's colour, glyph and dashes.
func (r *Report) legend(colors map[Variant]int) plot.Legend {
	leg := plot.NewLegend()
	leg.Top, leg.Left = true, true
	order := make([]Variant, len(colors))
	for v, i := range colors {
		order[i] = v
	}
	for i, v := range order {
		l, pts := style(i)
		leg.Add(v.String(), l, pts)
	}
	return leg
}

// logTicks marks a log axis at 1, 2 and 5 times each power of ten.
var logTicks = plot.TickerFunc(func(lo, hi float64) []plot.Tick {
	var ts []plot.Tick
	for p := math.Pow(10, math.Floor(math.Log10(lo))); p <= hi; p *= 10 {
		for _, m := range []float64{1, 2, 5} {
			if v := p * m; v >= lo && v <= hi {
				label := num(v)
				if v < 1e4 {
					label = strconv.FormatFloat(v, 'f', -1, 64)
				}
				ts = append(ts, plot.Tick{Value: v, Label: label})
			}
		}
	}
	return ts
})

// PlotFormat returns the format WritePlot takes for a file name.
func PlotFormat(path string) (string, error) {
	switch strings.ToLower(filepath.Ext(path)) {
	case ".png":
		return "png", nil
	case ".svg":
		return "svg", nil
	}
	return "", ErrPlotFormat
}

// variantIndex numbers the variants of the plotted scenarios (throughput
// and ping-pong) in report order: one colour and one legend entry each.
func (r *Report) variantIndex() map[Variant]int {
	idx := map[Variant]int{}
	for i := range r.Results {
		if sc := r.Results[i].Scenario; sc != Throughput && sc != PingPong {
			continue // the hub scenarios, say: not drawn
		}
		v := r.Results[i].Variant()
		if _, ok := idx[v]; !ok {
			idx[v] = len(idx)
		}
	}
	return idx
}

func (r *Report) throughputPlot(colors map[Variant]int) (*plot.Plot, error) {
	p := plot.New()
	p.Title.Text = "Throughput, one connection, one way"
	p.X.Label.Text = "message size"
	p.Y.Label.Text = "MB/s of messages (median)"
	p.X.Scale, p.Y.Scale = plot.LogScale{}, plot.LogScale{}
	p.Y.Tick.Marker = logTicks
	series := map[Variant]plotter.XYs{}
	var order []Variant
	var ticks []plot.Tick
	seen := map[int]bool{}
	for i := range r.Results {
		res := &r.Results[i]
		if res.Scenario != Throughput || res.BytesPerSec == nil {
			continue
		}
		v := res.Variant()
		if _, ok := series[v]; !ok {
			order = append(order, v)
		}
		series[v] = append(series[v], plotter.XY{X: float64(res.Size), Y: *res.BytesPerSec / 1e6})
		if !seen[res.Size] {
			seen[res.Size] = true
			ticks = append(ticks, plot.Tick{Value: float64(res.Size), Label: SizeName(res.Size)})
		}
	}
	p.X.Tick.Marker = plot.ConstantTicks(ticks)
	for _, v := range order {
		if err := addLine(p, series[v], colors[v]); err != nil {
			return nil, err
		}
	}
	if len(order) == 0 {
		p.Title.Text += " (not measured)"
	}
	return p, nil
}

func (r *Report) latencyPlot(colors map[Variant]int) (*plot.Plot, error) {
	p := plot.New()
	size := 0
	for i := range r.Results {
		if res := &r.Results[i]; res.Scenario == PingPong && res.P50us != nil && (size == 0 || res.Size < size) {
			size = res.Size
		}
	}
	p.Title.Text = fmt.Sprintf("Ping-pong round trip, %s messages", SizeName(size))
	p.X.Label.Text = "percentile"
	p.Y.Label.Text = "µs (median)"
	p.Y.Scale = plot.LogScale{}
	p.Y.Tick.Marker = logTicks
	p.X.Tick.Marker = plot.ConstantTicks([]plot.Tick{{Value: 1, Label: "p50"}, {Value: 2, Label: "p90"}, {Value: 3, Label: "p99"}, {Value: 4, Label: "p99.9"}})
	p.X.Min, p.X.Max = 0.8, 4.2
	n := 0
	for i := range r.Results {
		res := &r.Results[i]
		if res.Scenario != PingPong || res.Size != size || res.P50us == nil {
			continue
		}
		xy := plotter.XYs{{X: 1, Y: *res.P50us}, {X: 2, Y: *res.P90us}, {X: 3, Y: *res.P99us}, {X: 4, Y: *res.P999us}}
		v := res.Variant()
		if err := addLine(p, xy, colors[v]); err != nil {
			return nil, err
		}
		n++
	}
	if n == 0 {
		p.Title.Text = "Ping-pong round trip (not measured)"
	}
	return p, nil
}

// addLine draws one variant's line in its style.
func addLine(p *plot.Plot, xy plotter.XYs, i int) error {
	l, pts, err := plotter.NewLinePoints(xy)
	if err != nil {
		return err
	}
	sl, sp := style(i)
	l.LineStyle, pts.GlyphStyle = sl.LineStyle, sp.GlyphStyle
	p.Add(l, pts)
	return nil
}

// style is variant i's line and glyph: a colour, a shape, and dashes once
// the colours repeat.
func style(i int) (*plotter.Line, *plotter.Scatter) {
	l := &plotter.Line{LineStyle: draw.LineStyle{Color: plotutil.Color(i), Width: vg.Points(1.5), Dashes: plotutil.Dashes(i / 7)}}
	pts := &plotter.Scatter{GlyphStyle: draw.GlyphStyle{Color: plotutil.Color(i), Shape: plotutil.Shape(i), Radius: vg.Points(3)}}
	return l, pts
}

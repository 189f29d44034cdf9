package forecast

type regWork struct{}

func (w *Fitter) runRegression(g *grid, y []float64, pers []period, o Options, origins []int, H int, c *cand) {
	w.runSNaive(c, y, origins, H, 1)
}

func (w *Fitter) etsInput(y []float64, pers []period) []float64 { return y }

func (w *Fitter) etsOutput(c *cand, origins []int, H int, pers []period) {}

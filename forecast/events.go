package forecast

// applyKnownEvents returns the history minus the effect of the events whose
// effect is known (Event.Known), and sets w.offFut to their effect at each
// forecast time, so that every model forecasts the series without them and
// the forecast adds them back.
func (w *Fitter) applyKnownEvents(g *grid, events []Event, future []int64) []float64 {
	off := grow(&w.offFut, len(future))
	for i := range off {
		off[i] = 0
	}
	has := false
	for _, e := range events {
		if e.Known && e.Effect != 0 {
			has = true
			break
		}
	}
	if !has {
		return g.y
	}
	n := g.n()
	adj := grow(&w.adj, n)
	copy(adj, g.y)
	for _, e := range events {
		if !e.Known || e.Effect == 0 {
			continue
		}
		for i := range adj {
			if t := g.time(i); t >= e.Start && t < e.End {
				adj[i] -= e.Effect
			}
		}
		for h, t := range future {
			if t >= e.Start && t < e.End {
				off[h] += e.Effect
			}
		}
	}
	return adj
}

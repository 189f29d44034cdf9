package main

import (
	"sync"
	"sync/atomic"

	"github.com/fleetcast/fleetcast/forecast"
)

// forEachFitter calls do(fitter, i) for every i in [0, n) on up to workers
// goroutines and returns when all calls have. Each goroutine keeps its own
// forecast.Fitter, which is not safe for concurrent use; items are handed
// out one at a time, so a slow series does not hold up a whole batch.
func forEachFitter(n, workers int, do func(fitter *forecast.Fitter, i int)) {
	var next atomic.Int64
	var wg sync.WaitGroup
	for range min(workers, n) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var fitter forecast.Fitter
			for {
				i := int(next.Add(1) - 1)
				if i >= n {
					return
				}
				do(&fitter, i)
			}
		}()
	}
	wg.Wait()
}

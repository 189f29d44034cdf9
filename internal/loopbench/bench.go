package loopbench

import (
	"context"
	"fmt"
	"runtime"
	"sort"
	"sync"
	"time"
)

// NewFleet builds a fresh fleet for one trace, its clock at start.
type NewFleet func(tr Trace, s Settings, start time.Time) (Fleet, error)

// Bench runs every named policy on every trace of one dataset, each trace on
// its own fleet (one job on one node pool), in parallel over the CPUs, and
// returns the sum per policy in the order of policies, and the results per
// series, both compared with reactive (see Compare) when it ran.
func Bench(ctx context.Context, dataset string, traces []Trace, s Settings, policies []string, newFleet NewFleet) ([]Result, []Result, error) {
	if err := s.Validate(); err != nil {
		return nil, nil, err
	}
	type job struct {
		tr     int
		policy string
	}
	jobs := make(chan job)
	var (
		mu      sync.Mutex
		per     []Result
		firstEr error
	)
	workers := runtime.GOMAXPROCS(0)
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range jobs {
				r, err := RunTrace(traces[j.tr], s, j.policy, newFleet)
				mu.Lock()
				if err != nil && firstEr == nil {
					firstEr = fmt.Errorf("%s, %s policy: %w", traces[j.tr].Name, j.policy, err)
				}
				r.Dataset, r.Series = dataset, traces[j.tr].Name
				per = append(per, r)
				mu.Unlock()
			}
		}()
	}
feed:
	for i := range traces {
		for _, p := range policies {
			select {
			case jobs <- job{i, p}:
			case <-ctx.Done():
				break feed
			}
		}
	}
	close(jobs)
	wg.Wait()
	if firstEr != nil {
		return nil, nil, firstEr
	}
	if err := ctx.Err(); err != nil {
		return nil, nil, err
	}
	sums := make([]Result, len(policies))
	for i, p := range policies {
		sums[i].Policy, sums[i].Dataset = p, dataset
		for _, r := range per {
			if r.Policy == p {
				sums[i].Add(r)
			}
		}
	}
	sort.Slice(per, func(i, j int) bool {
		if per[i].Series != per[j].Series {
			return per[i].Series < per[j].Series
		}
		return policyRank(per[i].Policy) < policyRank(per[j].Policy)
	})
	Compare(sums)
	Compare(per)
	return sums, per, nil
}

// Policies are the policies a run may name, in the order tables show them.
var Policies = []string{"reactive", "predictive", "oracle"}

func policyRank(name string) int {
	for i, p := range Policies {
		if p == name {
			return i
		}
	}
	return len(Policies)
}

// NewPolicy returns the policy of that name for one trace: predictive,
// reactive, or oracle (which alone is given the trace's future).
func NewPolicy(name string, s Settings, tr Trace, start time.Time) (Policy, error) {
	switch name {
	case "predictive":
		return &Predictive{S: s}, nil
	case "reactive":
		return &Reactive{S: s}, nil
	case "oracle":
		demand, err := tr.Demand(start)
		if err != nil {
			return nil, fmt.Errorf("oracle for %s: %w", tr.Name, err)
		}
		return NewOracle(s, demand), nil
	}
	return nil, fmt.Errorf("policy %q: valid policies are predictive, reactive and oracle", name)
}

// RunTrace runs one policy over one trace on a fresh fleet: from the trace's
// first sample to its last, scored after the warm-up.
func RunTrace(tr Trace, s Settings, policy string, newFleet NewFleet) (Result, error) {
	start := time.Unix(tr.Times[0], 0).UTC().Truncate(s.Step)
	pol, err := NewPolicy(policy, s, tr, start)
	if err != nil {
		return Result{}, err
	}
	end := time.Unix(tr.Times[len(tr.Times)-1], 0).UTC()
	scoreFrom := start.Add(s.Warmup)
	if !scoreFrom.Before(end) {
		return Result{}, fmt.Errorf("trace spans %s, shorter than the warm-up %s", end.Sub(start), s.Warmup)
	}
	fl, err := newFleet(tr, s, start)
	if err != nil {
		return Result{}, err
	}
	return Run(fl, pol, s, start, scoreFrom, end)
}

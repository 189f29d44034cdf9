package loop

import (
	"encoding/json"
	"fmt"
	"io"
	"math"
	"text/tabwriter"
)

// WriteJSON writes one JSON object per result, one per line.
func WriteJSON(w io.Writer, results []Result) error {
	enc := json.NewEncoder(w)
	for _, r := range results {
		if err := enc.Encode(r); err != nil {
			return fmt.Errorf("write JSON: %w", err)
		}
	}
	return nil
}

// WriteTable prints the results side by side and, when both policies ran,
// the ratios predictive/reactive.
func WriteTable(w io.Writer, results []Result) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "policy\toverload min\tunplaced min\tcapacity h\tactions\tmigrations\tseries\tscored h\t")
	var pred, react *Result
	for i := range results {
		r := &results[i]
		fmt.Fprintf(tw, "%s\t%.0f\t%.0f\t%.1f\t%d\t%d\t%d\t%.0f\t\n", r.Policy, r.OverloadMinutes, r.UnplacedMinutes,
			r.CapacityHours, r.Actions, r.Migrations, r.Series, r.ScoredHours)
		switch r.Policy {
		case "predictive":
			pred = r
		case "reactive":
			react = r
		}
	}
	if pred != nil && react != nil {
		fmt.Fprintf(tw, "predictive/reactive\t%s\t%s\t%s\t%s\t%s\t\t\t\n",
			ratio(pred.OverloadMinutes, react.OverloadMinutes), ratio(pred.UnplacedMinutes, react.UnplacedMinutes),
			ratio(pred.CapacityHours, react.CapacityHours), ratio(float64(pred.Actions), float64(react.Actions)),
			ratio(float64(pred.Migrations), float64(react.Migrations)))
	}
	return tw.Flush()
}

func ratio(a, b float64) string {
	if b == 0 {
		if a == 0 {
			return "-"
		}
		return "inf"
	}
	r := a / b
	if math.IsNaN(r) {
		return "-"
	}
	return fmt.Sprintf("%.3f", r)
}

package loopbench

import (
	"encoding/json"
	"fmt"
	"io"
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

// WriteTable prints the results of one dataset, one row per policy (per
// series and policy when the results are per series), with the share of
// avoidable overload removed and the capacity-hours over reactive's where
// Compare filled them.
func WriteTable(w io.Writer, results []Result) error {
	perSeries := false
	for _, r := range results {
		perSeries = perSeries || r.Series != ""
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	head := "policy\tavoidable overload min\tunservable min\tunplaced min\tnode wait min\tcapacity h\tactions\tremoved\tcapacity/reactive\t"
	if perSeries {
		head = "series\t" + head
	} else {
		head += "series\tscored h\t"
	}
	fmt.Fprintln(tw, head)
	for _, r := range results {
		if perSeries {
			fmt.Fprintf(tw, "%s\t", r.Series)
		}
		fmt.Fprintf(tw, "%s\t%.0f\t%.0f\t%.0f\t%.0f\t%.1f\t%d\t%s\t%s\t", r.Policy, r.OverloadMinutes, r.UnservableMinutes,
			r.UnplacedMinutes, r.NodeWaitMinutes, r.CapacityHours, r.Actions, fmtShare(r.AvoidableRemoved), fmtShare(r.CapacityToReactive))
		if !perSeries {
			fmt.Fprintf(tw, "%d\t%.0f\t", r.NSeries, r.ScoredHours)
		}
		fmt.Fprintln(tw)
	}
	return tw.Flush()
}

func fmtShare(v *float64) string {
	if v == nil {
		return "-"
	}
	return fmt.Sprintf("%.3f", *v)
}

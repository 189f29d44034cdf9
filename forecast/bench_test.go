package forecast

import "testing"

// The speed target: the automatic choice on 14 days at 5-minute steps
// (4,032 points, daily and weekly seasonality) with a 24-hour horizon.
func benchFit(b *testing.B, model string) {
	s := synthetic(4032, 300, 2, 1)
	o := Options{Horizon: 288, Level: 0.8, Model: model}
	var w Fitter
	if _, err := w.Fit(s, o); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		if _, err := w.Fit(s, o); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkFitAuto(b *testing.B)         { benchFit(b, "auto") }
func BenchmarkFitETS(b *testing.B)          { benchFit(b, ModelETS) }
func BenchmarkFitRegression(b *testing.B)   { benchFit(b, ModelRegression) }
func BenchmarkFitSNaive(b *testing.B)       { benchFit(b, ModelSNaive) }
func BenchmarkFitSNaiveWeekly(b *testing.B) { benchFit(b, ModelSNaiveWeekly) }
func BenchmarkFitCombo(b *testing.B)        { benchFit(b, ModelCombo) }

// BenchmarkFitAutoFresh is Fit without a reused Fitter: what a caller pays
// for the scratch space when it does not keep one.
func BenchmarkFitAutoFresh(b *testing.B) {
	s := synthetic(4032, 300, 2, 1)
	o := Options{Horizon: 288, Level: 0.8}
	b.ReportAllocs()
	for range b.N {
		if _, err := Fit(s, o); err != nil {
			b.Fatal(err)
		}
	}
}

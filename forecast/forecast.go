// Package forecast predicts a time series: seasonal naive, damped
// Holt-Winters, a Prophet-like regression with events and an autoregressive
// term, a recent median for intermittent series, and their combination,
// chosen per series by rolling-origin backtest, with prediction intervals
// calibrated from backtest errors and held within physical bounds. It is
// pure: slices in, slices out; no I/O, no logging, no clock, no globals.
package forecast

import (
	"errors"
)

// Series is a time series. Times are Unix seconds, strictly increasing;
// steps may be irregular and values may be NaN (gaps).
type Series struct {
	Times  []int64
	Values []float64
}

// Event is a known future (or past) episode, such as a planned peak or a
// scheduled batch job, that adds to the series while it lasts. Recurrences
// are expanded by the caller into one Event per occurrence.
type Event struct {
	Name  string
	Start int64 // Unix seconds, inclusive
	End   int64 // Unix seconds, exclusive
	// Effect is the expected additive effect while the event lasts. When
	// Known is false the model learns the effect from past occurrences of
	// the same Name and uses Effect only as a prior.
	Effect float64
	Known  bool
}

// Regressor is a covariate whose future is known. Past is aligned with the
// series' Times; Future with the forecast's Times.
type Regressor struct {
	Name   string
	Past   []float64
	Future []float64
}

// Options says what to forecast and how.
type Options struct {
	// Horizon is the number of future steps.
	Horizon int
	// HorizonSeconds, used when Horizon is 0, is how far ahead to forecast
	// in seconds; the number of steps is rounded up.
	HorizonSeconds int64
	// Step is the forecast step in seconds; 0 means the series' own median
	// sampling interval.
	Step int64
	// Level is the coverage of the central interval in Forecast.Lower and
	// Forecast.Upper, e.g. 0.8; 0 means 0.8.
	Level float64
	// Model is "" or "auto" for the automatic choice, or one of Models().
	Model string
	// Seasons are the seasonal periods in seconds (e.g. 86400, 604800);
	// nil means detect them from the data.
	Seasons    []int64
	Events     []Event
	Regressors []Regressor
	// Folds is the number of rolling origins of the backtest; 0 means a
	// default that fits the history.
	Folds int
	// Min and Max are physical bounds of the quantity (0 for a byte
	// count, 100 for a percentage); the mean and every quantile of the
	// forecast stay within them. nil Min means 0 when every finite value
	// of the history is non-negative, else no lower bound; nil Max means
	// no upper bound. A Min of -Inf turns the default lower bound off.
	Min, Max *float64
}

// Forecast is the result of Fit.
type Forecast struct {
	Times []int64   // Unix seconds of each future step
	Mean  []float64 // point forecast, never outside [Lower, Upper]
	Lower []float64 // lower bound at Options.Level
	Upper []float64 // upper bound at Options.Level
	Level float64

	Model   string  // the model used (for "auto", the one chosen)
	Seasons []int64 // the seasonal periods used, in seconds
	// Backtest quality of the model on the series' own history:
	// MASE against the seasonal naive scale, and the interval coverage.
	MASE     float64
	Coverage float64
	// Min and Max are the bounds the forecast respects (Options.Min and
	// Options.Max, or the defaults); -Inf and +Inf when unbounded.
	Min, Max float64
	// Intermittent says the history was recognised as intermittent
	// (mostly zeros, in many runs), so auto took the recent median.
	Intermittent bool

	// cal holds the pooled backtest error quantiles behind Quantile.
	cal calib
	// sd is the band's scale per step before the bounds clamped it.
	sd []float64
	// bounded says Min and Max were set by Fit (a zero Forecast has none).
	bounded bool
}

// Errors that callers can test for.
var (
	ErrEmpty        = errors.New("series has no finite values")
	ErrBadOptions   = errors.New("invalid options")
	ErrUnknownModel = errors.New("unknown model")
)

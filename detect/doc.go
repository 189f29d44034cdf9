// Package detect is fleetcast's streaming anomaly detector: it scores each
// observation of one series in [0, 1] from that series' past alone, before
// learning from it. It is behind `fleetcast detect`, the exporter's
// fleetcast_anomaly_score and the ForecastAnomaly rule, whose threshold is
// Threshold. Like forecast it is pure: values in, scores out, no I/O, no
// clock, no globals. It shares nothing with forecast's models and imports
// only the standard library.
//
// Each observation is compared with a band forecast made before it arrived
// (a robust level plus the seasonal profile that has predicted best so
// far). Two pieces of evidence are then weighed against the series' own
// history:
//
//   - surprise: how far the observation lies from its forecast, in robust
//     scale units, ranked among all past such distances;
//   - rarity: how unusual the recent level is (a moving average of the
//     values over about the last 50 minutes, or the last value when the
//     step is longer), ranked two-sided among all past such levels.
//
// Both ranks are tail probabilities read from small fixed-size histograms,
// so the score means the same on a calm series and on a noisy one. The
// evidence adds up: raw = -ln(p_surprise) - ln(p_rarity), in nats, high only
// when an observation is both off its forecast and at a level this series
// rarely visits. A third view is absolute, because a rank can never say
// "far": the distance from the past day's mean in the past day's standard
// deviations, 5 of which are worth the threshold. It counts while the
// history is short (600 observations, when a rank can say little), and
// afterwards only when it is the largest this series has shown. A level
// change (an EWMA of the standardised residuals over the same time, beyond
// 3 scales) is adopted by the models at once, so the
// alarm does not drag on while they catch up; a spread change raises both
// pieces of evidence and is learnt by the robust scale. Finally, an anomaly
// that has already been reported is not reported again at full strength
// while it lasts: the score is halved unless the evidence exceeds a slowly
// decaying maximum of its recent past. An event ends once the evidence has
// stayed low for six hours; the next one is then judged on its own.
//
// The evidence is counted per day rather than per observation
// (setStepScales), so one threshold means one false-alarm rate per day at
// every step; at steps longer than 5 minutes only half of the correction is
// added, because there the two views largely score the same observation.
//
// Only after scoring does the model learn from the observation, so a score
// never depends on anything at or after its own time.
//
// The files follow the parts: histogram.go is the rank sketch both pieces
// of evidence are read from, model.go the candidate forecasters (a level
// alone, or a level plus a daily or weekly profile), detector.go the API and
// the scoring that ties them together.
package detect

package exporter

import (
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"html/template"
	"io"
	"math"
	"net/http"
	"os"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/prometheus/common/model"
)

// maxEventBody bounds a POST to the events API.
const maxEventBody = 64 << 10

// seriesPerPage bounds the series listed on one status page.
const seriesPerPage = 200

// Handler serves /metrics, the status page, the charts, the events API and
// the health endpoints.
func (e *Exporter) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", promhttp.InstrumentHandlerInFlight(e.self.scrapesInFlight, e.serveMetrics(e.liveRegistry())))
	mux.HandleFunc("GET /{$}", e.handleStatus)
	mux.HandleFunc("GET /target", e.handleTarget)
	mux.HandleFunc("GET /chart.svg", e.handleChart)
	mux.HandleFunc("GET /-/healthy", func(w http.ResponseWriter, _ *http.Request) {
		_, _ = io.WriteString(w, "fleetcast exporter is healthy.\n")
	})
	mux.HandleFunc("GET /-/ready", func(w http.ResponseWriter, _ *http.Request) {
		if ok, pending := e.Ready(); !ok {
			http.Error(w, "not ready: no forecast yet for "+strings.Join(pending, ", "), http.StatusServiceUnavailable)
			return
		}
		_, _ = io.WriteString(w, "fleetcast exporter is ready.\n")
	})
	mux.HandleFunc("GET /api/v1/events", e.auth(e.handleListEvents))
	mux.HandleFunc("POST /api/v1/events", e.auth(e.handleAddEvent))
	mux.HandleFunc("DELETE /api/v1/events/{id}", e.auth(e.handleDeleteEvent))
	return mux
}

// auth guards the events API with the bearer token of
// events_api.token_file, read at each request so that rotation needs no
// restart. Without a token file the API is off.
func (e *Exporter) auth(next http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		path := e.cfg.EventsAPI.TokenFile
		if path == "" {
			apiError(w, http.StatusNotFound, "the events API is off: set events_api.token_file and events_file in the config")
			return
		}
		b, err := os.ReadFile(path)
		token := strings.TrimSpace(string(b))
		if err != nil || token == "" {
			e.logger.Error("events API token unreadable", "file", path, "err", err)
			apiError(w, http.StatusInternalServerError, "the events API token file is unreadable or empty")
			return
		}
		got, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		if !ok || subtle.ConstantTimeCompare([]byte(got), []byte(token)) != 1 {
			w.Header().Set("WWW-Authenticate", `Bearer realm="fleetcast"`)
			apiError(w, http.StatusUnauthorized, "missing or wrong bearer token")
			return
		}
		next(w, r)
	}
}

func apiError(w http.ResponseWriter, code int, msg string) {
	writeJSON(w, code, map[string]string{"status": "error", "error": msg})
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(v)
}

// calendarsFor returns the calendars an event for these targets goes to.
func (e *Exporter) calendarsFor(targets []string) ([]*Calendar, error) {
	var out []*Calendar
	add := func(c *Calendar) {
		for _, o := range out {
			if o == c {
				return
			}
		}
		out = append(out, c)
	}
	if len(targets) == 0 {
		c := e.calendars[e.cfg.EventsFile]
		if c == nil {
			return nil, errors.New("targets: empty, and there is no top-level events_file for events of every target")
		}
		add(c)
		return out, nil
	}
	for i, name := range targets {
		var t *target
		for _, tt := range e.targets {
			if tt.cfg.Name == name {
				t = tt
			}
		}
		if t == nil {
			return nil, fmt.Errorf("targets[%d]: %q is not a configured target", i, name)
		}
		if t.cal == nil {
			return nil, fmt.Errorf("targets[%d]: target %q has no calendar (events_file)", i, name)
		}
		add(t.cal)
	}
	return out, nil
}

func (e *Exporter) targetNames() map[string]bool {
	m := make(map[string]bool, len(e.targets))
	for _, t := range e.targets {
		m[t.cfg.Name] = true
	}
	return m
}

type eventWithFile struct {
	CalendarEvent
	File string `json:"file"`
}

func (e *Exporter) handleListEvents(w http.ResponseWriter, _ *http.Request) {
	paths := make([]string, 0, len(e.calendars))
	for p := range e.calendars {
		paths = append(paths, p)
	}
	sort.Strings(paths)
	out := []eventWithFile{}
	for _, p := range paths {
		evs, err := e.calendars[p].Events()
		if err != nil {
			apiError(w, http.StatusInternalServerError, err.Error())
			return
		}
		for _, ev := range evs {
			out = append(out, eventWithFile{ev, p})
		}
	}
	writeJSON(w, http.StatusOK, map[string]any{"status": "success", "events": out})
}

func (e *Exporter) handleAddEvent(w http.ResponseWriter, r *http.Request) {
	var ev CalendarEvent
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxEventBody))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&ev); err != nil {
		apiError(w, http.StatusBadRequest, "decode event: "+err.Error()+`; want JSON such as {"name":"sale","start":"2026-11-27T08:00:00Z","duration":"4h","effect":120,"targets":["node_cpu"]}`)
		return
	}
	if err := ev.Validate(e.targetNames()); err != nil {
		apiError(w, http.StatusBadRequest, err.Error())
		return
	}
	cals, err := e.calendarsFor(ev.Targets)
	if err != nil {
		apiError(w, http.StatusBadRequest, err.Error())
		return
	}
	if ev.ID == "" {
		ev.ID = strconv.FormatInt(e.now().UnixNano(), 36)
	}
	for _, c := range cals {
		if _, err := c.Add(ev, e.targetNames()); err != nil {
			apiError(w, http.StatusBadRequest, err.Error())
			return
		}
	}
	e.logger.Info("event added through the API", "id", ev.ID, "name", ev.Name, "start", ev.Start, "targets", ev.Targets)
	writeJSON(w, http.StatusCreated, map[string]any{"status": "success", "event": ev})
}

func (e *Exporter) handleDeleteEvent(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	found := false
	for _, c := range e.calendars {
		ok, err := c.Delete(id)
		if err != nil {
			apiError(w, http.StatusInternalServerError, err.Error())
			return
		}
		found = found || ok
	}
	if !found {
		apiError(w, http.StatusNotFound, fmt.Sprintf("no event with id %q", id))
		return
	}
	e.logger.Info("event deleted through the API", "id", id)
	writeJSON(w, http.StatusOK, map[string]string{"status": "success"})
}

var statusTmpl = template.Must(template.New("status").Funcs(template.FuncMap{
	"num": func(v float64) string {
		if math.IsNaN(v) {
			return "–"
		}
		return strconv.FormatFloat(v, 'g', 4, 64)
	},
	"ago": func(t time.Time) string {
		if t.IsZero() {
			return "never"
		}
		return time.Since(t).Truncate(time.Second).String() + " ago"
	},
	"fp": func(f model.Fingerprint) string { return f.String() },
}).Parse(`<!doctype html><html><head><meta charset="utf-8"><title>fleetcast exporter</title>
<style>body{font-family:sans-serif;margin:1.5em}table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:2px 6px;text-align:left}.err{color:#b00}.warn{color:#a60}</style></head><body>
<h1>fleetcast exporter</h1>
<p>Started {{ago .Started}}; shard {{.Shard}}. <a href="/metrics">/metrics</a> · <a href="/-/ready">/-/ready</a></p>
{{with .Targets}}<table><tr><th>target</th><th>query</th><th>step</th><th>history</th><th>series</th><th>models</th><th>median MASE</th><th>last cycle</th><th>last error</th><th>warning</th></tr>
{{range .}}<tr><td><a href="/target?name={{.Name}}">{{.Name}}</a></td><td><code>{{.Query}}</code></td><td>{{.Step}}</td><td>{{.History}}</td><td>{{.Series}}</td><td>{{.Models}}</td><td>{{num .MASE}}</td><td>{{ago .At}}</td><td class="err">{{.Err}}</td><td class="warn">{{.Warn}}</td></tr>
{{end}}</table>{{end}}
{{with .Target}}<h2>{{.Name}}</h2><p><code>{{.Query}}</code> · {{.Series}} series{{if .Err}} · <span class="err">last error: {{.Err}}</span>{{end}}</p>{{if .Warn}}<p class="warn">WARN: {{.Warn}}</p>{{end}}
<table><tr><th>series</th><th>model</th><th>MASE</th><th>coverage</th><th>bounds</th><th>observed</th><th>anomaly</th><th>chart</th><th>error</th></tr>
{{range .Rows}}<tr><td>{{.Labels}}</td><td>{{.Model}}</td><td>{{num .MASE}}</td><td>{{num .Coverage}}</td><td>{{.Bounds}}</td><td>{{num .Observed}}</td><td>{{num .Score}}</td><td><a href="/chart.svg?target={{$.Target.Name}}&amp;series={{.FP}}">chart</a></td><td class="err">{{.Err}}</td></tr>
{{end}}</table>
{{range $i, $r := .Rows}}{{if lt $i 12}}<figure><img loading="lazy" width="864" height="384" alt="history, forecast, band, bounds and capacity of {{$r.Labels}}" src="/chart.svg?target={{$.Target.Name}}&amp;series={{$r.FP}}"><figcaption>{{$r.Labels}}</figcaption></figure>
{{end}}{{end}}{{if .Next}}<p><a href="/target?name={{.Name}}&amp;offset={{.Next}}">next {{.PerPage}}</a></p>{{end}}{{end}}
</body></html>`))

type statusTarget struct {
	Name, Query, Step, History, Models, Err string
	Warn                                    string
	Series                                  int
	MASE                                    float64
	At                                      time.Time
	Rows                                    []statusRow
	Next, PerPage                           int
}

type statusRow struct {
	Labels, Model, Err, FP, Bounds  string
	MASE, Coverage, Observed, Score float64
}

func (e *Exporter) summary(t *target) statusTarget {
	st := statusTarget{Name: t.cfg.Name, Query: t.cfg.Query, Step: t.cfg.Step.String(), History: t.cfg.History.String(), MASE: math.NaN(),
		Warn: t.warning()}
	s := t.snap.Load()
	if s == nil {
		st.Err = "no cycle yet"
		return st
	}
	st.Series, st.At, st.Err = len(s.rows), s.at, s.lastErr
	models := map[string]int{}
	var mases []float64
	for _, r := range s.rows {
		if r.model != "" {
			models[r.model]++
		}
		if !math.IsNaN(r.mase) {
			mases = append(mases, r.mase)
		}
	}
	names := make([]string, 0, len(models))
	for m, n := range models {
		names = append(names, fmt.Sprintf("%s: %d", m, n))
	}
	sort.Strings(names)
	st.Models = strings.Join(names, ", ")
	if len(mases) > 0 {
		sort.Float64s(mases)
		st.MASE = mases[len(mases)/2]
	}
	return st
}

func (e *Exporter) handleStatus(w http.ResponseWriter, _ *http.Request) {
	data := struct {
		Started time.Time
		Shard   string
		Targets []statusTarget
		Target  *statusTarget
	}{Started: e.started, Shard: fmt.Sprintf("%d/%d", e.shard, e.shards)}
	for _, t := range e.targets {
		data.Targets = append(data.Targets, e.summary(t))
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	if err := statusTmpl.Execute(w, data); err != nil {
		e.logger.Error("render status page", "err", err)
	}
}

func (e *Exporter) findTarget(name string) *target {
	for _, t := range e.targets {
		if t.cfg.Name == name {
			return t
		}
	}
	return nil
}

func (e *Exporter) handleTarget(w http.ResponseWriter, r *http.Request) {
	t := e.findTarget(r.URL.Query().Get("name"))
	if t == nil {
		http.Error(w, "unknown target; see / for the list", http.StatusNotFound)
		return
	}
	offset, _ := strconv.Atoi(r.URL.Query().Get("offset"))
	st := e.summary(t)
	st.PerPage = seriesPerPage
	if s := t.snap.Load(); s != nil && offset >= 0 && offset < len(s.rows) {
		end := min(len(s.rows), offset+seriesPerPage)
		for _, row := range s.rows[offset:end] {
			st.Rows = append(st.Rows, statusRow{Labels: row.labels, Model: row.model, Err: row.err, FP: row.fp.String(), Bounds: row.bounds,
				MASE: row.mase, Coverage: row.coverage, Observed: row.observed, Score: row.score})
		}
		if end < len(s.rows) {
			st.Next = end
		}
	}
	data := struct {
		Started time.Time
		Shard   string
		Targets []statusTarget
		Target  *statusTarget
	}{Started: e.started, Shard: fmt.Sprintf("%d/%d", e.shard, e.shards), Target: &st}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	if err := statusTmpl.Execute(w, data); err != nil {
		e.logger.Error("render status page", "err", err)
	}
}

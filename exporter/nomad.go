package exporter

import (
	"context"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/hashicorp/cronexpr"
	nomad "github.com/hashicorp/nomad/api"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/common/model"

	"github.com/fleetcast/fleetcast/forecast"
)

// maxLaunches bounds the expansion of one cron spec over a window.
const maxLaunches = 20000

// PeriodicJob is what the exporter needs of a Nomad periodic job.
type PeriodicJob struct {
	Namespace string
	ID        string
	NodePool  string
	Specs     []string // cron specs, read with cronexpr as Nomad reads them
	TimeZone  string   // IANA name; "" is UTC
	CPU       float64  // MHz asked by one launch: Σ group count × task CPU
	Memory    float64  // bytes asked by one launch
	Duration  time.Duration
}

// JobLister lists the periodic jobs; the Nomad API or a fake.
type JobLister interface {
	PeriodicJobs(ctx context.Context) ([]PeriodicJob, error)
}

// launches returns the launch times in (from, to], as Nomad's periodic
// dispatcher computes them: cronexpr in the job's time zone.
func (j *PeriodicJob) launches(from, to time.Time) ([]time.Time, error) {
	loc := time.UTC
	if j.TimeZone != "" {
		l, err := time.LoadLocation(j.TimeZone)
		if err != nil {
			return nil, fmt.Errorf("job %s/%s: time zone %q: %w", j.Namespace, j.ID, j.TimeZone, err)
		}
		loc = l
	}
	var out []time.Time
	for _, spec := range j.Specs {
		e, err := cronexpr.Parse(spec)
		if err != nil {
			return nil, fmt.Errorf("job %s/%s: cron %q: %w", j.Namespace, j.ID, spec, err)
		}
		t := from.In(loc)
		for range maxLaunches {
			t = e.Next(t)
			if t.IsZero() || t.After(to) {
				break
			}
			out = append(out, t)
		}
	}
	return out, nil
}

func (j *PeriodicJob) ask(resource string) float64 {
	if resource == "memory" {
		return j.Memory
	}
	return j.CPU
}

// nomadLister reads periodic jobs through github.com/hashicorp/nomad/api.
type nomadLister struct {
	client      *nomad.Client
	namespaces  []string
	jobDuration time.Duration
}

// NewNomadLister builds a JobLister from the nomad section.
func NewNomadLister(c *NomadConfig) (JobLister, error) {
	cfg := nomad.DefaultConfig()
	cfg.Address = c.Address
	if c.Token != "" {
		// Otherwise NOMAD_TOKEN, as DefaultConfig read it.
		cfg.SecretID = c.Token
	}
	if c.TokenFile != "" {
		b, err := os.ReadFile(c.TokenFile)
		if err != nil {
			return nil, fmt.Errorf("nomad.token_file: %w", err)
		}
		cfg.SecretID = strings.TrimSpace(string(b))
	}
	client, err := nomad.NewClient(cfg)
	if err != nil {
		return nil, fmt.Errorf("nomad client: %w", err)
	}
	ns := c.Namespaces
	if len(ns) == 0 {
		ns = []string{"default"}
	}
	return &nomadLister{client: client, namespaces: ns, jobDuration: time.Duration(c.JobDuration)}, nil
}

func (n *nomadLister) PeriodicJobs(ctx context.Context) ([]PeriodicJob, error) {
	var out []PeriodicJob
	seen := map[string]bool{}
	for _, ns := range n.namespaces {
		q := (&nomad.QueryOptions{Namespace: ns}).WithContext(ctx)
		stubs, _, err := n.client.Jobs().List(q)
		if err != nil {
			return nil, fmt.Errorf("nomad: list jobs in namespace %q: %w", ns, err)
		}
		for _, s := range stubs {
			// Children of a periodic job carry ParentID; only the parent
			// holds the schedule.
			if !s.Periodic || s.Stop || s.ParentID != "" {
				continue
			}
			jobNS := s.Namespace
			if jobNS == "" {
				jobNS = ns
			}
			key := jobNS + "/" + s.ID
			if seen[key] {
				continue
			}
			seen[key] = true
			job, _, err := n.client.Jobs().Info(s.ID, (&nomad.QueryOptions{Namespace: jobNS}).WithContext(ctx))
			if err != nil {
				return nil, fmt.Errorf("nomad: read job %s: %w", key, err)
			}
			if pj, ok := periodicFromJob(job, jobNS, n.jobDuration); ok {
				out = append(out, pj)
			}
		}
	}
	return out, nil
}

// periodicFromJob reads the schedule and the resource ask of a job.
func periodicFromJob(job *nomad.Job, ns string, defaultDuration time.Duration) (PeriodicJob, bool) {
	p := job.Periodic
	if p == nil || (p.Enabled != nil && !*p.Enabled) {
		return PeriodicJob{}, false
	}
	pj := PeriodicJob{Namespace: ns, Duration: defaultDuration}
	if job.Namespace != nil && *job.Namespace != "" {
		pj.Namespace = *job.Namespace
	}
	if job.ID != nil {
		pj.ID = *job.ID
	}
	if job.NodePool != nil {
		pj.NodePool = *job.NodePool
	}
	if p.Spec != nil && *p.Spec != "" {
		pj.Specs = append(pj.Specs, *p.Spec)
	}
	pj.Specs = append(pj.Specs, p.Specs...)
	if len(pj.Specs) == 0 {
		return PeriodicJob{}, false
	}
	if p.TimeZone != nil {
		pj.TimeZone = *p.TimeZone
	}
	if d, ok := job.Meta["fleetcast_duration"]; ok {
		if md, err := model.ParseDuration(d); err == nil && md > 0 {
			pj.Duration = time.Duration(md)
		}
	}
	for _, tg := range job.TaskGroups {
		count := 1
		if tg.Count != nil {
			count = *tg.Count
		}
		for _, t := range tg.Tasks {
			if t.Resources == nil {
				continue
			}
			if t.Resources.CPU != nil {
				pj.CPU += float64(count * *t.Resources.CPU)
			}
			if t.Resources.MemoryMB != nil {
				pj.Memory += float64(count**t.Resources.MemoryMB) * 1024 * 1024
			}
		}
	}
	return pj, true
}

// demandPoint is one fleetcast_scheduled_demand sample.
type demandPoint struct {
	resource, job, namespace, nodePool, horizon string
	value                                       float64
}

// scheduledDemand computes, per job and horizon, the job's ask when a
// launch is due within (now, now+horizon], else 0.
func scheduledDemand(jobs []PeriodicJob, now time.Time, horizons []model.Duration) ([]demandPoint, error) {
	var out []demandPoint
	var firstErr error
	for i := range jobs {
		j := &jobs[i]
		if len(horizons) == 0 {
			break
		}
		ls, err := j.launches(now, now.Add(time.Duration(horizons[len(horizons)-1])))
		if err != nil {
			if firstErr == nil {
				firstErr = err
			}
			continue
		}
		for _, h := range horizons {
			due := false
			for _, l := range ls {
				if !l.After(now.Add(time.Duration(h))) {
					due = true
					break
				}
			}
			for _, r := range []string{"cpu", "memory"} {
				v := 0.0
				if due {
					v = j.ask(r)
				}
				out = append(out, demandPoint{resource: r, job: j.ID, namespace: j.Namespace, nodePool: j.NodePool, horizon: h.String(), value: v})
			}
		}
	}
	return out, firstErr
}

// demandEvents turns the launches of jobs in (from, to] into known events
// for a target that opted in; only jobs whose ID equals jobFilter count when
// it is set.
func demandEvents(jobs []PeriodicJob, sd *ScheduledDemandConfig, jobFilter string, from, to time.Time) []forecast.Event {
	var out []forecast.Event
	for i := range jobs {
		j := &jobs[i]
		if sd.JobLabel != "" && j.ID != jobFilter {
			continue
		}
		ls, err := j.launches(from, to)
		if err != nil {
			continue
		}
		for _, l := range ls {
			out = append(out, forecast.Event{
				Name: "nomad:" + j.Namespace + "/" + j.ID, Start: l.Unix(), End: l.Add(j.Duration).Unix(),
				Effect: j.ask(sd.Resource) * sd.Scale, Known: true,
			})
		}
	}
	return out
}

type nomadSnapshot struct {
	at      time.Time
	jobs    []PeriodicJob
	metrics []prometheus.Metric
	text    *exposition
}

// nomadLoop refreshes the periodic jobs on the nomad refresh interval.
func (e *Exporter) nomadLoop(ctx context.Context) {
	refresh := time.Duration(e.cfg.Nomad.Refresh)
	for {
		_ = e.refreshNomad(ctx)
		select {
		case <-ctx.Done():
			return
		case <-time.After(refresh):
		}
	}
}

func (e *Exporter) refreshNomad(ctx context.Context) error {
	jobs, err := e.jobs.PeriodicJobs(ctx)
	if err != nil {
		e.self.errors.WithLabelValues("", "nomad").Inc()
		if !e.nomadDown.Swap(true) {
			e.logger.Warn("nomad unreachable: keeping the last periodic jobs", "err", err)
		}
		return err
	}
	if e.nomadDown.Swap(false) {
		e.logger.Info("nomad recovered")
	}
	now := e.now()
	pts, derr := scheduledDemand(jobs, now, e.cfg.Nomad.Horizons)
	if derr != nil {
		e.logger.Warn("a periodic job has a schedule fleetcast cannot read", "err", derr)
	}
	snap := &nomadSnapshot{at: now, jobs: jobs, metrics: make([]prometheus.Metric, 0, len(pts))}
	for _, p := range pts {
		snap.metrics = append(snap.metrics, prometheus.MustNewConstMetric(descScheduledDemand, prometheus.GaugeValue, p.value, p.resource, p.job, p.namespace, p.nodePool, p.horizon))
	}
	if snap.text, err = render(snap.metrics); err != nil {
		return err
	}
	snap.metrics = nil
	e.nomadSnap.Store(snap)
	e.self.nomadJobs.Set(float64(len(jobs)))
	e.self.nomadLastSuccess.Set(float64(now.UnixNano()) / 1e9)
	return nil
}

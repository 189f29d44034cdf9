package exporter

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"time"

	"github.com/prometheus/common/model"
	"gopkg.in/yaml.v3"

	"github.com/fleetcast/fleetcast/forecast"
)

// maxOccurrences bounds the expansion of one recurring event.
const maxOccurrences = 10000

// CalendarEvent is a planned episode, such as a sale or a release, that adds
// Effect to the targets it names while it lasts.
type CalendarEvent struct {
	ID       string         `yaml:"id" json:"id"`
	Name     string         `yaml:"name" json:"name"`
	Start    time.Time      `yaml:"start" json:"start"`
	End      *time.Time     `yaml:"end,omitempty" json:"end,omitempty"`
	Duration model.Duration `yaml:"duration,omitempty" json:"duration,omitempty"`
	// Every repeats the event (e.g. 1d, 1w); Count or Until bound it.
	Every model.Duration `yaml:"every,omitempty" json:"every,omitempty"`
	Count int            `yaml:"count,omitempty" json:"count,omitempty"`
	Until *time.Time     `yaml:"until,omitempty" json:"until,omitempty"`
	// Effect is the expected additive effect, in the target's unit.
	Effect float64 `yaml:"effect" json:"effect"`
	// Known says Effect is certain; otherwise the model learns the effect
	// from past occurrences of the same name and uses Effect as a prior.
	Known bool `yaml:"known,omitempty" json:"known,omitempty"`
	// Targets the event applies to; empty means every target using the file.
	Targets []string `yaml:"targets,omitempty" json:"targets,omitempty"`
}

type calendarFile struct {
	Events []CalendarEvent `yaml:"events"`
}

// length is the duration of one occurrence.
func (e *CalendarEvent) length() time.Duration {
	if e.End != nil {
		return e.End.Sub(e.Start)
	}
	return time.Duration(e.Duration)
}

// Validate checks an event; targets are the valid target names (nil skips
// that check). Errors name the field.
func (e *CalendarEvent) Validate(targets map[string]bool) error {
	if e.Name == "" {
		return errors.New("name: missing; want a name such as black-friday")
	}
	if e.Start.IsZero() {
		return errors.New("start: missing; want an RFC 3339 time such as 2026-11-27T08:00:00Z")
	}
	switch {
	case e.End != nil && e.Duration != 0:
		return errors.New("end: set together with duration; use one of them")
	case e.End == nil && e.Duration == 0:
		return errors.New("duration: missing; want end (RFC 3339) or duration (e.g. 4h)")
	case e.length() <= 0:
		return fmt.Errorf("end: %s is not after start", e.length())
	}
	if e.Every < 0 {
		return errors.New("every: negative; want a duration such as 1d or 1w")
	}
	if e.Every > 0 && time.Duration(e.Every) < e.length() {
		return fmt.Errorf("every: %s is shorter than the event (%s); occurrences would overlap", e.Every, e.length())
	}
	if e.Count < 0 {
		return fmt.Errorf("count: %d; want 0 (unbounded) or more", e.Count)
	}
	if (e.Count > 0 || e.Until != nil) && e.Every == 0 {
		return errors.New("count/until: set without every; they bound a recurrence")
	}
	if e.Until != nil && e.Until.Before(e.Start) {
		return errors.New("until: before start")
	}
	if e.Effect != e.Effect {
		return errors.New("effect: NaN; want a number in the target's unit")
	}
	if targets != nil {
		for i, t := range e.Targets {
			if !targets[t] {
				return fmt.Errorf("targets[%d]: %q is not a configured target", i, t)
			}
		}
	}
	return nil
}

// occurrences expands the event into forecast events overlapping [from, to).
func (e *CalendarEvent) occurrences(from, to time.Time) []forecast.Event {
	l := e.length()
	var out []forecast.Event
	add := func(s time.Time) {
		if s.Add(l).After(from) && s.Before(to) {
			out = append(out, forecast.Event{Name: e.Name, Start: s.Unix(), End: s.Add(l).Unix(), Effect: e.Effect, Known: e.Known})
		}
	}
	if e.Every == 0 {
		add(e.Start)
		return out
	}
	every := time.Duration(e.Every)
	k := 0
	// Skip to the first occurrence that can overlap from.
	if gap := from.Sub(e.Start.Add(l)); gap > 0 {
		k = int(gap / every)
	}
	for n := 0; n < maxOccurrences; n, k = n+1, k+1 {
		if e.Count > 0 && k >= e.Count {
			break
		}
		s := e.Start.Add(time.Duration(k) * every)
		if (e.Until != nil && s.After(*e.Until)) || !s.Before(to) {
			break
		}
		add(s)
	}
	return out
}

// Calendar is one calendar file, kept in memory and written back on change.
// A hand edit of the file is picked up at the next read.
type Calendar struct {
	path string

	mu      sync.Mutex
	events  []CalendarEvent
	modTime time.Time
	size    int64
}

// OpenCalendar reads the file; a missing file is an empty calendar.
func OpenCalendar(path string) (*Calendar, error) {
	c := &Calendar{path: path}
	if err := c.reload(); err != nil {
		return nil, err
	}
	return c, nil
}

// Path is the file of the calendar.
func (c *Calendar) Path() string { return c.path }

// reload re-reads the file if it changed; callers hold mu or own c.
func (c *Calendar) reload() error {
	st, err := os.Stat(c.path)
	if errors.Is(err, os.ErrNotExist) {
		c.events, c.modTime, c.size = nil, time.Time{}, 0
		return nil
	}
	if err != nil {
		return fmt.Errorf("calendar %s: %w", c.path, err)
	}
	if st.ModTime().Equal(c.modTime) && st.Size() == c.size {
		return nil
	}
	b, err := os.ReadFile(c.path)
	if err != nil {
		return fmt.Errorf("calendar %s: %w", c.path, err)
	}
	var f calendarFile
	dec := yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(true)
	if err := dec.Decode(&f); err != nil && len(bytes.TrimSpace(b)) > 0 {
		return fmt.Errorf("calendar %s: %w", c.path, err)
	}
	ids := map[string]bool{}
	for i := range f.Events {
		e := &f.Events[i]
		if err := e.Validate(nil); err != nil {
			return fmt.Errorf("calendar %s: events[%d].%w", c.path, i, err)
		}
		if e.ID == "" {
			e.ID = fmt.Sprintf("%s-%d", e.Name, i)
		}
		if ids[e.ID] {
			return fmt.Errorf("calendar %s: events[%d].id: %q is used twice", c.path, i, e.ID)
		}
		ids[e.ID] = true
	}
	c.events, c.modTime, c.size = f.Events, st.ModTime(), st.Size()
	return nil
}

// Events returns a copy of the events, re-reading the file if it changed.
func (c *Calendar) Events() ([]CalendarEvent, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	err := c.reload()
	return slices.Clone(c.events), err
}

// For returns the occurrences of the events that apply to target within
// [from, to).
func (c *Calendar) For(target string, from, to time.Time) ([]forecast.Event, error) {
	evs, err := c.Events()
	var out []forecast.Event
	for i := range evs {
		if len(evs[i].Targets) > 0 && !slices.Contains(evs[i].Targets, target) {
			continue
		}
		out = append(out, evs[i].occurrences(from, to)...)
	}
	return out, err
}

// Add validates, stores and persists an event, giving it an ID if it has none.
func (c *Calendar) Add(e CalendarEvent, targets map[string]bool) (CalendarEvent, error) {
	if err := e.Validate(targets); err != nil {
		return e, err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if err := c.reload(); err != nil {
		return e, err
	}
	if e.ID == "" {
		var b [6]byte
		if _, err := rand.Read(b[:]); err != nil {
			return e, fmt.Errorf("event id: %w", err)
		}
		e.ID = hex.EncodeToString(b[:])
	}
	for _, o := range c.events {
		if o.ID == e.ID {
			return e, fmt.Errorf("id: %q exists; DELETE it first", e.ID)
		}
	}
	next := append(slices.Clone(c.events), e)
	if err := c.write(next); err != nil {
		return e, err
	}
	return e, nil
}

// Delete removes the event with id and says whether it existed.
func (c *Calendar) Delete(id string) (bool, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if err := c.reload(); err != nil {
		return false, err
	}
	i := slices.IndexFunc(c.events, func(e CalendarEvent) bool { return e.ID == id })
	if i < 0 {
		return false, nil
	}
	return true, c.write(slices.Delete(slices.Clone(c.events), i, i+1))
}

// write persists events atomically (temp file and rename), so a crash
// leaves either the old or the new calendar.
func (c *Calendar) write(events []CalendarEvent) error {
	b, err := yaml.Marshal(calendarFile{Events: events})
	if err != nil {
		return fmt.Errorf("encode calendar: %w", err)
	}
	tmp, err := os.CreateTemp(filepath.Dir(c.path), ".calendar-*")
	if err != nil {
		return fmt.Errorf("write calendar %s: %w", c.path, err)
	}
	if _, err := tmp.Write(b); err != nil {
		_ = tmp.Close()
		_ = os.Remove(tmp.Name())
		return fmt.Errorf("write calendar %s: %w", c.path, err)
	}
	if err := tmp.Close(); err != nil {
		_ = os.Remove(tmp.Name())
		return fmt.Errorf("write calendar %s: %w", c.path, err)
	}
	if err := os.Rename(tmp.Name(), c.path); err != nil {
		return fmt.Errorf("write calendar %s: %w", c.path, err)
	}
	st, err := os.Stat(c.path)
	if err != nil {
		return fmt.Errorf("calendar %s: %w", c.path, err)
	}
	c.events, c.modTime, c.size = events, st.ModTime(), st.Size()
	return nil
}

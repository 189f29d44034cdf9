package forecast

import (
	"bufio"
	"fmt"
	"os"
	"strconv"
	"testing"

	"github.com/fleetcast/fleetcast/internal/seriescsv"
)

func envInt(k string, def int) int {
	if v, err := strconv.Atoi(os.Getenv(k)); err == nil {
		return v
	}
	return def
}

func TestDetectDebug(t *testing.T) {
	path := os.Getenv("DETECT_DEBUG")
	if path == "" {
		t.Skip()
	}
	f, _ := os.Open(path)
	ss, err := seriescsv.ReadKeepRepeats(f, path)
	if err != nil {
		t.Fatal(err)
	}
	out, _ := os.Create(os.Getenv("DETECT_OUT"))
	w := bufio.NewWriter(out)
	fmt.Fprintln(w, "series,timestamp,score")
	detectLogTail = os.Getenv("LOGT") != "0"
	o := DetectorOptions{Refractory: envInt("REFR", 0), Warmup: envInt("WARM", 0)}
	for _, s := range ss {
		d := NewDetector(o)
		for k, tt := range s.Times {
			det := d.Observe(tt, s.Values[k])
			fmt.Fprintf(w, "%s,%d,%.6f\n", s.Name, tt, det.Score)
		}
	}
	w.Flush()
	out.Close()
}

func envF(k string, p *float64) {
	if v, err := strconv.ParseFloat(os.Getenv(k), 64); err == nil {
		*p = v
	}
}

func TestMain(m *testing.M) {
	envF("TQ", &detectTailQ)
	envF("LCLIP", &detectLearnClip)
	envF("TR", &detectTailRate)
	envF("TER", &detectTailERate)
	envF("TCLIP", &detectTailClip)
	os.Exit(m.Run())
}

func TestDetectTrace(t *testing.T) {
	path, name := os.Getenv("DETECT_DEBUG"), os.Getenv("SERIES")
	if path == "" || name == "" {
		t.Skip()
	}
	f, _ := os.Open(path)
	ss, _ := seriescsv.ReadKeepRepeats(f, path)
	lo, hi := envInt("LO", 0), envInt("HI", 1<<30)
	for _, s := range ss {
		if s.Name != name {
			continue
		}
		d := NewDetector(DetectorOptions{Refractory: envInt("REFR", 0)})
		for k, tt := range s.Times {
			m, _, _ := d.best(tt)
			det := d.Observe(tt, s.Values[k])
			if k >= lo && k < hi {
				fmt.Printf("%d t=%d v=%.2f exp=%.2f band=%.2f model=%d err=%.3f lp=%.1f,%.1f,%.1f u0=%.2f ex0=%.2f score=%.3f\n", k, tt, s.Values[k], det.Expected, det.Upper-det.Expected, m.period, m.err, d.lastLP[0], d.lastLP[1], d.lastLP[2], d.tails[0].u, d.tails[0].excess, det.Score)
			}
		}
	}
}

func TestDetectDump(t *testing.T) {
	path := os.Getenv("DETECT_DUMP")
	if path == "" {
		t.Skip()
	}
	f, _ := os.Open(path)
	ss, _ := seriescsv.ReadKeepRepeats(f, path)
	out, _ := os.Create("/tmp/nab/dump.csv")
	w := bufio.NewWriter(out)
	fmt.Fprintln(w, "series,timestamp,z,lvl,spread,score")
	for _, s := range ss {
		d := NewDetector(DetectorOptions{Refractory: -1})
		for k, tt := range s.Times {
			det := d.Observe(tt, s.Values[k])
			fmt.Fprintf(w, "%s,%d,%.4f,%.4f,%.4f,%.4f\n", s.Name, tt, d.lastStats[0], d.lastStats[1], d.lastStats[2], det.Score)
		}
	}
	w.Flush()
	out.Close()
}

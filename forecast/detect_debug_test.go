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

func envF(k string, p *float64) {
	if v, err := strconv.ParseFloat(os.Getenv(k), 64); err == nil {
		*p = v
	}
}

func TestDetectDump(t *testing.T) {
	path := os.Getenv("DETECT_DUMP")
	if path == "" {
		t.Skip()
	}
	p := detectDefaults()
	envF("ALPHA", &p.alpha)
	envF("GAMMA", &p.gamma)
	envF("SCALERATE", &p.scaleRate)
	envF("LCLIP", &p.learnClip)
	envF("SHORT", &p.shortRate)
	envF("ADOPT", &p.adoptZ)
	envF("NMSD", &p.nmsDecay)
	envF("NMSF", &p.nmsFactor)
	envF("PERSIST", &p.persistMult)
	envF("RMULT", &p.rarityMult)
	envF("RCAP", &p.rarityCap)
	envF("SEASONWIN", &p.seasonWin)
	f, _ := os.Open(path)
	ss, _ := seriescsv.ReadKeepRepeats(f, path)
	out, _ := os.Create("/tmp/detect9/dump.csv")
	w := bufio.NewWriter(out)
	fmt.Fprintln(w, "series,timestamp,score,z,ls,lr,lp,raw,value")
	for _, s := range ss {
		d := NewDetector(DetectorOptions{Warmup: envInt("WARM", 0), params: &p})
		for k, tt := range s.Times {
			det := d.Observe(tt, s.Values[k])
			l := d.last
			fmt.Fprintf(w, "%s,%d,%.6f,%.4f,%.4f,%.4f,%.4f,%.4f,%g\n", s.Name, tt, det.Score, l.z, l.logSurprise, l.logRarity, l.logPersist, l.raw, s.Values[k])
		}
	}
	w.Flush()
	out.Close()
}

func TestDetectNullMax(t *testing.T) {
	if os.Getenv("NULLMAX") == "" {
		t.Skip()
	}
	p := detectDefaults()
	envF("ALPHA", &p.alpha)
	envF("PERSIST", &p.persistMult)
	envF("RMULT", &p.rarityMult)
	envF("RCAP", &p.rarityCap)
	envF("SHORT", &p.shortRate)
	for seed := uint64(1); seed <= 10; seed++ {
		ts, vs := detectSeasonal(21, seed)
		d := NewDetector(DetectorOptions{params: &p})
		mx, at := 0.0, 0
		var tr detectTrace
		for i := range ts {
			det := d.Observe(ts[i], vs[i])
			if det.Score > mx {
				mx, at, tr = det.Score, i, d.last
			}
		}
		fmt.Printf("seed %d max %.3f at %d %+v\n", seed, mx, at, tr)
	}
}

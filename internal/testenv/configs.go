package testenv

import (
	"path/filepath"
	"strings"
	"testing"
)

// InvalidConfigs checks the invalid config files under a package's
// testdata/ (named conf.*.yml, as Alertmanager's config tests have them).
// Each case is {file, field, valid}: it loads testdata/file with load and
// wants an error that starts with "testdata/file: " followed by field and
// sep (sep only when field is set) and says valid. It also fails for any
// testdata/conf.*.yml that has no case, so a new fixture cannot go
// unchecked.
func InvalidConfigs(t *testing.T, load func(path string) error, sep string, cases [][3]string) {
	t.Helper()
	covered := map[string]bool{}
	for _, tc := range cases {
		file, field, valid := tc[0], tc[1], tc[2]
		covered[file] = true
		t.Run(file, func(t *testing.T) {
			path := filepath.Join("testdata", file)
			err := load(path)
			if err == nil {
				t.Fatal("accepted")
			}
			want := path + ": "
			if field != "" {
				want += field + sep
			}
			if msg := err.Error(); !strings.HasPrefix(msg, want) || !strings.Contains(msg, valid) {
				t.Fatalf("error %q: want it to start %q and say %q", msg, want, valid)
			}
		})
	}
	files, err := filepath.Glob("testdata/conf.*.yml")
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range files {
		if !covered[filepath.Base(f)] {
			t.Errorf("%s has no case in the table", f)
		}
	}
}

package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// body is a function of n lines in all.
func body(name, doc string, n int) string {
	return doc + "func " + name + "() {\n" + strings.Repeat("\t_ = 0\n", n-2) + "}\n"
}

func TestScan(t *testing.T) {
	cases := []struct {
		name string
		src  string
		want int
	}{
		{"short", "package p\n" + body("f", "", 10), 0},
		{"long function", "package p\n" + body("f", "", 11), 1},
		{"long, says why", "package p\n" + body("f", "// f is long.\n//\n// Long: one table.\n", 11), 0},
		{"long file", "package p\n" + body("f", "", 5) + body("g", "", 5) + body("h", "", 5), 1},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			if err := os.WriteFile(filepath.Join(dir, "p.go"), []byte(c.src), 0o644); err != nil {
				t.Fatal(err)
			}
			// A test file over the limits is not counted.
			if err := os.WriteFile(filepath.Join(dir, "p_test.go"), []byte("package p\n"+body("t1", "", 30)), 0o644); err != nil {
				t.Fatal(err)
			}
			got, err := scan(dir, 15, 10)
			if err != nil {
				t.Fatal(err)
			}
			if got != c.want {
				t.Errorf("%d over, want %d", got, c.want)
			}
		})
	}
}

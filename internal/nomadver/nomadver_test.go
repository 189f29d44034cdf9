package nomadver

import "testing"

func TestParseAndCompare(t *testing.T) {
	cases := []struct {
		in          string
		locks, scal bool
	}{
		{"1.6.0", false, false},
		{"v1.7.0-beta.1", true, false},
		{"1.8.1", true, false},
		{"1.8.2+ent", true, true},
		{"1.10.0", true, true},
		{"2.0", true, true},
	}
	for _, c := range cases {
		v, err := Parse(c.in)
		if err != nil {
			t.Fatalf("%s: %v", c.in, err)
		}
		if v.AtLeast(VariableLocks) != c.locks || v.AtLeast(ScaleIndexGuard) != c.scal {
			t.Errorf("%s (%s): locks %v guard %v", c.in, v, v.AtLeast(VariableLocks), v.AtLeast(ScaleIndexGuard))
		}
	}
	for _, bad := range []string{"", "1", "one.two", "1.2.3.4", "1.-2.0"} {
		if _, err := Parse(bad); err == nil {
			t.Errorf("%q parsed", bad)
		}
	}
}

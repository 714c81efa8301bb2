package alert

import (
	"strings"
	"testing"
)

func TestJSONDepth(t *testing.T) {
	cases := []struct {
		in   string
		want int
	}{
		{`1`, 0},
		{`"[[[{"`, 0},
		{`{}`, 1},
		{`{"a":[1,{"b":[]}]}`, 4},
		{`{"a":"\"[[["}`, 1},
		{`{"a":"\\","b":[[]]}`, 3},
		{`[` + strings.Repeat(`{"x":[`, 10) + `]}]`, 21},
	}
	for _, c := range cases {
		if got := JSONDepth([]byte(c.in)); got != c.want {
			t.Errorf("JSONDepth(%s) = %d, want %d", c.in, got, c.want)
		}
	}
	if err := CheckDepth([]byte(strings.Repeat("[", MaxDepth+1))); err == nil {
		t.Error("CheckDepth accepted MaxDepth+1 levels")
	}
	if err := CheckDepth([]byte(strings.Repeat("[", MaxDepth))); err != nil {
		t.Errorf("CheckDepth refused MaxDepth levels: %v", err)
	}
}

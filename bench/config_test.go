package bench

import (
	"errors"
	"strings"
	"testing"
	"time"
)

func TestConfigDefaults(t *testing.T) {
	var c Config
	if err := c.validate(); err != nil {
		t.Fatal(err)
	}
	if len(c.Scenarios) != len(Scenarios()) || len(c.Systems) != len(Systems()) || c.Rounds != 5 || c.Warmup != 1 ||
		c.Duration != time.Second || c.Conns != 1000 || c.FanOut != 8 || len(c.Sizes) != 4 {
		t.Errorf("defaults: %+v", c)
	}
	q := Quick()
	if err := q.validate(); err != nil {
		t.Fatal(err)
	}
	if len(q.Scenarios) != 2 || len(q.Sizes) != 2 || q.Rounds != 3 {
		t.Errorf("quick: %+v", q)
	}
}

func TestConfigRejects(t *testing.T) {
	for field, c := range map[string]Config{
		"Scenarios":     {Scenarios: []string{"sprint"}},
		"Systems":       {Systems: []string{"zeromq"}},
		"Transports":    {Transports: []string{"carrier-pigeon"}},
		"Security":      {Security: []string{"rot13"}},
		"Sizes":         {Sizes: []int{0}},
		"PingPongSizes": {PingPongSizes: []int{MaxSize + 1}},
		"Workers":       {Workers: []int{-1}},
		"FanOut":        {FanOut: -3},
		"Conns":         {Conns: 1 << 30},
		"Rounds":        {Rounds: -1},
		"Duration":      {Duration: time.Microsecond},
		"Timeout":       {Duration: time.Second, Timeout: time.Millisecond},
	} {
		err := c.validate()
		if err == nil || !strings.Contains(err.Error(), "Config."+field) {
			t.Errorf("%s: error %v does not name the field", field, err)
		}
	}
	c := Config{Systems: []string{"zeromq"}}
	if err := c.validate(); !errors.Is(err, ErrUnknown) {
		t.Errorf("unknown system: %v, want ErrUnknown", err)
	}
}

func TestParseConfig(t *testing.T) {
	c, err := ParseConfig([]byte(`{"systems": ["weft", "raw-tcp"], "sizes": [64], "duration": "150ms", "rounds": 2}`), Quick())
	if err != nil {
		t.Fatal(err)
	}
	if len(c.Systems) != 2 || c.Sizes[0] != 64 || c.Duration != 150*time.Millisecond || c.Rounds != 2 || len(c.PingPongSizes) != 1 {
		t.Errorf("parsed %+v", c)
	}
	for _, bad := range []string{`{"sytems": []}`, `{"duration": "soon"}`, `[1]`, `{`} {
		if _, err := ParseConfig([]byte(bad), Config{}); err == nil {
			t.Errorf("%s: no error", bad)
		}
	}
}

func TestSizes(t *testing.T) {
	for in, want := range map[string]int{"64": 64, "64B": 64, "1KiB": 1024, "1K": 1024, "64KiB": 65536, "1MiB": 1 << 20, " 2MB ": 2 << 20} {
		if got, err := ParseSize(in); err != nil || got != want {
			t.Errorf("ParseSize(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	for _, in := range []string{"", "0", "-1", "1GiB", "65MiB", "lots", "1.5KiB"} {
		if _, err := ParseSize(in); err == nil {
			t.Errorf("ParseSize(%q): no error", in)
		}
	}
	for n, want := range map[int]string{64: "64B", 1000: "1000B", 1024: "1KiB", 65536: "64KiB", 1 << 20: "1MiB", 1536: "1536B"} {
		if got := SizeName(n); got != want {
			t.Errorf("SizeName(%d) = %q, want %q", n, got, want)
		}
	}
}

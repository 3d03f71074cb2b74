package status

import (
	"math"
	"testing"
)

func TestBuildSplits(t *testing.T) {
	v := buildSplits(fixtureFiring().Splits)
	if len(v) != 2 || v[0].Call != "get/configmaps/resource" {
		t.Fatalf("order: %+v", v)
	}
	cm := v[0]
	if cm.Client != "98 %" || !cm.ClientHeavy || v[1].ClientHeavy {
		t.Errorf("client shares: %q heavy=%v, %q heavy=%v", cm.Client, cm.ClientHeavy, v[1].Client, v[1].ClientHeavy)
	}
	for _, s := range v {
		end := 0.0
		for _, p := range s.Parts {
			if p.W < 0 || p.X < end-0.2 {
				t.Errorf("%s %s: segment x=%v w=%v overlaps the previous one ending at %v", s.Call, p.Class, p.X, p.W, end)
			}
			end = math.Max(end, p.X+p.W)
		}
		if end > splitBarWidth+0.5 {
			t.Errorf("%s: bar ends at %v, beyond %d", s.Call, end, splitBarWidth)
		}
	}
	// Unknown or zero totals draw no segments and claim no client share.
	z := buildSplits([]Split{{Call: "x", Total: 0, Server: math.NaN()}, {Call: "y", Total: math.Inf(1)}})
	for _, s := range z {
		for _, p := range s.Parts {
			if p.W != 0 {
				t.Errorf("%s: segment %s drawn for an unknown total", s.Call, p.Class)
			}
		}
	}
	if (Split{Total: 0.01, Throttle: 0.02}).ClientShare() != 1 {
		t.Error("ClientShare is not capped at 1")
	}
}

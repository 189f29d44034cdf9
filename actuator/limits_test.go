package actuator

import (
	"context"
	"testing"
)

func TestPerObjectLock(t *testing.T) {
	r := newRig(t, nil)
	if !r.a.lock("group/default/web/app") {
		t.Fatal("lock")
	}
	out := r.a.Handle(context.Background(), webAlert(r.clk.Now()))
	if out.Result != ResultBusy || out.Code != 503 {
		t.Fatalf("while locked: %+v", out)
	}
	r.a.unlock("group/default/web/app")
	if out := r.a.Handle(context.Background(), webAlert(r.clk.Now())); out.Result != ResultActed {
		t.Fatalf("after unlock: %+v", out)
	}
}

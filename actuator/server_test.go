package actuator

import (
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/exporter-toolkit/web"
	"golang.org/x/crypto/bcrypt"
)

// TestWebConfigBasicAuth serves the actuator the way the command does
// (exporter-toolkit with --web.config.file) and checks that basic auth from
// the web config and the webhook's bearer token both guard /webhook.
func TestWebConfigBasicAuth(t *testing.T) {
	r := newRig(t, nil)
	hash, err := bcrypt.GenerateFromPassword([]byte("am-password"), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	cfgPath := filepath.Join(t.TempDir(), "web.yml")
	if err := os.WriteFile(cfgPath, []byte("basic_auth_users:\n  alertmanager: "+string(hash)+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: (&Webhook{A: r.a, Log: slog.New(slog.DiscardHandler)}).Handler(nil), ReadHeaderTimeout: 5 * time.Second}
	done := make(chan error, 1)
	go func() {
		done <- web.Serve(l, srv, &web.FlagConfig{WebConfigFile: &cfgPath}, slog.New(slog.DiscardHandler))
	}()
	defer func() {
		_ = srv.Close()
		<-done
	}()
	url := "http://" + l.Addr().String() + "/webhook"
	body := payload(webAlert(r.clk.Now()))
	send := func(user, pass string) int {
		req, _ := http.NewRequest(http.MethodPost, url, strings.NewReader(body))
		if user != "" {
			req.SetBasicAuth(user, pass)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		_ = resp.Body.Close()
		return resp.StatusCode
	}
	if c := send("", ""); c != 401 {
		t.Fatalf("no credentials: %d", c)
	}
	if c := send("alertmanager", "wrong"); c != 401 {
		t.Fatalf("wrong password: %d", c)
	}
	if len(r.nomad.scales) != 0 {
		t.Fatal("an unauthenticated request changed something")
	}
	if c := send("alertmanager", "am-password"); c != 200 || len(r.nomad.scales) != 1 {
		t.Fatalf("right password: %d, scales %v", c, r.nomad.scales)
	}
}

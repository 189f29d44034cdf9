package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/fleetcast/fleetcast/internal/testenv"
)

// TestServeFlagsAreOneSpelling: the three long-running commands take the
// same serving flags, registered by webFlags.
func TestServeFlagsAreOneSpelling(t *testing.T) {
	for _, name := range []string{"exporter", "actuator", "sim"} {
		var out, errb bytes.Buffer
		if code := run([]string{name, "--help"}, &out, &errb); code != 0 {
			t.Fatalf("%s --help: exit %d", name, code)
		}
		help := out.String() + errb.String()
		for _, f := range []string{"--web.listen-address", "--web.config.file", "--web.systemd-socket", "--shutdown.timeout"} {
			if !strings.Contains(help, "  "+f+" ") && !strings.Contains(help, "  "+f+"\n") {
				t.Errorf("fleetcast %s --help does not list %s", name, f)
			}
		}
	}
}

// TestSystemdSocketActivation starts fleetcast sim in a child process
// handed a listening socket as systemd hands one over (fd 3, LISTEN_FDS=1,
// LISTEN_PID its own pid), checks that it serves on that socket, and stops
// it with SIGTERM.
func TestSystemdSocketActivation(t *testing.T) {
	if os.Getenv("FLEETCAST_SYSTEMD_CHILD") == "1" {
		return // the child runs in TestMain's stead; see systemdChild
	}
	if runtime.GOOS != "linux" {
		t.Skip("socket activation is Linux only")
	}
	sh, err := exec.LookPath("sh")
	if err != nil {
		t.Skip("no sh to set LISTEN_PID")
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = ln.Close() }()
	lf, err := ln.(*net.TCPListener).File()
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = lf.Close() }()
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	// sh's $$ is the pid the command keeps after exec.
	cmd := exec.Command(sh, "-c", `LISTEN_PID=$$ LISTEN_FDS=1 exec "$0" "$@"`, self, "-test.run=^TestSystemdSocketActivation$")
	cmd.Env = append(os.Environ(), "FLEETCAST_SYSTEMD_CHILD=1")
	cmd.ExtraFiles = []*os.File{lf}
	var stderr lockedBuf
	cmd.Stdout, cmd.Stderr = io.Discard, &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	defer func() { _ = cmd.Process.Kill() }()
	url := "http://" + ln.Addr().String() + "/v1/agent/self"
	testenv.Eventually(t, 20*time.Second, "the child serves on the handed-over socket", func() error {
		resp, err := http.Get(url)
		if err != nil {
			return err
		}
		_ = resp.Body.Close()
		if resp.StatusCode != 200 {
			return fmt.Errorf("status %d", resp.StatusCode)
		}
		return nil
	})
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-exited:
		if err != nil {
			t.Fatalf("child: %v\n%s", err, stderr.String())
		}
	case <-time.After(10 * time.Second):
		t.Fatalf("child did not stop on SIGTERM\n%s", stderr.String())
	}
	if !strings.Contains(stderr.String(), "systemd activated listeners") {
		t.Errorf("the child did not say it served on systemd's sockets:\n%s", stderr.String())
	}
}

// TestMain runs the socket-activation child when the test binary is
// started as one.
func TestMain(m *testing.M) {
	if os.Getenv("FLEETCAST_SYSTEMD_CHILD") == "1" {
		os.Exit(serveSim(context.Background(), []string{"--config.file", "../../examples/fleet.yml", "--web.systemd-socket"}, io.Discard, os.Stderr))
	}
	os.Exit(m.Run())
}

// Command gen writes fleetcast's Grafana dashboards as JSON files:
//
//	go run ./dashboards/cmd/gen -out dashboards
package main

import (
	"flag"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"

	"github.com/fleetcast/fleetcast/dashboards"
)

func main() {
	out := flag.String("out", "dashboards", "directory the dashboard JSON files are written to")
	flag.Parse()
	if err := run(*out); err != nil {
		slog.Error("generate dashboards", "err", err)
		os.Exit(1)
	}
}

func run(dir string) error {
	files, err := dashboards.Generate()
	if err != nil {
		return err
	}
	for _, f := range files {
		p := filepath.Join(dir, f.Name)
		if err := os.WriteFile(p, f.JSON, 0o644); err != nil {
			return fmt.Errorf("write %s: %w", p, err)
		}
		fmt.Println("wrote", p)
	}
	return nil
}

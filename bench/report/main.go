// Command report turns the hyperfine JSON files that bench/peers.sh writes into the markdown
// table of docs/benchmarks.md: median, spread (p25–p75), and each command's ratio to the
// sesame command it is compared with.
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"
)

type result struct {
	Command string    `json:"command"`
	Times   []float64 `json:"times"`
}

type row struct {
	name             string
	median, p25, p75 float64
}

func main() {
	dir := flag.String("dir", "", "directory of hyperfine JSON exports")
	out := flag.String("out", "", "markdown file to write")
	machine := flag.String("machine", "", "machine description")
	flag.Parse()
	rows := map[string]row{}
	files, _ := filepath.Glob(filepath.Join(*dir, "*.json"))
	for _, f := range files {
		var doc struct{ Results []result }
		b, err := os.ReadFile(f)
		if err == nil {
			err = json.Unmarshal(b, &doc)
		}
		if err != nil {
			fmt.Fprintf(os.Stderr, "report: %s: %v\n", f, err)
			os.Exit(1)
		}
		for _, r := range doc.Results {
			t := slices.Clone(r.Times)
			slices.Sort(t)
			if len(t) == 0 {
				continue
			}
			q := func(p float64) float64 { return t[int(p*float64(len(t)-1))] * 1000 }
			rows[r.Command] = row{r.Command, q(0.5), q(0.25), q(0.75)}
		}
	}
	// Each line: a command and the sesame command it is compared with.
	table := []struct{ name, vs, goal string }{
		{"sesame secret get", "", ""},
		{"pass show", "sesame secret get", "sesame ≥ 10× faster"},
		{"gopass show", "sesame secret get", ""},
		{"secret-tool lookup", "sesame secret get", ""},
		{"age -d", "sesame secret get", "sesame faster"},
		{"sesame env -- true (1 secret)", "sesame secret get", ""},
		{"sesame env -- true (20 secrets)", "sesame secret get", "≤ 2× one get"},
		{"sesame secret list (1,000)", "sesame secret get", ""},
		{"sesame launch search (10k entries)", "", "faster than fzf --filter"},
		{"fzf --filter (10k names)", "sesame launch search (10k entries)", ""},
		{"sesame --version", "", "≤ 5 ms"},
		{"sh -c true", "sesame --version", ""},
	}
	var b strings.Builder
	fmt.Fprintf(&b, "# sesame against its peers\n\nMeasured by `make bench-peers` (bench/peers.sh) with hyperfine, %s.\n\n", time.Now().UTC().Format("2006-01-02"))
	fmt.Fprintf(&b, "Machine: %s.\n\n", *machine)
	b.WriteString("| command | median | p25–p75 | ratio (this ÷ compared) | goal |\n|---|---:|---:|---|---|\n")
	for _, l := range table {
		r, ok := rows[l.name]
		if !ok {
			fmt.Fprintf(&b, "| %s | — | — | not measured | %s |\n", l.name, l.goal)
			continue
		}
		ratio := ""
		if v, ok := rows[l.vs]; ok && v.median > 0 {
			ratio = fmt.Sprintf("%.2f× %s", r.median/v.median, l.vs)
		}
		fmt.Fprintf(&b, "| %s | %.2f ms | %.2f–%.2f ms | %s | %s |\n", l.name, r.median, r.p25, r.p75, ratio, l.goal)
	}
	b.WriteString("\nEvery command is a whole process started by hyperfine without a shell (`-N`); `fzf` reads its input through `sh -c`, whose own cost is the `sh -c true` line. State is throw-away: a temporary HOME, GNUPGHOME and password store, keys without passphrases, gnome-keyring in a private D-Bus session.\n")
	fmt.Print(b.String())
	if *out != "" {
		if err := os.WriteFile(*out, []byte(b.String()), 0o644); err != nil {
			fmt.Fprintln(os.Stderr, "report:", err)
			os.Exit(1)
		}
	}
}

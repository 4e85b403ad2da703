package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/open-sesame/sesame/audit"
	"github.com/open-sesame/sesame/bus"
	"github.com/open-sesame/sesame/roles/api"
	"github.com/urfave/cli/v2"
)

func (st *state) auditDir() (string, error) {
	d, err := st.e.StateDir()
	if err != nil {
		return "", err
	}
	return filepath.Join(d, "sesame", "audit"), nil
}

func (st *state) auditCommand() *cli.Command {
	return &cli.Command{
		Name:  "audit",
		Usage: "verify and read the tamper-evident audit log",
		Subcommands: []*cli.Command{
			{
				Name:  "verify",
				Usage: "check the hash chain, sequence and head; name the first bad entry",
				Description: `Checks every line's BLAKE3 hash, the chain between lines and across rotated
files, consecutive sequence numbers, and that the log ends where audit.head (and the
running hub, when there is one) says it ends. Exit 1 with the first bad sequence
number when anything does not hold.`,
				Flags: []cli.Flag{&cli.BoolFlag{Name: "json", Usage: "print JSON"}},
				Action: func(c *cli.Context) error {
					if err := noArgs(c); err != nil {
						return err
					}
					dir, err := st.auditDir()
					if err != nil {
						return err
					}
					r, err := audit.Verify(dir, st.liveHead(c.Context))
					if err != nil {
						return err
					}
					if c.Bool("json") {
						if r.Files == nil {
							r.Files = []string{}
						}
						json.NewEncoder(st.e.Stdout).Encode(r)
					} else if r.OK {
						fmt.Fprintf(st.e.Stdout, "ok: %d entries, seq %d to %d, %d files\n", r.Entries, r.First, r.Last, len(r.Files))
					} else {
						fmt.Fprintf(st.e.Stdout, "FAILED at seq %d: %s\n", r.BadSeq, r.Problem)
					}
					if !r.OK {
						return ExitError{Code: 1}
					}
					return nil
				},
			},
			{
				Name:  "tail",
				Usage: "print the last entries",
				Flags: []cli.Flag{
					&cli.IntFlag{Name: "n", Value: 20, Usage: "how many"},
					&cli.BoolFlag{Name: "follow", Aliases: []string{"f"}, Usage: "keep printing new entries"},
					&cli.BoolFlag{Name: "json", Usage: "print the JSON lines as stored"},
				},
				Action: func(c *cli.Context) error {
					if err := noArgs(c); err != nil {
						return err
					}
					dir, err := st.auditDir()
					if err != nil {
						return err
					}
					lines, err := audit.Tail(dir, c.Int("n"))
					if err != nil {
						return err
					}
					var last uint64
					for _, l := range lines {
						last = st.printAudit(l, c.Bool("json"))
					}
					if !c.Bool("follow") {
						return nil
					}
					return st.followAudit(c.Context, dir, last, c.Bool("json"))
				},
			},
		},
	}
}

// liveHead asks a running hub for its head; nil when none runs (no autostart for this).
func (st *state) liveHead(ctx context.Context) *audit.Head {
	dir, err := bus.RuntimeDir(st.e.Getenv)
	if err != nil {
		return nil
	}
	cl, err := dialHub(ctx, dir)
	if err != nil {
		return nil
	}
	defer cl.Close()
	var h api.AuditHead
	if err := cl.Call(ctx, api.HubAuditHead, "", nil, &h); err != nil {
		return nil
	}
	return &audit.Head{Seq: h.Seq, Hash: h.Hash}
}

// printAudit prints one stored line and returns its sequence number.
func (st *state) printAudit(line []byte, raw bool) uint64 {
	var e audit.Entry
	if err := json.Unmarshal(line, &e); err != nil {
		fmt.Fprintf(st.e.Stdout, "%s\n", line)
		return 0
	}
	if raw {
		fmt.Fprintf(st.e.Stdout, "%s\n", line)
		return e.Seq
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%6d %s %-8s %-14s", e.Seq, e.Time.Local().Format("2006-01-02 15:04:05"), e.Role, e.Event)
	if e.Profile != "" {
		fmt.Fprintf(&b, " profile=%s", e.Profile)
	}
	if e.Name != "" {
		fmt.Fprintf(&b, " name=%q", e.Name)
	}
	if len(e.Names) > 0 {
		fmt.Fprintf(&b, " names=%s", joinQuoted(e.Names))
	}
	if c := e.Caller; c != nil {
		who := c.Exe
		if c.Role != "" {
			who = "sesame-" + c.Role
		}
		fmt.Fprintf(&b, " by pid %d uid %d %s", c.PID, c.UID, who)
	}
	for _, k := range slices.Sorted(maps.Keys(e.Detail)) {
		fmt.Fprintf(&b, " %s=%s", k, e.Detail[k])
	}
	if e.OK {
		b.WriteString(" " + st.colour(st.e.Stdout, "32", "ok"))
	} else {
		b.WriteString(" " + st.colour(st.e.Stdout, "31", "failed") + ": " + e.Error)
	}
	fmt.Fprintln(st.e.Stdout, b.String())
	return e.Seq
}

// followAudit prints entries after seq as they are appended, across rotations.
func (st *state) followAudit(ctx context.Context, dir string, seq uint64, raw bool) error {
	t := time.NewTicker(200 * time.Millisecond)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
		h, err := audit.ReadHead(dir)
		if err != nil || h.Seq <= seq {
			if err != nil && !os.IsNotExist(err) {
				return err
			}
			continue
		}
		// Read a little more than the gap: lines may land between the two reads.
		lines, err := audit.Tail(dir, int(min(h.Seq-seq, 1<<20))+64)
		if err != nil {
			return err
		}
		for _, l := range lines {
			var e struct{ Seq uint64 }
			if json.Unmarshal(l, &e) != nil || e.Seq <= seq {
				continue
			}
			seq = st.printAudit(l, raw)
		}
	}
}

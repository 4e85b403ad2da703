package cli

import (
	"fmt"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/open-sesame/sesame/bus"
	"github.com/open-sesame/sesame/roles/api"
	"github.com/urfave/cli/v2"
	"github.com/vmihailenco/msgpack/v5"
)

// clipboardCommand is `sesame clipboard …`: the clipboard history kept by the clipboard role.
func (st *state) clipboardCommand() *cli.Command {
	listFlags := func() []cli.Flag {
		return []cli.Flag{
			profileFlag("whose history (default: the profile the role records for)"),
			&cli.IntFlag{Name: "n", Value: 20, Usage: "at most `N` entries"},
			&cli.BoolFlag{Name: "json", Usage: "print JSON"},
		}
	}
	return &cli.Command{
		Name:  "clipboard",
		Usage: "the clipboard history (Wayland): list, search, get, copy again, clear",
		Description: `The clipboard role (under sesame up --desktop) records what is copied into the history of
the default profile, encrypted with a key from that profile's vault; while the vault is
locked, new entries stay in memory only. Secrets (a password manager's copies, tokens and
keys, high-entropy strings) are not recorded, and are cleared from the clipboard after
sensitive_ttl (30s by default).`,
		Subcommands: []*cli.Command{
			{
				Name:  "history",
				Usage: "list entries, newest first",
				Flags: listFlags(),
				Action: func(c *cli.Context) error {
					if err := noArgs(c); err != nil {
						return err
					}
					return st.clipboardList(c, api.ClipboardHistory, "")
				},
			},
			{
				Name:      "search",
				Usage:     "list the entries whose text contains QUERY (ignoring case)",
				ArgsUsage: "QUERY",
				Flags:     listFlags(),
				Action: func(c *cli.Context) error {
					a, err := args(c, 1, "clipboard search [-p P] [-n N] [--json] QUERY")
					if err != nil {
						return err
					}
					return st.clipboardList(c, api.ClipboardSearch, a[0])
				},
			},
			{
				Name:      "get",
				Usage:     "print an entry's content (raw bytes)",
				ArgsUsage: "ID",
				Flags:     []cli.Flag{profileFlag("whose history")},
				Action: func(c *cli.Context) error {
					id, err := entryID(c, "clipboard get [-p P] ID")
					if err != nil {
						return err
					}
					return st.withClipboard(c, func(cl *bus.Client, profile string) error {
						kp := cl.Key()
						var r api.ClipboardGetReply
						if err := cl.Call(c.Context, api.ClipboardGet, profile, &api.ClipboardGetRequest{ID: id, ReplyKey: kp.Public}, &r); err != nil {
							return err
						}
						buf, err := bus.Open(kp, api.AD(api.ClipboardGet, profile, strconv.FormatInt(id, 10)), r.Sealed)
						if err != nil {
							return err
						}
						defer buf.Destroy()
						if _, err := st.e.Stdout.Write(buf.Bytes()); err != nil {
							return err
						}
						if isTerminal(st.e.Stdout) && buf.Len() > 0 && buf.Bytes()[buf.Len()-1] != '\n' {
							fmt.Fprintln(st.e.Stdout)
						}
						return nil
					})
				},
			},
			{
				Name:      "copy",
				Usage:     "make an entry the clipboard's content again",
				ArgsUsage: "ID",
				Flags:     []cli.Flag{profileFlag("whose history")},
				Action: func(c *cli.Context) error {
					id, err := entryID(c, "clipboard copy [-p P] ID")
					if err != nil {
						return err
					}
					return st.withClipboard(c, func(cl *bus.Client, profile string) error {
						return cl.Call(c.Context, api.ClipboardCopy, profile, &api.ClipboardIDRequest{ID: id}, nil)
					})
				},
			},
			{
				Name:  "clear",
				Usage: "delete the whole history (on disk and in memory)",
				Flags: []cli.Flag{profileFlag("whose history")},
				Action: func(c *cli.Context) error {
					if err := noArgs(c); err != nil {
						return err
					}
					return st.withClipboard(c, func(cl *bus.Client, profile string) error {
						var r api.ClipboardClearReply
						if err := cl.Call(c.Context, api.ClipboardClear, profile, nil, &r); err != nil {
							return err
						}
						fmt.Fprintf(st.e.Stderr, "sesame: removed %d clipboard entries\n", r.Removed)
						return nil
					})
				},
			},
			{
				Name:  "status",
				Usage: "show what the clipboard role records and how",
				Flags: []cli.Flag{&cli.BoolFlag{Name: "json", Usage: "print JSON"}},
				Action: func(c *cli.Context) error {
					if err := noArgs(c); err != nil {
						return err
					}
					return st.withClipboard(c, func(cl *bus.Client, _ string) error {
						var r api.ClipboardStatusReply
						if err := cl.Call(c.Context, api.ClipboardStatus, "", nil, &r); err != nil {
							return err
						}
						if c.Bool("json") {
							return st.printJSON(r)
						}
						state := "locked: new entries in memory only"
						if r.Unlocked {
							state = "unlocked: history on disk, encrypted"
						}
						fmt.Fprintf(st.e.Stdout, "profile    %s (%s)\nprotocol   %s\nprimary    %v\ncaptured   %d (sensitive %d, cleared %d)\nin memory  %d\n",
							r.Profile, state, r.Protocol, r.Primary, r.Captured, r.Sensitive, r.Cleared, r.Memory)
						return nil
					})
				},
			},
		},
	}
}

// clipboardProfile is -p, else the first of $SESAME_PROFILES, else "" (the role's own).
func (st *state) clipboardProfile(c *cli.Context) string {
	if p := c.String("profile"); p != "" {
		return p
	}
	p, _, _ := strings.Cut(st.e.Getenv("SESAME_PROFILES"), ",")
	return strings.TrimSpace(p)
}

func (st *state) withClipboard(c *cli.Context, f func(cl *bus.Client, profile string) error) error {
	cl, err := st.dial(c.Context)
	if err != nil {
		return err
	}
	defer cl.Close()
	profile := st.clipboardProfile(c)
	return clipboardErr(f(cl, profile), profile)
}

func clipboardErr(err error, profile string) error {
	switch bus.ErrCode(err) {
	case bus.CodeUnavailable, bus.CodeUnknownKind:
		return withHint(err, "the clipboard role runs in a Wayland session under: sesame up --desktop")
	case bus.CodeLocked:
		if profile == "" {
			return withHint(err, "run: sesame unlock")
		}
		return withHint(err, "run: sesame unlock -p "+profile)
	}
	return err
}

func entryID(c *cli.Context, usage string) (int64, error) {
	a, err := args(c, 1, usage)
	if err != nil {
		return 0, err
	}
	id, err := strconv.ParseInt(a[0], 10, 64)
	if err != nil {
		return 0, usagef("%q is not an entry id (see: sesame clipboard history)", a[0])
	}
	return id, nil
}

type clipEntryJSON struct {
	ID          int64     `json:"id"`
	MimeType    string    `json:"mime_type"`
	Size        int64     `json:"size"`
	Preview     string    `json:"preview"`
	Sensitivity string    `json:"sensitivity"`
	Copied      time.Time `json:"copied"`
	Count       int32     `json:"count"`
	Source      string    `json:"source"`
}

func (st *state) clipboardList(c *cli.Context, kind, query string) error {
	return st.withClipboard(c, func(cl *bus.Client, profile string) error {
		kp := cl.Key()
		var r api.ClipboardListReply
		req := &api.ClipboardListRequest{Limit: int32(c.Int("n")), Query: query, ReplyKey: kp.Public}
		if err := cl.Call(c.Context, kind, profile, req, &r); err != nil {
			return err
		}
		buf, err := bus.Open(kp, api.AD(kind, profile), r.Sealed)
		if err != nil {
			return err
		}
		defer buf.Destroy()
		var es api.ClipboardEntries
		if err := msgpack.Unmarshal(buf.Bytes(), &es); err != nil {
			return fmt.Errorf("clipboard: malformed reply: %v", err)
		}
		if es.Locked {
			p := profile
			if p == "" {
				p = es.Recorded
			}
			fmt.Fprintf(st.e.Stderr, "sesame: profile %q is locked: only what was copied since is listed (in memory)\n", p)
		}
		if c.Bool("json") {
			out := make([]clipEntryJSON, 0, len(es.Entries))
			for _, e := range es.Entries {
				out = append(out, clipEntryJSON{e.ID, e.MimeType, e.Size, e.Preview, e.Sensitivity, e.Copied, e.Count, e.Source})
			}
			return st.printJSON(out)
		}
		tw := tabwriter.NewWriter(st.e.Stdout, 0, 0, 2, ' ', 0)
		now := st.e.Now()
		for _, e := range es.Entries {
			what := e.Preview
			switch {
			case e.Sensitivity != "public":
				what = st.colour(st.e.Stdout, "33", fmt.Sprintf("(sensitive: %s, %d bytes)", e.Sensitivity, e.Size))
			case !strings.HasPrefix(e.MimeType, "text/") && e.Preview == "":
				what = fmt.Sprintf("(%s, %d bytes)", e.MimeType, e.Size)
			}
			n := ""
			if e.Count > 1 {
				n = fmt.Sprintf("×%d", e.Count)
			}
			fmt.Fprintf(tw, "%d\t%s ago\t%s\t%s\n", e.ID, dur(now.Sub(e.Copied).Seconds()), n, what)
		}
		return tw.Flush()
	})
}

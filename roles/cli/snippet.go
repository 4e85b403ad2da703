package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/open-sesame/sesame/bus"
	"github.com/open-sesame/sesame/roles/api"
	"github.com/open-sesame/sesame/secmem"
	"github.com/open-sesame/sesame/snippet"
	"github.com/urfave/cli/v2"
	"github.com/vmihailenco/msgpack/v5"
)

const snippetSyntax = `Templates: ${date} (today, %Y-%m-%d), ${date:FORMAT} (strftime: %Y %m %d %H %M
%S %y %e %j %a %A %b %B %p %I %u %w %V %G %s %z %Z %F %T %R %D %c %n %t %%),
${env:NAME} (a variable of the process expanding), ${clipboard} (needs the
clipboard role), ${secret:NAME} (the profile's secret, fetched when expanded,
never stored expanded), ${cursor} (where the cursor goes; expands to nothing).
$$ is a '$': $${date} is the text ${date}. A '$' before anything else is itself.
In an argument, $} is a '}'. Anything else in ${…} is an error.`

func (st *state) snippetCommand() *cli.Command {
	return &cli.Command{
		Name:        "snippet",
		Usage:       "store, list, remove and expand text snippets",
		Description: snippetSyntax,
		Subcommands: []*cli.Command{st.snippetAdd(), st.snippetList(), st.snippetRemove(), st.snippetExpand()},
	}
}

func (st *state) snippetAdd() *cli.Command {
	return &cli.Command{
		Name:      "add",
		Usage:     "store a snippet (the template from an argument, --from-file, or standard input)",
		ArgsUsage: "TRIGGER [TEMPLATE]",
		Description: `The template is checked before it is stored: a mistake is reported with its byte
offset. A trigger that exists is refused unless --force.

` + snippetSyntax,
		Flags: []cli.Flag{
			profileFlag("the profile"),
			&cli.BoolFlag{Name: "force", Aliases: []string{"f"}, Usage: "replace a snippet with the same trigger"},
			&cli.StringFlag{Name: "from-file", Usage: "read the template from `FILE`"},
		},
		Action: func(c *cli.Context) error {
			const usage = "usage: sesame snippet add [-p PROFILE] [--force] [--from-file F] TRIGGER [[--] TEMPLATE]"
			a := c.Args().Slice()
			if len(a) == 3 && a[1] == "--" { // a template that starts with '-'
				a = []string{a[0], a[2]}
			}
			if len(a) < 1 || len(a) > 2 {
				return usagef("%s", usage)
			}
			if len(a[0]) > 1 && a[0][0] == '-' || len(a) == 2 && looksLikeFlag(a[1]) {
				return usagef("flags go before arguments (%q); %s", a[len(a)-1], usage)
			}
			p, err := st.profile(c)
			if err != nil {
				return err
			}
			var tmpl string
			switch f := c.String("from-file"); {
			case len(a) == 2 && f != "":
				return usagef("snippet add: a TEMPLATE and --from-file: give one")
			case len(a) == 2:
				tmpl = a[1]
			case f != "":
				b, err := readLimited(f, nil)
				if err != nil {
					return fmt.Errorf("snippet add: %w", err)
				}
				tmpl = string(b)
			default:
				b, err := readLimited("", st.e.Stdin)
				if err != nil {
					return fmt.Errorf("snippet add: %w", err)
				}
				tmpl = string(b)
			}
			// Check here too, for a message before anything is sent.
			if _, err := snippet.Parse(tmpl); err != nil {
				return fmt.Errorf("snippet add %q: %w", a[0], err)
			}
			cl, err := st.dial(c.Context)
			if err != nil {
				return err
			}
			defer cl.Close()
			req := &api.SnippetAddRequest{Trigger: a[0], Template: tmpl, Replace: c.Bool("force")}
			if err := cl.Call(c.Context, api.SnippetsAdd, p, req, nil); err != nil {
				if bus.ErrCode(err) == bus.CodeExists {
					return withHint(fmt.Errorf("snippet add: %w", err), "to replace it: sesame snippet add --force -p "+p+" "+strconv.Quote(a[0])+" …")
				}
				return fmt.Errorf("snippet add: %w", snippetsError(err, p))
			}
			return nil
		},
	}
}

// looksLikeFlag reports whether a template is one of this command's flags, put after the
// trigger by mistake (urfave/cli stops parsing flags at the first argument).
func looksLikeFlag(s string) bool {
	name, _, _ := strings.Cut(strings.TrimLeft(s, "-"), "=")
	return strings.HasPrefix(s, "-") && slices.Contains([]string{"p", "profile", "f", "force", "from-file"}, name)
}

// readLimited reads a template from a file (or r when name is ""), at most MaxTemplate.
func readLimited(name string, r io.Reader) ([]byte, error) {
	if name != "" {
		f, err := os.Open(name)
		if err != nil {
			return nil, err
		}
		defer f.Close()
		r = f
	}
	b, err := io.ReadAll(io.LimitReader(r, snippet.MaxTemplate+1))
	if err != nil {
		return nil, err
	}
	if len(b) > snippet.MaxTemplate {
		return nil, fmt.Errorf("the template is longer than %d bytes", snippet.MaxTemplate)
	}
	return b, nil
}

func (st *state) snippetList() *cli.Command {
	return &cli.Command{
		Name:  "list",
		Usage: "list a profile's snippets with a one-line preview",
		Flags: []cli.Flag{profileFlag("the profile"), &cli.BoolFlag{Name: "json", Usage: "print JSON"}},
		Action: func(c *cli.Context) error {
			if err := noArgs(c); err != nil {
				return err
			}
			p, cl, err := st.session(c)
			if err != nil {
				return err
			}
			defer cl.Close()
			var r api.SnippetListReply
			if err := cl.Call(c.Context, api.SnippetsList, p, nil, &r); err != nil {
				return fmt.Errorf("snippet list: %w", snippetsError(err, p))
			}
			if c.Bool("json") {
				type item struct {
					Trigger string    `json:"trigger"`
					Preview string    `json:"preview"`
					Secrets []string  `json:"secrets"`
					Updated time.Time `json:"updated"`
				}
				out := []item{}
				for _, s := range r.Snippets {
					if s.Secrets == nil {
						s.Secrets = []string{}
					}
					out = append(out, item{s.Trigger, s.Preview, s.Secrets, s.Updated})
				}
				return json.NewEncoder(st.e.Stdout).Encode(out)
			}
			tw := tabwriter.NewWriter(st.e.Stdout, 0, 0, 2, ' ', 0)
			for _, s := range r.Snippets {
				fmt.Fprintf(tw, "%s\t%s\n", oneLine(s.Trigger), s.Preview)
			}
			return tw.Flush()
		},
	}
}

func (st *state) snippetRemove() *cli.Command {
	return &cli.Command{
		Name:      "rm",
		Aliases:   []string{"remove"},
		Usage:     "remove a snippet",
		ArgsUsage: "TRIGGER",
		Flags:     []cli.Flag{profileFlag("the profile")},
		Action: func(c *cli.Context) error {
			a, err := args(c, 1, "snippet rm [-p PROFILE] TRIGGER")
			if err != nil {
				return err
			}
			p, cl, err := st.session(c)
			if err != nil {
				return err
			}
			defer cl.Close()
			if err := cl.Call(c.Context, api.SnippetsRemove, p, &api.SnippetRequest{Trigger: a[0]}, nil); err != nil {
				return fmt.Errorf("snippet rm: %w", snippetsError(err, p))
			}
			return nil
		},
	}
}

func (st *state) snippetExpand() *cli.Command {
	return &cli.Command{
		Name:      "expand",
		Usage:     "print a snippet's expansion to standard output",
		ArgsUsage: "TRIGGER",
		Description: `Secrets are fetched from the profile's vault now, sealed to this process, and the
expansion is assembled in secure memory and written as it is (nothing added).

` + snippetSyntax,
		Flags: []cli.Flag{profileFlag("the profile")},
		Action: func(c *cli.Context) error {
			a, err := args(c, 1, "snippet expand [-p PROFILE] TRIGGER")
			if err != nil {
				return err
			}
			p, cl, err := st.session(c)
			if err != nil {
				return err
			}
			defer cl.Close()
			out, _, err := st.expandSnippet(c.Context, cl, p, a[0])
			if err != nil {
				return fmt.Errorf("snippet expand %q: %w", a[0], err)
			}
			defer out.Destroy()
			_, err = st.e.Stdout.Write(out.Bytes())
			return err
		},
	}
}

// expandSnippet fetches a snippet's template and expands it: secrets from the profile's
// vault in one request sealed to this process, the clipboard from the clipboard role, the
// environment and clock of this process. The result is in secure memory; cursor is the byte
// offset of ${cursor}, or -1.
func (st *state) expandSnippet(ctx context.Context, cl *bus.Client, profile, trigger string) (*secmem.Buf, int, error) {
	var r api.SnippetReply
	if err := cl.Call(ctx, api.SnippetsGet, profile, &api.SnippetRequest{Trigger: trigger}, &r); err != nil {
		return nil, -1, snippetsError(err, profile)
	}
	t, err := snippet.Parse(r.Template)
	if err != nil {
		return nil, -1, err
	}
	v := &snippet.Values{
		Now: st.e.Now(),
		Getenv: func(k string) (string, bool) {
			for _, kv := range st.e.Environ() {
				if len(kv) > len(k) && kv[len(k)] == '=' && kv[:len(k)] == k {
					return kv[len(k)+1:], true
				}
			}
			return "", false
		},
		Secrets: map[string][]byte{},
	}
	if names := t.Secrets(); len(names) > 0 {
		buf, ents, err := fetch(ctx, cl, profile, names)
		if err != nil {
			return nil, -1, err
		}
		defer buf.Destroy()
		for _, e := range ents {
			v.Secrets[e.Name] = e.Value
		}
	}
	if t.Uses(snippet.VarClipboard) {
		clip, err := clipboardText(ctx, cl)
		if clip != nil {
			defer clip.Destroy()
		}
		v.Clipboard = func() ([]byte, error) {
			if err != nil {
				return nil, err
			}
			return clip.Bytes(), nil
		}
	}
	return t.Expand(v)
}

// clipboardText reads what was copied last, from the clipboard role (sealed to a key of
// this process, like a secret: a clipboard can hold one).
func clipboardText(ctx context.Context, cl *bus.Client) (*secmem.Buf, error) {
	kp, err := bus.GenerateKeypair()
	if err != nil {
		return nil, err
	}
	defer kp.Destroy()
	var lr api.ClipboardListReply
	if err := cl.Call(ctx, api.ClipboardHistory, "", &api.ClipboardListRequest{Limit: 1, ReplyKey: kp.Public}, &lr); err != nil {
		return nil, clipboardError(err)
	}
	plain, err := bus.Open(kp, api.AD(api.ClipboardHistory, ""), lr.Sealed)
	if err != nil {
		return nil, err
	}
	var ents api.ClipboardEntries
	err = msgpack.Unmarshal(plain.Bytes(), &ents)
	plain.Destroy()
	if err != nil {
		return nil, err
	}
	if len(ents.Entries) == 0 {
		return nil, errors.New("the clipboard history is empty")
	}
	id := ents.Entries[0].ID
	var gr api.ClipboardGetReply
	if err := cl.Call(ctx, api.ClipboardGet, "", &api.ClipboardGetRequest{ID: id, ReplyKey: kp.Public}, &gr); err != nil {
		return nil, clipboardError(err)
	}
	return bus.Open(kp, api.AD(api.ClipboardGet, "", strconv.FormatInt(id, 10)), gr.Sealed)
}

func clipboardError(err error) error {
	switch bus.ErrCode(err) {
	case bus.CodeUnknownKind, bus.CodeUnavailable:
		return withHint(errors.New("the clipboard role is not running (it runs with the desktop roles)"), "see: sesame status")
	}
	return err
}

// snippetsError adds what to do to the snippets role's errors.
func snippetsError(err error, profile string) error {
	switch bus.ErrCode(err) {
	case bus.CodeUnknownKind, bus.CodeUnavailable:
		return withHint(err, "the snippets role is not running; see: sesame status")
	case bus.CodeNotFound:
		return withHint(err, "see: sesame snippet list -p "+profile)
	}
	return busError(err, profile)
}

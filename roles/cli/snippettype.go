package cli

import (
	"fmt"
	"time"
	"unicode/utf8"

	"github.com/open-sesame/sesame/wayland"
	"github.com/open-sesame/sesame/wayland/vkbd"
	"github.com/urfave/cli/v2"
)

// withSnippetType adds `snippet type` to the snippet command.
func (st *state) withSnippetType(c *cli.Command) *cli.Command {
	c.Subcommands = append(c.Subcommands, st.snippetType())
	return c
}

func (st *state) snippetType() *cli.Command {
	return &cli.Command{
		Name:      "type",
		Usage:     "type a snippet's expansion into the focused window (Wayland)",
		ArgsUsage: "TRIGGER",
		Description: `Expands the snippet as ` + "`sesame snippet expand`" + ` does (secrets fetched now, sealed to this
process) and types it through the compositor's virtual-keyboard protocol
(zwp_virtual_keyboard_manager_v1: sway and other wlroots compositors), with a keymap
made for the characters it needs. ${cursor} puts the cursor back where it stands.
Bind it in the compositor, e.g. for sway:

    bindsym Mod4+s exec sesame snippet type sig

What is typed reaches the compositor (as keymaps and key presses) and the focused
window, as any typing does.`,
		Flags: []cli.Flag{
			profileFlag("the profile"),
			&cli.DurationFlag{Name: "delay", Usage: "wait this long after each character (for slow clients)"},
		},
		Action: func(c *cli.Context) error {
			a, err := args(c, 1, "snippet type [-p PROFILE] [--delay D] TRIGGER")
			if err != nil {
				return err
			}
			p, err := st.profile(c)
			if err != nil {
				return err
			}
			sock, err := wayland.SocketPath(st.e.Getenv)
			if err != nil {
				return withHint(err, "sesame snippet type types into a Wayland session; use sesame snippet expand elsewhere")
			}
			cl, err := st.dial(c.Context)
			if err != nil {
				return err
			}
			defer cl.Close()
			out, cursor, err := st.expandSnippet(c.Context, cl, p, a[0])
			if err != nil {
				return fmt.Errorf("snippet type %q: %w", a[0], err)
			}
			defer out.Destroy()
			if !utf8.Valid(out.Bytes()) {
				return fmt.Errorf("snippet type %q: the expansion is not UTF-8 text", a[0])
			}
			// Decoded into a slice this function wipes; the expansion stays in secure memory.
			runes := make([]rune, 0, utf8.RuneCount(out.Bytes()))
			back := 0
			for i, r := range string(out.Bytes()) { // ranging over a conversion does not copy
				if cursor >= 0 && i >= cursor {
					back++
				}
				runes = append(runes, r)
			}
			defer clear(runes)
			return typeRunes(sock, runes, back, c.Duration("delay"))
		},
	}
}

// typeRunes types runes into the focused window, then moves the cursor back by back
// characters.
func typeRunes(sock string, runes []rune, back int, delay time.Duration) error {
	conn, err := wayland.Connect(sock, nil)
	if err != nil {
		return err
	}
	defer conn.Close()
	kb, err := vkbd.New(conn)
	if err != nil {
		return err
	}
	kb.Delay = delay
	if err := kb.TypeRunes(runes); err != nil {
		return err
	}
	if err := kb.Tap("Left", back); err != nil {
		return err
	}
	return kb.Close()
}

package cli

import (
	"fmt"
	"slices"
	"strings"

	"github.com/open-sesame/sesame/roles/env"
	"github.com/urfave/cli/v2"
)

// Shell completions and the man page are generated from the command definitions themselves,
// at build time (`make docs`, internal/gendocs), so they cannot drift from the real CLI. The
// bash and zsh scripts are written here (urfave/cli's own ones call the binary back on every
// <TAB>, and would start the daemons); fish and the man page come from urfave/cli's generators,
// which only exist without the urfave_cli_no_docs build tag and so live in the generator.
// Nothing in the sesame binary calls these functions; the linker leaves them out.

// App returns the command line's definition without running it. e supplies the version and
// streams; roles is the dispatcher's role list.
func App(e *env.Env, roles []string) *cli.App {
	app := (&state{e: e, roles: roles}).app()
	app.Setup()
	return app
}

// node is one command path in the completion tables: the words that lead to it, its
// subcommands and its flags.
type node struct {
	path     string // space-separated command names after "sesame"; "" for the top
	usage    string
	subs     []*cli.Command
	flags    []flagInfo
	dashdash bool // takes "-- CMD ARGS…" (sesame env)
}

type flagInfo struct {
	names []string // "--name", "-n"
	usage string
	value bool // takes a value
	file  bool // the value is a file
}

func flagsOf(fs []cli.Flag) []flagInfo {
	var out []flagInfo
	for _, f := range fs {
		fi := flagInfo{}
		for _, n := range f.Names() {
			if len(n) == 1 {
				fi.names = append(fi.names, "-"+n)
			} else {
				fi.names = append(fi.names, "--"+n)
			}
		}
		if d, ok := f.(cli.DocGenerationFlag); ok {
			fi.usage, fi.value = d.GetUsage(), d.TakesValue()
		}
		if _, ok := f.(*cli.BoolFlag); ok {
			fi.value = false
		}
		n := f.Names()[0]
		fi.file = fi.value && (n == "file" || strings.HasSuffix(n, "-file"))
		out = append(out, fi)
	}
	return out
}

func visible(cmds []*cli.Command) []*cli.Command {
	var out []*cli.Command
	for _, c := range cmds {
		if !c.Hidden {
			out = append(out, c)
		}
	}
	return out
}

// nodes walks the visible command tree, depth first.
func nodes(app *cli.App) []*node {
	top := &node{subs: visible(app.Commands), flags: flagsOf(app.VisibleFlags()), usage: app.Usage}
	out := []*node{top}
	var walk func(prefix string, cmds []*cli.Command)
	walk = func(prefix string, cmds []*cli.Command) {
		for _, c := range visible(cmds) {
			for _, name := range c.Names() {
				n := &node{
					path:     strings.TrimSpace(prefix + " " + name),
					usage:    c.Usage,
					subs:     visible(c.Subcommands),
					flags:    append(flagsOf(c.VisibleFlags()), flagInfo{names: []string{"--help", "-h"}, usage: "show help"}),
					dashdash: strings.Contains(c.ArgsUsage, "--"),
				}
				if slices.ContainsFunc(n.flags[:len(n.flags)-1], func(f flagInfo) bool { return slices.Contains(f.names, "--help") }) {
					n.flags = n.flags[:len(n.flags)-1]
				}
				out = append(out, n)
				walk(n.path, c.Subcommands)
			}
		}
	}
	walk("", app.Commands)
	return out
}

func (n *node) words() (cmds, flags, valueFlags, fileFlags []string) {
	for _, c := range n.subs {
		cmds = append(cmds, c.Names()...)
	}
	for _, f := range n.flags {
		flags = append(flags, f.names...)
		if f.value {
			valueFlags = append(valueFlags, f.names...)
		}
		if f.file {
			fileFlags = append(fileFlags, f.names...)
		}
	}
	return
}

// BashCompletion returns a bash completion script for app (complete -F _sesame sesame).
func BashCompletion(app *cli.App) string {
	var b strings.Builder
	fmt.Fprintf(&b, `# bash completion for %[1]s. Generated from the command definitions (make docs); do not edit.

_%[1]s() {
    local cur=${COMP_WORDS[COMP_CWORD]} path= i w cmds= flags= values= files= dashdash= args=
    # The command path so far: the words that name (sub)commands, skipping flags and values.
    for ((i = 1; i < COMP_CWORD; i++)); do
        w=${COMP_WORDS[i]}
        _%[1]s_table "$path"
        case $w in
        --)
            [[ -n $dashdash ]] || return 0
            # sesame env -- CMD ARGS...: complete the command, then its arguments as files.
            if ((i + 1 == COMP_CWORD)); then
                COMPREPLY=($(compgen -c -- "$cur"))
            else
                COMPREPLY=($(compgen -f -- "$cur"))
            fi
            return 0
            ;;
        -*=*) ;;
        -*)
            if [[ " $values " == *" $w "* ]]; then
                ((i++))
                [[ ${COMP_WORDS[i]} == = ]] && ((i++))
            fi
            ;;
        =) ;;
        *)
            if [[ " $cmds " == *" $w "* ]]; then
                path="${path:+$path }$w"
            else
                args=1 # an argument: no further subcommands
                break
            fi
            ;;
        esac
    done
    _%[1]s_table "$path"
    [[ -n $args ]] && cmds=
    local prev=${COMP_WORDS[COMP_CWORD-1]}
    [[ $prev == = && $COMP_CWORD -gt 1 ]] && prev=${COMP_WORDS[COMP_CWORD-2]}
    if [[ " $values " == *" $prev "* ]]; then
        [[ " $files " == *" $prev "* ]] && COMPREPLY=($(compgen -f -- "$cur"))
        return 0
    fi
    [[ $cur == = ]] && cur=
    if [[ $cur == -* ]]; then
        COMPREPLY=($(compgen -W "$flags" -- "$cur"))
    else
        COMPREPLY=($(compgen -W "$cmds" -- "$cur"))
    fi
}

# _%[1]s_table PATH sets cmds, flags, values (flags taking a value), files (of those, the ones
# naming a file) and dashdash for the command PATH.
_%[1]s_table() {
    case $1 in
`, app.Name)
	for _, n := range nodes(app) {
		cmds, flags, values, files := n.words()
		dd := ""
		if n.dashdash {
			dd = "1"
		}
		fmt.Fprintf(&b, "    %q) cmds=%q flags=%q values=%q files=%q dashdash=%s ;;\n",
			n.path, strings.Join(cmds, " "), strings.Join(flags, " "), strings.Join(values, " "), strings.Join(files, " "), dd)
	}
	fmt.Fprintf(&b, `    *) cmds= flags= values= files= dashdash= ;;
    esac
}

complete -F _%[1]s %[1]s
`, app.Name)
	return b.String()
}

// zshQuote quotes s for a single-quoted zsh word.
func zshQuote(s string) string { return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'" }

// zshDescribe makes "name:description" for _describe (colons in the name escaped).
func zshDescribe(name, usage string) string {
	usage = strings.ReplaceAll(usage, "`", "")
	return zshQuote(strings.ReplaceAll(name, ":", `\:`) + ":" + usage)
}

// ZshCompletion returns a zsh completion function for app (#compdef), with descriptions.
func ZshCompletion(app *cli.App) string {
	var b strings.Builder
	fmt.Fprintf(&b, `#compdef %[1]s
# zsh completion for %[1]s. Generated from the command definitions (make docs); do not edit.

_%[1]s() {
    local cmdpath= w i args=
    local -a cmds flags values files
    local dashdash=
    for ((i = 2; i < CURRENT; i++)); do
        w=${words[i]}
        _%[1]s_table "$cmdpath"
        case $w in
        --)
            [[ -n $dashdash ]] || return 1
            if ((i + 1 == CURRENT)); then
                _command_names -e
            else
                _files
            fi
            return
            ;;
        -*=*) ;;
        -*) (( ${values[(Ie)$w]} )) && ((i++)) ;;
        *)
            local -a names=(${cmds%%%%:*})
            if (( ${names[(Ie)$w]} )); then
                cmdpath="${cmdpath:+$cmdpath }$w"
            else
                args=1
                break
            fi
            ;;
        esac
    done
    _%[1]s_table "$cmdpath"
    [[ -n $args ]] && cmds=()
    local prev=${words[CURRENT-1]}
    if (( ${values[(Ie)$prev]} )); then
        (( ${files[(Ie)$prev]} )) && _files
        return
    fi
    if [[ $PREFIX == -* ]]; then
        _describe -t flags 'flag' flags
    else
        _describe -t commands 'command' cmds
    fi
}

# _%[1]s_table PATH sets cmds and flags ("name:description"), values, files and dashdash.
_%[1]s_table() {
    cmds=() flags=() values=() files=() dashdash=
    case $1 in
`, app.Name)
	for _, n := range nodes(app) {
		var cmds, flags []string
		for _, c := range n.subs {
			for _, name := range c.Names() {
				cmds = append(cmds, zshDescribe(name, c.Usage))
			}
		}
		for _, f := range n.flags {
			for _, name := range f.names {
				flags = append(flags, zshDescribe(name, f.usage))
			}
		}
		_, _, values, files := n.words()
		fmt.Fprintf(&b, "    %s)\n        cmds=(%s)\n        flags=(%s)\n        values=(%s) files=(%s)",
			zshQuote(n.path), strings.Join(cmds, " "), strings.Join(flags, " "), strings.Join(values, " "), strings.Join(files, " "))
		if n.dashdash {
			b.WriteString(" dashdash=1")
		}
		b.WriteString(" ;;\n")
	}
	fmt.Fprintf(&b, `    esac
}

if [[ $funcstack[1] == _%[1]s ]]; then
    _%[1]s "$@"
else
    compdef _%[1]s %[1]s
fi
`, app.Name)
	return b.String()
}

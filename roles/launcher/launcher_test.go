package launcher

import (
	"bytes"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/open-sesame/sesame/bus"
	"github.com/open-sesame/sesame/config"
	"github.com/open-sesame/sesame/roles/api"
	"github.com/open-sesame/sesame/roles/env"
	"github.com/open-sesame/sesame/xdg"
)

// apps is a fixture of common desktop applications, written the way their packages write
// them (IDs, generic names, keywords), plus the real files installed on this machine.
var apps = map[string]string{
	"org.mozilla.firefox.desktop": `Name=Firefox Web Browser
Name[de]=Firefox-Webbrowser
GenericName=Web Browser
Keywords=Internet;WWW;Browser;Web;Explorer;
Exec=firefox %u
Actions=new-window;new-private-window;
[Desktop Action new-window]
Name=New Window
Exec=firefox --new-window %u
[Desktop Action new-private-window]
Name=New Private Window
Exec=firefox --private-window %u`,
	"chromium.desktop":                "Name=Chromium\nGenericName=Web Browser\nKeywords=browser;web;\nExec=chromium %U",
	"org.gnome.Nautilus.desktop":      "Name=Files\nName[de]=Dateien\nKeywords=folder;manager;explore;disk;filesystem;nautilus;\nExec=nautilus --new-window %U",
	"org.gnome.Terminal.desktop":      "Name=Terminal\nKeywords=shell;prompt;command;commandline;cmd;\nExec=gnome-terminal",
	"org.gnome.TextEditor.desktop":    "Name=Text Editor\nKeywords=text;editor;plain;\nExec=gnome-text-editor %U",
	"org.gnome.Calculator.desktop":    "Name=Calculator\nKeywords=calculation;arithmetic;scientific;financial;\nExec=gnome-calculator",
	"org.gnome.Settings.desktop":      "Name=Settings\nName[de]=Einstellungen\nKeywords=Preferences;Settings;\nExec=gnome-control-center",
	"libreoffice-calc.desktop":        "Name=LibreOffice Calc\nGenericName=Spreadsheet\nKeywords=Accounting;Stats;OpenOffice;Spreadsheet;Chart;\nExec=libreoffice --calc %U",
	"libreoffice-writer.desktop":      "Name=LibreOffice Writer\nGenericName=Word Processor\nKeywords=Text;Letter;Fax;Document;OpenOffice;Docx;\nExec=libreoffice --writer %U",
	"libreoffice-impress.desktop":     "Name=LibreOffice Impress\nGenericName=Presentation\nKeywords=Slideshow;Slides;OpenOffice;\nExec=libreoffice --impress %U",
	"code.desktop":                    "Name=Visual Studio Code\nGenericName=Text Editor\nKeywords=vscode;\nExec=/usr/share/code/code %F",
	"gimp.desktop":                    "Name=GNU Image Manipulation Program\nGenericName=Image Editor\nKeywords=GIMP;graphic;design;illustration;painting;\nExec=gimp-2.10 %U",
	"org.inkscape.Inkscape.desktop":   "Name=Inkscape\nGenericName=Vector Graphics Editor\nKeywords=image;editor;vector;drawing;\nExec=inkscape %F",
	"thunderbird.desktop":             "Name=Thunderbird\nGenericName=Mail Client\nKeywords=Email;E-mail;Newsgroup;Feed;RSS;\nExec=thunderbird %u",
	"vlc.desktop":                     "Name=VLC media player\nGenericName=Media player\nKeywords=Player;Capture;DVD;Audio;Video;\nExec=/usr/bin/vlc --started-from-file %U",
	"org.gnome.SystemMonitor.desktop": "Name=System Monitor\nKeywords=Monitor;System;Process;CPU;Memory;Network;History;Usage;\nExec=gnome-system-monitor",
	"debian-xterm.desktop":            "Name=XTerm\nGenericName=Terminal\nKeywords=shell;prompt;command;commandline;cmd;\nExec=xterm",
	"kitty.desktop":                   "Name=kitty\nGenericName=Terminal emulator\nExec=kitty",
	"net.reseau.Outil.desktop":        "Name=Outil Réseau\nExec=outil",
	"hidden-helper.desktop":           "Name=Firefox Helper\nNoDisplay=true\nExec=helper",
	"kde-only.desktop":                "Name=Firefox KDE Tool\nOnlyShowIn=KDE;\nExec=kdetool",
	"missing.desktop":                 "Name=Firefox Missing\nTryExec=/nonexistent/bin/missing\nExec=missing",
}

func fixture(t testing.TB, lang string, extra map[string]string) (*server, string) {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "share")
	write := func(id, body string) {
		body = "[Desktop Entry]\nType=Application\n" + body + "\n"
		p := filepath.Join(dir, "applications", id)
		os.MkdirAll(filepath.Dir(p), 0o755)
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	for id, body := range apps {
		write(id, body)
	}
	for id, body := range extra {
		write(id, body)
	}
	// The real files on this machine too, so that the table holds against a realistic
	// neighbourhood (make test installs a few packages that ship some).
	real, _ := filepath.Glob("/usr/share/applications/*.desktop")
	for _, f := range real {
		if data, err := os.ReadFile(f); err == nil {
			os.WriteFile(filepath.Join(dir, "applications", filepath.Base(f)), data, 0o644)
		}
	}
	now := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)
	vars := map[string]string{"LANG": lang, "XDG_CURRENT_DESKTOP": "GNOME", "PATH": "/usr/bin:/bin"}
	e := &env.Env{
		Getenv: func(k string) string { return vars[k] },
		Logf:   func(f string, a ...any) { t.Logf(f, a...) },
		Now:    func() time.Time { return now },
	}
	s := newServer(e, filepath.Join(t.TempDir(), "state"), []string{dir})
	s.rescan()
	close(s.scanned)
	t.Cleanup(s.frec.close)
	return s, dir
}

func (s *server) top(t testing.TB, profile, query string, n int) []string {
	t.Helper()
	r, err := s.search(profile, &api.SearchRequest{Query: query, Limit: int32(n)})
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, h := range r.Hits {
		out = append(out, h.ID)
	}
	return out
}

// For each query, the application a user means ranks first.
func TestSearchQuality(t *testing.T) {
	s, _ := fixture(t, "en_US.UTF-8", nil)
	table := []struct{ query, first string }{
		{"ff", "org.mozilla.firefox.desktop"},
		{"fire", "org.mozilla.firefox.desktop"},
		{"firefox", "org.mozilla.firefox.desktop"},
		{"mozilla", "org.mozilla.firefox.desktop"}, // by desktop ID
		{"chr", "chromium.desktop"},
		{"term", "org.gnome.Terminal.desktop"},
		{"files", "org.gnome.Nautilus.desktop"},
		{"nautilus", "org.gnome.Nautilus.desktop"}, // by keyword and ID
		{"code", "code.desktop"},
		{"vsc", "code.desktop"}, // initials
		{"vscode", "code.desktop"},
		{"writer", "libreoffice-writer.desktop"},
		{"lo writer", "libreoffice-writer.desktop"}, // two terms
		{"libre imp", "libreoffice-impress.desktop"},
		{"spreadsheet", "libreoffice-calc.desktop"}, // by generic name
		{"gimp", "gimp.desktop"},
		{"inksc", "org.inkscape.Inkscape.desktop"},
		{"thun", "thunderbird.desktop"},
		{"mail", "thunderbird.desktop"},
		{"vlc", "vlc.desktop"},
		{"sysmon", "org.gnome.SystemMonitor.desktop"},
		{"settings", "org.gnome.Settings.desktop"},
		{"xterm", "debian-xterm.desktop"},
		{"calcu", "org.gnome.Calculator.desktop"},
		{"reseau", "net.reseau.Outil.desktop"}, // accents are matched by their plain letters
		{"Réseau", "net.reseau.Outil.desktop"},
	}
	for _, c := range table {
		got := s.top(t, "default", c.query, 5)
		if len(got) == 0 || got[0] != c.first {
			t.Errorf("%q: got %q, want %s first", c.query, got, c.first)
		}
	}
	// Smart case: an upper-case letter makes the term case-sensitive.
	if got := s.top(t, "default", "CODE", 5); slices.Contains(got, "code.desktop") {
		t.Errorf("CODE matched Visual Studio Code: %q", got)
	}
	if got := s.top(t, "default", "XT", 5); len(got) == 0 || got[0] != "debian-xterm.desktop" {
		t.Errorf("XT: %q", got)
	}
	// Entries that are not shown are never found.
	for _, q := range []string{"firefox helper", "firefox kde", "firefox missing"} {
		for _, id := range s.top(t, "default", q, 50) {
			if id == "hidden-helper.desktop" || id == "kde-only.desktop" || id == "missing.desktop" {
				t.Errorf("%q found %s, which is not shown", q, id)
			}
		}
	}
	if got := s.top(t, "default", "zzzzqqq", 5); len(got) != 0 {
		t.Errorf("nonsense matched %q", got)
	}
}

// A translated name is found by the translation and by the original name.
func TestSearchLocalized(t *testing.T) {
	s, _ := fixture(t, "de_DE.UTF-8", nil)
	for q, want := range map[string]string{"dateien": "org.gnome.Nautilus.desktop", "files": "org.gnome.Nautilus.desktop", "einst": "org.gnome.Settings.desktop", "webbrowser": "org.mozilla.firefox.desktop"} {
		if got := s.top(t, "default", q, 3); len(got) == 0 || got[0] != want {
			t.Errorf("%q: got %q, want %s first", q, got, want)
		}
	}
	r, _ := s.search("default", &api.SearchRequest{Query: "dat", Limit: 1})
	if r.Hits[0].Name != "Dateien" || !slices.Equal(r.Hits[0].NamePos, []int32{0, 1, 2}) {
		t.Errorf("hit: %+v", r.Hits[0])
	}
}

// Frecency reorders results the moment a launch is recorded, per profile, and decays.
func TestFrecencyOrder(t *testing.T) {
	s, _ := fixture(t, "C", nil)
	first := func(profile, q string) string {
		got := s.top(t, profile, q, 3)
		if len(got) == 0 {
			t.Fatalf("%q: no hit", q)
		}
		return got[0]
	}
	if got := first("default", "calc"); got != "org.gnome.Calculator.desktop" {
		t.Fatalf("before: %s", got)
	}
	launch := func(profile, id string) {
		if err := s.record(t.Context(), profile, nil, &api.LaunchRecord{ID: id, OK: true}); err != nil {
			t.Fatal(err)
		}
	}
	launch("default", "libreoffice-calc.desktop")
	if got := first("default", "calc"); got != "libreoffice-calc.desktop" {
		t.Errorf("after one launch: %s first", got)
	}
	// Another profile is not affected.
	if got := first("work", "calc"); got != "org.gnome.Calculator.desktop" {
		t.Errorf("other profile: %s first", got)
	}
	// A failed launch does not count.
	s.record(t.Context(), "work", nil, &api.LaunchRecord{ID: "libreoffice-calc.desktop", OK: false})
	if got := first("work", "calc"); got != "org.gnome.Calculator.desktop" {
		t.Errorf("failed launch counted: %s first", got)
	}
	// "term": Terminal (a prefix of its name) first; two launches of kitty (a match of its
	// generic name) put it first.
	if got := first("default", "term"); got != "org.gnome.Terminal.desktop" {
		t.Fatalf("term before: %s", got)
	}
	launch("default", "kitty.desktop")
	if got := first("default", "term"); got != "org.gnome.Terminal.desktop" {
		t.Fatalf("term after one launch of kitty: %s", got)
	}
	for range 1 {
		launch("default", "kitty.desktop")
	}
	if got := first("default", "term"); got != "kitty.desktop" {
		t.Errorf("term after 2 launches: %s first", got)
	}
	// Frecency does not lift a poor match over a good one.
	for range 20 {
		launch("default", "vlc.desktop")
	}
	if got := first("default", "firefox"); got != "org.mozilla.firefox.desktop" {
		t.Errorf("firefox after 20 VLC launches: %s first", got)
	}
	// An empty query lists by frecency, then by name.
	if got := s.top(t, "default", "", 3); !slices.Equal(got, []string{"vlc.desktop", "kitty.desktop", "libreoffice-calc.desktop"}) {
		t.Errorf("empty query: %q", got)
	}
	// It survives a restart of the role (a new server on the same state).
	s2 := newServer(s.e, s.frec.dir, s.dirs)
	s2.rescan()
	defer s2.frec.close()
	if got := s2.top(t, "default", "term", 1); got[0] != "kitty.desktop" {
		t.Errorf("after restart: %q", got)
	}
	// Decay: 14 days halve a launch; after 10 half-lives kitty's 2 launches weigh less
	// than Terminal's better match.
	later := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC).Add(10 * HalfLife)
	sc, _ := s.frec.scores("default", later)
	if f := sc["kitty.desktop"]; math.Abs(f-2.0/1024) > 1e-9 {
		t.Errorf("decayed frecency %v, want %v", f, 2.0/1024)
	}
	s.e.Now = func() time.Time { return later }
	if got := first("default", "term"); got != "org.gnome.Terminal.desktop" {
		t.Errorf("after decay: %s first", got)
	}
}

func TestResolve(t *testing.T) {
	s, _ := fixture(t, "C", map[string]string{"org.other.firefox.desktop": "Name=Other\nExec=x"})
	ix := s.index()
	for in, want := range map[string]string{
		"org.mozilla.firefox.desktop": "org.mozilla.firefox.desktop",
		"org.mozilla.firefox":         "org.mozilla.firefox.desktop",
		"ORG.Mozilla.Firefox":         "org.mozilla.firefox.desktop",
		"nautilus":                    "org.gnome.Nautilus.desktop",
		"vlc":                         "vlc.desktop",
		"hidden-helper":               "hidden-helper.desktop", // not shown, still launchable by ID
	} {
		it, err := ix.resolve(in)
		if err != nil || it.e.ID != want {
			t.Errorf("%q: %v %v", in, it, err)
		}
	}
	if _, err := ix.resolve("firefox"); err == nil || !strings.Contains(err.Error(), "ambiguous") {
		t.Errorf("ambiguous: %v", err)
	}
	if _, err := ix.resolve("nope"); err == nil {
		t.Error("unknown resolved")
	}
}

func TestCompose(t *testing.T) {
	s, _ := fixture(t, "C", map[string]string{"term-app.desktop": "Name=Term App\nTerminal=true\nPath=/srv\nExec=htop --sort %f"})
	profiles := map[string]map[string]config.Launch{
		"default": {
			"default": {Env: map[string]string{"EDITOR_MODE": "base", "A": "1"}, Secrets: []string{"base-token"}},
			"dev":     {Env: map[string]string{"A": "2"}, Secrets: []string{"gh-token", "base-token"}, Cwd: "~/src", Wrapper: []string{"nix", "develop", "~/flake", "-c"}},
			"bad":     {Env: map[string]string{"LD_PRELOAD": "/x.so"}},
		},
		"work": {"corp": {Env: map[string]string{"CORP": "1"}, Secrets: []string{"vpn-key"}, Cwd: "/work"}},
	}
	s.launch = func(p string) (map[string]config.Launch, error) { return profiles[p], nil }
	plan := func(id, action string, tags, args []string) (*api.LaunchPlan, error) {
		it, err := s.index().resolve(id)
		if err != nil {
			t.Fatal(err)
		}
		return compose(it, "default", &api.PlanRequest{ID: id, Action: action, Tags: tags, Args: args}, s.launch)
	}
	p, err := plan("org.mozilla.firefox", "new-private-window", []string{"dev", "work:corp"}, []string{"https://a", "https://b"})
	if err != nil {
		t.Fatal(err)
	}
	wantArgv := [][]string{
		{"nix", "develop", "~/flake", "-c", "firefox", "--private-window", "https://a"},
		{"nix", "develop", "~/flake", "-c", "firefox", "--private-window", "https://b"},
	}
	if !slices.EqualFunc(p.Argv, wantArgv, slices.Equal) {
		t.Errorf("argv %q", p.Argv)
	}
	if want := []string{"A=2", "CORP=1", "EDITOR_MODE=base"}; !slices.Equal(p.Env, want) {
		t.Errorf("env %q", p.Env)
	}
	wantSecrets := []api.SecretRef{{Profile: "default", Name: "base-token"}, {Profile: "default", Name: "gh-token"}, {Profile: "work", Name: "vpn-key"}}
	if !slices.Equal(p.Secrets, wantSecrets) {
		t.Errorf("secrets %v", p.Secrets)
	}
	if p.Cwd != "/work" || !slices.Equal(p.Tags, []string{"default:default", "default:dev", "work:corp"}) || p.Name != "New Private Window" {
		t.Errorf("plan %+v", p)
	}
	p, err = plan("term-app", "", nil, []string{"f1"})
	if err != nil || !p.Terminal || p.Cwd != "/srv" || !slices.Equal(p.Argv[0], []string{"htop", "--sort", "f1"}) {
		t.Errorf("terminal app: %+v %v", p, err)
	}
	for _, c := range []struct {
		id, action string
		tags       []string
		msg        string
	}{
		{"vlc", "", []string{"nope"}, `no launch profile "nope" in profile "default"`},
		{"vlc", "", []string{"work:nope"}, `no launch profile "nope" in profile "work"`},
		{"vlc", "", []string{"bad"}, "$LD_PRELOAD"},
		{"vlc", "", []string{"../x:y"}, "tag"},
		{"vlc", "nope", nil, "has no action"},
		{"missing", "", nil, "not installed"},
	} {
		_, err := plan(c.id, c.action, c.tags, nil)
		if err == nil || !strings.Contains(err.Error(), c.msg) {
			t.Errorf("%v: got %v, want %q", c, err, c.msg)
		}
	}
}

// Launch profiles come from the configuration files, read fresh for each plan; a broken
// file keeps the last good configuration.
func TestConfigLaunch(t *testing.T) {
	dir := t.TempDir()
	paths := config.PathsFor(filepath.Join(dir, "etc"), filepath.Join(dir, "home"))
	os.MkdirAll(filepath.Dir(paths.User), 0o700)
	var logs bytes.Buffer
	cl := &configLaunch{paths: paths, logf: func(f string, a ...any) { fmt.Fprintf(&logs, f+"\n", a...) }}
	if lp, err := cl.profiles("work"); err != nil || len(lp) != 0 {
		t.Fatalf("no file: %v %v", lp, err)
	}
	os.WriteFile(paths.User, []byte("[profiles.work.launch.corp]\nenv = { A = \"1\" }\nsecrets = [\"tok\"]\n"), 0o600)
	lp, err := cl.profiles("work")
	if err != nil || lp["corp"].Env["A"] != "1" || lp["corp"].Secrets[0] != "tok" {
		t.Fatalf("file: %v %v", lp, err)
	}
	os.WriteFile(paths.User, []byte("[profiles.work.launch.corp]\nenv = 3\n"), 0o600)
	lp, err = cl.profiles("work")
	if err != nil || lp["corp"].Env["A"] != "1" {
		t.Errorf("broken file: %v %v", lp, err)
	}
	if !strings.Contains(logs.String(), "configuration not loaded") {
		t.Errorf("log: %q", logs.String())
	}
}

// The index follows the directories: a file added, changed or removed is seen without a
// restart.
func TestIndexFollowsDisk(t *testing.T) {
	s, dir := fixture(t, "C", nil)
	w, err := xdg.NewWatcher()
	if err != nil {
		t.Fatal(err)
	}
	s.watcher = w
	s.rescan()
	go w.Run(t.Context())
	go s.watchLoop(t.Context())
	eventually := func(what string, ok func() bool) {
		t.Helper()
		for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
			if ok() {
				return
			}
		}
		t.Fatalf("%s: not seen", what)
	}
	p := filepath.Join(dir, "applications", "new", "zed.desktop")
	os.MkdirAll(filepath.Dir(p), 0o755)
	os.WriteFile(p, []byte("[Desktop Entry]\nType=Application\nName=Zed Editor\nExec=zed\n"), 0o644)
	eventually("new app", func() bool { got := s.top(t, "default", "zed", 1); return len(got) == 1 && got[0] == "new-zed.desktop" })
	os.WriteFile(p, []byte("[Desktop Entry]\nType=Application\nName=Zed Editor\nExec=zed\nline without equals\n"), 0o644)
	eventually("broken app", func() bool { return len(s.top(t, "default", "zed", 1)) == 0 })
	st, _ := s.handle(t.Context(), &bus.Envelope{Kind: api.LauncherStatus})
	if ws := st.(*api.LauncherStatusReply).Warnings; len(ws) != 1 || !strings.Contains(ws[0], "zed.desktop:5:") {
		t.Errorf("warnings %q", ws)
	}
	os.Remove(p)
	eventually("removed", func() bool { return len(s.index().warnings) == 0 })
}

// synthetic returns n entries named as bench/peers.sh names its 10k fzf lines.
func synthetic(n int) *xdg.Result {
	words := []string{"Office", "Editor", "Browser", "Viewer", "Player", "Studio", "Manager", "Monitor", "Terminal", "Calendar", "Mail", "Notes", "Paint", "Photo", "Music", "Video", "Chat", "Games", "Maps", "Clock"}
	r := &xdg.Result{}
	for i := range n {
		cmd, _ := xdg.ParseExec(fmt.Sprintf("app-%d %%U", i))
		r.Entries = append(r.Entries, &xdg.Entry{
			ID: fmt.Sprintf("org.example.app-%d.desktop", i), Type: "Application",
			Name: fmt.Sprintf("Application %d launcher entry", i), DefaultName: fmt.Sprintf("Application %d launcher entry", i),
			GenericName: words[i%len(words)] + " " + words[(i/len(words))%len(words)],
			Keywords:    []string{strings.ToLower(words[(i*7)%len(words)]), "tool"},
			Exec:        "app", Command: cmd,
		})
	}
	return r
}

// BenchmarkSearch10k is a query over 10,000 entries inside the role, frecency included,
// with p50 and p99 over the iterations.
func BenchmarkSearch10k(b *testing.B) {
	ix := newIndex(synthetic(10000), xdg.Env{})
	frec := map[string]float64{}
	for i := 0; i < 10000; i += 37 {
		frec[fmt.Sprintf("org.example.app-%d.desktop", i)] = float64(i % 5)
	}
	for _, q := range []string{"appl42", "a", "mail", "photo viewer", "zzz"} {
		b.Run(q, func(b *testing.B) {
			var ds []time.Duration
			for b.Loop() {
				t0 := time.Now()
				ix.search(q, frec, 20)
				ds = append(ds, time.Since(t0))
			}
			sort.Slice(ds, func(i, j int) bool { return ds[i] < ds[j] })
			b.ReportMetric(float64(ds[len(ds)/2].Microseconds())/1000, "p50-ms")
			b.ReportMetric(float64(ds[len(ds)*99/100].Microseconds())/1000, "p99-ms")
		})
	}
}

// The parallel search returns what one pass over every entry returns, and the field weights
// never increase (the search stops early on that).
func TestParallelSearchAgrees(t *testing.T) {
	for f := 1; f < nFields; f++ {
		if fieldWeight[f] > fieldWeight[f-1] {
			t.Fatalf("fieldWeight[%d] > fieldWeight[%d]", f, f-1)
		}
	}
	ix := newIndex(synthetic(10000), xdg.Env{})
	initAlgo()
	frec := map[string]float64{"org.example.app-42.desktop": 3, "org.example.app-4242.desktop": 1}
	for _, q := range []string{"appl42", "a", "mail", "photo viewer", "zzz", "", "4"} {
		par, n1 := ix.search(q, frec, 25)
		seq, n2 := ix.searchChunk(ix.items, parseQuery(q), frec, 25)
		if n1 != n2 || len(par) != len(seq) {
			t.Fatalf("%q: %d/%d hits, %d/%d matched", q, len(par), len(seq), n1, n2)
		}
		for i := range par {
			if par[i].it != seq[i].it || par[i].score != seq[i].score {
				t.Errorf("%q: hit %d differs: %s %v vs %s %v", q, i, par[i].it.e.ID, par[i].score, seq[i].it.e.ID, seq[i].score)
			}
		}
	}
}

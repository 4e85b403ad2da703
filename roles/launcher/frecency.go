package launcher

import (
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/open-sesame/sesame/localdb"
	"github.com/open-sesame/sesame/vault"
)

// HalfLife is how long it takes a launch to count half as much.
const HalfLife = 14 * 24 * time.Hour

// Frecency is kept per profile in $XDG_STATE_HOME/sesame/launcher/PROFILE.db, one row per
// application: its decayed score as of the time of its last launch. A launch decays the
// stored score to now and adds 1, so the row always holds Σ 0.5^(age/HalfLife) over every
// launch without keeping the launches. Rows are written before the launch is acknowledged,
// and the in-memory copy is updated at the same moment, so the very next search sees it.
const frecencySchema = `CREATE TABLE IF NOT EXISTS frecency (
	app   TEXT PRIMARY KEY NOT NULL, -- desktop-file ID
	score REAL NOT NULL,             -- decayed launch count as of "at"
	at    INTEGER NOT NULL,          -- unix milliseconds of the last launch
	count INTEGER NOT NULL           -- launches ever, undecayed
) WITHOUT ROWID`

type frecencyRow struct {
	score float64
	at    time.Time
	count int64
}

// decayed returns the row's score at now.
func (r frecencyRow) decayed(now time.Time) float64 {
	age := now.Sub(r.at)
	if age < 0 {
		age = 0
	}
	return r.score * math.Exp2(-float64(age)/float64(HalfLife))
}

// frecencies holds every profile's frecency table, opened on first use.
type frecencies struct {
	dir string // $XDG_STATE_HOME/sesame/launcher

	mu struct {
		sync.Mutex
		profiles map[string]*profileFrecency
	}
}

type profileFrecency struct {
	db   *sql.DB
	mu   sync.Mutex
	rows map[string]frecencyRow // guarded by mu
}

func newFrecencies(dir string) *frecencies {
	f := &frecencies{dir: dir}
	f.mu.profiles = map[string]*profileFrecency{}
	return f
}

// profile returns the profile's table, opening it on first use; without create, a profile
// that has no file yet gives nil (a search does not create files).
func (f *frecencies) profile(name string, create bool) (*profileFrecency, error) {
	if err := vault.ValidateProfile(name); err != nil {
		return nil, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if p := f.mu.profiles[name]; p != nil {
		return p, nil
	}
	path := filepath.Join(f.dir, name+".db")
	if _, err := os.Stat(path); !create && errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	db, err := localdb.Open(path, frecencySchema)
	if err != nil {
		return nil, err
	}
	p := &profileFrecency{db: db, rows: map[string]frecencyRow{}}
	rows, err := db.Query(`SELECT app, score, at, count FROM frecency`)
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("launcher: frecency of %q: %w", name, err)
	}
	defer rows.Close()
	for rows.Next() {
		var app string
		var r frecencyRow
		var at int64
		if err := rows.Scan(&app, &r.score, &at, &r.count); err != nil {
			db.Close()
			return nil, fmt.Errorf("launcher: frecency of %q: %w", name, err)
		}
		r.at = time.UnixMilli(at)
		p.rows[app] = r
	}
	if err := rows.Err(); err != nil {
		db.Close()
		return nil, fmt.Errorf("launcher: frecency of %q: %w", name, err)
	}
	f.mu.profiles[name] = p
	return p, nil
}

// scores returns every application's frecency in the profile at now.
func (f *frecencies) scores(profile string, now time.Time) (map[string]float64, error) {
	p, err := f.profile(profile, false)
	if err != nil || p == nil {
		return nil, err
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	out := make(map[string]float64, len(p.rows))
	for app, r := range p.rows {
		out[app] = r.decayed(now)
	}
	return out, nil
}

// record counts one launch of app in profile at now: on disk, then in memory.
func (f *frecencies) record(profile, app string, now time.Time) error {
	p, err := f.profile(profile, true)
	if err != nil {
		return err
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	r := p.rows[app]
	r = frecencyRow{score: r.decayed(now) + 1, at: now, count: r.count + 1}
	if _, err := p.db.Exec(`INSERT INTO frecency (app, score, at, count) VALUES (?, ?, ?, ?)
		ON CONFLICT (app) DO UPDATE SET score = excluded.score, at = excluded.at, count = excluded.count`,
		app, r.score, now.UnixMilli(), r.count); err != nil {
		return fmt.Errorf("launcher: record a launch in %q: %w", profile, err)
	}
	p.rows[app] = r
	return nil
}

func (f *frecencies) close() {
	f.mu.Lock()
	defer f.mu.Unlock()
	for n, p := range f.mu.profiles {
		p.db.Close()
		delete(f.mu.profiles, n)
	}
}

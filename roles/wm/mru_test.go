package wm

import (
	"reflect"
	"testing"
)

func TestMRU(t *testing.T) {
	var m mru
	for _, id := range []string{"a", "b", "c"} {
		m.add(id)
	}
	m.touch("c")
	m.touch("b")
	if !reflect.DeepEqual(m.ids, []string{"b", "c", "a"}) {
		t.Fatal(m.ids)
	}
	if m.touch("b") {
		t.Fatal("touching the first moved something")
	}
	m.remove("c")
	m.add("b")
	if !reflect.DeepEqual(m.ids, []string{"b", "a"}) {
		t.Fatal(m.ids)
	}
}

func TestRankBySaved(t *testing.T) {
	type w struct{ app, title string }
	ws := []w{{"foot", "one"}, {"firefox", "news"}, {"foot", "two"}, {"new", "x"}}
	saved := []savedWindow{{"foot", "two"}, {"firefox", "mail"}, {"foot", "one"}}
	got := rankBySaved(ws, saved, func(x w) (string, string) { return x.app, x.title })
	// foot/two and foot/one by their exact lines, firefox by its app, the unknown one last.
	want := []w{{"foot", "two"}, {"firefox", "news"}, {"foot", "one"}, {"new", "x"}}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("%v", got)
	}
}

package edgecache

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"sort"
	"testing"
	"time"
)

// The watch protocol of today's Kubernetes: streaming lists, periodic
// bookmarks, paged lists from one snapshot, selector strings, and the typed
// 410/504 errors. Every wait is bounded (next: 5 s).

func keysOf(objs []Object) []string {
	out := make([]string, len(objs))
	for i, o := range objs {
		out[i] = o.Key
	}
	return out
}

func envPod(name string, rv uint64, env string, canary bool) Object {
	o := pod(name, rv, "web")
	o.Labels["env"] = env
	if canary {
		o.Labels["canary"] = "true"
	}
	return o
}

// A streaming list (sendInitialEvents=true): the matching state as Added at
// one resourceVersion, then a Bookmark marked InitialEventsEnd at that
// resourceVersion, then the live changes.
func TestStreamingListSendsStateThenAnEndBookmarkThenChanges(t *testing.T) {
	wc := newWC(t, WatchOptions{Capacity: 2, MaxCapacity: 2})
	must(t, wc.Replace([]Object{pod("a", 1, "web"), pod("b", 2, "db"), pod("c", 3, "web")}, 3))
	for rv := uint64(4); rv <= 7; rv++ { // pushes rv 3 out of the window
		must(t, wc.Update(pod("b", rv, "db")))
	}
	if _, err := wc.EventsSince(3); !errors.Is(err, ErrResourceExpired) {
		t.Fatalf("rv 3 should have left the window: %v", err)
	}
	// rv 3 is "not older than", never expired, for a streaming list.
	w, err := wc.WatchWithOptions(context.Background(), 3, Selector{Labels: map[string]string{"app": "web"}},
		WatcherOptions{SendInitialEvents: true, Bookmarks: true})
	must(t, err)
	defer w.Stop()
	for _, key := range []string{"default/a", "default/c"} {
		ev, ok := next(t, w)
		if !ok || ev.Type != Added || ev.Object.Key != key || ev.ResourceVersion != 7 || ev.InitialEventsEnd {
			t.Fatalf("initial event for %s = %+v", key, ev)
		}
	}
	ev, ok := next(t, w)
	if !ok || ev.Type != Bookmark || !ev.InitialEventsEnd || ev.ResourceVersion != 7 {
		t.Fatalf("the end of the initial events = %+v", ev)
	}
	must(t, wc.Add(pod("d", 8, "db")))
	must(t, wc.Add(pod("e", 9, "web")))
	ev, ok = next(t, w)
	if !ok || ev.Type != Added || ev.Object.Key != "default/e" || ev.ResourceVersion != 9 || ev.InitialEventsEnd {
		t.Fatalf("the live change = %+v", ev)
	}
	// A plain watch from 0 has no end-of-initial-events bookmark.
	plain, err := wc.WatchWithOptions(context.Background(), 0, Selector{Labels: map[string]string{"app": "db"}},
		WatcherOptions{Bookmarks: true})
	must(t, err)
	defer plain.Stop()
	for _, key := range []string{"default/b", "default/d"} {
		if ev, ok := next(t, plain); !ok || ev.Type != Added || ev.Object.Key != key {
			t.Fatalf("plain watch from 0: %+v", ev)
		}
	}
	must(t, wc.Add(pod("f", 10, "db")))
	if ev, ok := next(t, plain); !ok || ev.Type != Added || ev.Object.Key != "default/f" || ev.InitialEventsEnd {
		t.Fatalf("plain watch after its state: %+v", ev)
	}
}

// A streaming list from an rv the cache does not reach within the
// watcher's FreshTimeout fails with the 504 and its details.
func TestStreamingListFromAFutureVersionIsTooLarge(t *testing.T) {
	wc := newWC(t, WatchOptions{FreshTimeout: time.Minute})
	must(t, wc.Replace([]Object{pod("a", 1, "web")}, 5))
	start := time.Now()
	w, err := wc.WatchWithOptions(context.Background(), 9, Selector{},
		WatcherOptions{SendInitialEvents: true, FreshTimeout: 30 * time.Millisecond})
	if took := time.Since(start); took > 5*time.Second {
		t.Fatalf("the watcher's FreshTimeout was not used: waited %v", took)
	}
	if err == nil {
		w.Stop()
		t.Fatal("a streaming list from a future rv started")
	}
	var tl *TooLargeResourceVersionError
	if !errors.As(err, &tl) {
		t.Fatalf("error %T %v is not a *TooLargeResourceVersionError", err, err)
	}
	if tl.Requested != 9 || tl.Current != 5 || tl.RetryAfterSeconds != 1 || tl.Cause() != "ResourceVersionTooLarge" ||
		tl.Reason() != "Timeout" || tl.HTTPStatus() != 504 {
		t.Fatalf("504 details = %+v (cause %q)", tl, tl.Cause())
	}
	var se *StatusError
	if !errors.Is(err, ErrTooLargeResourceVersion) || !errors.As(err, &se) || se.HTTPStatus() != 504 {
		t.Fatalf("errors.Is/As on %v", err)
	}
	// The wait ends as soon as the cache sees the rv.
	go func() { time.Sleep(20 * time.Millisecond); _ = wc.Add(pod("b", 9, "web")) }()
	w, err = wc.WatchWithOptions(context.Background(), 9, Selector{},
		WatcherOptions{SendInitialEvents: true, FreshTimeout: 5 * time.Second})
	must(t, err)
	defer w.Stop()
	for _, key := range []string{"default/a", "default/b"} {
		if ev, ok := next(t, w); !ok || ev.Type != Added || ev.Object.Key != key || ev.ResourceVersion != 9 {
			t.Fatalf("after waiting: %+v", ev)
		}
	}
	// A cancelled context ends the wait with its error.
	ctx, cancel := context.WithCancel(context.Background())
	go func() { time.Sleep(20 * time.Millisecond); cancel() }()
	if _, err := wc.WatchWithOptions(ctx, 100, Selector{}, WatcherOptions{SendInitialEvents: true}); !errors.Is(err, context.Canceled) {
		t.Fatalf("a cancelled streaming list = %v", err)
	}
	if _, err := wc.WatchWithOptions(context.Background(), 0, Selector{}, WatcherOptions{FreshTimeout: -1}); !errors.Is(err, ErrInvalidArgument) {
		t.Fatalf("negative FreshTimeout = %v", err)
	}
}

// Every wait for freshness fails with the typed 504.
func TestFreshnessFailuresAreTypedEverywhere(t *testing.T) {
	wc := newWC(t, WatchOptions{FreshTimeout: 20 * time.Millisecond})
	must(t, wc.Replace([]Object{pod("a", 1, "web")}, 5))
	ctx := context.Background()
	errs := map[string]error{"WaitUntilFresh": wc.WaitUntilFresh(ctx, 7)}
	_, errs["Get"] = wc.Get(ctx, "default/a", 7)
	_, _, errs["List"] = wc.List(ctx, 7, Selector{})
	_, _, errs["List with a selector string"] = wc.List(ctx, 7, Selector{LabelSelector: "app=web"})
	_, errs["ListPage"] = wc.ListPage(ctx, ListOptions{ResourceVersion: 7, Limit: 1})
	_, errs["ListPage Exact"] = wc.ListPage(ctx, ListOptions{ResourceVersion: 7, ResourceVersionMatch: ResourceVersionMatchExact})
	for name, err := range errs {
		var tl *TooLargeResourceVersionError
		if !errors.As(err, &tl) || tl.Requested != 7 || tl.Current != 5 || tl.RetryAfterSeconds != 1 {
			t.Errorf("%s: %T %v (%+v)", name, err, err, tl)
		}
	}
}

// Periodic bookmarks reach a watcher whose selector matches nothing, at
// resourceVersions that never go backwards.
func TestPeriodicBookmarksReachAWatcherThatMatchesNothing(t *testing.T) {
	wc := newWC(t, WatchOptions{})
	must(t, wc.Replace(nil, 1))
	w, err := wc.WatchWithOptions(context.Background(), 1, Selector{Labels: map[string]string{"app": "none"}},
		WatcherOptions{Bookmarks: true, BookmarkInterval: 20 * time.Millisecond})
	must(t, err)
	defer w.Stop()
	// Without bookmarks, the same interval sends nothing.
	quiet, err := wc.WatchWithOptions(context.Background(), 1, Selector{Labels: map[string]string{"app": "none"}},
		WatcherOptions{BookmarkInterval: 20 * time.Millisecond})
	must(t, err)
	defer quiet.Stop()
	stop := make(chan struct{})
	wrote := make(chan uint64)
	go func() { // writes that never match the watcher
		rv := uint64(1)
		defer func() { wrote <- rv }()
		for {
			select {
			case <-stop:
				return
			case <-time.After(3 * time.Millisecond):
			}
			rv++
			if err := wc.Add(pod(fmt.Sprint("p", rv), rv, "web")); err != nil {
				return
			}
		}
	}()
	var rvs []uint64
	deadline := time.After(5 * time.Second)
	for len(rvs) < 5 {
		select {
		case ev, ok := <-w.ResultChan():
			if !ok || ev.Type != Bookmark || ev.InitialEventsEnd {
				t.Fatalf("event %d = %+v (open %v)", len(rvs), ev, ok)
			}
			if len(rvs) > 0 && ev.ResourceVersion < rvs[len(rvs)-1] {
				t.Fatalf("bookmark rv went back: %v then %d", rvs, ev.ResourceVersion)
			}
			rvs = append(rvs, ev.ResourceVersion)
		case <-deadline:
			t.Fatalf("only %d bookmarks in 5 s: %v", len(rvs), rvs)
		}
	}
	close(stop)
	last := <-wrote
	if rvs[len(rvs)-1] <= 1 || rvs[len(rvs)-1] > last {
		t.Fatalf("bookmark rvs %v do not follow the writes (up to %d)", rvs, last)
	}
	select {
	case ev := <-quiet.ResultChan():
		t.Fatalf("a watcher without Bookmarks got %+v", ev)
	default:
	}

	// The cache's interval applies when the watcher gives none; a
	// watcher's negative interval turns it off.
	fast := newWC(t, WatchOptions{BookmarkInterval: 20 * time.Millisecond})
	must(t, fast.Replace(nil, 3))
	inherit, err := fast.WatchWithOptions(context.Background(), 3, Selector{}, WatcherOptions{Bookmarks: true})
	must(t, err)
	defer inherit.Stop()
	off, err := fast.WatchWithOptions(context.Background(), 3, Selector{}, WatcherOptions{Bookmarks: true, BookmarkInterval: -1})
	must(t, err)
	defer off.Stop()
	if ev, ok := next(t, inherit); !ok || ev.Type != Bookmark || ev.ResourceVersion != 3 {
		t.Fatalf("with the cache's interval: %+v", ev)
	}
	if ev, _ := next(t, inherit); ev.Type != Bookmark { // a second one: periodic, not a one-off
		t.Fatalf("second bookmark: %+v", ev)
	}
	select {
	case ev := <-off.ResultChan():
		t.Fatalf("a watcher with bookmarks off got %+v", ev)
	case <-time.After(100 * time.Millisecond):
	}
	must(t, fast.Bookmark(4)) // upstream bookmarks still arrive
	if ev, ok := next(t, off); !ok || ev.Type != Bookmark || ev.ResourceVersion != 4 {
		t.Fatalf("an upstream bookmark with periodic ones off: %+v", ev)
	}
}

// Three pages taken across writes are one snapshot; the continue token
// round-trips; the last page has no token.
func TestListPagePagesAreOneSnapshot(t *testing.T) {
	wc := newWC(t, WatchOptions{Capacity: 100})
	var objs []Object
	for i := 0; i < 7; i++ {
		objs = append(objs, pod(fmt.Sprint("p", i), 1, "web"))
	}
	must(t, wc.Replace(objs, 10))
	ctx := context.Background()
	p1, err := wc.ListPage(ctx, ListOptions{Limit: 3, ResourceVersion: 10})
	must(t, err)
	if !reflect.DeepEqual(keysOf(p1.Items), []string{"default/p0", "default/p1", "default/p2"}) || p1.ResourceVersion != 10 || p1.Continue == "" {
		t.Fatalf("page 1 = %v at %d, continue %q", keysOf(p1.Items), p1.ResourceVersion, p1.Continue)
	}
	// Writes between pages do not show.
	must(t, wc.Update(pod("p4", 11, "db")))
	must(t, wc.Add(pod("p35", 12, "web")))
	must(t, wc.Delete(pod("p6", 13, "web")))
	p2, err := wc.ListPage(ctx, ListOptions{Limit: 3, Continue: p1.Continue})
	must(t, err)
	if !reflect.DeepEqual(keysOf(p2.Items), []string{"default/p3", "default/p4", "default/p5"}) || p2.ResourceVersion != 10 || p2.Continue == "" {
		t.Fatalf("page 2 = %v at %d, continue %q", keysOf(p2.Items), p2.ResourceVersion, p2.Continue)
	}
	if p2.Items[1].ResourceVersion != 10 || p2.Items[1].Labels["app"] != "web" || string(p2.Items[1].Data) != `{"name":"p4","rv":1}` {
		t.Fatalf("page 2 shows a later write: %+v", p2.Items[1])
	}
	again, err := wc.ListPage(ctx, ListOptions{Limit: 3, Continue: p1.Continue})
	must(t, err)
	if !reflect.DeepEqual(again, p2) {
		t.Fatalf("the same token gave %+v, then %+v", p2, again)
	}
	p3, err := wc.ListPage(ctx, ListOptions{Limit: 3, Continue: p2.Continue})
	must(t, err)
	if !reflect.DeepEqual(keysOf(p3.Items), []string{"default/p6"}) || p3.ResourceVersion != 10 || p3.Continue != "" {
		t.Fatalf("page 3 = %v at %d, continue %q", keysOf(p3.Items), p3.ResourceVersion, p3.Continue)
	}
	// The current state is different; rv 0 lists it in one page whatever
	// the limit.
	cur, err := wc.ListPage(ctx, ListOptions{Limit: 2})
	must(t, err)
	if len(cur.Items) != 7 || cur.ResourceVersion != 13 || cur.Continue != "" || cur.Items[4].Key != "default/p35" {
		t.Fatalf("rv 0 = %v at %d, continue %q", keysOf(cur.Items), cur.ResourceVersion, cur.Continue)
	}
	// Bad requests.
	for name, o := range map[string]ListOptions{
		"a token with a resourceVersion": {Continue: p1.Continue, ResourceVersion: 10},
		"a malformed token":              {Continue: "not a token"},
		"Exact at 0":                     {ResourceVersionMatch: ResourceVersionMatchExact},
		"an unknown match":               {ResourceVersion: 10, ResourceVersionMatch: "Newest"},
		"a negative limit":               {Limit: -1},
	} {
		if _, err := wc.ListPage(ctx, o); !errors.Is(err, ErrInvalidArgument) {
			t.Errorf("%s: %v", name, err)
		}
	}
	wc.Close()
	if _, err := wc.ListPage(ctx, ListOptions{}); !errors.Is(err, ErrClosed) {
		t.Fatalf("ListPage after Close = %v", err)
	}
}

// Exact lists the state at an older resourceVersion still in the window.
func TestListPageExactAtAnOlderVersion(t *testing.T) {
	wc := newWC(t, WatchOptions{Capacity: 100})
	must(t, wc.Replace([]Object{pod("a", 10, "web"), pod("b", 10, "web")}, 10))
	must(t, wc.Update(pod("a", 11, "web")))
	must(t, wc.Add(pod("c", 12, "web")))
	must(t, wc.Delete(pod("b", 13, "web")))
	ctx := context.Background()
	for _, tc := range []struct {
		rv    uint64
		match ResourceVersionMatch
		keys  []string
		aRV   uint64
		at    uint64
	}{
		{10, ResourceVersionMatchExact, []string{"default/a", "default/b"}, 10, 10},
		{11, ResourceVersionMatchExact, []string{"default/a", "default/b"}, 11, 11},
		{12, ResourceVersionMatchExact, []string{"default/a", "default/b", "default/c"}, 11, 12},
		{11, ResourceVersionMatchNotOlderThan, []string{"default/a", "default/c"}, 11, 13},
		// Unset is NotOlderThan, with a Limit too.
		{11, "", []string{"default/a", "default/c"}, 11, 13},
	} {
		p, err := wc.ListPage(ctx, ListOptions{ResourceVersion: tc.rv, ResourceVersionMatch: tc.match, Limit: 10})
		if err != nil || !reflect.DeepEqual(keysOf(p.Items), tc.keys) || p.Items[0].ResourceVersion != tc.aRV || p.ResourceVersion != tc.at {
			t.Errorf("%d %q: %+v %v", tc.rv, tc.match, p, err)
		}
	}
}

// A continue token (or an Exact rv) whose resourceVersion left the window
// is a 410 with its details; so is a watch from there.
func TestExpiredTokenIsResourceExpired(t *testing.T) {
	wc := newWC(t, WatchOptions{Capacity: 2, MaxCapacity: 2})
	var objs []Object
	for i := 0; i < 5; i++ {
		objs = append(objs, pod(fmt.Sprint("p", i), 1, "web"))
	}
	must(t, wc.Replace(objs, 10))
	ctx := context.Background()
	p1, err := wc.ListPage(ctx, ListOptions{Limit: 2, ResourceVersion: 10})
	must(t, err)
	if p1.Continue == "" {
		t.Fatal("no continue token")
	}
	for rv := uint64(11); rv <= 20; rv++ {
		must(t, wc.Update(pod("p0", rv, "web")))
	}
	checkExpired := func(name string, err error, requested uint64) {
		t.Helper()
		var re *ResourceExpiredError
		if !errors.As(err, &re) {
			t.Fatalf("%s: %T %v is not a *ResourceExpiredError", name, err, err)
		}
		if re.Requested != requested || re.Oldest <= requested || re.Oldest > 20 || re.HTTPStatus() != 410 ||
			re.Reason() != "Expired" || re.Message == "" {
			t.Fatalf("%s: 410 details = %+v", name, re)
		}
		var se *StatusError
		if !errors.Is(err, ErrResourceExpired) || !errors.As(err, &se) || se.HTTPStatus() != 410 {
			t.Fatalf("%s: errors.Is/As on %v", name, err)
		}
	}
	_, err = wc.ListPage(ctx, ListOptions{Limit: 2, Continue: p1.Continue})
	checkExpired("ListPage with an expired token", err, 10)
	_, err = wc.ListPage(ctx, ListOptions{ResourceVersion: 12, ResourceVersionMatch: ResourceVersionMatchExact})
	checkExpired("ListPage Exact at an expired rv", err, 12)
	_, err = wc.Watch(ctx, 11, Selector{})
	checkExpired("Watch", err, 11)
	_, err = wc.WatchWithOptions(ctx, 11, Selector{LabelSelector: "app"}, WatcherOptions{Bookmarks: true})
	checkExpired("WatchWithOptions", err, 11)
	_, err = wc.EventsSince(11)
	checkExpired("EventsSince", err, 11)
}

// Set-based label selector strings, ANDed with the equality maps, in
// List, ListPage and Watch.
func TestLabelSelectorStrings(t *testing.T) {
	wc := newWC(t, WatchOptions{Capacity: 100, Indexes: []string{"label:env"}})
	must(t, wc.Replace([]Object{
		envPod("a", 1, "prod", false), envPod("b", 1, "qa", true), envPod("c", 1, "dev", false),
		envPod("d", 1, "prod", true), pod("e", 1, "db"),
	}, 5))
	ctx := context.Background()
	for _, tc := range []struct {
		sel  Selector
		keys []string
	}{
		{Selector{LabelSelector: "env in (prod,qa)"}, []string{"a", "b", "d"}},
		{Selector{LabelSelector: "env notin (prod)"}, []string{"b", "c", "e"}},
		{Selector{LabelSelector: "canary"}, []string{"b", "d"}},
		{Selector{LabelSelector: "!canary"}, []string{"a", "c", "e"}},
		{Selector{LabelSelector: "env in (prod, qa), !canary"}, []string{"a"}},
		{Selector{LabelSelector: "env!=prod,env"}, []string{"b", "c"}},
		{Selector{LabelSelector: "env==prod"}, []string{"a", "d"}},
		{Selector{LabelSelector: "canary", Labels: map[string]string{"env": "qa"}}, []string{"b"}},
		{Selector{LabelSelector: "env in (prod,qa)", FieldSelector: "spec.nodeName=n1"}, []string{"a", "b", "d"}},
		{Selector{LabelSelector: "env in (prod,qa)", FieldSelector: "spec.nodeName!=n1"}, nil},
	} {
		var want []string
		for _, k := range tc.keys {
			want = append(want, "default/"+k)
		}
		objs, rv, err := wc.List(ctx, 0, tc.sel)
		if err != nil || rv != 5 || !reflect.DeepEqual(keysOf(objs), append([]string{}, want...)) {
			t.Errorf("List %+v = %v at %d, %v; want %v", tc.sel, keysOf(objs), rv, err, want)
		}
		p, err := wc.ListPage(ctx, ListOptions{Selector: tc.sel, Limit: 100, ResourceVersion: 5})
		if err != nil || !reflect.DeepEqual(keysOf(p.Items), append([]string{}, want...)) {
			t.Errorf("ListPage %+v = %+v, %v; want %v", tc.sel, p, err, want)
		}
		w, err := wc.WatchWithOptions(ctx, 0, tc.sel, WatcherOptions{SendInitialEvents: true})
		must(t, err)
		var got []string
		for {
			ev, ok := next(t, w)
			if !ok || ev.Type != Added {
				if ev.Type != Bookmark || !ev.InitialEventsEnd {
					t.Errorf("watch %+v ended its state with %+v", tc.sel, ev)
				}
				break
			}
			got = append(got, ev.Object.Key)
		}
		w.Stop()
		sort.Strings(got)
		if !reflect.DeepEqual(got, want) {
			t.Errorf("watch %+v = %v; want %v", tc.sel, got, want)
		}
	}
	// Live events are filtered by the string too.
	w, err := wc.Watch(ctx, 5, Selector{LabelSelector: "env in (qa),!canary"})
	must(t, err)
	defer w.Stop()
	must(t, wc.Add(envPod("f", 6, "qa", true)))
	must(t, wc.Add(envPod("g", 7, "prod", false)))
	must(t, wc.Add(envPod("h", 8, "qa", false)))
	if ev, ok := next(t, w); !ok || ev.Object.Key != "default/h" {
		t.Fatalf("live event = %+v", ev)
	}
}

// A field selector on a field the cache does not extract is
// ErrInvalidSelector, never an empty result.
func TestFieldSelectorOnAnUndeclaredFieldIsInvalid(t *testing.T) {
	wc := newWC(t, WatchOptions{Fields: []string{"spec.nodeName", "metadata.name"}})
	must(t, wc.Replace([]Object{pod("a", 1, "web")}, 5))
	ctx := context.Background()
	objs, _, err := wc.List(ctx, 0, Selector{FieldSelector: "spec.nodeName=n1"})
	if err != nil || len(objs) != 1 {
		t.Fatalf("a declared field: %v %v", keysOf(objs), err)
	}
	objs, _, err = wc.List(ctx, 0, Selector{FieldSelector: "metadata.name=a"}) // declared, not carried
	if err != nil || len(objs) != 0 {
		t.Fatalf("a declared field no object carries: %v %v", keysOf(objs), err)
	}
	for _, sel := range []Selector{
		{FieldSelector: "status.phase=Running"},
		{FieldSelector: "spec.nodeName=n1,status.phase!=Failed"},
		{Fields: map[string]string{"status.phase": "Running"}},
	} {
		checkInvalidSelector(t, wc, sel)
	}
}

// Selector strings that do not parse are ErrInvalidSelector.
func TestBadSelectorSyntaxIsInvalid(t *testing.T) {
	wc := newWC(t, WatchOptions{})
	must(t, wc.Replace([]Object{pod("a", 1, "web")}, 5))
	for _, sel := range []Selector{
		{LabelSelector: "env in (prod"},
		{LabelSelector: "env in prod"},
		{LabelSelector: "env notin"},
		{LabelSelector: "=web"},
		{LabelSelector: "app=web,,"},
		{LabelSelector: "app=we b"},
		{FieldSelector: "spec.nodeName in (n1)"},
		{FieldSelector: "spec.nodeName"},
	} {
		checkInvalidSelector(t, wc, sel)
	}
}

func checkInvalidSelector(t *testing.T, wc *WatchCache, sel Selector) {
	t.Helper()
	ctx := context.Background()
	_, _, lerr := wc.List(ctx, 0, sel)
	_, perr := wc.ListPage(ctx, ListOptions{Selector: sel, ResourceVersion: 5, Limit: 10})
	w, werr := wc.Watch(ctx, 0, sel)
	if werr == nil {
		w.Stop()
	}
	for name, err := range map[string]error{"List": lerr, "ListPage": perr, "Watch": werr} {
		var se *StatusError
		if !errors.Is(err, ErrInvalidSelector) || !errors.As(err, &se) || se.HTTPStatus() != 400 {
			t.Errorf("%s %+v = %v", name, sel, err)
		}
	}
}

// A bad argument is a 400, as the core reports it (it was a 500).
func TestInvalidArgumentIsABadRequest(t *testing.T) {
	wc := newWC(t, WatchOptions{Capacity: 10})
	_, err := wc.ListPage(context.Background(), ListOptions{Limit: -1})
	var se *StatusError
	if !errors.Is(err, ErrInvalidArgument) || !errors.As(err, &se) || se.HTTPStatus() != 400 {
		t.Fatalf("got %v", err)
	}
}

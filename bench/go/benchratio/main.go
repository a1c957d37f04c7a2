// Command benchratio reads `go test -bench` output (from files or stdin; any
// number of runs, concatenated) of benchmarks named
// Benchmark<workload>/<variant>, keeps each (workload, variant, -cpu)'s
// fastest ns/op over the runs, and prints a Markdown table with the ratio
// edgecache ns/op ÷ variant ns/op (above 1: the binding is slower).
//
//	go test -run '^$' -bench . -cpu 1,2 -benchmem | benchratio
package main

import (
	"bufio"
	"flag"
	"fmt"
	"io"
	"os"
	"regexp"
	"sort"
	"strconv"
	"strings"
)

// The variant every other is divided by.
const base = "edgecache"

// BenchmarkGetHit16/edgecache-2   	 5000000	   250.3 ns/op	  16 B/op	   1 allocs/op
var line = regexp.MustCompile(`^Benchmark([^/\s]+)/(\S+?)(?:-(\d+))?\s+(\d+)\s+([\d.]+) ns/op(?:\s+(\d+) B/op\s+(\d+) allocs/op)?`)

type key struct {
	workload string
	cpu      int
}

type result struct {
	ns     float64
	bytes  string
	allocs string
	runs   int
}

func main() {
	flag.Usage = func() {
		fmt.Fprintln(os.Stderr, "usage: benchratio [go-test-bench-output ...] (default stdin)")
	}
	flag.Parse()
	var inputs []io.Reader
	for _, p := range flag.Args() {
		f, err := os.Open(p)
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		defer f.Close()
		inputs = append(inputs, f)
	}
	if len(inputs) == 0 {
		inputs = append(inputs, os.Stdin)
	}

	results := map[key]map[string]*result{}
	var variants []string
	seen := map[string]bool{}
	for _, in := range inputs {
		sc := bufio.NewScanner(in)
		for sc.Scan() {
			m := line.FindStringSubmatch(sc.Text())
			if m == nil {
				continue
			}
			cpu := 1
			if m[3] != "" {
				cpu, _ = strconv.Atoi(m[3])
			}
			ns, err := strconv.ParseFloat(m[5], 64)
			if err != nil {
				continue
			}
			k := key{m[1], cpu}
			if results[k] == nil {
				results[k] = map[string]*result{}
			}
			r := results[k][m[2]]
			if r == nil {
				r = &result{ns: ns}
				results[k][m[2]] = r
			}
			r.runs++
			if ns <= r.ns {
				r.ns, r.bytes, r.allocs = ns, m[6], m[7]
			}
			if !seen[m[2]] {
				seen[m[2]] = true
				variants = append(variants, m[2])
			}
		}
	}
	if len(results) == 0 {
		fmt.Fprintln(os.Stderr, "benchratio: no benchmark lines found")
		os.Exit(1)
	}
	// edgecache first, then the peers in the order they ran.
	sort.SliceStable(variants, func(i, j int) bool { return variants[i] == base && variants[j] != base })
	keys := make([]key, 0, len(results))
	for k := range results {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool {
		if keys[i].workload != keys[j].workload {
			return keys[i].workload < keys[j].workload
		}
		return keys[i].cpu < keys[j].cpu
	})

	runs := 0
	for _, k := range keys {
		for _, r := range results[k] {
			if r.runs > runs {
				runs = r.runs
			}
		}
	}
	fmt.Printf("ns/op: fastest of %d run(s); ratio = %s ns/op ÷ that column's (above 1: %s is slower)\n\n", runs, base, base)
	hdr := []string{"workload", "-cpu"}
	for _, v := range variants {
		if v == base {
			hdr = append(hdr, v+" ns/op")
		} else {
			hdr = append(hdr, v+" ns/op (ratio)")
		}
	}
	hdr = append(hdr, "B/op, allocs/op")
	fmt.Println("| " + strings.Join(hdr, " | ") + " |")
	sep := []string{"---", "---:"}
	for range variants {
		sep = append(sep, "---:")
	}
	sep = append(sep, "---")
	fmt.Println("|" + strings.Join(sep, "|") + "|")
	for _, k := range keys {
		row := []string{k.workload, strconv.Itoa(k.cpu)}
		b := results[k][base]
		var allocs []string
		for _, v := range variants {
			r := results[k][v]
			switch {
			case r == nil:
				row = append(row, "")
				allocs = append(allocs, "-")
				continue
			case v == base || b == nil:
				row = append(row, fmt.Sprintf("%.1f", r.ns))
			default:
				row = append(row, fmt.Sprintf("%.1f (%.2f)", r.ns, b.ns/r.ns))
			}
			if r.bytes != "" {
				allocs = append(allocs, r.bytes+"/"+r.allocs)
			} else {
				allocs = append(allocs, "?")
			}
		}
		row = append(row, strings.Join(allocs, ", "))
		fmt.Println("| " + strings.Join(row, " | ") + " |")
	}
}

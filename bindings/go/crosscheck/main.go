// Command crosscheck prints where the keys of crates/edgecache/examples/
// ring_placement.rs land on Go groupcache's consistent-hash ring, in the
// same format. Built in GOPATH mode against Debian's
// golang-github-golang-groupcache-dev (its own go.mod keeps it out of the
// binding's module); bindings/go/run.sh diffs the two outputs.
package main

import (
	"bufio"
	"fmt"
	"os"
	"strconv"

	"github.com/golang/groupcache/consistenthash"
)

func main() {
	ring := consistenthash.New(50, nil)
	for i := 1; i <= 7; i++ {
		ring.Add(fmt.Sprintf("http://10.0.0.%d:8080", i))
	}
	out := bufio.NewWriter(os.Stdout)
	defer out.Flush()
	for i := 0; i < 20000; i++ {
		var key string
		switch i % 3 {
		case 0:
			key = fmt.Sprintf("key-%d", i)
		case 1:
			key = fmt.Sprintf("/api/v1/namespaces/ns-%d/pods/pod-%d", i%97, i)
		default:
			key = strconv.Itoa(i)
		}
		fmt.Fprintf(out, "%s\t%s\n", key, ring.Get(key))
	}
}

// bench_mark's shapes in Go (../../bench_mark.c): forced cycles
// (runtime.GC) over a tree or a chain that does not change, or over lists
// that a goroutine churns meanwhile; GODEBUG=gctrace=1 reports each.
//
//	mark tree DEPTH CYCLES | list N CYCLES | churn N CYCLES
package main

import (
	"fmt"
	"os"
	"runtime"
	"runtime/debug"
	"strconv"
	"sync/atomic"
)

type node struct{ l, r *node }

type item struct {
	next *item
	pad  [7]uintptr
}

var treeRoot *node
var listRoot *item

func tree(d int) *node {
	n := &node{}
	if d > 0 {
		n.l = tree(d - 1)
		n.r = tree(d - 1)
	}
	return n
}

var rng uint64 = 88172645463325252

func nextRand() uint64 { // xorshift64, as bench_mark.c
	rng ^= rng << 13
	rng ^= rng >> 7
	rng ^= rng << 17
	return rng
}

func list(n int) *item {
	old := debug.SetGCPercent(-1)
	v := make([]*item, n)
	for i := range v {
		v[i] = &item{}
	}
	for i := n - 1; i > 0; i-- {
		j := int(nextRand() % uint64(i+1))
		v[i], v[j] = v[j], v[i]
	}
	for i := 0; i+1 < n; i++ {
		v[i].next = v[i+1]
	}
	first := v[0]
	debug.SetGCPercent(old)
	return first
}

const nLists = 65536

var heads []*item
var churnStop int32
var sink uint64

func lists(n int) {
	heads = make([]*item, nLists)
	for i := 0; i < n; i++ {
		l := i % nLists
		heads[l] = &item{next: heads[l]}
	}
}

// bench_mark.c's churner: every eighth object replaces a random list's head.
func churner(done chan<- bool) {
	r := uint64(42)
	for atomic.LoadInt32(&churnStop) == 0 {
		r ^= r << 13
		r ^= r >> 7
		r ^= r << 17
		x := &item{}
		if r&7 == 0 {
			h := &heads[(r>>3)%nLists]
			if old := *h; old != nil {
				x.next = old.next
			}
			*h = x
		} else {
			x.pad[0] = uintptr(r)
			sink = uint64(x.pad[0])
		}
	}
	done <- true
}

func main() {
	if len(os.Args) != 4 || (os.Args[1] != "tree" && os.Args[1] != "list" && os.Args[1] != "churn") {
		fmt.Fprintln(os.Stderr, "usage: mark tree DEPTH CYCLES | list N CYCLES | churn N CYCLES")
		os.Exit(2)
	}
	size, err1 := strconv.Atoi(os.Args[2])
	cycles, err2 := strconv.Atoi(os.Args[3])
	if err1 != nil || err2 != nil || size <= 0 || cycles <= 0 {
		fmt.Fprintln(os.Stderr, "mark: bad size or cycle count")
		os.Exit(2)
	}
	done := make(chan bool)
	switch os.Args[1] {
	case "tree":
		treeRoot = tree(size)
	case "list":
		listRoot = list(size)
	default:
		lists(size)
		runtime.GC()
		go churner(done)
	}
	runtime.GC() // the build's garbage
	for i := 0; i < cycles; i++ {
		runtime.GC()
	}
	if os.Args[1] == "churn" {
		atomic.StoreInt32(&churnStop, 1)
		<-done
	}
}

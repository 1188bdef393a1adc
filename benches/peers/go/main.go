// Go peer for weft's comparison harness: one workload per run, selected by
// os.Args[1]; prints one "RESULT <name> <value> <unit>" line on stdout.
// "echo-server PORT" (a goroutine per connection) and "http-server PORT"
// (net/http) instead serve on 127.0.0.1 until killed; the load generator or
// wrk measures them.
package main

import (
	"fmt"
	"net"
	"net/http"
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

const (
	spawnTasks  = 1_000_000
	spawnWarmup = 100_000
	yieldRounds = 2_000_000
	sleepers    = 10_000
	sleepFor    = 2 * time.Second
)

func fail(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "go-peer: "+format+"\n", args...)
	os.Exit(1)
}

// spawnJoin starts n empty goroutines and waits for all of them.
func spawnJoin(n int) time.Duration {
	var wg sync.WaitGroup
	var done int64
	start := time.Now()
	wg.Add(n)
	for i := 0; i < n; i++ {
		go func() {
			atomic.AddInt64(&done, 1)
			wg.Done()
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	if done != int64(n) {
		fail("spawn: %d of %d tasks ran", done, n)
	}
	return elapsed
}

func benchSpawn() {
	runtime.GOMAXPROCS(2)
	spawnJoin(spawnWarmup)
	elapsed := spawnJoin(spawnTasks)
	fmt.Printf("RESULT spawn %.1f ns/task\n", float64(elapsed.Nanoseconds())/spawnTasks)
}

func benchYield() {
	runtime.GOMAXPROCS(1)
	var wg sync.WaitGroup
	counts := make([]int, 2)
	start := time.Now()
	wg.Add(2)
	for t := 0; t < 2; t++ {
		go func(t int) {
			defer wg.Done()
			for i := 0; i < yieldRounds; i++ {
				runtime.Gosched()
				counts[t]++
			}
		}(t)
	}
	wg.Wait()
	elapsed := time.Since(start)
	if counts[0] != yieldRounds || counts[1] != yieldRounds {
		fail("yield: counts %v, want %d each", counts, yieldRounds)
	}
	fmt.Printf("RESULT yield %.1f ns/roundtrip\n", float64(elapsed.Nanoseconds())/yieldRounds)
}

// rssBytes reads the resident set size from /proc/self/statm.
func rssBytes() int64 {
	data, err := os.ReadFile("/proc/self/statm")
	if err != nil {
		fail("statm: %v", err)
	}
	fields := strings.Fields(string(data))
	pages, err := strconv.ParseInt(fields[1], 10, 64)
	if err != nil {
		fail("statm: %v", err)
	}
	return pages * int64(os.Getpagesize())
}

func benchSleepRSS() {
	runtime.GOMAXPROCS(2)
	var started, finished int64
	var wg sync.WaitGroup
	before := rssBytes()
	wg.Add(sleepers)
	for i := 0; i < sleepers; i++ {
		go func() {
			defer wg.Done()
			atomic.AddInt64(&started, 1)
			time.Sleep(sleepFor)
			atomic.AddInt64(&finished, 1)
		}()
	}
	for atomic.LoadInt64(&started) < sleepers {
		time.Sleep(time.Millisecond)
	}
	time.Sleep(100 * time.Millisecond)
	after := rssBytes()
	wg.Wait()
	if finished != sleepers {
		fail("sleep_rss: %d of %d sleepers finished", finished, sleepers)
	}
	fmt.Fprintf(os.Stderr, "go-peer: rss before %d, after %d\n", before, after)
	fmt.Printf("RESULT sleep_rss %.1f bytes/task\n", float64(after-before)/sleepers)
}

// echoBuf is the read buffer of one echo connection, as in the other peers.
const echoBuf = 1024

// listen binds 127.0.0.1:port with two Ps, like the 2-worker Rust servers.
// The runtime already raises the open-file soft limit to the hard limit.
func listen(port string) net.Listener {
	runtime.GOMAXPROCS(2)
	ln, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", port))
	if err != nil {
		fail("listen: %v", err)
	}
	return ln
}

func echo(conn net.Conn) {
	defer conn.Close()
	buf := make([]byte, echoBuf)
	for {
		n, err := conn.Read(buf)
		if err != nil {
			return
		}
		if _, err := conn.Write(buf[:n]); err != nil {
			return
		}
	}
}

func serveEcho(port string) {
	ln := listen(port)
	for {
		conn, err := ln.Accept()
		if err != nil {
			fmt.Fprintf(os.Stderr, "go-peer: accept: %v\n", err)
			time.Sleep(time.Millisecond)
			continue
		}
		go echo(conn) // Go sets TCP_NODELAY on accepted connections
	}
}

func serveHTTP(port string) {
	ln := listen(port)
	hello := []byte("Hello, world!")
	handler := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Write(hello)
	})
	fail("http: %v", http.Serve(ln, handler))
}

func main() {
	switch {
	case len(os.Args) == 2 && os.Args[1] == "spawn":
		benchSpawn()
	case len(os.Args) == 2 && os.Args[1] == "yield":
		benchYield()
	case len(os.Args) == 2 && os.Args[1] == "sleep_rss":
		benchSleepRSS()
	case len(os.Args) == 3 && os.Args[1] == "echo-server":
		serveEcho(os.Args[2])
	case len(os.Args) == 3 && os.Args[1] == "http-server":
		serveHTTP(os.Args[2])
	default:
		fail("usage: go-peer spawn|yield|sleep_rss|echo-server PORT|http-server PORT")
	}
}

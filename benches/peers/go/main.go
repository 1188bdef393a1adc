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
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
	"unsafe"
)

const (
	spawnTasks  = 1_000_000
	spawnWarmup = 100_000
	yieldRounds = 2_000_000
	sleepers    = 10_000
	sleepFor    = 2 * time.Second

	pingpong1Rounds = 1_000_000
	pingpong1Warmup = 100_000
	// Fewer for pingpong2, as in the weft peer (where each message wakes
	// the other worker thread).
	pingpong2Rounds = 100_000
	pingpong2Warmup = 10_000
	pairRounds      = 200_000
	pairWarmup      = 20_000
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

// benchSpawn is "spawn" and "spawn_wg" (2 Ps), and "spawn_w W" (W Ps, for
// scaling.sh).
func benchSpawn(name string, procs int) {
	runtime.GOMAXPROCS(procs)
	spawnJoin(spawnWarmup)
	elapsed := spawnJoin(spawnTasks)
	fmt.Printf("RESULT %s %.1f ns/task\n", name, float64(elapsed.Nanoseconds())/spawnTasks)
}

// echoBack is task B of a ping-pong pair: it sends back every number it
// receives until A closes its channel, and reports how many it echoed.
func echoBack(in <-chan uint64, out chan<- uint64, echoed *uint64) {
	for v := range in {
		out <- v
		*echoed++
	}
}

// roundTrips is task A's side of round trips from..to: send the number,
// await it back.
func roundTrips(out chan<- uint64, in <-chan uint64, from, to uint64) {
	for i := from; i < to; i++ {
		out <- i
		if v := <-in; v != i {
			fail("pingpong: sent %d, got %d back", i, v)
		}
	}
}

// pingPong runs one pair on two unbuffered channels a->b and b->a: warm-up
// round trips, then the timed ones. Both tasks are goroutines started here
// (main only waits); returns the timed span.
func pingPong(warmup, rounds uint64) time.Duration {
	toB, toA := make(chan uint64), make(chan uint64)
	var wg sync.WaitGroup
	var elapsed time.Duration
	var echoed uint64
	wg.Add(2)
	go func() {
		defer wg.Done()
		roundTrips(toB, toA, 0, warmup)
		start := time.Now()
		roundTrips(toB, toA, warmup, warmup+rounds)
		elapsed = time.Since(start)
		close(toB)
	}()
	go func() {
		defer wg.Done()
		echoBack(toB, toA, &echoed)
	}()
	wg.Wait()
	if echoed != warmup+rounds {
		fail("pingpong: B echoed %d of %d numbers", echoed, warmup+rounds)
	}
	return elapsed
}

// benchPingPong is "pingpong1" (1 P) and "pingpong2" (2 Ps; the scheduler
// decides where the two goroutines run, and mostly keeps them on one P).
func benchPingPong(name string, procs int, warmup, rounds uint64) {
	runtime.GOMAXPROCS(procs)
	elapsed := pingPong(warmup, rounds)
	fmt.Printf("RESULT %s %.1f ns/rt\n", name, float64(elapsed.Nanoseconds())/float64(rounds))
}

// runPairs runs `pairs` independent pairs of `rounds` round trips each and
// returns the wall time until all are done.
func runPairs(pairs int, rounds uint64) time.Duration {
	var wg sync.WaitGroup
	start := time.Now()
	wg.Add(pairs)
	for p := 0; p < pairs; p++ {
		go func() {
			defer wg.Done()
			pingPong(0, rounds)
		}()
	}
	wg.Wait()
	return time.Since(start)
}

// benchPingPongPairs is "pingpong_pairs W": W pairs on W Ps; total round
// trips per second, in millions.
func benchPingPongPairs(procs int) {
	runtime.GOMAXPROCS(procs)
	runPairs(procs, pairWarmup)
	elapsed := runPairs(procs, pairRounds)
	mrts := float64(uint64(procs)*pairRounds) / elapsed.Seconds() / 1e6
	fmt.Printf("RESULT pingpong_pairs %.3f Mrt/s\n", mrts)
}

// workers parses the W of "spawn_w W" and "pingpong_pairs W".
func workers(arg string) int {
	w, err := strconv.Atoi(arg)
	if err != nil || w < 1 {
		fail("bad worker count %q", arg)
	}
	return w
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

// Blocks timed back to back (sysmon busy) and after a pause (backed off),
// as in the weft peer.
const (
	siblingBlocks     = 2_000
	siblingColdBlocks = 50
	siblingPause      = 20 * time.Millisecond
	futexWaitPrivate  = 128
	futexWakePrivate  = 129
)

// siblingWaits: how long a ready goroutine waits while the running one
// blocks its thread in a raw futex wait (a system call the netpoller does
// not see, so only sysmon's retake gets past it), with GOMAXPROCS=1. The
// sibling notes when it runs and ends the wait. The waits, in µs.
func siblingWaits(blocks int, pause time.Duration) []float64 {
	runtime.GOMAXPROCS(1)
	base := time.Now()
	waits := make([]float64, 0, blocks)
	for i := 0; i < blocks; i++ {
		time.Sleep(pause)
		var word uint32
		var ranAt int64
		done := make(chan struct{})
		go func() {
			atomic.StoreInt64(&ranAt, int64(time.Since(base)))
			atomic.StoreUint32(&word, 1)
			syscall.Syscall6(syscall.SYS_FUTEX, uintptr(unsafe.Pointer(&word)), futexWakePrivate, 1<<30, 0, 0, 0)
			close(done)
		}()
		blockedAt := int64(time.Since(base))
		for atomic.LoadUint32(&word) == 0 {
			syscall.Syscall6(syscall.SYS_FUTEX, uintptr(unsafe.Pointer(&word)), futexWaitPrivate, 0, 0, 0, 0)
		}
		<-done
		w := atomic.LoadInt64(&ranAt) - blockedAt
		if w < 0 {
			w = 0
		}
		waits = append(waits, float64(w)/1e3)
	}
	sort.Float64s(waits)
	return waits
}

func benchSiblingWait() {
	warm := siblingWaits(siblingBlocks, 0)
	cold := siblingWaits(siblingColdBlocks, siblingPause)
	at := func(v []float64, q float64) float64 { return v[int(float64(len(v)-1)*q)] }
	fmt.Printf("RESULT sibling_wait %.1f us\n", at(warm, 0.5))
	fmt.Printf("RESULT sibling_wait_p99 %.1f us\n", at(warm, 0.99))
	fmt.Printf("RESULT sibling_wait_cold %.1f us\n", at(cold, 0.5))
}

func main() {
	switch {
	case len(os.Args) == 2 && os.Args[1] == "spawn":
		benchSpawn("spawn", 2)
	case len(os.Args) == 2 && os.Args[1] == "spawn_wg":
		// The same program: Go's spawn already waits with a WaitGroup.
		benchSpawn("spawn_wg", 2)
	case len(os.Args) == 2 && os.Args[1] == "yield":
		benchYield()
	case len(os.Args) == 2 && os.Args[1] == "sibling_wait":
		benchSiblingWait()
	case len(os.Args) == 2 && os.Args[1] == "sleep_rss":
		benchSleepRSS()
	case len(os.Args) == 2 && os.Args[1] == "pingpong1":
		benchPingPong("pingpong1", 1, pingpong1Warmup, pingpong1Rounds)
	case len(os.Args) == 2 && os.Args[1] == "pingpong2":
		benchPingPong("pingpong2", 2, pingpong2Warmup, pingpong2Rounds)
	case len(os.Args) == 3 && os.Args[1] == "spawn_w":
		benchSpawn("spawn_w", workers(os.Args[2]))
	case len(os.Args) == 3 && os.Args[1] == "pingpong_pairs":
		benchPingPongPairs(workers(os.Args[2]))
	case len(os.Args) == 3 && os.Args[1] == "echo-server":
		serveEcho(os.Args[2])
	case len(os.Args) == 3 && os.Args[1] == "http-server":
		serveHTTP(os.Args[2])
	default:
		fail("usage: go-peer spawn|yield|sibling_wait|sleep_rss|pingpong1|pingpong2|spawn_w W|pingpong_pairs W|echo-server PORT|http-server PORT")
	}
}

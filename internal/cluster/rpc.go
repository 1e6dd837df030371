package cluster

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"io"
	"net"
	"sync"
	"time"
)

// The cluster RPC. Frames are
//
//	request:  len uint32 | type byte | id uint64 | payload
//	response: len uint32 | id uint64 | status byte | payload
//
// Many requests are in flight per connection; responses may come in any
// order and are matched by id. A server reads requests in order, so a
// handler that queues them keeps the order they were sent in.

// Response statuses.
const (
	StatusOK        byte = 0
	StatusNotLeader byte = 1
	StatusFailed    byte = 2
	StatusRejected  byte = 3 // the request was refused as malformed: do not send it again
)

const (
	// MaxFrame bounds one request or response.
	MaxFrame = 64 << 20
	// replyQueue bounds the replies waiting for a peer that reads slowly.
	replyQueue = 4096
	// writeTimeout bounds one frame's write.
	writeTimeout = 10 * time.Second
	hdrLen       = 13
)

var errBadFrame = errors.New("cluster: bad rpc frame")

// Result is a response, or why none will come.
type Result struct {
	Status  byte
	Payload []byte
	Err     error
	// NotSent: the request never fully left, so sending it again is safe.
	NotSent bool
}

// Client is one connection to a peer's RPC endpoint.
type Client struct {
	conn    net.Conn
	writeMu sync.Mutex
	w       *bufio.Writer

	mu      sync.Mutex
	nextID  uint64
	pending map[uint64]chan Result // guarded by mu
	err     error                  // guarded by mu: set once the connection failed
}

func newClient(conn net.Conn) *Client {
	c := &Client{conn: conn, w: bufio.NewWriterSize(conn, 64<<10), pending: make(map[uint64]chan Result)}
	go c.readLoop()
	return c
}

// Broken returns why the connection failed, or nil.
func (c *Client) Broken() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.err
}

// Fail closes the connection and answers every pending request with err.
func (c *Client) Fail(err error) {
	c.mu.Lock()
	if c.err == nil {
		c.err = err
	}
	pend := c.pending
	c.pending = make(map[uint64]chan Result)
	c.mu.Unlock()
	c.conn.Close()
	for _, ch := range pend {
		ch <- Result{Err: err}
	}
}

// Send writes a request and returns the channel its result arrives on.
func (c *Client) Send(typ byte, payload []byte) <-chan Result {
	ch := make(chan Result, 1)
	c.mu.Lock()
	if c.err != nil {
		c.mu.Unlock()
		ch <- Result{Err: c.err, NotSent: true}
		return ch
	}
	c.nextID++
	id := c.nextID
	c.pending[id] = ch
	c.mu.Unlock()

	var hdr [hdrLen]byte
	binary.BigEndian.PutUint32(hdr[:4], uint32(9+len(payload)))
	hdr[4] = typ
	binary.BigEndian.PutUint64(hdr[5:], id)
	c.writeMu.Lock()
	_ = c.conn.SetWriteDeadline(time.Now().Add(writeTimeout))
	_, err := c.w.Write(hdr[:])
	if err == nil {
		_, err = c.w.Write(payload)
	}
	if err == nil {
		err = c.w.Flush()
	}
	c.writeMu.Unlock()
	if err != nil {
		// A frame is only processed once whole, and this one did not get
		// out whole: the caller may send it again.
		c.mu.Lock()
		_, mine := c.pending[id]
		delete(c.pending, id)
		c.mu.Unlock()
		if mine { // else Fail already answered it
			ch <- Result{Err: err, NotSent: true}
		}
		c.Fail(err)
	}
	return ch
}

// readFrame reads one frame's header and payload.
func readFrame(r io.Reader) (hdr [hdrLen]byte, payload []byte, err error) {
	if _, err = io.ReadFull(r, hdr[:]); err != nil {
		return hdr, nil, err
	}
	size := binary.BigEndian.Uint32(hdr[:4])
	if size < 9 || size > MaxFrame {
		return hdr, nil, errBadFrame
	}
	payload = make([]byte, size-9)
	_, err = io.ReadFull(r, payload)
	return hdr, payload, err
}

func (c *Client) readLoop() {
	r := bufio.NewReaderSize(c.conn, 64<<10)
	for {
		hdr, payload, err := readFrame(r)
		if err != nil {
			c.Fail(err)
			return
		}
		id := binary.BigEndian.Uint64(hdr[4:12])
		c.mu.Lock()
		ch := c.pending[id]
		delete(c.pending, id)
		c.mu.Unlock()
		if ch != nil {
			ch <- Result{Status: hdr[12], Payload: payload}
		}
	}
}

// Pool keeps one Client per peer address.
type Pool struct {
	mux *Mux

	mu      sync.Mutex
	clients map[string]*Client // guarded by mu
}

// NewPool returns a pool dialing through m.
func NewPool(m *Mux) *Pool { return &Pool{mux: m, clients: make(map[string]*Client)} }

// Get returns a working client for addr, dialing when there is none.
func (p *Pool) Get(ctx context.Context, addr string) (*Client, error) {
	p.mu.Lock()
	c := p.clients[addr]
	p.mu.Unlock()
	if c != nil && c.Broken() == nil {
		return c, nil
	}
	conn, err := p.mux.Dial(ctx, addr, KindRPC)
	if err != nil {
		return nil, err
	}
	p.mu.Lock()
	if old := p.clients[addr]; old != nil && old.Broken() == nil {
		// Someone dialed at the same time: keep theirs, so requests already
		// on it are not given up while the peer may still read them.
		p.mu.Unlock()
		conn.Close()
		return old, nil
	}
	c = newClient(conn)
	p.clients[addr] = c
	p.mu.Unlock()
	return c, nil
}

// FailAll fails every client.
func (p *Pool) FailAll(err error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, c := range p.clients {
		c.Fail(err)
	}
}

// Handler answers one request: it calls respond once, now or later, from
// any goroutine.
type Handler func(typ byte, payload []byte, respond func(status byte, payload []byte))

// Serve answers one peer's connection until it fails or stop is closed.
func Serve(conn net.Conn, stop <-chan struct{}, handle Handler) {
	defer conn.Close()
	// Close the connection when the node stops, so peers learn at once.
	done := make(chan struct{})
	defer close(done)
	go func() {
		select {
		case <-stop:
			conn.Close()
		case <-done:
		}
	}()
	r := bufio.NewReaderSize(conn, 64<<10)
	// Replies go out through one writer, so that whoever answers never
	// waits on the peer, and replies that are ready together share one
	// write.
	replies := make(chan reply, replyQueue)
	go writeReplies(conn, replies, done)
	for {
		hdr, payload, err := readFrame(r)
		if err != nil {
			return
		}
		id := binary.BigEndian.Uint64(hdr[5:])
		handle(hdr[4], payload, func(status byte, payload []byte) {
			select {
			case <-done:
			case replies <- reply{id: id, status: status, payload: payload}:
			default:
				// The peer has stopped reading: drop it rather than queue
				// without bound; it settles what it sent another way.
				conn.Close()
			}
		})
	}
}

type reply struct {
	id      uint64
	status  byte
	payload []byte
}

// writeReplies writes replies to conn until done is closed. A reply that
// does not get out would leave the peer waiting, so any failure closes the
// connection.
func writeReplies(conn net.Conn, replies <-chan reply, done <-chan struct{}) {
	w := bufio.NewWriterSize(conn, 64<<10)
	for {
		var r reply
		select {
		case r = <-replies:
		case <-done:
			return
		}
		var hdr [hdrLen]byte
		binary.BigEndian.PutUint32(hdr[:4], uint32(9+len(r.payload)))
		binary.BigEndian.PutUint64(hdr[4:12], r.id)
		hdr[12] = r.status
		_ = conn.SetWriteDeadline(time.Now().Add(writeTimeout))
		_, err := w.Write(hdr[:])
		if err == nil {
			_, err = w.Write(r.payload)
		}
		if err == nil && len(replies) == 0 {
			err = w.Flush()
		}
		if err != nil {
			conn.Close()
			return
		}
	}
}

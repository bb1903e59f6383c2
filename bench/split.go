package bench

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os/exec"
	"sync"
	"time"

	"github.com/weftnet/weft/internal/childproc"
)

// With Config.Split the servers run in a child process (ServeChild), so
// that sender and receiver do not share one Go scheduler. Parent and child
// speak JSON lines over the child's stdin and stdout: one request, one
// reply. The child ends when its stdin closes (the parent's exit closes
// it; on Linux the child is also killed when the parent dies).

type childRequest struct {
	Op      string      `json:"op"` // listen, received, wait, close
	Spec    *ServerSpec `json:"spec,omitempty"`
	ID      int         `json:"id,omitempty"`
	N       uint64      `json:"n,omitempty"`
	Timeout int64       `json:"timeout_ns,omitempty"`
}

type childReply struct {
	ID    int    `json:"id,omitempty"`
	Addr  string `json:"addr,omitempty"`
	N     uint64 `json:"n,omitempty"`
	Error string `json:"error,omitempty"`
}

// maxChildLine bounds one protocol line.
const maxChildLine = 1 << 20

// ServeChild is the child side of Config.Split: it starts servers as r
// asks and answers on w until r ends, then closes them all.
func ServeChild(r io.Reader, w io.Writer) error {
	e := newEnv(nil, nil)
	defer e.close()
	servers := map[int]Server{}
	defer func() {
		for _, s := range servers {
			_ = s.Close()
		}
	}()
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 4096), maxChildLine)
	enc := json.NewEncoder(w)
	next := 1
	for sc.Scan() {
		var req childRequest
		var rep childReply
		if err := json.Unmarshal(sc.Bytes(), &req); err != nil {
			rep.Error = fmt.Sprintf("bench: child: bad request: %v", err)
		} else {
			rep = e.serveRequest(req, servers, &next)
		}
		if err := enc.Encode(rep); err != nil {
			return err
		}
	}
	return sc.Err()
}

func (e *env) serveRequest(req childRequest, servers map[int]Server, next *int) childReply {
	var rep childReply
	srv := servers[req.ID]
	if req.Op != "listen" && srv == nil {
		rep.Error = fmt.Sprintf("bench: child: no server %d", req.ID)
		return rep
	}
	var err error
	switch req.Op {
	case "listen":
		if req.Spec == nil {
			err = errors.New("bench: child: listen without a spec")
			break
		}
		var sys System
		if sys, err = e.system(req.Spec.Variant.System); err == nil {
			srv, err = sys.Listen(context.Background(), *req.Spec)
		}
		if err == nil {
			rep.ID, rep.Addr = *next, srv.Addr()
			servers[*next] = srv
			*next++
		}
	case "received":
		rep.N = srv.Received()
	case "wait":
		ctx, cancel := context.WithTimeout(context.Background(), time.Duration(req.Timeout))
		err = srv.WaitReceived(ctx, req.N)
		cancel()
	case "close":
		delete(servers, req.ID)
		err = srv.Close()
	default:
		err = fmt.Errorf("bench: child: unknown op %q", req.Op)
	}
	if err != nil {
		rep.Error = err.Error()
	}
	return rep
}

// child is the parent's handle on a ServeChild process.
type child struct {
	mu  sync.Mutex
	p   *childproc.Proc
	out *bufio.Scanner
	enc *json.Encoder
}

// startChild starts cmd as a ServeChild process.
func startChild(cmd *exec.Cmd) (*child, error) {
	p, err := childproc.Start(cmd)
	if err != nil {
		return nil, fmt.Errorf("bench: start child: %w", err)
	}
	c := &child{p: p, out: bufio.NewScanner(p.Out), enc: json.NewEncoder(p.In)}
	c.out.Buffer(make([]byte, 4096), maxChildLine)
	return c, nil
}

// call sends one request and reads its reply.
func (c *child) call(req childRequest) (childReply, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	var rep childReply
	if err := c.enc.Encode(req); err != nil {
		return rep, fmt.Errorf("bench: child: %w", err)
	}
	if !c.out.Scan() {
		return rep, fmt.Errorf("bench: child: no reply: %w", errors.Join(c.out.Err(), io.ErrUnexpectedEOF))
	}
	if err := json.Unmarshal(c.out.Bytes(), &rep); err != nil {
		return rep, fmt.Errorf("bench: child: bad reply: %w", err)
	}
	if rep.Error != "" {
		return rep, errors.New(rep.Error)
	}
	return rep, nil
}

func (c *child) listen(ctx context.Context, spec ServerSpec) (Server, error) {
	rep, err := c.call(childRequest{Op: "listen", Spec: &spec})
	if err != nil {
		return nil, err
	}
	return &remoteServer{c: c, id: rep.ID, addr: rep.Addr}, nil
}

// close ends the child: its stdin closes, and it is killed if it has not
// exited 10 s later.
func (c *child) close() error {
	return c.p.Stop(10 * time.Second)
}

// remoteServer is a server in the child process.
type remoteServer struct {
	c    *child
	id   int
	addr string
}

func (s *remoteServer) Addr() string { return s.addr }

func (s *remoteServer) Received() uint64 {
	rep, err := s.c.call(childRequest{Op: "received", ID: s.id})
	if err != nil {
		return 0
	}
	return rep.N
}

func (s *remoteServer) WaitReceived(ctx context.Context, n uint64) error {
	timeout := time.Minute
	if dl, ok := ctx.Deadline(); ok {
		timeout = max(time.Until(dl), time.Millisecond)
	}
	_, err := s.c.call(childRequest{Op: "wait", ID: s.id, N: n, Timeout: int64(timeout)})
	return err
}

func (s *remoteServer) Close() error {
	_, err := s.c.call(childRequest{Op: "close", ID: s.id})
	return err
}

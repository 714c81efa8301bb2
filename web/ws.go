package web

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"time"

	"github.com/coder/websocket"

	"github.com/saker-sec/saker/hub/api"
	"github.com/saker-sec/saker/hub/store"
)

// Websocket protocol (GET /api/v1/ws, JSON text messages):
//
//	browser → hub, once:  {"type":"hello","after":"<last seen event ID or empty>","tab":"<tab id>"}
//	hub → browser:        {"type":"events","events":[<store.Event>...]}   oldest first
//	                      {"type":"ready","last":"<ID>"}   replay done, live from here
//	                      {"type":"lagged"}  the browser fell too far behind; the
//	                                         hub closes with code 4000 and the
//	                                         browser reconnects with its last ID
//	                      {"type":"reset"}   the gap is larger than the replay
//	                                         limit; reload the list, reconnect
//	                                         with an empty "after"
//
// An empty "after" means live events only. The hub registers the browser's
// queue before replaying from the store, so nothing stored between the two
// is missed, and drops duplicates by ID.

// Close codes sent to browsers.
const (
	closeLagged = websocket.StatusCode(4000)
	closeReset  = websocket.StatusCode(4001)
	// closeSessionEnded: the login was revoked (logout, password change);
	// the browser's reconnect is refused and it goes to the login page.
	closeSessionEnded = websocket.StatusCode(4003)
)

type wsHello struct {
	Type  string `json:"type"`
	After string `json:"after"`
	// Tab identifies the browser tab across its reconnects and reloads, so
	// the Info page counts tabs, not sockets (a socket being replaced
	// lingers until its close is noticed).
	Tab string `json:"tab"`
}

const pingInterval = 25 * time.Second

func (s *Server) serveWS(w http.ResponseWriter, r *http.Request) {
	c, err := websocket.Accept(w, r, nil) // same-origin only: refuses cross-site websockets
	if err != nil {
		return // Accept already answered
	}
	defer c.CloseNow()
	c.SetReadLimit(4 << 10)
	ctx := r.Context()

	// The hello names where the browser's view ends.
	hctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	_, msg, err := c.Read(hctx)
	cancel()
	if err != nil {
		return
	}
	var hello wsHello
	if err := json.Unmarshal(msg, &hello); err != nil || hello.Type != "hello" {
		c.Close(websocket.StatusPolicyViolation, "expected hello")
		return
	}
	if hello.After != "" {
		if _, _, err := store.ParseID(hello.After); err != nil {
			c.Close(websocket.StatusPolicyViolation, "bad after id")
			return
		}
	}
	// From here the browser only answers pings and closes.
	ctx = c.CloseRead(ctx)

	if len(hello.Tab) > 64 {
		hello.Tab = hello.Tab[:64]
	}
	sub, pos, err := s.hub.subscribe(ctx, s.opts.QueueSize, hello.Tab)
	if err != nil {
		return
	}
	defer s.hub.unsubscribe(sub)

	last := hello.After
	if last != "" && store.CompareIDs(last, pos) < 0 {
		var ok bool
		if last, ok = s.replay(ctx, c, last, pos); !ok {
			return
		}
	}
	if last == "" || store.CompareIDs(last, pos) < 0 {
		last = pos
	}
	if err := s.writeMsg(ctx, c, []byte(`{"type":"ready","last":`+quote(last)+`}`)); err != nil {
		return
	}

	ping := time.NewTicker(pingInterval)
	defer ping.Stop()
	recheck := time.NewTicker(s.opts.SessionRecheck)
	defer recheck.Stop()
	var buf bytes.Buffer
	for {
		select {
		case <-ctx.Done():
			return
		case <-sub.gone:
			c.Close(websocket.StatusGoingAway, "hub shutting down")
			return
		case <-recheck.C:
			if _, ok := s.auth.user(r); !ok {
				c.Close(closeSessionEnded, "session ended")
				return
			}
		case <-ping.C:
			pctx, cancel := context.WithTimeout(ctx, s.opts.WriteTimeout)
			err := c.Ping(pctx)
			cancel()
			if err != nil {
				return
			}
		case <-sub.notify:
			items, lagged := sub.take()
			if lagged {
				s.log.Info("dashboard client lagged; disconnecting it", "remote", r.RemoteAddr)
				if s.writeMsg(ctx, c, []byte(`{"type":"lagged"}`)) == nil {
					c.Close(closeLagged, "lagged")
				}
				return
			}
			buf.Reset()
			n := 0
			buf.WriteString(`{"type":"events","events":[`)
			for _, it := range items {
				if store.CompareIDs(it.id, last) <= 0 {
					continue // already replayed
				}
				if n > 0 {
					buf.WriteByte(',')
				}
				buf.Write(it.raw)
				last = it.id
				n++
			}
			buf.WriteString("]}")
			if n == 0 {
				continue
			}
			if err := s.writeMsg(ctx, c, buf.Bytes()); err != nil {
				return
			}
		}
	}
}

// replay sends the stored events in (after, upTo] and returns the last ID
// sent. When the gap exceeds ReplayLimit the browser is told to reset.
func (s *Server) replay(ctx context.Context, c *websocket.Conn, after, upTo string) (string, bool) {
	sent := 0
	var buf bytes.Buffer
	for store.CompareIDs(after, upTo) < 0 {
		evs, err := s.opts.Store.Tail(ctx, after, 500, 0)
		if err != nil {
			s.log.Warn("dashboard replay", "after", after, "err", err)
			c.Close(websocket.StatusInternalError, "replay failed")
			return "", false
		}
		if len(evs) == 0 {
			break
		}
		sent += len(evs)
		if sent > s.opts.ReplayLimit {
			if s.writeMsg(ctx, c, []byte(`{"type":"reset"}`)) == nil {
				c.Close(closeReset, "gap too large")
			}
			return "", false
		}
		buf.Reset()
		buf.WriteString(`{"type":"events","events":[`)
		for i := range evs {
			if i > 0 {
				buf.WriteByte(',')
			}
			raw, err := json.Marshal(api.Listed(&evs[i]))
			if err != nil {
				c.Close(websocket.StatusInternalError, "encode failed")
				return "", false
			}
			buf.Write(raw)
		}
		buf.WriteString("]}")
		if err := s.writeMsg(ctx, c, buf.Bytes()); err != nil {
			return "", false
		}
		after = evs[len(evs)-1].ID
	}
	return after, true
}

// writeMsg writes one text message within the write timeout; a browser
// that cannot take it in time is disconnected by the websocket library.
func (s *Server) writeMsg(ctx context.Context, c *websocket.Conn, msg []byte) error {
	wctx, cancel := context.WithTimeout(ctx, s.opts.WriteTimeout)
	defer cancel()
	err := c.Write(wctx, websocket.MessageText, msg)
	if err != nil && !errors.Is(err, context.Canceled) {
		s.log.Debug("dashboard websocket write", "err", err)
	}
	return err
}

func quote(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

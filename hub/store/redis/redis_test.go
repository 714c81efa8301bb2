package redis

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"

	"github.com/saker-sec/saker/hub/store"
	"github.com/saker-sec/saker/hub/store/redistest"
	"github.com/saker-sec/saker/hub/store/storetest"
)

var prefixSeq atomic.Int64

func TestContract(t *testing.T) {
	addr := redistest.Addr(t)
	storetest.Run(t, func(t *testing.T, lim storetest.Limits) storetest.Backend {
		prefix := fmt.Sprintf("t%d:", prefixSeq.Add(1))
		return storetest.Backend{Concurrent: true, Open: func(t *testing.T) store.Store {
			s, err := New(context.Background(), Options{Addresses: []string{addr}, KeyPrefix: prefix,
				MaxEvents: int64(lim.MaxEvents), MaxAge: lim.MaxAge})
			if err != nil {
				t.Fatalf("New: %v", err)
			}
			t.Cleanup(func() { s.Close() })
			return s
		}}
	})
}

package recipe

import (
	"encoding/binary"
	"errors"
	"sync"
	"testing"

	"github.com/coordkit/coord"
)

func TestCounterConcurrent(t *testing.T) {
	for _, tc := range []struct {
		name   string
		format CounterFormat
		check  func(t *testing.T, data []byte, want int64)
	}{
		{"decimal", CounterDecimal, func(t *testing.T, data []byte, want int64) {
			if string(data) != "200" {
				t.Fatalf("data %q, want kazoo's repr \"200\"", data)
			}
		}},
		{"int32", CounterInt32, func(t *testing.T, data []byte, want int64) {
			if len(data) != 4 || int64(binary.BigEndian.Uint32(data)) != want {
				t.Fatalf("data %x, want Curator SharedCount's 4-byte big-endian", data)
			}
		}},
		{"int64", CounterInt64, func(t *testing.T, data []byte, want int64) {
			if len(data) != 8 || int64(binary.BigEndian.Uint64(data)) != want {
				t.Fatalf("data %x, want 8-byte big-endian", data)
			}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t)
			ctx := timeout(t)
			var wg sync.WaitGroup
			for i := 0; i < 8; i++ {
				c := NewCounter(e.session(), "/counters/c", tc.format, nil)
				wg.Add(1)
				go func() {
					defer wg.Done()
					for j := 0; j < 25; j++ {
						if _, err := c.Add(ctx, 1); err != nil {
							t.Error(err)
							return
						}
					}
				}()
			}
			wg.Wait()
			c := NewCounter(e.session(), "/counters/c", tc.format, nil)
			if v, err := c.Value(ctx); v != 200 || err != nil {
				t.Fatalf("Value = %d, %v", v, err)
			}
			data, _, err := e.session().GetData(ctx, "/counters/c")
			if err != nil {
				t.Fatal(err)
			}
			tc.check(t, data, 200)
			if v, err := c.Add(ctx, -250); v != -50 || err != nil {
				t.Fatalf("Add(-250) = %d, %v", v, err)
			}
		})
	}
}

func TestCounterBadData(t *testing.T) {
	e := newEnv(t)
	ctx := timeout(t)
	s := e.session()
	if err := ensurePath(ctx, s, "/counters", nil); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Create(ctx, "/counters/bad", []byte("1.5"), coord.Persistent, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := NewCounter(s, "/counters/bad", CounterDecimal, nil).Add(ctx, 1); !errors.Is(err, ErrBadValue) {
		t.Fatalf("Add on a float: %v", err)
	}
	c := NewCounter(s, "/counters/i32", CounterInt32, nil)
	if _, err := c.Add(ctx, 1<<31); !errors.Is(err, ErrBadValue) {
		t.Fatalf("int32 overflow: %v", err)
	}
}

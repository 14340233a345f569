// Package lru implements a fixed-capacity least-recently-used cache with optional
// expiry of entries, safe for concurrent use by several goroutines.
package lru

import (
	"container/list"
	"sync"
	"time"
)

// EvictCallback is called with each entry the cache drops: evicted to make room,
// expired, or removed. It runs with the cache's lock held and must not call the cache.
type EvictCallback[K comparable, V any] func(key K, value V)

type entry[K comparable, V any] struct {
	key     K
	value   V
	expires time.Time // zero: never
}

// Stats counts the cache's traffic since it was created.
type Stats struct {
	Hits, Misses, Evictions, Expirations uint64
}

// Cache holds at most capacity entries; adding one more drops the least recently used.
type Cache[K comparable, V any] struct {
	mu       sync.Mutex
	capacity int
	ttl      time.Duration
	order    *list.List // front: most recently used
	items    map[K]*list.Element
	onEvict  EvictCallback[K, V]
	stats    Stats
	now      func() time.Time
}

// NewCache returns an empty Cache. A ttl of zero keeps entries until they are evicted;
// onEvict may be nil.
func NewCache[K comparable, V any](capacity int, ttl time.Duration, onEvict EvictCallback[K, V]) *Cache[K, V] {
	if capacity <= 0 {
		panic("lru: capacity must be positive")
	}
	return &Cache[K, V]{
		capacity: capacity,
		ttl:      ttl,
		order:    list.New(),
		items:    make(map[K]*list.Element, capacity),
		onEvict:  onEvict,
		now:      time.Now,
	}
}

// Get returns the value of key and marks it as the most recently used.
func (c *Cache[K, V]) Get(key K) (value V, ok bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	el, found := c.items[key]
	if !found {
		c.stats.Misses++
		return value, false
	}
	e := el.Value.(*entry[K, V])
	if c.expired(e) {
		c.removeElement(el)
		c.stats.Expirations++
		c.stats.Misses++
		return value, false
	}
	c.order.MoveToFront(el)
	c.stats.Hits++
	return e.value, true
}

// Put adds or replaces the value of key and reports whether an entry was evicted.
func (c *Cache[K, V]) Put(key K, value V) (evicted bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	var expires time.Time
	if c.ttl > 0 {
		expires = c.now().Add(c.ttl)
	}
	if el, found := c.items[key]; found {
		e := el.Value.(*entry[K, V])
		e.value, e.expires = value, expires
		c.order.MoveToFront(el)
		return false
	}
	c.items[key] = c.order.PushFront(&entry[K, V]{key: key, value: value, expires: expires})
	if c.order.Len() > c.capacity {
		c.removeElement(c.order.Back())
		c.stats.Evictions++
		return true
	}
	return false
}

// Remove drops key and reports whether it was present.
func (c *Cache[K, V]) Remove(key K) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	el, found := c.items[key]
	if found {
		c.removeElement(el)
	}
	return found
}

// Len returns the number of entries, expired ones not yet dropped included.
func (c *Cache[K, V]) Len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.order.Len()
}

// Keys returns the keys that have not expired, most recently used first.
func (c *Cache[K, V]) Keys() []K {
	c.mu.Lock()
	defer c.mu.Unlock()
	keys := make([]K, 0, c.order.Len())
	for el := c.order.Front(); el != nil; el = el.Next() {
		if e := el.Value.(*entry[K, V]); !c.expired(e) {
			keys = append(keys, e.key)
		}
	}
	return keys
}

// PurgeExpired drops every expired entry and returns how many it dropped.
func (c *Cache[K, V]) PurgeExpired() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := 0
	for el := c.order.Back(); el != nil; {
		prev := el.Prev()
		if c.expired(el.Value.(*entry[K, V])) {
			c.removeElement(el)
			c.stats.Expirations++
			n++
		}
		el = prev
	}
	return n
}

// Stats returns a copy of the counters.
func (c *Cache[K, V]) Stats() Stats {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.stats
}

func (c *Cache[K, V]) expired(e *entry[K, V]) bool {
	return !e.expires.IsZero() && !c.now().Before(e.expires)
}

func (c *Cache[K, V]) removeElement(el *list.Element) {
	e := c.order.Remove(el).(*entry[K, V])
	delete(c.items, e.key)
	if c.onEvict != nil {
		c.onEvict(e.key, e.value)
	}
}

'use strict';

/**
 * Per-client rate limiting for an HTTP API: one token bucket per client key, idle
 * buckets evicted when the table is full, and a middleware for Node's http module
 * or Express that answers 429 with Retry-After when a client runs out of tokens.
 */

class TokenBucket {
  /**
   * @param {number} capacity most tokens the bucket holds (the burst size)
   * @param {number} refillPerSecond tokens added per second, up to capacity
   * @param {() => number} now clock in milliseconds
   */
  constructor(capacity, refillPerSecond, now = Date.now) {
    if (!(capacity > 0)) throw new RangeError('capacity must be positive');
    if (!(refillPerSecond > 0)) throw new RangeError('refillPerSecond must be positive');
    this.capacity = capacity;
    this.refillPerSecond = refillPerSecond;
    this.now = now;
    this.tokens = capacity;
    this.updatedAt = now();
  }

  refill() {
    const t = this.now();
    const elapsed = Math.max(0, t - this.updatedAt) / 1000;
    this.tokens = Math.min(this.capacity, this.tokens + elapsed * this.refillPerSecond);
    this.updatedAt = t;
  }

  /** Takes one token if there is one; returns whether it did. */
  tryRemove() {
    this.refill();
    if (this.tokens >= 1) {
      this.tokens -= 1;
      return true;
    }
    return false;
  }

  /** Milliseconds until one token is available (0 when one is available now). */
  waitTime() {
    this.refill();
    if (this.tokens >= 1) return 0;
    return Math.ceil(((1 - this.tokens) / this.refillPerSecond) * 1000);
  }

  isFull() {
    this.refill();
    return this.tokens >= this.capacity;
  }
}

class RateLimiter {
  constructor({ capacity = 10, refillPerSecond = 1, maxKeys = 10000, idleMs = 60000, now = Date.now } = {}) {
    this.capacity = capacity;
    this.refillPerSecond = refillPerSecond;
    this.maxKeys = maxKeys;
    this.idleMs = idleMs;
    this.now = now;
    this.buckets = new Map();
    this.stats = { allowed: 0, rejected: 0, evicted: 0 };
  }

  bucketFor(key) {
    let bucket = this.buckets.get(key);
    if (bucket === undefined) {
      if (this.buckets.size >= this.maxKeys) this.evictIdle();
      if (this.buckets.size >= this.maxKeys) this.evictOldest();
      bucket = new TokenBucket(this.capacity, this.refillPerSecond, this.now);
      this.buckets.set(key, bucket);
    } else {
      // A Map iterates in insertion order: re-inserting marks the key as most recently used.
      this.buckets.delete(key);
      this.buckets.set(key, bucket);
    }
    return bucket;
  }

  /**
   * Decides one request of client `key`.
   * @returns {{ok: boolean, retryAfterMs: number, remaining: number}}
   */
  allow(key) {
    const bucket = this.bucketFor(key);
    const ok = bucket.tryRemove();
    if (ok) this.stats.allowed += 1;
    else this.stats.rejected += 1;
    return { ok, retryAfterMs: ok ? 0 : bucket.waitTime(), remaining: Math.floor(bucket.tokens) };
  }

  evictIdle() {
    const cutoff = this.now() - this.idleMs;
    for (const [key, bucket] of this.buckets) {
      if (bucket.updatedAt < cutoff && bucket.isFull()) {
        this.buckets.delete(key);
        this.stats.evicted += 1;
      }
    }
  }

  evictOldest() {
    const oldest = this.buckets.keys().next();
    if (!oldest.done) {
      this.buckets.delete(oldest.value);
      this.stats.evicted += 1;
    }
  }

  reset(key) {
    return this.buckets.delete(key);
  }

  get size() {
    return this.buckets.size;
  }
}

/** The client's address: the first X-Forwarded-For entry, else the socket's peer. */
function clientKey(req) {
  const forwarded = req.headers && req.headers['x-forwarded-for'];
  if (typeof forwarded === 'string' && forwarded.length > 0) {
    return forwarded.split(',')[0].trim();
  }
  return (req.socket && req.socket.remoteAddress) || 'unknown';
}

/**
 * Middleware `(req, res, next)`; options are RateLimiter's plus `keyOf(req)`.
 * The limiter is exposed as `middleware.limiter` for tests and metrics.
 */
function rateLimit(options = {}) {
  const limiter = new RateLimiter(options);
  const keyOf = options.keyOf || clientKey;
  const middleware = function (req, res, next) {
    const result = limiter.allow(keyOf(req));
    res.setHeader('X-RateLimit-Limit', String(limiter.capacity));
    res.setHeader('X-RateLimit-Remaining', String(result.remaining));
    if (result.ok) {
      next();
      return;
    }
    res.statusCode = 429;
    res.setHeader('Retry-After', String(Math.ceil(result.retryAfterMs / 1000)));
    res.setHeader('Content-Type', 'application/json');
    res.end(JSON.stringify({ error: 'too many requests', retryAfterMs: result.retryAfterMs }));
  };
  middleware.limiter = limiter;
  return middleware;
}

module.exports = { TokenBucket, RateLimiter, rateLimit, clientKey };

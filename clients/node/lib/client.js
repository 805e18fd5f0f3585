'use strict'
// The native client (docs/protocol.md, "Client ⇄ edge" and "Failover").
//
// A client knows 1 to 16 edges, in order of preference, and holds one DEALER
// connected to each edge's frontend, with ZMTP heartbeats (1 s, timeout 3 s).
// It watches each socket's connection events: an edge is down from the moment
// its connection drops (or a connection attempt fails) until it connects again.
// Each request goes to the first edge of the list that is not down and is kept
// until its reply comes. The requests outstanding at an edge that goes down are
// sent again, with the same request id and what is left of their deadline, to
// the next edge not down, or, if none, wait for the first that comes back. A
// `busy` reply is never delivered: it marks its edge draining (it gets nothing
// more until its connection drops and comes back) and the request goes
// elsewhere. The first reply per request id is delivered, later ones dropped;
// a request with a deadline that no edge answered is answered `timeout` by the
// client itself 1 s after its deadline.

const zmq = require('zeromq')
const P = require('./protocol')
const E = require('./errors')

const HEARTBEAT_MS = 1000
const LIVENESS = 3
const GRACE_MS = 1000 // a deadline's request is answered `timeout` here this long after it
const SWEEP_MS = 100 // how often requests are checked against their deadlines
const MAX_WINDOW = 1 << 20

const UNKNOWN = 0 // not connected yet: requests may go there
const UP = 1
const DRAINING = 2 // answered busy: nothing more until its connection comes back
const DOWN = 3
const STATE_NAMES = ['unknown', 'up', 'draining', 'down']

const HEADER = P.HEADER
const REQUEST = P.CMD_FRAME.REQUEST
const REPLY = P.CMD.REPLY
const BUSY = E.STATUS.BUSY
const EXPIRED_TEXT = 'no edge answered by the deadline'

const now = () => performance.now()

// zeromq.js names an observer's inproc endpoint after the observer's address
// in memory, and libzmq unregisters it a moment after the observer ends: an
// observer made in that moment at the same address would fail (EADDRINUSE).
// Ended observers are kept from the garbage collector for a second.
const retired = []
let retiredTimer = null
function retire (events) {
  retired.push({ events, at: Date.now() })
  if (retiredTimer === null) {
    retiredTimer = setInterval(() => {
      const old = Date.now() - 1000
      while (retired.length > 0 && retired[0].at < old) retired.shift()
      if (retired.length === 0) {
        clearInterval(retiredTimer)
        retiredTimer = null
      }
    }, 250)
    retiredTimer.unref()
  }
}

class Request {
  constructor (id, service, timeoutMs, deadline, body, done) {
    this.id = id
    this.idFrame = P.u64(id)
    this.service = service
    this.timeoutMs = timeoutMs
    this.deadline = deadline // ms on performance.now()'s clock, -1: none
    this.body = body
    this.done = done // (error, replyMessage): the body is replyMessage.slice(4)
    this.edge = -1 // the edge it was last sent to, -1: unsent
    this.signal = null
    this.onAbort = null
  }
}

function abortReason (signal) {
  if (signal.reason !== undefined) return signal.reason
  const error = new Error('This operation was aborted')
  error.name = 'AbortError'
  error.code = 'ABORT_ERR'
  return error
}

// The reply's body as one Buffer (several frames are joined).
function joined (msg) {
  if (msg.length === 5) return msg[4]
  if (msg.length === 4) return Buffer.alloc(0)
  return Buffer.concat(msg.slice(4))
}

function errorOf (status, msg) {
  return E.errorFor(status, msg.slice(4))
}

class Client {
  // new Client({ edges }) with edges an array of frontend endpoints or one
  // string 'EP1,EP2'; new Client(edges) also works.
  constructor (options) {
    if (typeof options === 'string' || Array.isArray(options)) options = { edges: options }
    if (options === null || typeof options !== 'object') {
      throw new TypeError(`new Client({ edges }) takes an object, not ${P.describe(options)}`)
    }
    const endpoints = P.edgesOf(options.edges)
    const curve = P.curveOf(options.cert, options.serverCert, endpoints.length)
    this._pending = new Map()
    this._nextId = 1
    this._unsent = 0
    this._deadlined = 0
    this._timer = null
    this._closed = false
    this._edges = []
    this._sweep = () => this._sweepNow()
    try {
      for (let i = 0; i < endpoints.length; i++) this._open(i, endpoints[i], curve ? curve[i] : {})
    } catch (error) {
      this._closeSockets()
      if (error instanceof TypeError || error instanceof RangeError) throw error
      throw new TypeError(`cannot connect to ${endpoints[this._edges.length - 1]}: ${error.message}`)
    }
  }

  _open (i, endpoint, curve) {
    const socket = new zmq.Dealer({
      ...curve, // CURVE's keys, with cert and serverCert
      linger: 0,
      sendHighWaterMark: 0, // the client holds its requests anyway: never EAGAIN
      sendTimeout: 0,
      heartbeatInterval: HEARTBEAT_MS,
      heartbeatTimeout: HEARTBEAT_MS * LIVENESS
    })
    const edge = {
      endpoint,
      socket,
      events: socket.events, // before connect(), so that no event is missed
      state: UNKNOWN,
      onSendError: null
    }
    edge.onSendError = (error) => this._sendFailed(i, error)
    this._edges.push(edge)
    socket.connect(endpoint)
    this._receive(i, socket)
    this._watch(i, edge.events)
  }

  // -- Public calls ----------------------------------------------------------

  // One task of one frame; resolves to the reply's body (frames joined).
  submit (service, body, options) {
    let svc, frame, timeoutMs, signal
    try {
      svc = P.serviceFrame(service)
      if (Array.isArray(body)) throw new TypeError('body must be a string, Buffer or Uint8Array; for several frames use submitFrames()')
      frame = P.frameOf(body, 'body')
      if (options === undefined) {
        timeoutMs = 0
        signal = null
      } else {
        options = P.optionsOf(options)
        timeoutMs = P.timeoutOf(options.timeout)
        signal = P.signalOf(options.signal)
      }
    } catch (error) {
      return Promise.reject(error)
    }
    return this._call(svc, [frame], timeoutMs, signal, joined)
  }

  // The same with up to 16 frames; resolves to the reply's frames.
  submitFrames (service, frames, options) {
    let svc, body, timeoutMs, signal
    try {
      svc = P.serviceFrame(service)
      body = P.framesOf(frames)
      options = P.optionsOf(options)
      timeoutMs = P.timeoutOf(options.timeout)
      signal = P.signalOf(options.signal)
    } catch (error) {
      return Promise.reject(error)
    }
    return this._call(svc, body, timeoutMs, signal, (msg) => msg.slice(4))
  }

  // One task per body, at most `window` outstanding: resolves to, in the
  // order of bodies, each reply's body or its status's SpillwayError.
  submitMany (service, bodies, options) {
    let svc, frames, timeoutMs, signal, window
    try {
      svc = P.serviceFrame(service)
      if (bodies === null || typeof bodies !== 'object' || typeof bodies[Symbol.iterator] !== 'function') {
        throw new TypeError(`bodies must be an array of bodies, not ${P.describe(bodies)}`)
      }
      frames = Array.from(bodies, (body, i) => {
        if (Array.isArray(body)) throw new TypeError(`bodies[${i}] must be a string, Buffer or Uint8Array, not an array`)
        return P.frameOf(body, `bodies[${i}]`)
      })
      options = P.optionsOf(options)
      timeoutMs = P.timeoutOf(options.timeout)
      signal = P.signalOf(options.signal)
      window = options.window === undefined || options.window === null ? 64 : options.window
      if (typeof window !== 'number') throw new TypeError(`window must be a number, not ${P.describe(window)}`)
      if (!Number.isInteger(window) || window < 1 || window > MAX_WINDOW) {
        throw new RangeError(`window must be an integer from 1 to ${MAX_WINDOW}, not ${window}`)
      }
    } catch (error) {
      return Promise.reject(error)
    }
    if (this._closed) return Promise.reject(new E.ClosedError())
    if (signal && signal.aborted) return Promise.reject(abortReason(signal))
    const n = frames.length
    if (n === 0) return Promise.resolve([])
    return new Promise((resolve, reject) => {
      const results = new Array(n)
      const inFlight = new Array(n)
      let next = 0
      let finished = 0
      let over = false
      const end = (error) => {
        over = true
        if (signal) signal.removeEventListener('abort', onAbort)
        if (error) {
          for (let i = 0; i < n; i++) if (inFlight[i]) this._forget(inFlight[i])
          reject(error)
        } else {
          resolve(results)
        }
      }
      const onAbort = () => { if (!over) end(abortReason(signal)) }
      const launch = () => {
        const index = next++
        const done = (error, msg) => {
          inFlight[index] = null
          if (over) return
          if (error instanceof E.ClosedError) return end(error)
          results[index] = error || joined(msg)
          if (++finished === n) return end(null)
          if (next < n) launch()
        }
        inFlight[index] = this._start(svc, [frames[index]], timeoutMs, done)
      }
      if (signal) signal.addEventListener('abort', onAbort, { once: true })
      const first = Math.min(window, n)
      for (let i = 0; i < first; i++) launch()
    })
  }

  // Closes the connections; the calls still waiting reject with ClosedError.
  close () {
    if (this._closed) return Promise.resolve()
    this._closed = true
    this._stopTimer()
    const pending = Array.from(this._pending.values())
    this._pending.clear()
    this._unsent = 0
    this._deadlined = 0
    this._closeSockets()
    for (const req of pending) {
      if (req.signal) req.signal.removeEventListener('abort', req.onAbort)
      req.done(new E.ClosedError(), null)
    }
    return Promise.resolve()
  }

  // Requests sent and not answered yet.
  get outstanding () {
    return this._pending.size
  }

  get closed () {
    return this._closed
  }

  // Each edge's endpoint and state ('unknown', 'up', 'draining', 'down').
  get edges () {
    return this._edges.map((edge) => ({ endpoint: edge.endpoint, state: STATE_NAMES[edge.state] }))
  }

  // -- Requests --------------------------------------------------------------

  _call (svc, body, timeoutMs, signal, shape) {
    if (this._closed) return Promise.reject(new E.ClosedError())
    if (signal && signal.aborted) return Promise.reject(abortReason(signal))
    return new Promise((resolve, reject) => {
      const req = this._start(svc, body, timeoutMs, (error, msg) => {
        if (error) reject(error)
        else resolve(shape(msg))
      })
      if (signal) {
        req.signal = signal
        req.onAbort = () => {
          if (this._pending.get(req.id) === req) {
            this._forget(req)
            reject(abortReason(signal))
          }
        }
        signal.addEventListener('abort', req.onAbort, { once: true })
      }
    })
  }

  // Makes a request and sends it; done(error, msg) is called once, later.
  _start (svc, body, timeoutMs, done) {
    if (this._closed) throw new E.ClosedError()
    const t = timeoutMs > 0 ? now() : 0 // the clock is read only for a deadline
    const id = this._nextId++
    const req = new Request(id, svc, timeoutMs, timeoutMs > 0 ? t + timeoutMs : -1, body, done)
    this._pending.set(id, req)
    if (req.deadline >= 0 && this._deadlined++ === 0) this._startTimer()
    if (!this._dispatch(req, t)) this._unsent++
    return req
  }

  // Takes req out of the table (its reply, if one comes, is dropped).
  _forget (req) {
    if (this._pending.get(req.id) !== req) return
    this._pending.delete(req.id)
    if (req.edge < 0) this._unsent--
    if (req.deadline >= 0 && --this._deadlined === 0) this._stopTimer()
    if (req.signal) {
      req.signal.removeEventListener('abort', req.onAbort)
      req.signal = null
    }
  }

  // Sends req to the first edge not down that takes it. false if none did.
  _dispatch (req, t) {
    const edges = this._edges
    for (let i = 0; i < edges.length; i++) {
      const state = edges[i].state
      if (state !== DOWN && state !== DRAINING && this._sendTo(req, i, t)) return true
    }
    req.edge = -1
    return false
  }

  _sendTo (req, i, t) {
    let timeout = P.ZERO_U32
    if (req.deadline >= 0) {
      // What is left of the deadline, at least 1 ms (0 would mean "the default").
      const left = Math.ceil(req.deadline - t)
      timeout = P.u32(left > 1 ? left : 1)
    }
    const body = req.body
    let msg
    if (body.length === 1) {
      msg = [HEADER, REQUEST, req.idFrame, req.service, timeout, body[0]]
    } else {
      msg = [HEADER, REQUEST, req.idFrame, req.service, timeout]
      for (let f = 0; f < body.length; f++) msg.push(body[f])
    }
    const edge = this._edges[i]
    try {
      edge.socket.send(msg).catch(edge.onSendError)
    } catch (error) {
      return false
    }
    req.edge = i
    return true
  }

  // A send that libzmq refused (it should not: no high-water mark): the
  // requests of that edge are sent again a little later.
  _sendFailed (i, error) {
    if (this._closed) return
    setTimeout(() => {
      if (!this._closed) this._resend(i, now())
    }, 10).unref()
  }

  // Sends again what edge `from` held (or, from -1, what no edge holds).
  _resend (from, t) {
    for (const req of this._pending.values()) {
      if (req.edge !== from) continue
      const wasUnsent = from < 0
      if (req.deadline >= 0 && t >= req.deadline) req.edge = -1 // too late: the sweep answers it
      else this._dispatch(req, t)
      if (wasUnsent && req.edge >= 0) this._unsent--
      else if (!wasUnsent && req.edge < 0) this._unsent++
    }
  }

  // -- Replies and events -----------------------------------------------------

  async _receive (i, socket) {
    for (;;) {
      let msg
      try {
        msg = await socket.receive()
      } catch (error) {
        if (this._closed || socket.closed) return
        await new Promise((resolve) => setTimeout(resolve, 10))
        continue
      }
      this._onReply(i, msg)
    }
  }

  _onReply (i, msg) {
    const n = msg.length
    if (n < 4 || n > 4 + P.MAX_BODY_FRAMES || !P.isHeader(msg[0])) return
    const cmd = msg[1]
    const status = msg[3]
    if (cmd.length !== 1 || cmd[0] !== REPLY || status.length !== 1) return
    const req = this._pending.get(P.readU64(msg[2]))
    if (req === undefined) return // a second answer, or one forgotten: dropped
    const code = status[0]
    if (code === BUSY) {
      // The edge drains or stops: the request goes elsewhere, the edge gets nothing more.
      if (req.edge === i) {
        this._edges[i].state = DRAINING
        this._resend(i, now())
      }
      return
    }
    this._forget(req)
    if (code === 0) req.done(null, msg)
    else req.done(errorOf(code, msg), msg)
  }

  // Reads edge i's connection events until the observer ends. It is read to
  // its end even after close(): zeromq.js's observer must see the monitor's
  // last event (it is never closed by hand, which would leave libzmq's
  // monitor blocked and its sockets unreaped).
  async _watch (i, events) {
    for (;;) {
      let event
      try {
        event = await events.receive()
      } catch (error) {
        break
      }
      if (!event || event.type === 'end') break
      if (this._closed) continue
      const type = event.type
      const edge = this._edges[i]
      if (type === 'connect') {
        edge.state = UP // after a drop: a new process, or the same back
        if (this._unsent > 0) this._resend(-1, now())
      } else if (type === 'disconnect' || type === 'connect:retry') {
        if (edge.state !== DOWN) {
          edge.state = DOWN
          this._resend(i, now())
        }
      }
    }
    retire(events)
  }

  // -- Deadlines --------------------------------------------------------------

  _startTimer () {
    if (this._timer === null) this._timer = setInterval(this._sweep, SWEEP_MS)
  }

  _stopTimer () {
    if (this._timer !== null) {
      clearInterval(this._timer)
      this._timer = null
    }
  }

  // Answers `timeout` the requests no edge answered by their deadline + grace.
  _sweepNow () {
    const t = now()
    let expired = null
    for (const req of this._pending.values()) {
      if (req.deadline >= 0 && t >= req.deadline + GRACE_MS) (expired || (expired = [])).push(req)
    }
    if (expired === null) return
    for (const req of expired) {
      this._forget(req)
      const text = Buffer.from(EXPIRED_TEXT)
      req.done(new E.TimeoutError(EXPIRED_TEXT, [text]), [HEADER, P.CMD_FRAME.REPLY, req.idFrame, Buffer.from([2]), text])
    }
  }

  _closeSockets () {
    for (const edge of this._edges) {
      try { edge.socket.close() } catch (error) {}
    }
  }
}

module.exports = { Client, GRACE_MS, HEARTBEAT_MS, LIVENESS }

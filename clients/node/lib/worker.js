'use strict'
// The native worker (docs/protocol.md, "Worker ⇄ edge").
//
// A worker holds one DEALER connected to an edge's backend at a time, a
// *link*; every link starts with READY (service, slots) on a fresh socket, so
// that the edge sees a new peer and never mixes an old link's messages with
// the new one's. The edge's ACCEPTED gives the heartbeat and liveness to keep,
// the slots it fills and its largest message. It runs up to `slots` handlers
// at once and answers each TASK with a RESULT carrying the task's key
// unchanged. It sends HEARTBEAT every heartbeat_ms, also while tasks run; an
// edge silent for liveness × heartbeat_ms is gone: the link is closed and a
// new one opened after a backoff that doubles from 100 ms to 5 s (back to
// 100 ms once the edge speaks). The edge's DISCONNECT is obeyed: it waits the
// retry_ms it names (0: not at all; a refusal asked again waits at least the
// backoff, which doubles), then opens a new link.

const EventEmitter = require('events')
const zmq = require('zeromq')
const P = require('./protocol')
const E = require('./errors')

const HEARTBEAT_MS = 1000 // until the edge's ACCEPTED says otherwise
const LIVENESS = 3
const RECONNECT_MIN_MS = 100
const RECONNECT_MAX_MS = 5000
const GOODBYE_LINGER_MS = 500 // a DISCONNECT's time to leave before the socket closes
const MAX_TEXT = 1024

const HEADER = P.HEADER
const CMD = P.CMD

const now = () => performance.now()

// The UTF-8 text of a task-error, cut to the protocol's 1024 bytes.
function textFrame (text) {
  let frame = Buffer.from(String(text), 'utf8')
  if (frame.length > MAX_TEXT) {
    let end = MAX_TEXT
    while (end > 0 && (frame[end] & 0xc0) === 0x80) end-- // not inside a character
    frame = frame.subarray(0, end)
  }
  return frame
}

function errorText (error) {
  if (error instanceof Error) return error.message || error.name || 'Error'
  try {
    return String(error)
  } catch (e) {
    return 'the handler threw'
  }
}

class Link {
  constructor (socket) {
    this.socket = socket
    this.running = 0 // handlers running for this link's tasks
    this.waiting = [] // tasks received and not started: [key, body] pairs
    this.heardAt = now()
    this.accepted = false
    this.open = true
  }
}

class Worker extends EventEmitter {
  constructor (options) {
    super()
    if (options === null || typeof options !== 'object') {
      throw new TypeError(`new Worker({ edge, service, handler }) takes an object, not ${P.describe(options)}`)
    }
    this.edge = P.endpointOf(options.edge, 'edge')
    const service = options.service === undefined ? '' : options.service
    this._service = P.serviceFrame(service)
    this.service = service
    if (typeof options.handler !== 'function') {
      throw new TypeError(`handler must be a function, not ${P.describe(options.handler)}`)
    }
    this._handler = options.handler
    const slots = options.slots === undefined || options.slots === null ? 1 : options.slots
    if (typeof slots !== 'number') throw new TypeError(`slots must be a number, not ${P.describe(slots)}`)
    if (!Number.isInteger(slots) || slots < 1 || slots > P.MAX_SLOTS) {
      throw new RangeError(`slots must be an integer from 1 to ${P.MAX_SLOTS}, not ${slots}`)
    }
    this.slots = slots
    if (options.frames !== undefined && typeof options.frames !== 'boolean') {
      throw new TypeError(`frames must be a boolean, not ${P.describe(options.frames)}`)
    }
    this.frames = options.frames === true
    const curve = P.curveOf(options.cert, options.serverCert, 1)
    this._curve = curve ? curve[0] : {}

    this.heartbeatMs = HEARTBEAT_MS
    this.liveness = LIVENESS
    this.edgeSlots = 0 // the slots the edge said it fills (ACCEPTED)
    this.maxMessageBytes = 0 // the edge's largest message (ACCEPTED)
    this.tasksDone = 0
    this.reconnects = 0

    this._link = null
    this._started = null
    this._stopping = null
    this._stopped = false
    this._backoff = RECONNECT_MIN_MS
    this._timer = null
    this._relinkTimer = null
    this._idle = null // resolves when the link's handlers are all done (stop)
    this._tick = () => this._onTick()
    this._resolveAccepted = null
    this.accepted = this._newAccepted()
  }

  _newAccepted () {
    const promise = new Promise((resolve) => { this._resolveAccepted = resolve })
    return promise
  }

  // Connects and says READY; resolves to the worker once READY is sent. The
  // promise `worker.accepted` (and the event 'accepted') follows the edge's
  // ACCEPTED.
  start () {
    if (this._started) return this._started
    if (this._stopping) return Promise.reject(new Error('the worker was stopped'))
    try {
      this._openLink()
    } catch (error) {
      this._started = null
      return Promise.reject(error)
    }
    this._scheduleTick()
    this._started = Promise.resolve(this)
    return this._started
  }

  // Graceful: starts no new task, lets the running handlers finish (up to
  // timeout ms) and sends their RESULTs, then says DISCONNECT (the edge gives
  // what was not started to other workers) and closes the socket.
  stop (options) {
    if (this._stopping) return this._stopping
    let timeout = 5000
    if (options !== undefined && options !== null) {
      if (typeof options !== 'object') throw new TypeError(`options must be an object, not ${P.describe(options)}`)
      if (options.timeout !== undefined) {
        timeout = options.timeout
        if (typeof timeout !== 'number' || !(timeout >= 0)) {
          throw new RangeError(`timeout must be milliseconds (0 or more), not ${timeout}`)
        }
      }
    }
    this._stopping = this._stop(timeout)
    return this._stopping
  }

  async _stop (timeout) {
    if (this._relinkTimer) {
      clearTimeout(this._relinkTimer)
      this._relinkTimer = null
    }
    const link = this._link
    if (link && link.running > 0) {
      let timer = null
      await Promise.race([
        new Promise((resolve) => { this._idle = resolve }),
        new Promise((resolve) => { timer = setTimeout(resolve, timeout) })
      ])
      clearTimeout(timer)
      this._idle = null
    }
    if (this._timer) {
      clearTimeout(this._timer)
      this._timer = null
    }
    if (this._link) {
      const goodbye = this._link
      this._send(goodbye, [HEADER, P.CMD_FRAME.DISCONNECT])
      this._closeLink(GOODBYE_LINGER_MS)
    }
    this._stopped = true
    this.emit('stopped')
  }

  // -- Links ---------------------------------------------------------------------

  _openLink () {
    const socket = new zmq.Dealer({ ...this._curve, linger: 0, sendHighWaterMark: 0, sendTimeout: 0 })
    const link = new Link(socket)
    this._link = link
    try {
      socket.connect(this.edge)
    } catch (error) {
      this._link = null
      socket.close()
      throw new TypeError(`cannot connect to ${this.edge}: ${error.message}`)
    }
    this._send(link, [HEADER, P.CMD_FRAME.READY, this._service, P.u32(this.slots)])
    this._receive(link)
  }

  // Closes the current link; its handlers' results will be dropped.
  _closeLink (linger = 0) {
    const link = this._link
    if (!link) return
    this._link = null
    link.open = false
    link.waiting.length = 0
    try {
      if (linger > 0) link.socket.linger = linger
    } catch (e) {}
    try { link.socket.close() } catch (e) {}
  }

  // Closes the link and opens a new one after wait ms.
  _relink (wait, why) {
    this._closeLink()
    if (this._stopping) {
      this._wakeIdle()
      return
    }
    this.emit('reconnecting', { reason: why, waitMs: wait })
    const open = () => {
      this._relinkTimer = null
      if (this._stopping) return
      this.reconnects++
      try {
        this._openLink()
      } catch (error) {
        this._relink(RECONNECT_MAX_MS, error.message)
      }
    }
    if (this._relinkTimer) clearTimeout(this._relinkTimer)
    this._relinkTimer = setTimeout(open, wait)
  }

  _send (link, msg) {
    try {
      link.socket.send(msg).catch(() => {})
      return true
    } catch (error) {
      return false
    }
  }

  async _receive (link) {
    const socket = link.socket
    for (;;) {
      let msg
      try {
        msg = await socket.receive()
      } catch (error) {
        if (!link.open || socket.closed) return
        await new Promise((resolve) => setTimeout(resolve, 10))
        continue
      }
      if (link.open) this._onMessage(link, msg)
    }
  }

  _onMessage (link, msg) {
    if (msg.length < 2 || !P.isHeader(msg[0]) || msg[1].length !== 1) return // malformed: dropped
    link.heardAt = now()
    const cmd = msg[1][0]
    if (cmd !== CMD.DISCONNECT) this._backoff = RECONNECT_MIN_MS
    switch (cmd) {
      case CMD.TASK: {
        if (msg.length < 3 || msg[2].length !== 8 || msg.length - 3 > P.MAX_BODY_FRAMES) return
        const key = msg[2]
        const body = msg.slice(3)
        if (this._stopping || link.running >= this.slots) link.waiting.push([key, body])
        else this._run(link, key, body)
        return
      }
      case CMD.HEARTBEAT:
        return
      case CMD.ACCEPTED: {
        if (msg.length !== 6) return
        const hb = P.readU32(msg[2])
        const liveness = P.readU32(msg[3])
        const slots = P.readU32(msg[4])
        const max = P.readU32(msg[5])
        if (hb < 1 || liveness < 1 || slots < 0 || max < 0) return
        const changed = hb !== this.heartbeatMs
        this.heartbeatMs = hb
        this.liveness = liveness
        this.edgeSlots = slots
        this.maxMessageBytes = max
        link.accepted = true
        if (changed) this._scheduleTick()
        const info = { heartbeatMs: hb, liveness, slots, maxMessageBytes: max }
        this._resolveAccepted(info)
        this.emit('accepted', info)
        return
      }
      case CMD.DISCONNECT: {
        const reason = msg.length > 2 ? msg[2].toString('utf8') : ''
        const retry = msg.length > 3 ? P.readU32(msg[3]) : 0
        let wait = 0
        if (retry > 0) {
          // A refusal asked again waits longer each time.
          wait = Math.max(retry, this._backoff)
          this._backoff = Math.min(this._backoff * 2, RECONNECT_MAX_MS)
        }
        this.emit('disconnect', { reason, retryMs: retry < 0 ? 0 : retry })
        this._relink(wait, reason)
        break
      }
      default:
        // A command a worker is not sent: dropped.
    }
  }

  // -- Tasks ---------------------------------------------------------------------

  _run (link, key, body) {
    link.running++
    let result
    try {
      result = this._handler(this.frames ? body : (body.length === 1 ? body[0] : Buffer.concat(body)))
    } catch (error) {
      this._answered(link, key, null, error)
      return
    }
    if (result !== null && typeof result === 'object' && typeof result.then === 'function') {
      result.then((value) => this._answered(link, key, value, null),
        (error) => this._answered(link, key, null, error === undefined ? new Error('the handler rejected') : error))
    } else {
      // A plain value: answered at once, but after this turn, as an awaited one would be.
      queueMicrotask(() => this._answered(link, key, result, null))
    }
  }

  _answered (link, key, value, error) {
    link.running--
    this.tasksDone++
    if (link.open) {
      let status = 0
      let body
      if (error !== null) {
        status = 6
        // A thrown TaskError with frames answers those frames; any other throw its message.
        body = error instanceof E.TaskError && error.frames.length > 0
          ? this._replyFrames(error.frames, true)
          : [textFrame(errorText(error))]
        if (!Array.isArray(body)) body = [textFrame(errorText(error))]
      } else {
        body = this._replyFrames(value, this.frames)
        if (typeof body === 'string') {
          status = 6
          body = [textFrame(body)]
        }
      }
      const msg = [HEADER, P.CMD_FRAME.RESULT, key, P.STATUS_FRAME[status === 0 ? 0 : 1]]
      for (let i = 0; i < body.length; i++) msg.push(body[i])
      this._send(link, msg)
      // Any message is a sign of life: the next heartbeat may wait.
      while (link.running < this.slots && link.waiting.length > 0 && !this._stopping) {
        const [k, b] = link.waiting.shift()
        this._run(link, k, b)
      }
    }
    if (link.running === 0) this._wakeIdle()
  }

  // Wakes stop() once the current link runs no handler (or there is none).
  _wakeIdle () {
    if (this._idle && (!this._link || this._link.running === 0)) {
      const idle = this._idle
      this._idle = null
      idle()
    }
  }

  // The frames of a handler's reply, or a string saying why it cannot be sent.
  _replyFrames (value, asFrames) {
    if (value === undefined || value === null) return []
    if (asFrames) {
      if (!Array.isArray(value)) return `the handler returned ${P.describe(value)}, not an array of frames`
      if (value.length > P.MAX_BODY_FRAMES) {
        return `the handler returned ${value.length} frames; a reply has at most ${P.MAX_BODY_FRAMES}`
      }
      const out = new Array(value.length)
      for (let i = 0; i < value.length; i++) {
        const f = value[i]
        if (Buffer.isBuffer(f)) out[i] = f
        else if (typeof f === 'string') out[i] = Buffer.from(f, 'utf8')
        else if (f instanceof Uint8Array) out[i] = Buffer.from(f.buffer, f.byteOffset, f.byteLength)
        else return `the handler returned ${P.describe(f)} as frame ${i}, not a string or Buffer`
        if (this.maxMessageBytes > 0 && out[i].length > 2 * this.maxMessageBytes) return this._tooBig(out[i].length)
      }
      return out
    }
    let frame
    if (Buffer.isBuffer(value)) frame = value
    else if (typeof value === 'string') frame = Buffer.from(value, 'utf8')
    else if (value instanceof Uint8Array) frame = Buffer.from(value.buffer, value.byteOffset, value.byteLength)
    else return `the handler returned ${P.describe(value)}, not a string or Buffer`
    // A frame over twice the limit would make the edge drop the connection unanswered.
    if (this.maxMessageBytes > 0 && frame.length > 2 * this.maxMessageBytes) return this._tooBig(frame.length)
    return [frame]
  }

  _tooBig (bytes) {
    return `the handler's reply of ${bytes} bytes is over the edge's max_message_bytes (${this.maxMessageBytes})`
  }

  // -- Heartbeats ------------------------------------------------------------------

  _scheduleTick () {
    if (this._timer) clearTimeout(this._timer)
    if (this._stopped) return
    this._timer = setTimeout(this._tick, this.heartbeatMs)
  }

  _onTick () {
    this._timer = null
    if (this._stopped) return
    const link = this._link
    if (link) {
      if (now() - link.heardAt > this.heartbeatMs * this.liveness) {
        // The edge is silent: a new socket, and READY again, after the backoff.
        const wait = this._backoff
        this._backoff = Math.min(this._backoff * 2, RECONNECT_MAX_MS)
        this._relink(wait, 'the edge was silent')
      } else {
        this._send(link, [HEADER, P.CMD_FRAME.HEARTBEAT])
      }
    }
    this._scheduleTick()
  }
}

module.exports = { Worker, HEARTBEAT_MS, LIVENESS, RECONNECT_MIN_MS, RECONNECT_MAX_MS }

'use strict'
// The SPW2 wire protocol (docs/protocol.md): frames, commands and the
// checks every argument passes before anything is sent.

const HEADER = Buffer.from('SPW2')
const HEADER_U32 = HEADER.readUInt32BE(0)

const CMD = Object.freeze({
  REQUEST: 0x01,
  REPLY: 0x02,
  READY: 0x10,
  TASK: 0x11,
  RESULT: 0x12,
  HEARTBEAT: 0x13,
  DISCONNECT: 0x14,
  ACCEPTED: 0x15
})

// One frame per command, built once (frames of 128 bytes or less are copied
// by zeromq.js when sent, larger ones are referenced: these are never changed).
const CMD_FRAME = {}
for (const [name, code] of Object.entries(CMD)) CMD_FRAME[name] = Buffer.from([code])
Object.freeze(CMD_FRAME)

const STATUS_FRAME = [Buffer.from([0]), Buffer.from([6])]
const ZERO_U32 = Buffer.alloc(4)

const MAX_BODY_FRAMES = 16
const MAX_SERVICE_LEN = 64
const MAX_EDGES = 16
const MAX_SLOTS = 256
const MAX_U32 = 0xffffffff
const SERVICE_RE = /^[A-Za-z0-9._-]{0,64}$/

function u32 (value) {
  const b = Buffer.allocUnsafe(4)
  b.writeUInt32BE(value >>> 0, 0)
  return b
}

// A u64 id as 8 bytes, big-endian (ids stay below 2^53).
function u64 (value) {
  const b = Buffer.allocUnsafe(8)
  b.writeUInt32BE(Math.floor(value / 0x100000000), 0)
  b.writeUInt32BE(value >>> 0, 4)
  return b
}

// The u64 frame as a number; -1 if it is not 8 bytes or is past 2^53.
function readU64 (frame) {
  if (frame.length !== 8) return -1
  const high = frame.readUInt32BE(0)
  if (high > 0x1fffff) return -1
  return high * 0x100000000 + frame.readUInt32BE(4)
}

function readU32 (frame) {
  return frame.length === 4 ? frame.readUInt32BE(0) : -1
}

function isHeader (frame) {
  return frame.length === 4 && frame.readUInt32BE(0) === HEADER_U32
}

function describe (value) {
  if (value === null) return 'null'
  if (Array.isArray(value)) return 'an array'
  if (typeof value === 'object') return value.constructor ? `a ${value.constructor.name}` : 'an object'
  return `a ${typeof value}`
}

// Service names: 0 to 64 of A-Z a-z 0-9 . _ - ("" is the edge's default
// service, sent as the empty frame the protocol allows for it).
const serviceCache = new Map()
function serviceFrame (service, what = 'service') {
  if (service === undefined || service === null) service = ''
  if (typeof service !== 'string') {
    throw new TypeError(`${what} must be a string, not ${describe(service)}`)
  }
  let frame = serviceCache.get(service)
  if (frame) return frame
  if (!SERVICE_RE.test(service)) {
    throw new RangeError(`bad ${what} name ${JSON.stringify(service.slice(0, 80))}: 0 to ${MAX_SERVICE_LEN} ` +
      'characters of A-Z a-z 0-9 . _ - (empty: the edge\'s default service)')
  }
  frame = Buffer.from(service, 'ascii')
  if (serviceCache.size < 4096) serviceCache.set(service, frame)
  return frame
}

// One frame's bytes: a string is sent as UTF-8.
function frameOf (value, what = 'a body frame') {
  if (Buffer.isBuffer(value)) return value
  if (typeof value === 'string') return Buffer.from(value, 'utf8')
  if (value instanceof Uint8Array) return Buffer.from(value.buffer, value.byteOffset, value.byteLength)
  throw new TypeError(`${what} must be a string, Buffer or Uint8Array, not ${describe(value)}`)
}

function framesOf (frames) {
  if (!Array.isArray(frames)) {
    throw new TypeError(`frames must be an array of frames (string, Buffer or Uint8Array), not ${describe(frames)}`)
  }
  if (frames.length > MAX_BODY_FRAMES) {
    throw new RangeError(`a body has at most ${MAX_BODY_FRAMES} frames, not ${frames.length}`)
  }
  const out = new Array(frames.length)
  for (let i = 0; i < frames.length; i++) out[i] = frameOf(frames[i], `frame ${i}`)
  return out
}

// A timeout in ms: an integer 0 to 4294967295 (0 or absent: the edge's default).
function timeoutOf (timeout) {
  if (timeout === undefined || timeout === null) return 0
  if (typeof timeout !== 'number') {
    throw new TypeError(`timeout must be milliseconds (a number), not ${describe(timeout)}`)
  }
  if (!Number.isInteger(timeout) || timeout < 0 || timeout > MAX_U32) {
    throw new RangeError(`timeout must be an integer of milliseconds from 0 to ${MAX_U32} ` +
      `(0: the edge's default), not ${timeout}`)
  }
  return timeout
}

function signalOf (signal) {
  if (signal === undefined || signal === null) return null
  if (typeof signal !== 'object' || typeof signal.aborted !== 'boolean' ||
      typeof signal.addEventListener !== 'function') {
    throw new TypeError(`signal must be an AbortSignal, not ${describe(signal)}`)
  }
  return signal
}

function optionsOf (options) {
  if (options === undefined || options === null) return {}
  if (typeof options !== 'object') throw new TypeError(`options must be an object, not ${describe(options)}`)
  return options
}

function edgesOf (edges) {
  if (typeof edges === 'string') edges = edges.split(',')
  if (!Array.isArray(edges)) {
    throw new TypeError(`edges must be an array of endpoints or a string 'EP1,EP2', not ${describe(edges)}`)
  }
  if (edges.length < 1 || edges.length > MAX_EDGES) {
    throw new RangeError(`a client has 1 to ${MAX_EDGES} edges, not ${edges.length}`)
  }
  return edges.map((edge, i) => endpointOf(edge, `edges[${i}]`))
}

function endpointOf (endpoint, what) {
  if (typeof endpoint !== 'string') throw new TypeError(`${what} must be an endpoint string, not ${describe(endpoint)}`)
  const trimmed = endpoint.trim()
  if (!/^[a-z]+:\/\/./.test(trimmed) || trimmed.length > 255) {
    throw new RangeError(`${what} ${JSON.stringify(endpoint)} is not an endpoint like tcp://host:port or ipc:///path`)
  }
  return trimmed
}

// CURVE keys (docs/security.md) from certificate files made by `spillway
// keygen` (czmq's format): this peer's certificate (its FILE_secret is read
// too) and each server's public one, an array or 'F1,F2', one per server or
// one for all. Returns per server the socket options, or null for plaintext.
function curveOf (cert, serverCert, count) {
  if ((cert === undefined || cert === null) && (serverCert === undefined || serverCert === null)) return null
  if (typeof cert !== 'string' || !cert || !serverCert) {
    throw new TypeError('CURVE needs both cert and serverCert (certificate file names)')
  }
  let servers = Array.isArray(serverCert) ? serverCert : String(serverCert).split(',')
  if (servers.length === 1) servers = Array(count).fill(servers[0])
  if (servers.length !== count) {
    throw new RangeError(`give one serverCert, or one per edge (${count}), not ${servers.length}`)
  }
  const fs = require('node:fs')
  const keyOf = (file, which) => {
    let text
    try {
      text = fs.readFileSync(file, 'utf8')
    } catch (error) {
      throw new TypeError(`cannot read the certificate ${file}: ${error.message}`)
    }
    const match = new RegExp(`^\\s*${which}\\s*=\\s*"([^"]{40})"`, 'm').exec(text)
    if (!match) throw new TypeError(`${file} holds no ${which}`)
    return match[1]
  }
  const secretFile = cert.endsWith('_secret') ? cert : cert + '_secret'
  const curvePublicKey = keyOf(secretFile, 'public-key')
  const curveSecretKey = keyOf(secretFile, 'secret-key')
  return servers.map((server) => ({ curvePublicKey, curveSecretKey, curveServerKey: keyOf(server, 'public-key') }))
}

module.exports = {
  curveOf,
  HEADER,
  CMD,
  CMD_FRAME,
  STATUS_FRAME,
  ZERO_U32,
  MAX_BODY_FRAMES,
  MAX_SERVICE_LEN,
  MAX_EDGES,
  MAX_SLOTS,
  MAX_U32,
  u32,
  u64,
  readU32,
  readU64,
  isHeader,
  describe,
  serviceFrame,
  frameOf,
  framesOf,
  timeoutOf,
  signalOf,
  optionsOf,
  edgesOf,
  endpointOf
}

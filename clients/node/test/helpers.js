'use strict'
// Test helpers: real spillway-edge and C worker processes on 127.0.0.1, free
// ports, waits on events with deadlines, and every process killed at the end.
// (A helper, not a test file: node --test runs it too, and it defines no test.)

const { spawn } = require('child_process')
const net = require('net')
const path = require('path')
const fs = require('fs')
const { Client } = require('..')

const BUILD = process.env.SPW_BUILD_DIR || path.resolve(__dirname, '..', '..', '..', 'build')
const EDGE_BIN = path.join(BUILD, 'edge', 'spillway-edge')
const CLI_BIN = path.join(BUILD, 'cli', 'spillway')

const procs = new Set()
function killAll () {
  for (const proc of procs) {
    try { proc.kill('SIGKILL') } catch (e) {}
  }
  procs.clear()
}
process.on('exit', killAll)
for (const signal of ['SIGINT', 'SIGTERM']) {
  process.on(signal, () => { killAll(); process.exit(130) })
}

// A free TCP port on 127.0.0.1 (bind port 0, read it, close).
function freePort () {
  return new Promise((resolve, reject) => {
    const server = net.createServer()
    server.unref()
    server.on('error', reject)
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address()
      server.close(() => resolve(port))
    })
  })
}

// Resolves when predicate(line) holds for a line of the stream, rejects after ms.
function waitForLine (proc, stream, predicate, ms, what) {
  return new Promise((resolve, reject) => {
    let buffered = ''
    const timer = setTimeout(() => done(new Error(`${what}: not within ${ms} ms`)), ms)
    const onData = (data) => {
      buffered += data.toString()
      const lines = buffered.split('\n')
      buffered = lines.pop()
      for (const line of lines) if (predicate(line)) return done(null, line)
    }
    const onExit = (code, signal) => done(new Error(`${what}: the process exited (${code === null ? signal : code})`))
    function done (error, line) {
      clearTimeout(timer)
      stream.off('data', onData)
      proc.off('exit', onExit)
      if (error) reject(error)
      else resolve(line)
    }
    stream.on('data', onData)
    proc.on('exit', onExit)
  })
}

function track (proc) {
  procs.add(proc)
  proc.on('exit', () => procs.delete(proc))
  proc.exited = new Promise((resolve) => proc.on('exit', (code, signal) => resolve({ code, signal })))
  return proc
}

class Edge {
  constructor (name, ports, args) {
    this.name = name
    this.ports = ports
    this.args = args
    this.frontend = `tcp://127.0.0.1:${ports.frontend}`
    this.backend = `tcp://127.0.0.1:${ports.backend}`
    this.cloud = `tcp://127.0.0.1:${ports.cloud}`
    this.proc = null
    this.log = ''
  }

  async start () {
    const argv = ['--name', this.name, '--frontend', this.frontend, '--backend', this.backend,
      '--cloud', this.cloud, '--heartbeat-ms', '200', ...this.args]
    const proc = track(spawn(EDGE_BIN, argv, { stdio: ['ignore', 'ignore', 'pipe'] }))
    proc.stderr.on('data', (data) => { this.log += data.toString() })
    this.proc = proc
    await waitForLine(proc, proc.stderr, (line) => line.includes('event=started'), 5000, `edge ${this.name} started`)
    return this
  }

  // SIGKILL (default) or another signal; resolves once it exited.
  async kill (signal = 'SIGKILL') {
    const proc = this.proc
    if (!proc || proc.exitCode !== null || proc.signalCode !== null) return
    proc.kill(signal)
    await proc.exited
  }

  async restart () {
    await this.kill()
    return this.start()
  }

  // The edge's spillway.stats: { edge: {...}, services: { name: {...} } }.
  async stats () {
    const client = new Client({ edges: [this.frontend] })
    try {
      const text = String(await client.submit('spillway.stats', '', { timeout: 2000 }))
      const [first, ...rest] = text.split('\n')
      const pairs = (line) => Object.fromEntries(line.split(' ').filter(Boolean).map((kv) => {
        const at = kv.indexOf('=')
        return [kv.slice(0, at), kv.slice(at + 1)]
      }))
      const services = {}
      for (const line of rest) {
        if (!line.trim()) continue
        const service = pairs(line)
        services[service.service] = service
      }
      return { edge: pairs(first), services }
    } finally {
      await client.close()
    }
  }

  // Waits until predicate(stats) holds, asking every 20 ms, at most ms.
  async waitFor (what, predicate, ms = 5000) {
    const deadline = Date.now() + ms
    let last = null
    for (;;) {
      last = await this.stats()
      if (predicate(last)) return last
      if (Date.now() > deadline) throw new Error(`edge ${this.name}: ${what} not within ${ms} ms (${JSON.stringify(last)})`)
      await new Promise((resolve) => setTimeout(resolve, 20))
    }
  }

  // Waits until the edge has `slots` idle slots of service.
  waitIdle (service, slots = 1, ms = 5000) {
    return this.waitFor(`${slots} idle slots of ${service}`,
      (s) => Number((s.services[service] || {}).idle || 0) >= slots, ms)
  }
}

async function startEdge (name, ...args) {
  const ports = { frontend: await freePort(), backend: await freePort(), cloud: await freePort() }
  return new Edge(name, ports, args).start()
}

// The C worker: `spillway worker --edge EP --service S --echo [--slots N]`.
function cWorker (edge, service, ...args) {
  const proc = track(spawn(CLI_BIN, ['worker', '--edge', edge.backend, '--service', service, '--echo',
    '--heartbeat-ms', '200', ...args], { stdio: ['ignore', 'ignore', 'pipe'] }))
  proc.log = ''
  proc.stderr.on('data', (data) => { proc.log += data.toString() })
  return proc
}

function available () {
  return fs.existsSync(EDGE_BIN) && fs.existsSync(CLI_BIN)
}

// A promise that rejects after ms (for races against what must come sooner).
function within (promise, ms, what) {
  let timer
  return Promise.race([
    promise.finally(() => clearTimeout(timer)),
    new Promise((resolve, reject) => { timer = setTimeout(() => reject(new Error(`${what}: not within ${ms} ms`)), ms) })
  ])
}

// A promise and its resolve function.
function signalled () {
  let resolve
  const promise = new Promise((_resolve) => { resolve = _resolve })
  return { promise, resolve }
}

module.exports = { BUILD, EDGE_BIN, CLI_BIN, startEdge, cWorker, freePort, killAll, available, within, signalled, waitForLine }

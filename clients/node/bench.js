#!/usr/bin/env node
'use strict'
// node clients/node/bench.js [--duration S] [--build DIR] [--workers N] [--size BYTES] [--depths 1,16,64]
//
// Throughput of the package's Client as a ratio to zeromq.js's own raw round
// trip, measured in the same run, at 1, 16 and 64 outstanding requests:
//
//   raw       a zeromq.js DEALER in this process sending one REQUEST built once
//             to an echo ROUTER that answers each with its REPLY, keeping W
//             messages outstanding. The ROUTER is C (the benchmarks' ceiling
//             program from --build: zmq_proxy and a worker), so that the
//             figures are this side's cost; without it, a second Node process;
//   spillway  this package's Client.submit, W calls outstanding, against the
//             same ROUTER: ratio = spillway / raw, what the package costs;
//   via_edge  the same Client through a real edge (spillway-edge, started
//             here) to C echo workers (`spillway worker --echo --slots 64`),
//             and c_client, the C client through the same edge (`spillway
//             bench --clients 1 --window W`): ratio_c = via_edge / c_client.
//
// Prints one line per depth and a final min_ratio (the least ratio), as
// `python3 -m spillway bench` does. Every
// process it starts listens on 127.0.0.1 or ipc:// in a temporary folder, and
// is killed at the end.

const { spawn, execFile } = require('child_process')
const fs = require('fs')
const os = require('os')
const path = require('path')
const zmq = require('zeromq')
const { Client } = require('./lib')

const DEPTHS = [1, 16, 64] // --depths 1,16,64

function usage (message) {
  if (message) process.stderr.write(`bench.js: ${message}\n`)
  process.stderr.write('usage: node bench.js [--duration S] [--build DIR] [--workers N] [--size BYTES] [--depths 1,16,64]\n')
  process.exit(2)
}

function parseArgs (argv) {
  const args = {
    duration: 3,
    build: process.env.SPW_BUILD_DIR || path.resolve(__dirname, '..', '..', 'build'),
    workers: 1,
    size: 16
  }
  for (let i = 0; i < argv.length; i++) {
    const flag = argv[i]
    const value = argv[i + 1]
    if (flag === '--help' || flag === '-h') usage()
    if (flag === '--echo-router') return { echoRouter: value }
    if (value === undefined) usage(`${flag} needs a value`)
    i++
    if (flag === '--duration') {
      args.duration = Number(value)
      if (!Number.isInteger(args.duration) || args.duration < 1 || args.duration > 3600) usage('--duration is 1 to 3600 seconds')
    } else if (flag === '--build') {
      args.build = path.resolve(value)
    } else if (flag === '--workers') {
      args.workers = Number(value)
      if (!Number.isInteger(args.workers) || args.workers < 1 || args.workers > 16) usage('--workers is 1 to 16')
    } else if (flag === '--depths') {
      args.depths = value.split(',').map(Number)
      if (!args.depths.every((d) => Number.isInteger(d) && d >= 1 && d <= 1024)) usage('--depths is a list of 1 to 1024')
    } else if (flag === '--size') {
      args.size = Number(value)
      if (!Number.isInteger(args.size) || args.size < 0 || args.size > 1000000) usage('--size is 0 to 1000000 bytes')
    } else {
      usage(`unknown flag ${flag}`)
    }
  }
  return args
}

// -- The raw echo ROUTER (the second Node process) ------------------------------

async function echoRouter (endpoint) {
  // As fast as zeromq.js goes: sends never wait (no high-water mark, send
  // timeout 0), so none is awaited.
  const router = new zmq.Router({ linger: 0, sendHighWaterMark: 0, sendTimeout: 0 })
  await router.bind(endpoint)
  process.stdout.write('ready\n')
  process.on('SIGTERM', () => { router.close(); process.exit(0) })
  const failed = (error) => process.stderr.write(`echo router: ${error.message}\n`)
  for (;;) {
    const msg = await router.receive()
    router.send(msg).catch(failed)
  }
}

// -- Measurements --------------------------------------------------------------

const procs = []
function track (proc) {
  procs.push(proc)
  return proc
}
function killAll () {
  for (const proc of procs) {
    try { proc.kill('SIGKILL') } catch (e) {}
  }
}
process.on('exit', killAll)
process.on('SIGINT', () => { killAll(); process.exit(130) })

function waitForOutput (proc, stream, pattern, ms, what) {
  return new Promise((resolve, reject) => {
    let text = ''
    const timer = setTimeout(() => reject(new Error(`${what} did not start within ${ms} ms: ${text.slice(-500)}`)), ms)
    stream.on('data', (data) => {
      text += data.toString()
      if (pattern.test(text)) {
        clearTimeout(timer)
        resolve(text)
      }
    })
    proc.on('exit', (code) => reject(new Error(`${what} exited (${code}): ${text.slice(-500)}`)))
  })
}

// The raw round trip: a DEALER keeping W copies of one REQUEST, built once,
// outstanding at the echo ROUTER. run(ms) counts the replies in ms.
async function rawRunner (endpoint, size) {
  const dealer = new zmq.Dealer({ linger: 0, sendHighWaterMark: 0, sendTimeout: 0 })
  const failed = (error) => process.stderr.write(`raw dealer: ${error.message}\n`)
  dealer.connect(endpoint)
  const id = Buffer.alloc(8)
  id.writeUInt32BE(1, 4)
  const msg = [Buffer.from('SPW2'), Buffer.from([1]), id, Buffer.from('echo'), Buffer.alloc(4), Buffer.alloc(size, 'x')]
  await dealer.send(msg) // connected
  await dealer.receive()
  return {
    async run (depth, ms) {
      for (let i = 0; i < depth; i++) dealer.send(msg).catch(failed)
      let done = 0
      let outstanding = depth
      const end = performance.now() + ms
      for (;;) {
        await dealer.receive()
        outstanding--
        if (performance.now() >= end) break
        done++
        dealer.send(msg).catch(failed)
        outstanding++
      }
      while (outstanding-- > 0) await dealer.receive() // the rest, not counted
      return done
    },
    close () { dealer.close() }
  }
}

// The package's Client: W Client.submit calls outstanding, each awaited and
// followed by the next. run(ms) counts the replies in ms.
async function spillwayRunner (endpoint, size) {
  const client = new Client({ edges: [endpoint] })
  const body = Buffer.alloc(size, 'x')
  await client.submit('echo', body, { timeout: 10000 }) // connected
  let errors = 0
  return {
    async run (depth, ms) {
      let done = 0
      const end = performance.now() + ms
      let over = false
      const loop = async () => {
        while (!over) {
          try {
            await client.submit('echo', body, { timeout: 10000 })
          } catch (error) {
            if (errors++ === 0) process.stderr.write(`bench.js: spillway error: ${error.message}\n`)
          }
          if (performance.now() >= end) over = true
          else done++
        }
      }
      await Promise.all(Array.from({ length: depth }, loop))
      return done
    },
    get errors () { return errors },
    close () { return client.close() }
  }
}

// Runs the runners in turns of SLICE_MS, seconds in all each, so that all
// see the same machine: replies a second of each.
const SLICE_MS = 500
async function inTurns (runners, depth, seconds) {
  for (const runner of runners) await runner.run(depth, 100) // warm
  const slices = Math.max(2, Math.round(seconds * 1000 / SLICE_MS))
  const done = runners.map(() => 0)
  for (let i = 0; i < slices; i++) {
    for (let r = 0; r < runners.length; r++) done[r] += await runners[r].run(depth, SLICE_MS)
  }
  const elapsed = slices * SLICE_MS / 1000
  return done.map((n) => n / elapsed)
}

function cClientRate (cli, endpoint, depth, seconds, size) {
  return new Promise((resolve, reject) => {
    execFile(cli, ['bench', '--edge', endpoint, '--service', 'echo', '--clients', '1', '--window', String(depth),
      '--duration', String(seconds), '--size', String(size), '--no-check', '--quiet'],
    { timeout: (seconds + 30) * 1000 }, (error, stdout, stderr) => {
      const match = /total:.*\brate=([0-9.]+)\/s/.exec(stdout + stderr)
      if (!match) return reject(new Error(`spillway bench printed no rate${error ? ` (${error.message})` : ''}: ${(stdout + stderr).slice(-300)}`))
      resolve(Number(match[1]))
    })
  })
}

async function main () {
  const args = parseArgs(process.argv.slice(2))
  if (args.echoRouter) return echoRouter(args.echoRouter)
  const edgeBin = path.join(args.build, 'edge', 'spillway-edge')
  const cli = path.join(args.build, 'cli', 'spillway')
  for (const bin of [edgeBin, cli]) if (!fs.existsSync(bin)) usage(`${bin} is missing (--build DIR)`)

  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'spw-node-bench-'))
  try {
    const rawEp = `ipc://${dir}/raw`
    const frontend = `ipc://${dir}/f`
    const backend = `ipc://${dir}/b`
    const ceiling = path.join(args.build, 'tests', 'ceiling')
    let far
    if (fs.existsSync(ceiling)) {
      far = 'C (tests/bench/ceiling: zmq_proxy and a worker)'
      const back = `ipc://${dir}/raw-back`
      track(spawn(ceiling, ['proxy', rawEp, back], { stdio: 'ignore' }))
      track(spawn(ceiling, ['worker', back], { stdio: 'ignore' }))
    } else {
      far = 'zeromq.js in a second Node process (no ceiling program in --build)'
      const router = track(spawn(process.execPath, [__filename, '--echo-router', rawEp], { stdio: ['ignore', 'pipe', 'inherit'] }))
      await waitForOutput(router, router.stdout, /ready/, 10000, 'the echo router')
    }
    const edge = track(spawn(edgeBin, ['--name', 'bench', '--frontend', frontend, '--backend', backend,
      '--cloud', `ipc://${dir}/c`, '--log-level', 'warning'], { stdio: ['ignore', 'ignore', 'pipe'] }))
    edge.stderr.resume()
    for (let i = 0; i < args.workers; i++) {
      const worker = track(spawn(cli, ['worker', '--edge', backend, '--service', 'echo', '--echo', '--slots', '64'],
        { stdio: ['ignore', 'ignore', 'ignore'] }))
      worker.on('exit', (code) => { if (code) process.stderr.write(`bench.js: a C worker exited ${code}\n`) })
    }
    // The edge serves once the workers are there: one call through it.
    const probe = new Client({ edges: [frontend] })
    for (let tries = 0; ; tries++) {
      try {
        await probe.submit('echo', 'up?', { timeout: 2000 })
        break
      } catch (error) {
        if (tries > 50) throw error
        await new Promise((resolve) => setTimeout(resolve, 50))
      }
    }
    await probe.close()

    console.log(`# node ${process.version}, zeromq.js ${require('zeromq/package.json').version} (libzmq ${zmq.version}), ` +
      `${os.cpus().length} cores, body ${args.size} bytes, ${args.duration} s per figure (raw, spillway and via_edge in turns ` +
      `of ${SLICE_MS} ms)`)
    console.log(`# raw: a zeromq.js DEALER sending a REQUEST built once; spillway: this package's Client; both against an echo ROUTER in ${far}, over ipc`)
    console.log(`# via_edge: the Client -> spillway-edge -> ${args.workers} C echo worker(s) of 64 slots; ` +
      'c_client: spillway bench (C) through the same edge')
    let minRatio = Infinity
    const rawRun = await rawRunner(rawEp, args.size)
    const spwRun = await spillwayRunner(rawEp, args.size)
    const viaRun = await spillwayRunner(frontend, args.size)
    for (const depth of args.depths || DEPTHS) {
      const [raw, spw, via] = await inTurns([rawRun, spwRun, viaRun], depth, args.duration)
      const c = await cClientRate(cli, frontend, depth, args.duration, args.size)
      const ratio = spw / raw
      minRatio = Math.min(minRatio, ratio)
      console.log(`outstanding=${depth} raw=${Math.round(raw)}/s spillway=${Math.round(spw)}/s ratio=${ratio.toFixed(2)} ` +
        `via_edge=${Math.round(via)}/s c_client=${Math.round(c)}/s ratio_c=${(via / c).toFixed(2)}`)
    }
    console.log(`min_ratio=${minRatio.toFixed(2)}`)
    rawRun.close()
    await spwRun.close()
    await viaRun.close()
    const errors = spwRun.errors + viaRun.errors
    if (errors) process.stderr.write(`bench.js: ${errors} spillway calls failed\n`)
  } finally {
    killAll()
    fs.rmSync(dir, { recursive: true, force: true })
  }
  process.exit(0)
}

main().catch((error) => {
  process.stderr.write(`bench.js: ${error.stack || error}\n`)
  killAll()
  process.exit(1)
})

'use strict'
// The Node.js driver of the conformance suite (tests/conformance/README.md):
// JSON commands on stdin, done with clients/node's Client and Worker, one
// JSON answer a line on stdout (logs go to stderr).

const path = require('path')
const readline = require('readline')
const spillway = require(path.join(__dirname, '..', '..', 'clients', 'node'))

function answer (obj) {
  process.stdout.write(JSON.stringify(obj) + '\n')
}

function encoded (frames) {
  return frames.map((f) => Buffer.from(f).toString('base64'))
}

function bodyOf (command) {
  if (command.fill !== undefined) {
    const size = command.fill && command.fill.size
    if (!Number.isInteger(size) || size < 0) throw new TypeError('fill.size must be an integer of bytes')
    return [Buffer.alloc(size, 'x')]
  }
  const body = command.body === undefined ? [] : command.body
  if (!Array.isArray(body)) throw new TypeError('body must be a list of base64 strings')
  return body.map((f) => {
    if (typeof f !== 'string') throw new TypeError('a body frame must be a base64 string')
    return Buffer.from(f, 'base64')
  })
}

function handlerFor (command) {
  const mode = command.mode === undefined ? 'echo' : command.mode
  const sleepMs = command.sleep_ms || 0
  switch (mode) {
    case 'echo':
      return async (frames) => frames
    case 'fail':
      // task-error with the body as its frames
      return async (frames) => {
        throw new spillway.TaskError('failed as asked', frames.length ? frames : [Buffer.from('failed as asked')])
      }
    case 'hold':
      return () => new Promise(() => {})
    case 'sleep':
      return (frames) => new Promise((resolve) => setTimeout(() => resolve(frames), sleepMs))
    default:
      throw new TypeError(`unknown worker mode ${JSON.stringify(mode)}`)
  }
}

class Driver {
  constructor () {
    this.client = null
    this.workers = []
    this.stopping = false
  }

  submit (seq, command) {
    if (!this.client) throw new TypeError('no client: send a client command first')
    if (typeof command.service !== 'string') throw new TypeError('service must be a string')
    const frames = bodyOf(command)
    const timeout = command.timeout_ms === undefined || command.timeout_ms === null ? 0 : command.timeout_ms
    this.client.submitFrames(command.service, frames, { timeout }).then(
      (reply) => answer({ seq, status: 'ok', body: encoded(reply) }),
      (error) => {
        if (error instanceof spillway.SpillwayError) {
          answer({ seq, status: error.status, body: encoded(error.frames) })
        } else if (error instanceof TypeError || error instanceof RangeError) {
          answer({ seq, error: 'argument', message: error.message })
        } else {
          answer({ seq, error: 'failed', message: String(error && error.message) })
        }
      })
  }

  async handle (command) {
    const seq = command.seq === undefined ? null : command.seq
    switch (command.op) {
      case 'client':
        if (this.client) await this.client.close()
        this.client = new spillway.Client({ edges: command.edges, cert: command.cert, serverCert: command.server_cert })
        answer({ seq, ok: true })
        return true
      case 'submit':
        this.submit(seq, command)
        return true
      case 'worker': {
        const worker = new spillway.Worker({
          edge: command.edge,
          service: command.service,
          slots: command.slots === undefined ? 1 : command.slots,
          frames: true,
          cert: command.cert,
          serverCert: command.server_cert,
          handler: handlerFor(command)
        })
        worker.on('disconnect', ({ reason, retryMs }) =>
          process.stderr.write(`worker ${command.service}: the edge said DISCONNECT: ${reason} (retry ${retryMs} ms)\n`))
        await worker.start()
        this.workers.push(worker)
        answer({ seq, ok: true })
        return true
      }
      case 'stop':
        return false
      default:
        answer({ seq, error: 'command', message: `unknown op ${JSON.stringify(command.op)}` })
        return true
    }
  }

  async stop (seq) {
    if (this.stopping) return
    this.stopping = true
    await Promise.all(this.workers.map((worker) => worker.stop({ timeout: 500 })))
    if (this.client) await this.client.close()
    answer({ seq, ok: true })
    process.exit(0)
  }
}

function main () {
  const driver = new Driver()
  let chain = Promise.resolve() // commands are done in the order they came
  const lines = readline.createInterface({ input: process.stdin, crlfDelay: Infinity })
  lines.on('line', (line) => {
    if (!line.trim()) return
    let command
    try {
      command = JSON.parse(line)
      if (command === null || typeof command !== 'object' || Array.isArray(command)) {
        throw new TypeError('a command is a JSON object')
      }
    } catch (error) {
      answer({ seq: null, error: 'command', message: error.message })
      return
    }
    chain = chain.then(async () => {
      if (driver.stopping) return
      const seq = command.seq === undefined ? null : command.seq
      try {
        if (!await driver.handle(command)) await driver.stop(seq)
      } catch (error) {
        answer({ seq, error: 'command', message: String(error && error.message) })
      }
    })
  })
  lines.on('close', () => {
    chain = chain.then(() => driver.stop(null))
  })
}

main()
